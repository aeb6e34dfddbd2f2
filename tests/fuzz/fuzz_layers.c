/* Fuzz the --layers parser.  An accepted list, printed back with act_format,
 * must parse to the same widths, activations and slopes (that text is what a
 * saved model and a checkpoint record). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/model.h"
#include "fuzzutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    dt_layer_spec a[DT_MAX_LAYERS], b[DT_MAX_LAYERS];
    int na = 0, nb = 0;
    dt_error err;
    if (model_parse_layers(text, a, DT_MAX_LAYERS - 1, &na, &err) == DT_OK) {
        char back[DT_MAX_LAYERS * 48] = "";
        size_t len = 0;
        for (int i = 0; i < na; i++) {
            char act[32];
            act_format(a[i].act, act, sizeof act);
            len += (size_t)snprintf(back + len, sizeof back - len, "%s%d:%s", i ? "," : "",
                                    a[i].width, act);
        }
        if (model_parse_layers(back, b, DT_MAX_LAYERS - 1, &nb, &err) != DT_OK || nb != na)
            abort();
        for (int i = 0; i < na; i++)
            if (a[i].width != b[i].width || a[i].act.kind != b[i].act.kind ||
                (a[i].act.kind == ACT_LEAKY_RELU && a[i].act.slope != b[i].act.slope))
                abort();
    } else if (err.msg[0] == '\0') {
        abort();
    }
    free(text);
    return 0;
}
