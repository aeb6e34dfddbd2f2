/* dtrain: durable file replacement. */
#include "dtrain/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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

dt_status fs_check_output(const char *path, const char *option, const char *const *inputs,
                          dt_error *err)
{
    struct stat out;
    if (lstat(path, &out) != 0) {
        /* a name the file system cannot hold is refused here; a new file (or a
         * missing directory, which the caller reports) is fine */
        if (errno == ENAMETOOLONG || errno == ELOOP)
            return dt_fail(err, DT_EUSAGE, "--%s %s: %s", option, path, strerror(errno));
        return DT_OK;
    }
    if (!S_ISREG(out.st_mode))
        return dt_fail(err, DT_EUSAGE,
                       "--%s %s: is %s; dtrain writes only regular files (name a new file "
                       "or a regular one to replace)",
                       option, path, kind_of(out.st_mode));
    for (size_t i = 0; inputs && inputs[i]; i++) {
        struct stat in;
        if (inputs[i][0] && stat(inputs[i], &in) == 0 && in.st_dev == out.st_dev &&
            in.st_ino == out.st_ino)
            return dt_fail(err, DT_EUSAGE,
                           "--%s %s: is the input %s; writing it would destroy it (choose "
                           "another output name)",
                           option, path, inputs[i]);
    }
    return DT_OK;
}

dt_status fs_lock(const char *path, const char *holder, int *fd, dt_error *err)
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

void fs_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
