/* dtrain: the program. */
#include <stdio.h>

#include "cli.h"
#include "dtrain.h"

int main(int argc, char **argv)
{
    /* the command line names options as its flags, in the library's messages
     * too, and the watchdog's line starts as its other errors do */
    char voice[64];
    snprintf(voice, sizeof voice, "dtrain %s: error: ", argc > 1 ? argv[1] : "");
    dtrain_watchdog_voice(voice, DTRAIN_NAMES_FLAGS);
    dt_names_swap(DT_NAMES_FLAGS);
    return cli_main(argc, argv);
}
