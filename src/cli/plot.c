/* dtrain plot: runs the plotter, scripts/plot.py (installed as dtrain-plot),
 * with the arguments that follow.  No MPI: the command replaces itself by the
 * script, which draws on one process.  The script is looked for
 *   1. beside this program (an installed bin/dtrain finds bin/dtrain-plot),
 *   2. in the source tree this program was built from (build/dtrain),
 *   3. in the install prefix it was configured with (a copied binary),
 * the first that exists and is executable. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef DTRAIN_SOURCE_PLOT
#define DTRAIN_SOURCE_PLOT ""
#endif
#ifndef DTRAIN_INSTALLED_PLOT
#define DTRAIN_INSTALLED_PLOT ""
#endif

/* as scripts/plot.py's parser defines them */
const cli_plot_option cli_plot_options[] = {
    {"--out", "IMAGE", "image to write: .png, .svg or .pdf"},
    {"--cv", "RESULTS.csv", "plot the results of dtrain cv --out instead of a log"},
    {"--describe", NULL, "also print what was drawn"},
    {NULL, NULL, NULL}};

/* The directory of this program's file, with its trailing '/', into dir;
 * 0 if /proc does not say. */
static int own_dir(char *dir, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", dir, len - 1);
    if (n <= 0)
        return 0;
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    slash[1] = '\0';
    return 1;
}

/* The plotter to run, into path; 0 if none of the places has it (path then
 * lists the places tried). */
static int find_plotter(char *path, size_t len)
{
    char dir[PATH_MAX], places[3][PATH_MAX + 16];
    int n = 0;
    if (own_dir(dir, sizeof dir))
        snprintf(places[n++], sizeof places[0], "%sdtrain-plot", dir);
    if (DTRAIN_SOURCE_PLOT[0])
        snprintf(places[n++], sizeof places[0], "%s", DTRAIN_SOURCE_PLOT);
    if (DTRAIN_INSTALLED_PLOT[0])
        snprintf(places[n++], sizeof places[0], "%s", DTRAIN_INSTALLED_PLOT);
    for (int i = 0; i < n; i++)
        if (access(places[i], X_OK) == 0) {
            snprintf(path, len, "%s", places[i]);
            return 1;
        }
    size_t used = 0;
    path[0] = '\0';
    for (int i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(path + used, len - used, "%s%s", i ? ", " : "", places[i]);
    return 0;
}

/* Under mpirun or srun every rank would draw the same file: the first
 * draws, the others leave at once. */
static int other_rank(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v && strcmp(v, "0") != 0)
            return 1;
    }
    return 0;
}

int cli_plot(int argc, char **argv)
{
    if (other_rank())
        return 0;
    char path[3 * PATH_MAX + 64];
    if (!find_plotter(path, sizeof path)) {
        fprintf(stderr, "dtrain plot: error: the plotter dtrain-plot was not found (looked for "
                        "%s); `cmake --install` installs it beside dtrain, or run "
                        "scripts/plot.py from the source tree\n", path);
        return 1;
    }
    /* the name the script's messages give ("dtrain plot: error: ..."): a
     * script's own argv[0] is its path, whatever the caller passes */
    char name[] = "dtrain plot";
    if (setenv("DTRAIN_PLOT_PROG", name, 1) != 0) {
        fprintf(stderr, "dtrain plot: error: out of memory\n");
        return 1;
    }
    char **args = calloc((size_t)argc, sizeof *args);
    if (!args) {
        fprintf(stderr, "dtrain plot: error: out of memory\n");
        return 1;
    }
    args[0] = name;
    for (int i = 2; i < argc; i++) args[i - 1] = argv[i];
    fflush(stdout);
    execv(path, args);
    /* only on failure: most likely the interpreter the script names is missing */
    const int e = errno;
    free(args);
    fprintf(stderr, "dtrain plot: error: cannot run %s: %s (it needs /usr/bin/python3 with "
                    "matplotlib; on Debian: apt-get install python3-matplotlib)\n", path,
            strerror(e));
    return 1;
}
