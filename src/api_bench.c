/* dtrain: the benchmark of `dtrain bench` as a public call (dtrain.h), over
 * src/bench.c; its options come from the run. */
#include "dtrain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/api.h"
#include "dtrain/bench.h"
#include "dtrain/jsonout.h"

struct dtrain_bench_result {
    bench_figures f;
};

dtrain_status dtrain_bench(dtrain_run *run, dtrain_bench_result **result)
{
    dt_status st = api_usable(run, "dtrain_bench");
    if (st)
        return (dtrain_status)st;
    dt_log_sink prev = api_enter(run);
    dt_error *err = &run->err;
    dtrain_bench_result *r = api_result_new(run, "dtrain_bench", result, sizeof *r, &st);
    if ((st = comm_agree(run->comm, st, err))) {
        free(r);
        return api_leave(prev, st);
    }
    const dt_config *c = &run->cfg;
    const bench_options o = {.inputs = c->bench.inputs, .outputs = c->bench.outputs,
                             .layers = c->train.layers.spec, .n_layers = c->train.layers.n,
                             .batch_size = c->train.batch_size, .samples = c->bench.samples,
                             .threads = c->train.threads, .latency_us = c->bench.latency_us,
                             .denormals = c->train.denormals};
    matmul_fpenv fp;
    matmul_fpenv_enter(&fp, o.denormals);
    st = bench_measure(&o, run->comm, &r->f, err);
    matmul_fpenv_leave(&fp);
    if (st) {
        free(r);
        return api_leave(prev, st);
    }
    *result = r;
    return api_leave(prev, DT_OK);
}

void dtrain_bench_result_free(dtrain_bench_result *r) { free(r); }

/* The figures by name: the keys of the BENCH_ lines. */
static const struct {
    const char *name;
    size_t at;
} figures[] = {
#define FIG(name, field) {name, offsetof(bench_figures, field)}
    FIG("flop_per_sample", flop_per_sample), FIG("epoch_flop", epoch_flop),
    FIG("peak_gflops", peak_gflops),         FIG("floor_peak_s", floor_peak_s),
    FIG("step_s", step_s),                   FIG("gflops", gflops),
    FIG("best_gflops", best_gflops),         FIG("floor_s", floor_s),
    FIG("bf16_step_s", bf16_step_s),         FIG("bf16_gflops", bf16_gflops),
    FIG("bf16_best_gflops", bf16_best_gflops), FIG("alpha_us", alpha_us),
    FIG("bw_GBps", bw_GBps),                 FIG("grad_bytes", grad_bytes),
    FIG("grad_allreduce_s", grad_allreduce_s), FIG("node_s", node_s),
    FIG("mpi_s", mpi_s),                     FIG("copy_GBps", copy_GBps),
    FIG("triad_GBps", triad_GBps),           FIG("stream_array_bytes", stream_array_bytes),
#undef FIG
};

/* The texts among them, in the JSON after the counts. */
static const struct {
    const char *name;
    size_t at;
} texts[] = {
#define TXT(field) {#field, offsetof(bench_figures, field)}
    TXT(peak_isa), TXT(engine), TXT(denormals), TXT(cpu), TXT(fp32_impl), TXT(bf16_impl),
#undef TXT
};

double dtrain_bench_value(const dtrain_bench_result *r, const char *name)
{
    if (!r || !name)
        return NAN;
    if (!strcmp(name, "ranks"))
        return r->f.ranks;
    if (!strcmp(name, "local_batch"))
        return r->f.local_batch;
    if (!strcmp(name, "parameters"))
        return (double)r->f.n_params;
    if (!strcmp(name, "bf16_support"))
        return r->f.bf16_support;
    for (size_t i = 0; i < sizeof figures / sizeof *figures; i++)
        if (!strcmp(name, figures[i].name))
            return *(const double *)((const char *)&r->f + figures[i].at);
    return NAN;
}

int dtrain_bench_n_projections(const dtrain_bench_result *r) { return r ? BENCH_N_PROJ : 0; }

dtrain_status dtrain_bench_projection(const dtrain_bench_result *r, int i,
                                      dtrain_bench_proj *out)
{
    if (!r || !out || i < 0 || i >= BENCH_N_PROJ)
        return DTRAIN_EUSAGE;
    const bench_projection *p = &r->f.proj[i];
    *out = (dtrain_bench_proj){p->gbit, p->ranks, p->local_batch, p->allreduce_s, p->epoch_s,
                               p->efficiency, p->weak_efficiency};
    return DTRAIN_OK;
}

/* The result's JSON members (json_render adds the braces). */
static void json_body(json_buf *j, const void *obj)
{
    const dtrain_bench_result *r = obj;
    json_key(j, "ranks");
    json_int(j, r->f.ranks);
    json_key(j, "local_batch");
    json_int(j, r->f.local_batch);
    json_key(j, "parameters");
    json_int(j, r->f.n_params);
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        json_key(j, texts[i].name);
        json_string(j, (const char *)&r->f + texts[i].at);
    }
    json_key(j, "bf16_support");
    json_int(j, r->f.bf16_support);
    for (size_t i = 0; i < sizeof figures / sizeof *figures; i++) {
        json_key(j, figures[i].name);
        json_number(j, *(const double *)((const char *)&r->f + figures[i].at));
    }
    json_key(j, "projections");
    json_begin_array(j);
    for (int i = 0; i < BENCH_N_PROJ; i++) {
        const bench_projection *p = &r->f.proj[i];
        json_begin_object(j);
        json_key(j, "gbit");
        json_number(j, p->gbit);
        json_key(j, "ranks");
        json_int(j, p->ranks);
        json_key(j, "local_batch");
        json_int(j, p->local_batch);
        json_key(j, "allreduce_s");
        json_number(j, p->allreduce_s);
        json_key(j, "epoch_s");
        json_number(j, p->epoch_s);
        json_key(j, "efficiency");
        json_number(j, p->efficiency);
        json_key(j, "weak_efficiency");
        json_number(j, p->weak_efficiency);
        json_end_object(j);
    }
    json_end_array(j);
}

dtrain_status dtrain_bench_json(const dtrain_bench_result *r, char **json)
{
    return (dtrain_status)json_render(json, r, json_body);
}
