/* dtrain: reading IDX files (the MNIST format) for convert (convert.h). */
#include "dtrain/convert.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dtrain/gzio.h"

enum {
    IDX_MAGIC_U8_VECTOR = 0x00000801, /* uint8 labels: N */
    IDX_MAGIC_U8_IMAGES = 0x00000803  /* uint8 images: N x rows x cols */
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The header of an IDX file of uint8 data whose magic must be `magic`
 * (ndims = its low byte): dims[0..ndims) and *total, their product in bytes. */
static dt_status idx_header(gzio *g, const char *path, uint32_t magic, uint32_t dims[3],
                            size_t *total, dt_error *err)
{
    const int ndims = (int)(magic & 0xff);
    const char *what = ndims == 3 ? "uint8 images (N x rows x cols)" : "uint8 labels (N)";
    const size_t header = 4 + 4 * (size_t)ndims;
    unsigned char head[16];
    size_t got = 0;
    dt_status st = gzio_read_full(g, head, header, &got, err);
    if (st)
        return st;
    if (got >= 4 && be32(head) != magic) {
        uint32_t m = be32(head);
        const char *hint = m == IDX_MAGIC_U8_VECTOR   ? " (that is a label file)"
                           : m == IDX_MAGIC_U8_IMAGES ? " (that is an image file)"
                                                      : "";
        return dt_fail(err, DT_EUSAGE, "%s: IDX magic number is 0x%08x%s, expected 0x%08x for %s",
                       path, (unsigned)m, hint, (unsigned)magic, what);
    }
    if (got < header)
        return dt_fail(err, DT_EUSAGE,
                       "%s is too short for an IDX header: %zu bytes, expected %zu for %s", path,
                       got, header, what);
    /* Total bytes; the check keeps the product within size_t and int64. */
    *total = 1;
    for (int i = 0; i < ndims; i++) {
        dims[i] = be32(head + 4 + 4 * i);
        if (dims[i] == 0)
            return dt_fail(err, DT_EUSAGE, "%s: IDX dimension %d is 0; nothing to convert", path,
                           i + 1);
        if (*total > (size_t)INT64_MAX / dims[i])
            return dt_fail(err, DT_EUSAGE, "%s: IDX dimensions are too large", path);
        *total *= dims[i];
    }
    return DT_OK;
}

/* The total bytes of data the header of ndims dims promised, into data, and
 * nothing after them. */
static dt_status idx_body(gzio *g, const char *path, int ndims, const uint32_t dims[3],
                          size_t total, unsigned char *data, dt_error *err)
{
    const size_t header = 4 + 4 * (size_t)ndims;
    size_t got = 0;
    dt_status st = gzio_read_full(g, data, total, &got, err);
    if (st)
        return st;
    if (got < total && ndims == 3)
        return dt_fail(err, DT_EUSAGE,
                       "%s is truncated: its header promises %u x %u x %u = %zu bytes of "
                       "image data after the %zu-byte header, the file has %zu",
                       path, (unsigned)dims[0], (unsigned)dims[1], (unsigned)dims[2], total,
                       header, got);
    if (got < total)
        return dt_fail(err, DT_EUSAGE,
                       "%s is truncated: its header promises %u labels after the %zu-byte "
                       "header, the file has %zu",
                       path, (unsigned)dims[0], header, got);
    /* Bytes beyond what the header describes mean a wrong header or a
     * different format: refuse rather than silently drop them. */
    unsigned char extra;
    st = gzio_read_full(g, &extra, 1, &got, err);
    if (!st && got != 0)
        st = dt_fail(err, DT_EUSAGE,
                     "%s is longer than its IDX header says (%zu data bytes expected); wrong "
                     "header or not an IDX file",
                     path, total);
    return st;
}

/* Read an IDX file of uint8 data whose magic must be `magic` (ndims = its low
 * byte) into a new buffer: dims[0..ndims) receive the sizes, *data the
 * elements in file order (caller frees). */
static dt_status idx_read(const char *path, uint32_t magic, uint32_t dims[3],
                          unsigned char **data, dt_error *err)
{
    gzio *g = NULL;
    size_t total = 0;
    *data = NULL;
    dt_status st = gzio_open(path, &g, err);
    if (st)
        return st;
    if (!(st = idx_header(g, path, magic, dims, &total, err))) {
        if (!(*data = malloc(total)))
            st = dt_fail(err, DT_ENOMEM, "%s: cannot allocate %zu bytes", path, total);
        else
            st = idx_body(g, path, (int)(magic & 0xff), dims, total, *data, err);
    }
    gzio_close(g);
    if (st) {
        free(*data);
        *data = NULL;
    }
    return st;
}

dt_status convert_read_idx(const char *images, const char *labels, convert_table *t,
                           dt_error *err)
{
    uint32_t idim[3], ldim[3];
    unsigned char *pix = NULL, *lab = NULL;
    memset(t, 0, sizeof *t);
    dt_status st = idx_read(images, IDX_MAGIC_U8_IMAGES, idim, &pix, err);
    if (st)
        return st;
    st = idx_read(labels, IDX_MAGIC_U8_VECTOR, ldim, &lab, err);
    if (st) {
        free(pix);
        return st;
    }
    if (idim[0] != ldim[0]) {
        free(pix);
        free(lab);
        return dt_fail(err, DT_EUSAGE, "%s holds %u images but %s holds %u labels", images,
                       (unsigned)idim[0], labels, (unsigned)ldim[0]);
    }
    int32_t *y = malloc(ldim[0] * sizeof *y);
    if (!y) {
        free(pix);
        free(lab);
        return dt_fail(err, DT_ENOMEM, "%s: cannot allocate %u labels", labels,
                       (unsigned)ldim[0]);
    }
    for (uint32_t i = 0; i < ldim[0]; i++)
        y[i] = lab[i];
    free(lab);
    t->n = idim[0];
    t->d = (int64_t)idim[1] * idim[2];
    t->x_type = DT_U8;
    t->y_type = DT_I32;
    t->x = pix; /* N x rows x cols row-major is already N x (rows*cols) */
    t->y = y;
    return DT_OK;
}
