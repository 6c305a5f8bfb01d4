/* The power-loss trials' recorder: an LD_PRELOAD shim, compiled at test time with cc.
 *
 * It wraps the libc calls that change files (open with O_CREAT or O_TRUNC, write,
 * pwrite, writev, pwritev, copy_file_range, ftruncate, truncate, fallocate, fsync,
 * fdatasync, rename, unlink, rmdir, mkdir, link and their *at forms), calls the real one
 * and, when it succeeded on a path under $RPKIT_TRACE_ROOT, appends one record to
 * $RPKIT_TRACE_LOG (opened O_APPEND, one write per record, so the records of child
 * processes such as cp land whole and in order).
 *
 * A record: "<op> <pid> <a> <len1> <len2> <dlen>\n" then path1, path2, data.
 *   C created/opened path1 (a = 1 if the call created it)   W wrote data at offset a
 *   T size became a                                          S fsync (a = 1: a folder)
 *   R rename path1 -> path2   U unlink   M mkdir   D rmdir
 *   L hard link path1 -> path2, data: the file's content (a new name for a file made outside)
 * Paths are absolute, with the folder resolved (realpath) and the name kept.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static __thread int busy;
static int log_fd = -1;
static char root[PATH_MAX];
static size_t root_len;

#define REAL(name) static __typeof__(name) *real_##name; \
    if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static int (*real_open_fn)(const char *, int, ...);

static void init(void) {
    if (log_fd >= 0 || root_len) return;
    const char *r = getenv("RPKIT_TRACE_ROOT"), *l = getenv("RPKIT_TRACE_LOG");
    if (!r || !l) { root_len = (size_t)-1; return; }
    snprintf(root, sizeof root, "%s", r);
    root_len = strlen(root);
    if (!real_open_fn) real_open_fn = dlsym(RTLD_NEXT, "open");
    log_fd = real_open_fn(l, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

static int under_root(const char *p) {
    return root_len && root_len != (size_t)-1 && p && strncmp(p, root, root_len) == 0 &&
           (p[root_len] == '/' || p[root_len] == 0);
}

/* An absolute path for (dirfd, path): the folder resolved, the last name kept. */
static int resolve(int dirfd, const char *path, char *out) {
    char joined[PATH_MAX * 2];
    if (!path) return -1;
    if (path[0] == '/') snprintf(joined, sizeof joined, "%s", path);
    else {
        char base[PATH_MAX];
        if (dirfd == AT_FDCWD) { if (!getcwd(base, sizeof base)) return -1; }
        else {
            char link[64]; snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
            ssize_t n = readlink(link, base, sizeof base - 1);
            if (n < 0) return -1;
            base[n] = 0;
        }
        snprintf(joined, sizeof joined, "%s/%s", base, path);
    }
    char *slash = strrchr(joined, '/');
    char dir[PATH_MAX];
    if (slash == joined) snprintf(dir, sizeof dir, "/");
    else { *slash = 0; if (!realpath(joined, dir)) return -1; }
    snprintf(out, PATH_MAX, "%s/%s", strcmp(dir, "/") ? dir : "", slash + 1);
    return 0;
}

static int fd_path(int fd, char *out) {
    char link[64]; snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, PATH_MAX - 1);
    if (n < 0) return -1;
    out[n] = 0;
    return 0;
}

static void emit(char op, long long a, const char *p1, const char *p2, const void *data, size_t dlen) {
    size_t l1 = p1 ? strlen(p1) : 0, l2 = p2 ? strlen(p2) : 0;
    char head[160];
    int h = snprintf(head, sizeof head, "%c %d %lld %zu %zu %zu\n", op, (int)getpid(), a, l1, l2, dlen);
    size_t total = (size_t)h + l1 + l2 + dlen;
    char *buf = malloc(total);
    if (!buf) abort();
    memcpy(buf, head, (size_t)h);
    if (l1) memcpy(buf + h, p1, l1);
    if (l2) memcpy(buf + h + l1, p2, l2);
    if (dlen) memcpy(buf + h + l1 + l2, data, dlen);
    REAL(write);
    size_t done = 0;
    while (done < total) {
        ssize_t n = real_write(log_fd, buf + done, total - done);
        if (n <= 0) { if (errno == EINTR) continue; abort(); }
        done += (size_t)n;
    }
    free(buf);
}

