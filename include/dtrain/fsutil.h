/* dtrain: durable file replacement (POSIX).
 *
 * A file is written under a temporary name in the directory of its final name,
 * then fs_commit() fsyncs it, renames it into place and fsyncs the directory:
 * a crash at any moment leaves either the old file or the complete new one. */
#ifndef DTRAIN_FSUTIL_H
#define DTRAIN_FSUTIL_H

#include <stddef.h>
#include "dtrain/status.h"

/* tmp receives "<path>.tmp.<pid>" (len bytes). */
void fs_temp_name(const char *path, char *tmp, size_t len);
/* 1 if `name` is such a temporary name, "<base>.tmp.<digits>", with base
 * (len bytes) receiving <base>; 0 otherwise. */
int fs_temp_base(const char *name, char *base, size_t len);
/* fsync tmp, rename it to path, fsync path's directory. */
dt_status fs_commit(const char *tmp, const char *path, dt_error *err);
/* Point the symbolic link `link` at `target` (a name relative to the link's
 * directory), atomically replacing an existing link or file. */
dt_status fs_symlink_replace(const char *target, const char *link, dt_error *err);
/* The directory part of path ("." if none) into dir (len bytes). */
void fs_dirname(const char *path, char *dir, size_t len);
/* Create directory path (and parents) if missing. */
dt_status fs_mkdirs(const char *path, dt_error *err);

/* dtrain reads and replaces regular files only; both checks look at what
 * stat says and open nothing, so a FIFO is refused, not waited on.
 * fs_check_input: path is (a symbolic link to) a regular file.  DT_EUSAGE
 * otherwise, naming what it is. */
dt_status fs_check_input(const char *path, dt_error *err);
/* fs_check_output: path does not exist yet, or is a regular file itself (not
 * a symbolic link: renaming over the link would not write where it points),
 * and names none of the files in inputs (NULL-terminated; empty entries
 * skipped), compared by device and inode.  option ("save") goes in the
 * message. */
dt_status fs_check_output(const char *path, const char *option, const char *const *inputs,
                          dt_error *err);

/* An advisory lock (fcntl F_SETLK, a write lock on the whole file) on the
 * regular file `path`, created if missing and never deleted (deleting a lock
 * file lets two processes lock two different files of one name).  On success
 * *fd holds the open descriptor: the lock lasts until fs_unlock(*fd) or the
 * end of the process (the kernel drops it when the process dies, however it
 * dies), and `holder` (one line: who holds it) replaces the file's text.
 *   DT_OK, *fd >= 0     locked.
 *   DT_OK, *fd == -1    the file system does not do locks (ENOLCK, ENOSYS,
 *                       EOPNOTSUPP): unlocked; the caller decides.
 *   DT_EUSAGE           another process holds it: the message is the
 *                       holder's line (the PID from the kernel if the line is
 *                       not written yet); nothing changed.
 *   DT_EIO              the file cannot be opened or is not a regular file.
 * fcntl locks belong to the process: closing any descriptor of the file in
 * this process releases it, so nothing else may open `path` meanwhile. */
dt_status fs_lock(const char *path, const char *holder, int *fd, dt_error *err);
void fs_unlock(int fd);

#endif
