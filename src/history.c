/* dtrain: the per-epoch record of a run (history.h). */
#include "dtrain/history.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dtrain/fsutil.h"

void history_init(dt_history *h) { memset(h, 0, sizeof *h); }

void history_free(dt_history *h)
{
    free(h->rows);
    history_init(h);
}

int history_add_col(dt_history *h, const char *fmt, ...)
{
    if (h->n_cols == HIST_MAX_COLS || h->n_rows)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->name[h->n_cols], HIST_NAME_LEN, fmt, ap);
    va_end(ap);
    return h->n_cols++;
}

int history_col(const dt_history *h, const char *name)
{
    for (int c = 0; c < h->n_cols; c++)
        if (!strcmp(h->name[c], name))
            return c;
    return -1;
}

double history_get(const dt_history *h, int64_t i, const char *name)
{
    const int c = history_col(h, name);
    return c < 0 || i < 0 || i >= h->n_rows ? NAN : h->rows[i * h->n_cols + c];
}

dt_status history_append(dt_history *h, const double *row, dt_error *err)
{
    if (h->n_rows == h->cap) {
        const int64_t cap = h->cap ? 2 * h->cap : 16;
        double *r = realloc(h->rows, (size_t)(cap * h->n_cols + 1) * sizeof *r);
        if (!r)
            return dt_fail(err, DT_ENOMEM, "out of memory for the history of epochs");
        h->rows = r;
        h->cap = cap;
    }
    memcpy(h->rows + h->n_rows * h->n_cols, row, (size_t)h->n_cols * sizeof *row);
    h->n_rows++;
    return DT_OK;
}

const double *history_last(const dt_history *h)
{
    return h->n_rows ? h->rows + (h->n_rows - 1) * h->n_cols : NULL;
}

int history_trend(const dt_history *h, const char *name, int64_t w, double *before,
                  double *last)
{
    const int c = history_col(h, name);
    if (c < 0 || w < 1 || h->n_rows < 2 * w)
        return 0;
    double sum[2] = {0.0, 0.0};
    for (int64_t i = h->n_rows - 2 * w; i < h->n_rows; i++)
        sum[i >= h->n_rows - w] += h->rows[i * h->n_cols + c];
    *before = sum[0] / (double)w;
    *last = sum[1] / (double)w;
    return isfinite(*before) && isfinite(*last);
}

void history_truncate(dt_history *h, int64_t epoch)
{
    const int c = history_col(h, "epoch");
    while (c >= 0 && h->n_rows && h->rows[(h->n_rows - 1) * h->n_cols + c] > (double)epoch)
        h->n_rows--;
}

/* ---- HDF5 ------------------------------------------------------------------------ */

dt_status history_write_h5(h5file *f, const dt_history *h, dt_error *err)
{
    char cols[HIST_MAX_COLS * HIST_NAME_LEN] = "";
    size_t used = 0;
    for (int c = 0; c < h->n_cols; c++)
        used += (size_t)snprintf(cols + used, sizeof cols - used, "%s%s", c ? "," : "",
                                 h->name[c]);
    int64_t dims[2] = {h->n_rows, h->n_cols};
    dt_status st = h5io_write(f, "/history/epochs", DT_F64, 2, dims, h->rows, 0, err);
    return st ? st : h5io_set_attr_str(f, "/history", "columns", cols, err);
}

/* The stored column names (the attribute, comma-separated) into names[];
 * files of the first format (five fixed columns named through the attributes
 * eval_name and metric) get the names those columns have now. */