#define ENTER() int saved = errno; init(); int tracing = !busy && log_fd >= 0; busy++
#define LEAVE() busy--; errno = saved

static void after_write(int fd, long long off, const void *data, ssize_t n) {
    char p[PATH_MAX];
    if (n <= 0 || fd_path(fd, p) || !under_root(p)) return;
    emit('W', off, p, NULL, data, (size_t)n);
}

static void after_size(int fd) {
    char p[PATH_MAX]; struct stat st;
    if (fd_path(fd, p) || !under_root(p) || fstat(fd, &st)) return;
    emit('T', (long long)st.st_size, p, NULL, NULL, 0);
}

static int do_open(int dirfd, const char *path, int flags, mode_t mode, int at) {
    char p[PATH_MAX]; int have = 0, existed = 1;
    init();
    if (!busy && log_fd >= 0 && (flags & (O_CREAT | O_TRUNC)) && !resolve(dirfd, path, p) && under_root(p)) {
        struct stat st; have = 1; existed = stat(p, &st) == 0;
    }
    int fd;
    if (at) { REAL(openat); fd = real_openat(dirfd, path, flags, mode); }
    else { if (!real_open_fn) real_open_fn = dlsym(RTLD_NEXT, "open"); fd = real_open_fn(path, flags, mode); }
    if (fd >= 0 && have) {
        int saved = errno; busy++;
        if (!existed) emit('C', 1, p, NULL, NULL, 0);
        else if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) emit('T', 0, p, NULL, NULL, 0);
        busy--; errno = saved;
    }
    return fd;
}

#define MODE_ARG mode_t mode = 0; if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
int open(const char *path, int flags, ...) { MODE_ARG return do_open(AT_FDCWD, path, flags, mode, 0); }
int open64(const char *path, int flags, ...) { MODE_ARG return do_open(AT_FDCWD, path, flags, mode, 0); }
int openat(int d, const char *path, int flags, ...) { MODE_ARG return do_open(d, path, flags, mode, 1); }
int openat64(int d, const char *path, int flags, ...) { MODE_ARG return do_open(d, path, flags, mode, 1); }
int __open_2(const char *path, int flags) { return do_open(AT_FDCWD, path, flags, 0, 0); }
int __open64_2(const char *path, int flags) { return do_open(AT_FDCWD, path, flags, 0, 0); }
int __openat_2(int d, const char *path, int flags) { return do_open(d, path, flags, 0, 1); }
int __openat64_2(int d, const char *path, int flags) { return do_open(d, path, flags, 0, 1); }
int creat(const char *path, mode_t mode) { return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, 0); }
int creat64(const char *path, mode_t mode) { return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, 0); }

ssize_t write(int fd, const void *buf, size_t count) {
    REAL(write); ENTER();
    ssize_t n = real_write(fd, buf, count); int e = errno;
    if (tracing && n > 0) { off_t end = lseek(fd, 0, SEEK_CUR); if (end >= 0) after_write(fd, (long long)end - n, buf, n); }
    LEAVE(); if (n < 0) errno = e; return n;
}

static ssize_t traced_pwrite(int fd, const void *buf, size_t count, off_t off, int is64) {
    ssize_t n;
    if (is64) { REAL(pwrite64); n = real_pwrite64(fd, buf, count, off); }
    else { REAL(pwrite); n = real_pwrite(fd, buf, count, off); }
    return n;
}
ssize_t pwrite(int fd, const void *buf, size_t count, off_t off) {
    ENTER(); ssize_t n = traced_pwrite(fd, buf, count, off, 0); int e = errno;
    if (tracing) after_write(fd, (long long)off, buf, n);
    LEAVE(); if (n < 0) errno = e; return n;
}
ssize_t pwrite64(int fd, const void *buf, size_t count, off_t off) {
    ENTER(); ssize_t n = traced_pwrite(fd, buf, count, off, 1); int e = errno;
    if (tracing) after_write(fd, (long long)off, buf, n);
    LEAVE(); if (n < 0) errno = e; return n;
}

