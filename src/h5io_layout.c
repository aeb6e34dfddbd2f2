/* dtrain: HDF5 access: a dataset's layout, checked before HDF5 opens it.
 * Part of the HDF5 layer (h5io.c, h5io_impl.h), which alone includes
 * <hdf5.h>. */
#include "h5io_impl.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- A dataset's layout, checked before HDF5 opens it ----
 *
 * HDF5 1.10 (1.10.8 included) divides by every chunk dimension of a dataset's
 * layout message when H5Dopen2 opens it, without checking them: a file whose
 * layout declares a chunk dimension of 0, or fewer chunk dimensions than the
 * dataspace has (the missing ones read as 0), ends the process with SIGFPE in
 * H5D__chunk_set_info.  So before every H5Dopen2 of a file dtrain reads, the
 * object header of the dataset is read here, as the HDF5 File Format
 * Specification lays it out (object header versions 1 and 2 with their
 * continuation blocks, dataspace message versions 1 and 2, layout message
 * versions 1 to 4), and its chunked layout is checked against its rank;
 * a variable-length string type's characters must be 1 byte each.
 * Everything else in the header is left to HDF5, which checks it. */

/* Bounds on what a header may make us read: a real header is a few hundred
 * bytes in one or a few blocks. */
enum { OH_MAX_BLOCKS = 1024, OH_MAX_BLOCK = 1 << 24 };

typedef struct {
    int fd;
    const uint8_t *mem; /* a file image's bytes (mem_len), read instead of fd */
    uint64_t mem_len;
    uint64_t base;  /* file offset of address 0: the superblock's */
    unsigned sa, ss;/* bytes of an address and of a length in this file */
    int v2;         /* object header version 2 ("OHDR") */
    int crt_order;  /* version 2: every message carries a 2-byte creation index */
    uint64_t next[OH_MAX_BLOCKS][2]; /* continuation blocks (address, length) */
    int n_next;
    int rank;       /* the dataspace's, -1 until seen (or stored elsewhere, shared) */
    int chunked;    /* a chunked layout message was seen */
    unsigned ndims; /* its chunk dimensions, the element size last */
    uint64_t dims[33];
    int typed;      /* a datatype message was seen */
    int vlen_str;   /* it is a variable-length string ... */
    uint64_t vlen_char; /* ... of characters this many bytes each */
    int broken;     /* the header does not parse: HDF5 would not open it either */
} oh_scan;

