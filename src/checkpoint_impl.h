/* dtrain: what the files of the checkpoint module share: checkpoint.c
 * (lineage, names, writing, the directory's lock), checkpoint_read.c
 * (checking, verifying and loading one) and checkpoint_find.c (which one a
 * resume takes).  Not for other modules. */
#ifndef DTRAIN_CHECKPOINT_IMPL_H
#define DTRAIN_CHECKPOINT_IMPL_H

#include <stdio.h>
#include "dtrain/checkpoint.h"
#include "dtrain/h5io.h"

/* printf into char array buf after its first `used` bytes, never past its end. */
#define APPEND(buf, used, ...)                                                             \
    do {                                                                                   \
        if (used < sizeof buf)                                                             \
            used += (size_t)snprintf(buf + used, sizeof buf - used, __VA_ARGS__);          \
    } while (0)

/* What the checksum leaves out: itself (format 2 hashes everything else). */
extern const char *const ckpt_unhashed[];

/* A checkpoint file of a directory. */
typedef struct {
    int64_t step;
    char name[48]; /* step-NNNNNNNN[-LINEAGE].h5 */
} ckpt_entry;

/* The checkpoints in dir, newest first (of one step, the plain name first);
 * caller frees (NULL if none). */
ckpt_entry *ckpt_list(const char *dir, size_t *n);
/* The lineage a checkpoint records (0 if none: older than lineages, or unreadable). */
uint64_t ckpt_lineage_of(h5file *f);
/* The lineage of the checkpoint at path, whose file name is name; 0 if
 * unknown: the one its name carries (step-NNNNNNNN-LINEAGE.h5), else its
 * lineage attribute, read even from a file that fails its checksum (a
 * damaged one names a run no other file has). */
uint64_t ckpt_lineage_at(const char *path, const char *name);

#endif