static void *gather(const struct iovec *iov, int cnt, ssize_t n) {
    char *buf = malloc(n > 0 ? (size_t)n : 1); size_t at = 0;
    for (int i = 0; i < cnt && at < (size_t)n; i++) {
        size_t take = iov[i].iov_len < (size_t)n - at ? iov[i].iov_len : (size_t)n - at;
        memcpy(buf + at, iov[i].iov_base, take); at += take;
    }
    return buf;
}
ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    REAL(writev); ENTER(); ssize_t n = real_writev(fd, iov, cnt); int e = errno;
    if (tracing && n > 0) { off_t end = lseek(fd, 0, SEEK_CUR); void *b = gather(iov, cnt, n); if (end >= 0) after_write(fd, (long long)end - n, b, n); free(b); }
    LEAVE(); if (n < 0) errno = e; return n;
}
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    REAL(pwritev); ENTER(); ssize_t n = real_pwritev(fd, iov, cnt, off); int e = errno;
    if (tracing && n > 0) { void *b = gather(iov, cnt, n); after_write(fd, (long long)off, b, n); free(b); }
    LEAVE(); if (n < 0) errno = e; return n;
}

ssize_t copy_file_range(int fin, off_t *oin, int fout, off_t *oout, size_t len, unsigned flags) {
    REAL(copy_file_range); ENTER();
    off_t in_at = oin ? *oin : lseek(fin, 0, SEEK_CUR), out_at = oout ? *oout : lseek(fout, 0, SEEK_CUR);
    ssize_t n = real_copy_file_range(fin, oin, fout, oout, len, flags); int e = errno;
    if (tracing && n > 0) {
        char *buf = malloc((size_t)n); REAL(pread);
        if (real_pread(fin, buf, (size_t)n, in_at) == n) after_write(fout, (long long)out_at, buf, n);
        else abort();
        free(buf);
    }
    LEAVE(); if (n < 0) errno = e; return n;
}

int ftruncate(int fd, off_t len) {
    REAL(ftruncate); ENTER(); int r = real_ftruncate(fd, len); int e = errno;
    if (tracing && r == 0) after_size(fd);
    LEAVE(); if (r) errno = e; return r;
}
int ftruncate64(int fd, off_t len) {
    REAL(ftruncate64); ENTER(); int r = real_ftruncate64(fd, len); int e = errno;
    if (tracing && r == 0) after_size(fd);
    LEAVE(); if (r) errno = e; return r;
}
int truncate(const char *path, off_t len) {
    REAL(truncate); ENTER(); int r = real_truncate(path, len); int e = errno; char p[PATH_MAX];
    if (tracing && r == 0 && !resolve(AT_FDCWD, path, p) && under_root(p)) emit('T', (long long)len, p, NULL, NULL, 0);
    LEAVE(); if (r) errno = e; return r;
}
int fallocate(int fd, int mode, off_t off, off_t len) {
    REAL(fallocate); ENTER(); int r = real_fallocate(fd, mode, off, len); int e = errno;
    if (tracing && r == 0) after_size(fd);
    LEAVE(); if (r) errno = e; return r;
}
int fallocate64(int fd, int mode, off_t off, off_t len) {
    REAL(fallocate64); ENTER(); int r = real_fallocate64(fd, mode, off, len); int e = errno;
    if (tracing && r == 0) after_size(fd);
    LEAVE(); if (r) errno = e; return r;
}
int posix_fallocate(int fd, off_t off, off_t len) {
    REAL(posix_fallocate); ENTER(); int r = real_posix_fallocate(fd, off, len);
    if (tracing && r == 0) after_size(fd);
    LEAVE(); return r;
}
int posix_fallocate64(int fd, off_t off, off_t len) {
    REAL(posix_fallocate64); ENTER(); int r = real_posix_fallocate64(fd, off, len);
    if (tracing && r == 0) after_size(fd);
    LEAVE(); return r;
}

static void after_sync(int fd) {
    char p[PATH_MAX]; struct stat st;
    if (fd_path(fd, p) || !under_root(p) || fstat(fd, &st)) return;
    emit('S', S_ISDIR(st.st_mode) ? 1 : 0, p, NULL, NULL, 0);
}
int fsync(int fd) {
    REAL(fsync); ENTER(); int r = real_fsync(fd); int e = errno;
    if (tracing && r == 0) after_sync(fd);
    LEAVE(); if (r) errno = e; return r;
}
int fdatasync(int fd) {
    REAL(fdatasync); ENTER(); int r = real_fdatasync(fd); int e = errno;
    if (tracing && r == 0) after_sync(fd);
    LEAVE(); if (r) errno = e; return r;
}

