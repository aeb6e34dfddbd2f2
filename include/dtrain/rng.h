/* dtrain: deterministic random numbers.
 *
 * xoshiro256** seeded through splitmix64 from (seed, stream).  Streams keep
 * independent uses apart (weights, each epoch's permutation, ...), so a draw
 * never depends on the rank count or on how many numbers another use took. */
#ifndef DTRAIN_RNG_H
#define DTRAIN_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} dt_rng;

/* Stream identifiers used by dtrain. */
enum {
    RNG_STREAM_INIT = 1,
    RNG_STREAM_EPOCH = 2,
    RNG_STREAM_SPLIT = 3,
    RNG_STREAM_FOLDS = 4,
    RNG_STREAM_VALID = 5,
    RNG_STREAM_DROPOUT = 6
};

void rng_seed(dt_rng *r, uint64_t seed, uint64_t stream, uint64_t index);
uint64_t rng_next(dt_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(dt_rng *r);
/* Standard normal (Box-Muller). */
double rng_normal(dt_rng *r);
/* Uniform integer in [0, n), unbiased; n > 0. */
uint64_t rng_below(dt_rng *r, uint64_t n);
/* A 64-bit hash of four words (splitmix64 rounds): random numbers addressed
 * by a counter, e.g. dropout's (seed, step, sample, unit), with no state. */
uint64_t rng_hash(uint64_t a, uint64_t b, uint64_t c, uint64_t d);

/* FNV-1a, 64 bits, of n bytes continuing from h (RNG_FNV_BASIS to start):
 * a checksum that any flipped byte changes (checkpoints, replica checks). */
#define RNG_FNV_BASIS 0xcbf29ce484222325ull
uint64_t rng_fnv1a(uint64_t h, const void *data, size_t n);

/* perm[0..n) = a uniformly random permutation of 0..n-1 (Fisher-Yates). */
void rng_permutation(dt_rng *r, int64_t *perm, int64_t n);

#endif
