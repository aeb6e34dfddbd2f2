/* Fuzz the option parser: the first byte picks the command, the rest is split
 * at newlines into argv.  Whatever is accepted must print back (config_value_str)
 * as text that parses to the same values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/config.h"
#include "fuzzutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned cmds[] = {CMD_TRAIN, CMD_CONVERT, CMD_EVAL, CMD_PREDICT, CMD_INSPECT};
#define MAX_ARGS 64

static dt_config cfg, again; /* large: keep them off the stack */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const unsigned cmd = cmds[data[0] % 5];
    /* A private copy with a terminator after every argument. */
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *argv[MAX_ARGS];
    int argc = 0;
    for (char *p = text; argc < MAX_ARGS;) {
        argv[argc++] = p;
        char *nl = memchr(p, '\n', (size_t)(text + size - 1 - p));
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    dt_error err;
    int help = 0;
    config_defaults(&cfg);
    if (config_parse(&cfg, cmd, argc, argv, &help, &err) == DT_OK) {
        /* Round trip: every option printed as --name=value parses back to the
         * same printed value. */
        size_t n;
        const dt_option *opts = config_options(&n);
        static char args[256][DT_PATH_MAX + 64];
        char *av[256];
        int ac = 0;
        for (size_t i = 0; i < n && ac < 256; i++) {
            const dt_option *o = &opts[i];
            if (!(o->cmds & cmd) || o->type == OPT_STR2 || o->type == OPT_FLAG)
                continue;
            char v[2 * DT_PATH_MAX + 2];
            config_value_str(&cfg, o, v, sizeof v);
            snprintf(args[ac], sizeof args[ac], "--%s=%s", o->name, v);
            av[ac] = args[ac];
            ac++;
        }
        config_defaults(&again);
        if (config_parse(&again, cmd, ac, av, &help, &err) != DT_OK)
            abort(); /* a printed value that does not parse back */
        for (size_t i = 0; i < n; i++) {
            const dt_option *o = &opts[i];
            if (!(o->cmds & cmd) || o->type == OPT_STR2 || o->type == OPT_FLAG)
                continue;
            char v1[2 * DT_PATH_MAX + 2], v2[2 * DT_PATH_MAX + 2];
            config_value_str(&cfg, o, v1, sizeof v1);
            config_value_str(&again, o, v2, sizeof v2);
            if (strcmp(v1, v2) != 0)
                abort();
        }
    } else if (err.msg[0] == '\0') {
        abort(); /* every failure has a message */
    }
    free(text);
    return 0;
}
