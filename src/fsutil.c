/* dtrain: durable file replacement. */
#include "dtrain/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void fs_temp_name(const char *path, char *tmp, size_t len)
{
    snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
}

int fs_temp_base(const char *name, char *base, size_t len)
{
    const char *t = strrchr(name, '.');
    if (!t || t[1] == '\0' || strspn(t + 1, "0123456789") != strlen(t + 1) || t - name < 4 ||
        strncmp(t - 4, ".tmp", 4) != 0)
        return 0;
    size_t n = (size_t)(t - 4 - name);
    if (n == 0 || n >= len)
        return 0;
    memcpy(base, name, n);
    base[n] = '\0';
    return 1;
}

void fs_dirname(const char *path, char *dir, size_t len)
{
    snprintf(dir, len, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, len, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
}

int fs_join(const char *dir, const char *path, char *out, size_t len)
{
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    const int n = path[0] == '/' || !strcmp(dir, ".")
                      ? snprintf(out, len, "%s", path)
                      : snprintf(out, len, "%s%s%s", dir,
                                 dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", path);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int fs_absolute(const char *path, char *out, size_t len)
{
    char cwd[PATH_MAX];
    if (path[0] == '/')
        return fs_join(".", path, out, len);
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    return fs_join(cwd, path, out, len);
}

static int sync_path(const char *path, int flags)
{
    int fd = open(path, flags);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

dt_status fs_commit(const char *tmp, const char *path, dt_error *err)
{
    if (sync_path(tmp, O_RDONLY) != 0)
        return dt_fail(err, DT_EIO, "%s: cannot fsync: %s", tmp, strerror(errno));
    if (rename(tmp, path) != 0)
        return dt_fail(err, DT_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    char dir[4096];
    fs_dirname(path, dir, sizeof dir);
    /* Some file systems refuse fsync on a directory; the rename is done either way. */
    sync_path(dir, O_RDONLY | O_DIRECTORY);
    return DT_OK;
}

dt_status fs_symlink_replace(const char *target, const char *link, dt_error *err)
{
    char tmp[4200];
    fs_temp_name(link, tmp, sizeof tmp);
    unlink(tmp);
    if (symlink(target, tmp) != 0)
        return dt_fail(err, DT_EIO, "cannot create symbolic link %s: %s", tmp, strerror(errno));
    if (rename(tmp, link) != 0) {
        int e = errno;
        unlink(tmp);
        return dt_fail(err, DT_EIO, "cannot rename %s to %s: %s", tmp, link, strerror(e));
    }
    char dir[4096];
    fs_dirname(link, dir, sizeof dir);
    sync_path(dir, O_RDONLY | O_DIRECTORY);
    return DT_OK;
}

dt_status fs_mkdirs(const char *path, dt_error *err)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return dt_fail(err, DT_EUSAGE, "cannot create directory %s: %s", buf,
                               strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return dt_fail(err, DT_EUSAGE, "%s exists and is not a directory", path);
    if (access(path, W_OK | X_OK) != 0)
        return dt_fail(err, DT_EUSAGE, "directory %s is not writable", path);
    return DT_OK;
}

/* "a FIFO", "a directory", ... for a stat mode that is not a regular file. */
static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a regular file";
}

dt_status fs_check_input(const char *path, dt_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return dt_fail(err, DT_EUSAGE, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return dt_fail(err, DT_EUSAGE, "%s: is %s, not a regular file", path,
                       kind_of(sb.st_mode));
    return DT_OK;
}

int fs_same_file(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* The file a path names, for comparing outputs before they exist: the
 * resolved directory (symbolic links and "." and ".." gone) and the last
 * name.  0 if the directory does not resolve. */
static int resolve_parent(const char *path, char *out, size_t len)
{
    char dir[4096], real[PATH_MAX];
    fs_dirname(path, dir, sizeof dir);
    if (!realpath(dir, real))
        return 0;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    return snprintf(out, len, "%s/%s", strcmp(real, "/") ? real : "", base) < (int)len;
}

/* 1 if a and b are one file: by device and inode when both exist (sa, sb
 * from stat or lstat, ea/eb whether they do), else by resolved path. */
static int same_file(const char *a, const struct stat *sa, int ea, const char *b,
                     const struct stat *sb, int eb)
{
    if (ea && eb)
        return sa->st_dev == sb->st_dev && sa->st_ino == sb->st_ino;
    if (ea || eb)
        return 0;
    char ra[PATH_MAX + 256], rb[PATH_MAX + 256];
    return resolve_parent(a, ra, sizeof ra) && resolve_parent(b, rb, sizeof rb) &&
           !strcmp(ra, rb);
}

/* 1 if path (an input, followed through links, or an output) is one of the
 * files `owned` keeps in its directory. */
static int in_owned_dir(const fs_owned_dir *owned, const char *path, int follow)
{
    char rdir[PATH_MAX], rpath[PATH_MAX + 256];
    if (!owned || !owned->dir || !owned->dir[0] || !realpath(owned->dir, rdir))
        return 0;
    if (follow ? !realpath(path, rpath) : !resolve_parent(path, rpath, sizeof rpath))
        return 0;
    const char *slash = strrchr(rpath, '/');
    const size_t n = (size_t)(slash - rpath);
    return (n == strlen(rdir) || (n == 0 && !strcmp(rdir, "/"))) &&
           !strncmp(rpath, rdir, n) && owned->owns(slash + 1);
}

/* The output's directory takes a new file: probed with the temporary name
 * the real write will use (the same directory, permissions and file
 * system, and nothing existing touched). */
static dt_status probe_writable(const fs_file *o, int exists, dt_error *err)
{
    char dir[4096];
    fs_dirname(o->path, dir, sizeof dir);
    if (access(dir, W_OK | X_OK) != 0)
        return dt_fail(err, DT_EUSAGE, "%s %s: directory '%s' is missing or not writable",
                       o->name, o->path, dir);
    char tmp[4200];
    fs_temp_name(o->path, tmp, sizeof tmp);
    int fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0)
        return dt_fail(err, DT_EUSAGE, "%s %s: cannot write there: %s", o->name, o->path,
                       strerror(errno));
    close(fd);
    unlink(tmp);
    if (exists && access(o->path, W_OK) != 0)
        return dt_fail(err, DT_EUSAGE, "%s %s: file exists and is not writable", o->name,
                       o->path);
    return DT_OK;
}

/* One output against the rules (see fsutil.h); f[0..n) are all the files,
 * f[i] the output. */
static dt_status check_one_output(const fs_file *f, size_t n, size_t i,
                                  const fs_owned_dir *owned, dt_error *err)
{
    const fs_file *o = &f[i];
    struct stat so;
    int exists = lstat(o->path, &so) == 0;
    if (!exists && (errno == ENAMETOOLONG || errno == ELOOP))
        return dt_fail(err, DT_EUSAGE, "%s %s: %s", o->name, o->path, strerror(errno));
    if (exists && !S_ISREG(so.st_mode))
        return dt_fail(err, DT_EUSAGE,
                       "%s %s: is %s; dtrain writes only regular files (name a new file "
                       "or a regular one to replace)",
                       o->name, o->path, kind_of(so.st_mode));
    for (size_t j = 0; j < n; j++) {
        struct stat si;
        if ((f[j].role != FS_INPUT && f[j].role != FS_OWNED) || !f[j].path || !f[j].path[0])
            continue;
        if (exists && stat(f[j].path, &si) == 0 && same_file(o->path, &so, 1, f[j].path, &si, 1))
            return dt_fail(err, DT_EUSAGE,
                           "%s %s: is the input %s (%s); writing it would destroy it (choose "
                           "another output name)",
                           o->name, o->path, f[j].path, f[j].name);
    }
    dt_status st = probe_writable(o, exists, err);
    if (st)
        return st;
    for (size_t j = 0; j < n; j++) {
        struct stat sj;
        if (j == i || f[j].role == FS_INPUT || f[j].role == FS_OWNED ||
            (f[j].role == FS_OUTPUT && j > i) ||
            !f[j].path || !f[j].path[0])
            continue;
        int ej = lstat(f[j].path, &sj) == 0;
        if (same_file(o->path, &so, exists, f[j].path, &sj, ej))
            return dt_fail(err, DT_EUSAGE, "%s %s: is also %s's file %s (give each output a "
                           "name of its own)",
                           o->name, o->path, f[j].name, f[j].path);
    }
    if (in_owned_dir(owned, o->path, 0))
        return dt_fail(err, DT_EUSAGE,
                       "%s %s: is one of the files of %s %s (%s), which the run replaces "
                       "and deletes (name a file outside it, or of another name)",
                       o->name, o->path, owned->name, owned->dir, owned->what);
    return DT_OK;
}

dt_status fs_check_files(const fs_file *files, size_t n, const fs_owned_dir *owned,
                         dt_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const fs_file *f = &files[i];
        if (!f->path || !f->path[0] || f->role == FS_WRITTEN || f->role == FS_OWNED)
            continue;
        dt_status st = DT_OK;
        if (f->role == FS_OUTPUT)
            st = check_one_output(files, n, i, owned, err);
        else if (in_owned_dir(owned, f->path, 1))
            st = dt_fail(err, DT_EUSAGE,
                         "%s %s: is one of the files of %s %s (%s), which the run replaces "
                         "and deletes (copy it out of there first)",
                         f->name, f->path, owned->name, owned->dir, owned->what);
        if (st)
            return st;
    }
    return DT_OK;
}

/* The fcntl lock of fs_lock_dir on the regular file `path` (created if
 * missing): *fd >= 0 locked, -1 where the file system has no such locks;
 * DT_EUSAGE with the holder's line if another process has it. */
static dt_status lock_file(const char *path, const char *holder, int *fd, dt_error *err)
{
    *fd = -1;
    int f = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    if (f < 0)
        return dt_fail(err, DT_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(f, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(f);
        return dt_fail(err, DT_EIO, "%s: is not a regular file", path);
    }
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(f, F_SETLK, &lk) != 0) {
        int e = errno;
        if (e == ENOLCK || e == ENOSYS || e == EOPNOTSUPP) {
            close(f);
            return DT_OK;
        }
        if (e != EACCES && e != EAGAIN) {
            close(f);
            return dt_fail(err, DT_EIO, "cannot lock %s: %s", path, strerror(e));
        }
        char line[256] = "";
        ssize_t n = pread(f, line, sizeof line - 1, 0);
        line[n > 0 ? n : 0] = '\0';
        line[strcspn(line, "\n")] = '\0';
        struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (!line[0] && fcntl(f, F_GETLK, &who) == 0 && who.l_type != F_UNLCK)
            snprintf(line, sizeof line, "process %ld", (long)who.l_pid);
        close(f);
        return dt_fail(err, DT_EUSAGE, "%s", line[0] ? line : "another process");
    }
    size_t len = strlen(holder);
    if (ftruncate(f, 0) != 0 || pwrite(f, holder, len, 0) != (ssize_t)len ||
        pwrite(f, "\n", 1, (off_t)len) != 1) {
        int e = errno;
        close(f);
        return dt_fail(err, DT_EIO, "cannot write %s: %s", path, strerror(e));
    }
    *fd = f;
    return DT_OK;
}

/* The first line of the lock file at path, if it is a regular file. */
static void read_holder(const char *path, char *line, size_t len)
{
    line[0] = '\0';
    int f = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat sb;
    if (f < 0)
        return;
    if (fstat(f, &sb) == 0 && S_ISREG(sb.st_mode)) {
        ssize_t n = pread(f, line, len - 1, 0);
        line[n > 0 ? n : 0] = '\0';
        line[strcspn(line, "\n")] = '\0';
    }
    close(f);
}

/* The directory's own lock first: the lock file can be deleted under a
 * live run (a second run would then lock a new file of the same name), the
 * directory cannot while it holds files. */
dt_status fs_lock_dir(const char *dir, const char *name, const char *holder, fs_dir_lock *lk,
                      dt_error *err)
{
    *lk = (fs_dir_lock){0, -1, -1};
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0)
        return dt_fail(err, DT_EIO, "cannot open directory %s: %s", dir, strerror(errno));
    if (flock(d, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(d);
        d = -1;
        if (e == EWOULDBLOCK) {
            char line[256];
            read_holder(path, line, sizeof line);
            return dt_fail(err, DT_EUSAGE, "%s", line[0] ? line : "another process");
        }
        /* a file system without flock (EBADF, EINVAL: some network ones on a
         * directory) leaves the file's lock to do the work */
        if (e != ENOLCK && e != ENOSYS && e != EOPNOTSUPP && e != EBADF && e != EINVAL)
            return dt_fail(err, DT_EIO, "cannot lock %s: %s", dir, strerror(e));
    }
    int f;
    dt_status st = lock_file(path, holder, &f, err);
    if (st) {
        if (d >= 0)
            close(d);
        return st;
    }
    *lk = (fs_dir_lock){d >= 0 || f >= 0, d, f};
    return DT_OK;
}

void fs_unlock_dir(fs_dir_lock *lk)
{
    if (lk->held) {
        if (lk->dir_fd >= 0)
            close(lk->dir_fd);
        if (lk->file_fd >= 0)
            close(lk->file_fd);
    }
    *lk = (fs_dir_lock){0, -1, -1};
}
