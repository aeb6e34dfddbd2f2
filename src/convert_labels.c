/* dtrain: class labels of a CSV file, and the rule for a column of integers
 * (convert_labels.h, convert.h). */
#include "dtrain/convert_labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/convert.h"


static uint64_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void label_set_free(label_set *ls)
{
    free(ls->text);
    free(ls->off);
    free(ls->slot);
    memset(ls, 0, sizeof *ls);
}

/* The table of slots at twice the ids' room, every id placed again. */
static int rehash(label_set *ls)
{
    int64_t ns = ls->nslots ? 2 * ls->nslots : 1024;
    int32_t *slot = calloc((size_t)ns, sizeof *slot);
    if (!slot)
        return -1;
    for (int64_t id = 0; id < ls->n; id++) {
        uint64_t h = hash_text(ls->text + ls->off[id]) & (uint64_t)(ns - 1);
        while (slot[h])
            h = (h + 1) & (uint64_t)(ns - 1);
        slot[h] = (int32_t)(id + 1);
    }
    free(ls->slot);
    ls->slot = slot;
    ls->nslots = ns;
    return 0;
}

int64_t label_set_intern(label_set *ls, const char *s)
{
    if (2 * (ls->n + 1) > ls->nslots && (ls->n >= INT32_MAX - 1 || rehash(ls)))
        return -1;
    uint64_t h = hash_text(s) & (uint64_t)(ls->nslots - 1);
    for (; ls->slot[h]; h = (h + 1) & (uint64_t)(ls->nslots - 1))
        if (strcmp(ls->text + ls->off[ls->slot[h] - 1], s) == 0)
            return ls->slot[h] - 1;
    size_t len = strlen(s) + 1;
    if (ls->n == ls->cap_ids) {
        int64_t nc = ls->cap_ids ? 2 * ls->cap_ids : 64;
        size_t *no = realloc(ls->off, (size_t)nc * sizeof *no);
        if (!no)
            return -1;
        ls->off = no;
        ls->cap_ids = nc;
    }
    if (ls->cap - ls->len < len) {
        size_t nc = ls->cap ? 2 * ls->cap : 4096;
        while (nc - ls->len < len)
            nc *= 2;
        char *nt = realloc(ls->text, nc);
        if (!nt)
            return -1;
        ls->text = nt;
        ls->cap = nc;
    }
    memcpy(ls->text + ls->len, s, len);
    ls->off[ls->n] = ls->len;
    ls->len += len;
    ls->slot[h] = (int32_t)(ls->n + 1);
    return ls->n++;
}

char **convert_pack_texts(const char *const *texts, int64_t n)
{
    size_t total = (size_t)n * sizeof(char *);
    for (int64_t i = 0; i < n; i++)
        total += strlen(texts[i]) + 1;
    char **out = malloc(total ? total : 1);
    if (!out)
        return NULL;
    char *p = (char *)(out + n);
    for (int64_t i = 0; i < n; i++) {
        size_t len = strlen(texts[i]) + 1;
        memcpy(p, texts[i], len);
        out[i] = p;
        p += len;
    }
    return out;
}

size_t convert_utf8_bad_at(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        const unsigned c = u[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xBF; /* the range of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return i;
        }
        if (len - i <= n || u[i + 1] < lo || u[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if ((u[i + k] & 0xC0) != 0x80)
                return i;
        i += n + 1;
    }
    return len;
}

/* Sorting ids by their label: numerically (val) or in byte order (text). */
typedef struct {
    const label_set *ls;
    const double *val;
} label_order;
static _Thread_local label_order sort_by; /* qsort has no context argument */

static int cmp_label(const void *a, const void *b)
{
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    if (sort_by.val)
        return (sort_by.val[i] > sort_by.val[j]) - (sort_by.val[i] < sort_by.val[j]);
    return strcmp(sort_by.ls->text + sort_by.ls->off[i], sort_by.ls->text + sort_by.ls->off[j]);
}

void label_set_rank(const label_set *ls, const double *val, int64_t *order, int32_t *rank,
                    const char **names, char (*num)[32], int64_t *k, int *identity)
{
    for (int64_t i = 0; i < ls->n; i++)
        order[i] = i;
    sort_by = (label_order){ls, val};
    qsort(order, (size_t)ls->n, sizeof *order, cmp_label);
    int64_t r = -1;
    *identity = val != NULL;
    for (int64_t i = 0; i < ls->n; i++) {
        const int64_t id = order[i];
        if (i == 0 || cmp_label(&order[i - 1], &order[i]) != 0) {
            r++;
            if (val) {
                snprintf(num[r], sizeof num[r], "%.0f", val[id]);
                names[r] = num[r];
                *identity &= val[id] == (double)r;
            } else {
                names[r] = ls->text + ls->off[id];
            }
        }
        rank[id] = (int32_t)r;
    }
    *k = r + 1;
}

convert_label_type convert_label_rule(int64_t n, int64_t distinct, int index_like, int *doubt,
                                      char *why, size_t len)
{
    const double per = (double)n / (double)(distinct > 0 ? distinct : 1);
    const int many = distinct > 100 || (distinct > 10 && per < 5);
    const int plentiful = index_like && per >= 20;
    char say[160];
    snprintf(say, sizeof say, "%lld distinct integers in %lld rows (%.1f rows per value%s)",
             (long long)distinct, (long long)n, per, index_like ? ", values 0..K-1 or 1..K" : "");
    if (doubt)
        *doubt = 0;
    if (distinct > 2 && many && !plentiful) {
        if (why)
            snprintf(why, len, "auto: %s: many values, each rare: a quantity", say);
        return CONVERT_LABEL_FLOAT;
    }
    const int sure = distinct <= 2 || index_like || per >= 20;
    if (doubt)
        *doubt = !sure;
    if (why)
        snprintf(why, len, "auto: %s: %s", say, sure ? "class labels" : "classes, by a close call");
    return CONVERT_LABEL_CLASS;
}