static int stored_names(h5file *f, char names[][HIST_NAME_LEN], int max)
{
    char list[HIST_MAX_COLS * HIST_NAME_LEN] = "", ev[16] = "", metric[16] = "";
    if (h5io_get_attr_str(f, "/history", "columns", list, sizeof list, NULL))
        return 0;
    const int old = h5io_get_attr_str(f, "/history", "eval_name", ev, sizeof ev, NULL) == DT_OK &&
                    h5io_get_attr_str(f, "/history", "metric", metric, sizeof metric, NULL) ==
                        DT_OK;
    int n = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t && n < max;
         t = strtok_r(NULL, ",", &save), n++) {
        if (old && !strcmp(t, "eval_loss"))
            snprintf(names[n], HIST_NAME_LEN, "%s_loss", ev);
        else if (old && !strcmp(t, "eval_metric"))
            snprintf(names[n], HIST_NAME_LEN, "%s_%s", ev, metric);
        else if (old && !strcmp(t, "seconds"))
            snprintf(names[n], HIST_NAME_LEN, "time");
        else
            snprintf(names[n], HIST_NAME_LEN, "%s", t);
    }
    return n;
}

/* Stored rows (rows x n_stored) into h, column by name. */
static dt_status map_rows(dt_history *h, const double *in, int64_t rows,
                          char names[][HIST_NAME_LEN], int n_stored, dt_error *err)
{
    int to[HIST_MAX_COLS];
    for (int c = 0; c < n_stored; c++) to[c] = history_col(h, names[c]);
    double *row = malloc((size_t)h->n_cols * sizeof *row + 1);
    dt_status st = row ? DT_OK : dt_fail(err, DT_ENOMEM, "out of memory");
    for (int64_t i = 0; i < rows && !st; i++) {
        for (int c = 0; c < h->n_cols; c++) row[c] = NAN;
        for (int c = 0; c < n_stored; c++)
            if (to[c] >= 0)
                row[to[c]] = in[i * n_stored + c];
        st = history_append(h, row, err);
    }
    free(row);
    return st;
}

dt_status history_read_h5(h5file *f, const char *path, int64_t max_rows, dt_history *h,
                          dt_error *err)
{
    h->n_rows = 0;
    if (!h5io_exists(f, "/history/epochs"))
        return DT_OK;
    char names[HIST_MAX_COLS][HIST_NAME_LEN];
    const int n = stored_names(f, names, HIST_MAX_COLS);
    int nd;
    int64_t dims[8];
    dt_dtype t;
    dt_status st = h5io_info(f, "/history/epochs", &nd, dims, &t, err);
    if (st)
        return st;
    if (nd != 2 || dims[1] != n || n == 0)
        return dt_fail(err, DT_EUSAGE,
                       "%s: /history/epochs is malformed (expected rows x %d columns named by "
                       "its attribute 'columns')",
                       path, n);
    if (dims[0] > max_rows)
        return dt_fail(err, DT_EUSAGE, "%s: /history/epochs has %lld rows; expected at most "
                       "%lld (one per epoch); refused before reading",
                       path, (long long)dims[0], (long long)max_rows);
    if ((st = h5io_check_size(f, "/history/epochs", err)))
        return st;
    if (h->n_cols == 0)
        for (int c = 0; c < n; c++) history_add_col(h, "%s", names[c]);
    double *in = malloc((size_t)(dims[0] * n + 1) * sizeof *in);
    if (!in)
        return dt_fail(err, DT_ENOMEM, "out of memory for %s's history", path);
    st = h5io_read_rows(f, "/history/epochs", DT_F64, 0, dims[0], in, err);
    if (!st)
        st = map_rows(h, in, dims[0], names, n, err);
    free(in);
    return st;
}

/* ---- the metrics log -------------------------------------------------------------- */

static int is_csv(const char *path)
{
    const size_t n = strlen(path);
    return n >= 4 && !strcmp(path + n - 4, ".csv");
}

/* A value as the log writes it: counts as integers, NaN as null (JSON) or
 * nothing (CSV), the rest with 10 significant digits. */
static void put_value(FILE *f, const char *name, double v, int csv)
{
    if (!isfinite(v))
        fputs(csv ? "" : "null", f);
    else if (!strcmp(name, "epoch") || !strcmp(name, "step") || !strcmp(name, "samples"))
        fprintf(f, "%.0f", v);
    else
        fprintf(f, "%.10g", v);
}

