/* dtrain: configuration files (YAML, read and written with libyaml; the only
 * user of <yaml.h>).
 *
 * A file is one mapping: keys are option names without "--", values are
 * scalars as they would be typed after the option (flags: true/false, yes/no,
 * on/off or 1/0; an option with an optional value, like resume, may be left
 * empty), or a list for a repeatable option (grid).  Example:
 *
 *   data: datasets/wine.h5
 *   layers: 64:relu,32:relu
 *   optimizer: adam
 *   lr: 0.001
 *   drop-last: true
 */
#ifndef DTRAIN_YAMLCONF_H
#define DTRAIN_YAMLCONF_H

#include <stdio.h>
#include "dtrain/config.h"

/* Set the options of command cmd that the file at path gives (each marked
 * given), and "config" to path.  DT_EUSAGE naming the file and line for bad YAML, an unknown key
 * (with a suggestion), a key given twice, a wrong type or value. */
dt_status yamlconf_read(const char *path, unsigned cmd, dt_config *cfg, dt_error *err);

/* Write the train options of cfg that differ from their defaults as such a
 * file (a default written out would count as given, and some options may
 * only be given with others). */
dt_status yamlconf_write(FILE *out, const dt_config *cfg, dt_error *err);

#endif
