/* dtrain: activation functions. */
#include "dtrain/activation.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {[ACT_IDENTITY] = "identity", [ACT_STEP] = "step",
                                    [ACT_SIGMOID] = "sigmoid",   [ACT_TANH] = "tanh",
                                    [ACT_RELU] = "relu", [ACT_LEAKY_RELU] = "leaky_relu", NULL};

dt_status act_parse(const char *text, dt_act *out, dt_error *err)
{
    char name[64];
    const char *eq = strchr(text, '=');
    size_t len = eq ? (size_t)(eq - text) : strlen(text);
    if (len >= sizeof name)
        len = sizeof name - 1;
    memcpy(name, text, len);
    name[len] = '\0';
    const int i = dt_name_index(names, name);
    if (i >= 0) {
        out->kind = (dt_act_kind)i;
        out->slope = 0.01f;
        if (eq) {
            if (out->kind != ACT_LEAKY_RELU)
                return dt_fail(err, DT_EUSAGE, "activation '%s' takes no parameter (got '%s')",
                               name, text);
            char *end;
            double s = strtod(eq + 1, &end);
            if (end == eq + 1 || *end || !(s >= 0 && s <= 1))
                return dt_fail(err, DT_EUSAGE,
                               "leaky_relu slope must be a number in [0, 1], got '%s'", eq + 1);
            out->slope = (float)s;
        }
        return DT_OK;
    }
    return dt_fail(err, DT_EUSAGE,
                   "unknown activation '%s' (expected identity, step, sigmoid, tanh, relu or "
                   "leaky_relu[=SLOPE])",
                   name);
}

void act_format(dt_act a, char *buf, size_t len)
{
    if (a.kind == ACT_LEAKY_RELU) {
        /* The shortest text that parses back to the same float: a saved model
         * records its activations this way and must reload the exact slope
         * (plain %g would turn 0.1111111111 into 0.111111). */
        for (int prec = 6; prec <= 9; prec++) {
            snprintf(buf, len, "leaky_relu=%.*g", prec, (double)a.slope);
            if ((float)strtod(buf + 11, NULL) == a.slope)
                break;
        }
    } else
        snprintf(buf, len, "%s", names[a.kind]);
}

DT_HOT void act_forward(dt_act a, float *x, size_t n)
{
    switch (a.kind) {
    case ACT_IDENTITY: break;
    case ACT_STEP:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? 1.0f : 0.0f;
        break;
    case ACT_SIGMOID:
        /* 1/(1+e^-x) for x >= 0 and e^x/(1+e^x) otherwise: no overflow either way. */
        for (size_t i = 0; i < n; i++) {
            float e = expf(-fabsf(x[i]));
            x[i] = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        }
        break;
    case ACT_TANH:
        for (size_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
        break;
    case ACT_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case ACT_LEAKY_RELU: {
        float s = a.slope;
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : s * x[i];
        break;
    }
    }
}

DT_HOT void act_backward_rows(dt_act a, const float *y, const float *mask, float *g, float *db,
                              int accumulate, size_t rows, size_t n)
{
    if (!accumulate)
        memset(db, 0, n * sizeof *db);
    const float s = a.slope;
    for (size_t r = 0; r < rows; r++) {
        float *gr = g + r * n;
        const float *yr = y + r * n, *mr = mask ? mask + r * n : NULL;
        if (mr)
            for (size_t j = 0; j < n; j++) gr[j] *= mr[j];
        switch (a.kind) {
        case ACT_IDENTITY: break;
        case ACT_STEP: memset(gr, 0, n * sizeof *gr); break;
        case ACT_SIGMOID:
            for (size_t j = 0; j < n; j++) gr[j] *= yr[j] * (1.0f - yr[j]);
            break;
        case ACT_TANH:
            for (size_t j = 0; j < n; j++) gr[j] *= 1.0f - yr[j] * yr[j];
            break;
        case ACT_RELU:
            for (size_t j = 0; j < n; j++) gr[j] = yr[j] > 0.0f ? gr[j] : 0.0f;
            break;
        case ACT_LEAKY_RELU:
            for (size_t j = 0; j < n; j++) gr[j] = yr[j] > 0.0f ? gr[j] : s * gr[j];
            break;
        }
        for (size_t j = 0; j < n; j++) db[j] += gr[j];
    }
}
