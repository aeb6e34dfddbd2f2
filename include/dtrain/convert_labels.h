/* dtrain: the class labels of a CSV file as convert reads them
 * (src/convert_labels.c): the distinct label texts, then their classes
 * 0..K-1 in sorted order.  Internal to the converter and to
 * dtrain_set_class_names, which stores class names as it does. */
#ifndef DTRAIN_CONVERT_LABELS_H
#define DTRAIN_CONVERT_LABELS_H

#include <stddef.h>
#include <stdint.h>

/* The distinct labels seen, each with an id in order of first sight. */
typedef struct {
    char *text;          /* the distinct labels, NUL-terminated, back to back */
    size_t len, cap;
    size_t *off;         /* id -> offset in text */
    int64_t n, cap_ids;
    int32_t *slot;       /* open addressing: id + 1, 0 = empty */
    int64_t nslots;
} label_set;

void label_set_free(label_set *ls);

/* s's id, a new one if s was not seen before; -1 if out of memory. */
int64_t label_set_intern(label_set *ls, const char *s);

/* rank[id] = the class of label id: its place among the sorted distinct
 * labels (numerically by val when not NULL, else in byte order; equal
 * numbers, e.g. "1" and "01", share one); *k the classes and *identity
 * whether every label already was its class number.  names[r] receives
 * class r's name (num: room for the numbers' texts; order[] scratch). */
void label_set_rank(const label_set *ls, const double *val, int64_t *order, int32_t *rank,
                    const char **names, char (*num)[32], int64_t *k, int *identity);

/* texts[0..n) copied into one allocation: n pointers, then the texts (the
 * caller frees the one pointer); NULL if out of memory. */
char **convert_pack_texts(const char *const *texts, int64_t n);

/* Offset of the first byte of s (len bytes) that is not part of valid UTF-8
 * (no overlong forms, surrogates or code points past U+10FFFF), or len:
 * the texts dtrain stores as strings (class and feature names) are UTF-8. */
size_t convert_utf8_bad_at(const char *s, size_t len);

#endif
