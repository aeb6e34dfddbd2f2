#include "testutil.h"

#include "dtrain/comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static void cleanup(void)
{
    if (dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
}

const char *tu_tmpdir(void)
{
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/dtrain-test-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(1);
        }
        atexit(cleanup);
    }
    return dir;
}

const char *tu_path(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 512, "%s/%s", tu_tmpdir(), name);
    return b;
}

int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}

int tu_run_mpi(Suite *s, int *argc, char ***argv)
{
    comm_init(argc, argv);
    int64_t failed = tu_run(s);
    comm_allreduce_max_i64(comm_world(), &failed, 1);
    comm_finalize();
    return failed ? 1 : 0;
}

dt_status tu_parse(dt_config *cfg, unsigned cmd, const char *line, dt_error *err)
{
    static char buf[4096];
    char *argv[128];
    int argc = 0, help;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *t = strtok(buf, " "); t && argc < 128; t = strtok(NULL, " ")) argv[argc++] = t;
    config_defaults(cfg);
    return config_parse(cfg, cmd, argc, argv, &help, err);
}

dt_bf16 tu_bf16_rule(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (dt_bf16)((u >> 16) | 0x40u);
    if ((u & 0x7f800000u) == 0)
        return (dt_bf16)((u >> 16) & 0x8000u);
    return (dt_bf16)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