static void path_op(char op, int d1, const char *a, int d2, const char *b) {
    char p1[PATH_MAX], p2[PATH_MAX];
    if (resolve(d1, a, p1)) return;
    if (b) { if (resolve(d2, b, p2)) return; if (!under_root(p1) && !under_root(p2)) return; }
    else if (!under_root(p1)) return;
    emit(op, 0, p1, b ? p2 : NULL, NULL, 0);
}
/* names are resolved before the call (after it, an unlinked name's folder still resolves,
   but a renamed file's old name would not: resolve() only needs the folder, so either works) */
int rename(const char *a, const char *b) {
    REAL(rename); ENTER(); int r = real_rename(a, b); int e = errno;
    if (tracing && r == 0) path_op('R', AT_FDCWD, a, AT_FDCWD, b);
    LEAVE(); if (r) errno = e; return r;
}
int renameat(int d1, const char *a, int d2, const char *b) {
    REAL(renameat); ENTER(); int r = real_renameat(d1, a, d2, b); int e = errno;
    if (tracing && r == 0) path_op('R', d1, a, d2, b);
    LEAVE(); if (r) errno = e; return r;
}
int renameat2(int d1, const char *a, int d2, const char *b, unsigned flags) {
    REAL(renameat2); ENTER(); int r = real_renameat2(d1, a, d2, b, flags); int e = errno;
    if (tracing && r == 0) path_op('R', d1, a, d2, b);
    LEAVE(); if (r) errno = e; return r;
}
int unlink(const char *a) {
    REAL(unlink); ENTER(); int r = real_unlink(a); int e = errno;
    if (tracing && r == 0) path_op('U', AT_FDCWD, a, 0, NULL);
    LEAVE(); if (r) errno = e; return r;
}
int unlinkat(int d, const char *a, int flags) {
    REAL(unlinkat); ENTER(); int r = real_unlinkat(d, a, flags); int e = errno;
    if (tracing && r == 0) path_op(flags & AT_REMOVEDIR ? 'D' : 'U', d, a, 0, NULL);
    LEAVE(); if (r) errno = e; return r;
}
int rmdir(const char *a) {
    REAL(rmdir); ENTER(); int r = real_rmdir(a); int e = errno;
    if (tracing && r == 0) path_op('D', AT_FDCWD, a, 0, NULL);
    LEAVE(); if (r) errno = e; return r;
}
int mkdir(const char *a, mode_t m) {
    REAL(mkdir); ENTER(); int r = real_mkdir(a, m); int e = errno;
    if (tracing && r == 0) path_op('M', AT_FDCWD, a, 0, NULL);
    LEAVE(); if (r) errno = e; return r;
}
int mkdirat(int d, const char *a, mode_t m) {
    REAL(mkdirat); ENTER(); int r = real_mkdirat(d, a, m); int e = errno;
    if (tracing && r == 0) path_op('M', d, a, 0, NULL);
    LEAVE(); if (r) errno = e; return r;
}

/* A hard link: recorded as a new name whose file holds, durably, what the file held. */
static void after_link(int d1, const char *a, int d2, const char *b) {
    char p1[PATH_MAX], p2[PATH_MAX];
    if (resolve(d1, a, p1) || resolve(d2, b, p2) || !under_root(p2)) return;
    REAL(read);
    int fd = real_open_fn ? real_open_fn(p2, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) return;
    size_t cap = 65536, len = 0; char *buf = malloc(cap); ssize_t n;
    while ((n = real_read(fd, buf + len, cap - len)) > 0) {
        len += (size_t)n;
        if (len == cap) { cap *= 2; buf = realloc(buf, cap); }
    }
    REAL(close); real_close(fd);
    emit('L', 0, p1, p2, buf, len);
    free(buf);
}
int link(const char *a, const char *b) {
    REAL(link); ENTER(); int r = real_link(a, b); int e = errno;
    if (tracing && r == 0) after_link(AT_FDCWD, a, AT_FDCWD, b);
    LEAVE(); if (r) errno = e; return r;
}
int linkat(int d1, const char *a, int d2, const char *b, int flags) {
    REAL(linkat); ENTER(); int r = real_linkat(d1, a, d2, b, flags); int e = errno;
    if (tracing && r == 0) after_link(d1, a, d2, b);
    LEAVE(); if (r) errno = e; return r;
}