static void put_row(FILE *f, const dt_history *h, const double *row, int csv)
{
    for (int c = 0; c < h->n_cols; c++) {
        if (csv)
            fputs(c ? "," : "", f);
        else
            fprintf(f, "%s\"%s\": ", c ? ", " : "{", h->name[c]);
        put_value(f, h->name[c], row[c], csv);
    }
    fputs(csv ? "\n" : "}\n", f);
}

/* Rows [from, h->n_rows) as the log's lines (the CSV header first if
 * header), into a buffer of *len bytes the caller frees; NULL if out of
 * memory. */
static char *format_lines(const dt_history *h, int64_t from, int csv, int header, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    for (int c = 0; header && c < h->n_cols; c++) fprintf(f, "%s%s", c ? "," : "", h->name[c]);
    if (header)
        fputc('\n', f);
    for (int64_t i = from; i < h->n_rows; i++) put_row(f, h, h->rows + i * h->n_cols, csv);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* All of buf at the end of fd, or the file cut back to the size it had, so
 * that it holds whole lines only (a full disk, a file-size limit); -1 with
 * errno set then.  Appends are one write(2) unless the system splits one. */
static int append_whole(int fd, const char *buf, size_t len)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    for (size_t done = 0; done < len;) {
        const ssize_t n = write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const int e = n < 0 ? errno : EIO;
            /* the write's cause is the one to report; a failed cut adds nothing */
            const int cut = ftruncate(fd, st.st_size);
            (void)cut;
            errno = e;
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

void history_log_init(dt_histlog *log)
{
    log->fd = -1;
    log->csv = 0;
    log->path = NULL;
}

dt_status history_log_open(dt_histlog *log, const char *path, const dt_history *h,
                           dt_error *err)
{
    history_log_close(log);
    char tmp[DT_PATH_MAX + 32];
    fs_temp_name(path, tmp, sizeof tmp);
    const int csv = is_csv(path);
    size_t len = 0;
    char *buf = format_lines(h, 0, csv, csv, &len);
    if (!buf)
        return dt_fail_opt(err, DT_ENOMEM, "log", "%s %s: out of memory for its %lld records",
                           dt_opt("log"), path, (long long)h->n_rows);
    /* A file of our own, created here (a temporary of a crashed run whose
     * process had this number goes first): O_APPEND keeps every later
     * record at its end, whatever happens to the name meanwhile. */
    unlink(tmp);
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
    dt_status st = DT_OK;
    if (fd < 0)
        st = dt_fail_opt(err, DT_EIO, "log", "%s %s: cannot create %s: %s", dt_opt("log"), path,
                         tmp, strerror(errno));
    else if (append_whole(fd, buf, len) != 0)
        st = dt_fail_opt(err, DT_EIO, "log", "%s %s: cannot write %s: %s", dt_opt("log"), path,
                         tmp, strerror(errno));
    else
        st = fs_commit(tmp, path, err);
    free(buf);
    if (st && fd >= 0) {
        close(fd);
        unlink(tmp);
        return st;
    }
    if (!st) {
        log->fd = fd;
        log->csv = csv;
        log->path = path;
    }
    return st;
}

dt_status history_log_append(dt_histlog *log, const dt_history *h, dt_error *err)
{
    if (!log->path || h->n_rows == 0)
        return DT_OK;
    size_t len = 0;
    char *buf = format_lines(h, h->n_rows - 1, log->csv, 0, &len);
    if (!buf)
        return dt_fail_opt(err, DT_ENOMEM, "log", "%s %s: out of memory for a record",
                           dt_opt("log"), log->path);
    const int rc = append_whole(log->fd, buf, len);
    const int e = errno;
    free(buf);
    if (rc != 0)
        return dt_fail_opt(err, DT_EIO, "log", "%s %s: cannot append epoch %.0f's record: %s",
                           dt_opt("log"), log->path, history_get(h, h->n_rows - 1, "epoch"), strerror(e));
    return DT_OK;
}

void history_log_close(dt_histlog *log)
{
    if (log->path)
        close(log->fd);
    history_log_init(log);
}
