/* dtrain: durable file replacement (POSIX).
 *
 * A file is written under a temporary name in the directory of its final name,
 * then fs_commit() fsyncs it, renames it into place and fsyncs the directory:
 * a crash at any moment leaves either the old file or the complete new one. */
#ifndef DTRAIN_FSUTIL_H
#define DTRAIN_FSUTIL_H

#include <stddef.h>
#include "dtrain/status.h"

/* The longest file name (path) an option gives, in bytes with its NUL: the
 * size of the buffers that hold one (config.h bounds option texts by it). */
#define DT_PATH_MAX 1024

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
/* path read against directory dir: path itself when it is absolute or dir
 * is ".", else "dir/path" (a leading "./" of path dropped), into out (len
 * bytes).  0, or -1 if it does not fit. */
int fs_join(const char *dir, const char *path, char *out, size_t len);
/* path against the current directory (fs_join with getcwd: lexical, no link
 * resolved, the file need not exist).  0, or -1 if it does not fit or the
 * current directory cannot be read. */
int fs_absolute(const char *path, char *out, size_t len);
/* Create directory path (and parents) if missing. */
dt_status fs_mkdirs(const char *path, dt_error *err);

/* dtrain reads and replaces regular files only; the checks below look at
 * what stat says and open nothing, so a FIFO is refused, not waited on.
 * fs_check_input: path is (a symbolic link to) a regular file.  DT_EUSAGE
 * otherwise, naming what it is. */
dt_status fs_check_input(const char *path, dt_error *err);
/* 1 if a and b both exist and are one file (device and inode, symbolic
 * links followed): another name for a file is the file. */
int fs_same_file(const char *a, const char *b);

/* dtrain's rule for the files a command reads and writes, the same for
 * every command and the library.  Each file is named by an option: `name`
 * is how messages call it ("--save"), `path` its value ("" or NULL: not
 * given). */
typedef enum {
    FS_INPUT,   /* read: no output may be it */
    FS_OWNED,   /* read, and one of owned's files (the checkpoint resumed from):
                   no output may be it */
    FS_OUTPUT,  /* to be written: checked */
    FS_WRITTEN  /* written already (a finished run's --log): no output may be it */
} fs_role;
typedef struct {
    const char *name;
    const char *path;
    fs_role role;
} fs_file;
/* A directory some of whose files the run itself replaces and deletes (the
 * checkpoint directory): `owns` says which, by name. */
typedef struct {
    const char *name; /* "--checkpoint-dir" */
    const char *dir;  /* "" or NULL: none */
    const char *what; /* those files, for messages ("checkpoints, ...") */
    int (*owns)(const char *base);
} fs_owned_dir;
/* Local, opens no file but the probe below; rank 0's to call.  DT_EUSAGE
 * naming the first file that breaks a rule:
 * - an output does not exist yet, or is a regular file itself (not a
 *   symbolic link: renaming over the link would not write where it points;
 *   not a FIFO or device);
 * - it is none of the inputs, compared by device and inode (a hard link or a
 *   symbolic link to an input is the input);
 * - it is no other output (nor FS_WRITTEN file): by device and inode if both
 *   exist, by resolved path ("m.h5" is "./m.h5") before they do;
 * - its directory exists and takes a new file (probed with the temporary
 *   name the write uses, nothing else touched), and an existing file is
 *   writable;
 * - neither an output nor an FS_INPUT (followed through symbolic links) is
 *   one of owned's files (owned may be NULL). */
dt_status fs_check_files(const fs_file *files, size_t n, const fs_owned_dir *owned,
                         dt_error *err);

/* Advisory locks that make the directory `dir` one process's own: flock
 * on the directory itself, and an fcntl write lock on the regular file
 * dir/name, created if missing and never deleted, whose text `holder` (one
 * line: who holds it) replaces.  Either alone has a gap: the file can be
 * deleted under a live run, and a second run would lock a new file of the
 * same name; a directory's flock is local to one host on NFS, where the
 * server's lock manager honours the file's.  Both last until
 * fs_unlock_dir or the end of the process (the kernel drops them when the
 * process dies, however it dies).
 *   DT_OK, lk->held        locked (by one or both).
 *   DT_OK, !lk->held       the file system does locks of neither kind
 *                          (ENOLCK, ENOSYS, EOPNOTSUPP): unlocked; the
 *                          caller decides.
 *   DT_EUSAGE              another process holds it: the message is the
 *                          holder's line (the PID from the kernel if the
 *                          line is not written yet, "another process" if
 *                          the file is gone); nothing changed.
 *   DT_EIO                 dir or the file cannot be opened, or the file is
 *                          not a regular file.
 * fcntl locks belong to the process: closing any descriptor of the file in
 * this process releases it, so nothing else may open dir/name meanwhile.
 * A zeroed fs_dir_lock holds nothing. */
typedef struct {
    int held;    /* 1: dir_fd and file_fd are this lock's */
    int dir_fd;  /* the directory, flock'ed, or -1 */
    int file_fd; /* dir/name, fcntl-locked, or -1 */
} fs_dir_lock;
dt_status fs_lock_dir(const char *dir, const char *name, const char *holder, fs_dir_lock *lk,
                      dt_error *err);
void fs_unlock_dir(fs_dir_lock *lk);

#endif