static uint64_t le_uint(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* len bytes at address addr of the file, or NULL (beyond its end, or no memory). */
static uint8_t *oh_read(const oh_scan *s, uint64_t addr, uint64_t len)
{
    if (len == 0 || len > OH_MAX_BLOCK || addr > UINT64_MAX - s->base - len)
        return NULL;
    const uint64_t at = s->base + addr;
    if (s->mem && (at > s->mem_len || len > s->mem_len - at))
        return NULL;
    uint8_t *buf = malloc(len);
    if (buf && s->mem)
        memcpy(buf, s->mem + at, len);
    else if (buf && pread(s->fd, buf, len, (off_t)at) != (ssize_t)len) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

/* Dataspace message: its rank (version 1 and 2 alike in the second byte). */
static void scan_dataspace(oh_scan *s, const uint8_t *d, size_t n)
{
    if (s->rank >= 0)
        return; /* HDF5 uses the first */
    if (n < 4 || (d[0] != 1 && d[0] != 2))
        return; /* HDF5 refuses it itself */
    /* version 2 marks scalar (0) and null (2) spaces in the fourth byte */
    s->rank = d[0] == 2 && d[3] != 1 ? 0 : d[1];
}

/* Layout message: for a chunked layout, its dimensions (uint32 each before
 * version 4, `width` bytes each in version 4). */
static void scan_layout(oh_scan *s, const uint8_t *d, size_t n)
{
    if (s->chunked || n < 3)
        return; /* HDF5 uses the first; a short one HDF5 refuses itself */
    unsigned ndims, width = 4;
    size_t at;
    if (d[0] == 1 || d[0] == 2) { /* version, ndims, class, 5 reserved, address, dims */
        if (d[2] != 2)
            return;
        ndims = d[1];
        at = 8 + s->sa;
    } else if (d[0] == 3) { /* version, class, ndims, address, dims */
        if (d[1] != 2)
            return;
        ndims = d[2];
        at = 3 + (size_t)s->sa;
    } else if (d[0] == 4) { /* version, class, flags, ndims, width, dims, index */
        if (d[1] != 2 || n < 5 || d[4] < 1 || d[4] > 8)
            return;
        ndims = d[3];
        width = d[4];
        at = 5;
    } else {
        return;
    }
    s->chunked = 1;
    s->ndims = ndims;
    if (ndims > 33 || at + (size_t)ndims * width > n) {
        s->broken = 1;
        return;
    }
    for (unsigned i = 0; i < ndims; i++)
        s->dims[i] = le_uint(d + at + (size_t)i * width, width);
}

/* Datatype message: for a variable-length string (class 9, type 1), the size
 * of its characters, the base type's size after the 8 bytes of its own
 * class, bit field and size and the base's 4 of class and bit field. */
static void scan_datatype(oh_scan *s, const uint8_t *d, size_t n)
{
    if (s->typed || n < 8)
        return; /* HDF5 uses the first; a short one HDF5 refuses itself */
    s->typed = 1;
    if ((d[0] & 0x0f) != 9 || (d[1] & 0x0f) != 1)
        return;
    s->vlen_str = 1;
    if (n < 16) {
        s->broken = 1;
        return;
    }
    s->vlen_char = le_uint(d + 12, 4);
}

/* The messages of one block of the header, [p, end). */
static void scan_messages(oh_scan *s, const uint8_t *p, const uint8_t *end)
{
    const size_t head = s->v2 ? 4 + (s->crt_order ? 2 : 0) : 8;
    while ((size_t)(end - p) >= head && !s->broken) {
        const unsigned type = s->v2 ? p[0] : (unsigned)le_uint(p, 2);
        const size_t size = (size_t)le_uint(p + (s->v2 ? 1 : 2), 2);
        const unsigned flags = p[s->v2 ? 3 : 4];
        p += head;
        if (size > (size_t)(end - p)) {
            s->broken = 1;
            return;
        }
        if (flags & 0x02) {
            /* shared: the message is elsewhere (a dataspace, at most) */
        } else if (type == 0x01) {
            scan_dataspace(s, p, size);
        } else if (type == 0x03) {
            scan_datatype(s, p, size);
        } else if (type == 0x08) {
            scan_layout(s, p, size);
        } else if (type == 0x10) { /* continuation: address, length */
            if (size < (size_t)s->sa + s->ss || s->n_next == OH_MAX_BLOCKS) {
                s->broken = 1;
                return;
            }
            s->next[s->n_next][0] = le_uint(p, s->sa);
            s->next[s->n_next][1] = le_uint(p + s->sa, s->ss);
            s->n_next++;
        }
        p += size;
    }
}

/* The prefix of the object header at addr: its version, and where its first
 * block of messages lies (*at, *len).  0, or -1 if it is not a header. */
static int scan_prefix(oh_scan *s, uint64_t addr, uint64_t *at, uint64_t *len)
{
    uint8_t *pre = oh_read(s, addr, 16);
    if (!pre)
        return -1;
    if (pre[0] == 1) { /* version, reserved, count, refs, size, 4 reserved */
        *at = addr + 16;
        *len = le_uint(pre + 8, 4);
    } else if (!memcmp(pre, "OHDR", 4) && pre[4] == 2) {
        /* signature, version, flags, [4 times], [2 attribute limits], chunk 0's size */
        const unsigned flags = pre[5], width = 1u << (flags & 3);
        const size_t p = 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0);
        free(pre);
        if (!(pre = oh_read(s, addr, p + width)))
            return -1;
        s->v2 = 1;
        s->crt_order = (flags & 0x04) != 0;
        *len = le_uint(pre + p, width);
        *at = addr + p + width;
    } else {
        free(pre);
        return -1;
    }
    free(pre);
    return 0;
}

/* One block of messages, len bytes at address at: the first (b == -1), or
 * continuation block b (version 2: "OCHK", messages, checksum).  0, or -1 if
 * it cannot be read. */
static int scan_block(oh_scan *s, int b, uint64_t at, uint64_t len)
{
    uint8_t *blk = oh_read(s, at, len);
    if (!blk || (b >= 0 && s->v2 && (len < 8 || memcmp(blk, "OCHK", 4)))) {
        free(blk);
        return -1;
    }
    const size_t skip = b >= 0 && s->v2 ? 4 : 0, tail = b >= 0 && s->v2 ? 4 : 0;
    scan_messages(s, blk + skip, blk + len - tail);
    free(blk);
    return 0;
}

/* The object header at addr: its first block, then its continuation blocks
 * in the order they are named (HDF5's order). */
static void scan_header(oh_scan *s, uint64_t addr)
{
    uint64_t at, len;
    if (scan_prefix(s, addr, &at, &len) < 0) {
        s->broken = 1;
        return;
    }
    for (int b = -1; b < s->n_next && !s->broken; b++) {
        if (b >= 0) { /* a continuation block */
            at = s->next[b][0];
            len = s->next[b][1];
        }
        if (scan_block(s, b, at, len) < 0) {
            s->broken = 1;
            return;
        }
    }
}

/* What a scanned header says: DT_OK, or why HDF5 must not open dset. */
static dt_status layout_verdict(const h5file *f, const char *dset, const oh_scan *s,
                                dt_error *err)
{
    if (s->broken)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' is damaged: its object header cannot be read",
                       f->path, dset);
    /* HDF5 sizes its buffers for a string's characters by this (gigabytes
     * from one damaged byte) */
    if (s->vlen_str && s->vlen_char != 1)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' is damaged: its strings' characters are "
                       "declared %llu bytes each (1 expected)", f->path, dset,
                       (unsigned long long)s->vlen_char);
    if (!s->chunked)
        return DT_OK;
    int bad = s->ndims < 2 || (s->rank >= 0 && s->ndims != (unsigned)s->rank + 1);
    for (unsigned i = 0; i < s->ndims; i++)
        bad |= s->dims[i] == 0;
    if (!bad)
        return DT_OK;
    char shape[256] = "none", want[96] = "";
    size_t used = 0;
    for (unsigned i = 0; i + 1 < s->ndims && used < sizeof shape; i++)
        used += (size_t)snprintf(shape + used, sizeof shape - used, "%s%llu", i ? " x " : "",
                                 (unsigned long long)s->dims[i]);
    if (s->rank >= 0)
        snprintf(want, sizeof want, " for a %d-dimensional dataset; expected %d", s->rank,
                 s->rank);
    else
        snprintf(want, sizeof want, "; expected");
    return dt_fail(err, DT_EUSAGE,
                   "%s: '%s' is damaged: its chunked layout lists chunk dimensions (%s)%s%s, "
                   "each at least 1",
                   f->path, dset, shape,
                   s->ndims >= 1 && s->dims[s->ndims - 1] == 0 ? " and element size 0" : "",
                   want);
}

/* Where f's addresses start and how wide they are, into s: the superblock
 * follows the user block (s->base), and sets the bytes of an address and of
 * a length (s->sa, s->ss, each 2 to 8).  0, or -1 if HDF5 does not say. */
static int scan_geometry(const h5file *f, oh_scan *s)
{
    hsize_t ub = 0;
    size_t sa = 0, ss = 0;
    hid_t fcpl = H5Fget_create_plist(f->id);
    const int sizes = fcpl >= 0 && H5Pget_sizes(fcpl, &sa, &ss) >= 0 &&
                      H5Pget_userblock(fcpl, &ub) >= 0 && sa >= 2 && sa <= 8 && ss >= 2 &&
                      ss <= 8;
    if (fcpl >= 0)
        H5Pclose(fcpl);
    s->base = ub;
    s->sa = (unsigned)sa;
    s->ss = (unsigned)ss;
    return sizes ? 0 : -1;
}

/* dset's chunked layout (if it has one) is one HDF5 can open: one chunk
 * dimension per dimension of its dataspace, and the element size, none 0.
 * Local; reads the header with its own descriptor (or from a file image). */
static dt_status check_layout(h5file *f, const char *dset, dt_error *err)
{
    if (f->in_memory)
        return DT_OK; /* being built here, by HDF5 */
    H5O_info_t oi;
    if (H5Oget_info_by_name2(f->id, dset, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        oi.type != H5O_TYPE_DATASET)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' is not a dataset", f->path, dset);
    oh_scan *s = calloc(1, sizeof *s); /* 16 KiB of continuation addresses */
    if (!s)
        return dt_fail(err, DT_ENOMEM, "out of memory");
    s->rank = -1;
    s->mem = f->image;
    s->mem_len = f->image_len;
    const int geometry = scan_geometry(f, s) == 0;
    s->fd = geometry && !s->mem ? open(f->path, O_RDONLY) : -1;
    dt_status st;
    if (!geometry || (s->fd < 0 && !s->mem)) {
        st = dt_fail(err, DT_EUSAGE, "%s: cannot read how '%s' is stored", f->path, dset);
    } else {
        scan_header(s, oi.addr);
        if (s->fd >= 0)
            close(s->fd);
        st = layout_verdict(f, dset, s, err);
    }
    free(s);
    return st;
}

/* H5Dopen2, after check_layout. */
dt_status h5io_open_dataset(h5file *f, const char *dset, hid_t *d, dt_error *err)
{
    *d = H5I_INVALID_HID;
    if (!h5io_exists(f, dset))
        return dt_fail(err, DT_EUSAGE, "%s: no dataset '%s'", f->path, dset);
    dt_status st = check_layout(f, dset, err);
    if (st)
        return st;
    if ((*d = H5Dopen2(f->id, dset, H5P_DEFAULT)) < 0)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' is not a dataset", f->path, dset);
    return DT_OK;
}

/* ---- Variable-length strings, checked before HDF5 reads them ----
 *
 * A variable-length string is stored as a reference to an object of a global
 * heap collection: its length (4 bytes), the collection's address and the
 * object's index (4 bytes).  HDF5 1.10 reads the object by that index without
 * checking it (H5HG_read), and copies the object's whole size into a buffer
 * sized by the reference's length: a damaged reference or collection makes it
 * read or write outside its memory.  So every reference of a dataset is
 * checked here against its collection, walked as HDF5 walks it
 * (H5HG__cache_heap_deserialize): the collection ("GCOL", version 1, at least
 * 4096 bytes, within the file) holds objects that end inside it, and the
 * referenced one (index > 0) is there and exactly as long as the string. */

/* The size of object `want` of collection c (size bytes; ss: bytes of a
 * length), or -1 if it is not there or the collection does not parse. */
static int64_t heap_object(const uint8_t *c, uint64_t size, unsigned ss, uint64_t want)
{
    const uint64_t hdr = 2 + 2 + 4 + ss; /* index, references, reserved, size */
    uint64_t p = 8 + ss;                 /* "GCOL", version, reserved, size */
    int64_t found = -1;
    while (p < size) {
        if (size - p < hdr)
            break; /* too small for an object: free space to the end */
        const uint64_t idx = le_uint(c + p, 2), osize = le_uint(c + p + 8, ss);
        if (osize > size)
            return -1;
        const uint64_t need = idx > 0 ? hdr + ((osize + 7) & ~(uint64_t)7) : osize;
        if (need < hdr || need > size - p)
            return -1;
        if (idx == want)
            found = (int64_t)osize;
        p += need;
    }
    return found;
}

/* The collection at addr into *c (*size bytes), or -1 if it is none. */
static int heap_collection(const oh_scan *s, uint64_t addr, uint8_t **c, uint64_t *size)
{
    *c = NULL;
    uint8_t *h = oh_read(s, addr, 8 + s->ss);
    const int magic = h && memcmp(h, "GCOL", 4) == 0 && h[4] == 1;
    *size = magic ? le_uint(h + 8, s->ss) : 0;
    free(h);
    if (*size < 4096 || !(*c = oh_read(s, addr, *size)))
        return -1;
    return 0;
}

/* The n references of dataset d, stored contiguous at address at, each
 * checked.  Local. */
static dt_status check_references(h5file *f, const char *dset, oh_scan *s, uint64_t at,
                                  uint64_t n, dt_error *err)
{
    const uint64_t el = 4 + s->sa + 4;
    uint8_t *refs = n <= OH_MAX_BLOCK / el ? oh_read(s, at, n * el) : NULL;
    if (!refs)
        return dt_fail(err, DT_EUSAGE, "%s: '%s': its %llu strings' references cannot be read "
                       "(truncated or damaged file)", f->path, dset, (unsigned long long)n);
    uint8_t *c = NULL;
    uint64_t c_addr = 0, c_size = 0;
    dt_status st = DT_OK;
    for (uint64_t i = 0; i < n && !st; i++) {
        const uint8_t *r = refs + i * el;
        const uint64_t len = le_uint(r, 4), addr = le_uint(r + 4, s->sa);
        const uint64_t idx = le_uint(r + 4 + s->sa, 4);
        if (len == 0)
            continue; /* an empty string reads nothing */
        if (!c || addr != c_addr) {
            free(c);
            c_addr = addr;
            if (heap_collection(s, addr, &c, &c_size))
                c = NULL;
        }
        if (!c || idx == 0 || heap_object(c, c_size, s->ss, idx) != (int64_t)len)
            st = dt_fail(err, DT_EUSAGE, "%s: '%s': string %llu is damaged (its stored text "
                         "is not where its reference says)", f->path, dset,
                         (unsigned long long)i);
    }
    free(c);
    free(refs);
    return st;
}

dt_status h5io_check_vlen_strs(h5file *f, hid_t d, const char *dset, uint64_t n,
                               dt_error *err)
{
    if (n == 0 || f->in_memory)
        return DT_OK;
    const haddr_t at = H5Dget_offset(d);
    if (at == HADDR_UNDEF)
        return dt_fail(err, DT_EUSAGE, "%s: '%s' holds variable-length strings stored "
                       "chunked or compact, which dtrain does not read: store them "
                       "contiguous (h5py's default)", f->path, dset);
    oh_scan *s = calloc(1, sizeof *s);
    if (!s)
        return dt_fail(err, DT_ENOMEM, "out of memory");
    s->mem = f->image;
    s->mem_len = f->image_len;
    const int geometry = scan_geometry(f, s) == 0;
    s->fd = geometry && !s->mem ? open(f->path, O_RDONLY) : -1;
    dt_status st = !geometry || (s->fd < 0 && !s->mem)
                       ? dt_fail(err, DT_EUSAGE, "%s: cannot read how '%s' is stored", f->path,
                                 dset)
                       : check_references(f, dset, s, (uint64_t)at, n, err);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
    return st;
}
