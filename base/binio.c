#include "base/binio.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/err.h"

// ---------------------------------------------------------------------------------------------
// rq_buf

void rq_buf_free(rq_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static uint8_t *buf_grow(rq_buf *b, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        b->data = rq_realloc(b->data, cap);
        b->cap = cap;
    }
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

void rq_buf_put(rq_buf *b, const void *src, size_t n) {
    if (n) memcpy(buf_grow(b, n), src, n);
}
void rq_buf_zeros(rq_buf *b, size_t n) {
    if (n) memset(buf_grow(b, n), 0, n);
}
void rq_buf_u8(rq_buf *b, uint8_t v) { *buf_grow(b, 1) = v; }
void rq_buf_u16(rq_buf *b, uint16_t v) {
    uint8_t *p = buf_grow(b, 2);
    if (b->big_endian) rq_wr_u16be(p, v); else rq_wr_u16le(p, v);
}
void rq_buf_u32(rq_buf *b, uint32_t v) {
    uint8_t *p = buf_grow(b, 4);
    if (b->big_endian) rq_wr_u32be(p, v); else rq_wr_u32le(p, v);
}
void rq_buf_u64(rq_buf *b, uint64_t v) {
    uint8_t *p = buf_grow(b, 8);
    if (b->big_endian) rq_wr_u64be(p, v); else rq_wr_u64le(p, v);
}
void rq_buf_i32(rq_buf *b, int32_t v) { rq_buf_u32(b, (uint32_t)v); }
void rq_buf_f32(rq_buf *b, float v) { rq_buf_u32(b, rq_f32_bits(v)); }
void rq_buf_f32s(rq_buf *b, const float *v, size_t n) {
    for (size_t i = 0; i < n; i++) rq_buf_f32(b, v[i]);
}
void rq_buf_align(rq_buf *b, size_t a) {
    if (b->len % a) rq_buf_zeros(b, a - b->len % a);
}

// ---------------------------------------------------------------------------------------------
// rq_reader

void rq_reader_init(rq_reader *r, const void *data, size_t len, const char *file) {
    r->data = (const uint8_t *)data;
    r->len = len;
    r->pos = 0;
    r->origin = 0;
    r->file = file;
    r->big_endian = 0;
    r->err = 0;
}

int rq_reader_fail(rq_reader *r, const char *fmt, ...) {
    if (r->err) return r->err;  // keep the first error: it is the one that explains the rest
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->err = rq_fail_at(RQ_EINPUT, r->file, (long)(r->origin + r->pos), "%s", msg);
    return r->err;
}

const uint8_t *rq_rd_bytes(rq_reader *r, size_t n, const char *what) {
    if (r->err) return NULL;
    if (n > r->len - r->pos) {
        rq_reader_fail(r, "truncated: %s needs %zu bytes, %zu left", what, n, r->len - r->pos);
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

uint8_t rq_rd_u8(rq_reader *r, const char *what) {
    const uint8_t *p = rq_rd_bytes(r, 1, what);
    return p ? p[0] : 0;
}
uint16_t rq_rd_u16(rq_reader *r, const char *what) {
    const uint8_t *p = rq_rd_bytes(r, 2, what);
    return p ? (r->big_endian ? rq_rd_u16be(p) : rq_rd_u16le(p)) : 0;
}
uint32_t rq_rd_u32(rq_reader *r, const char *what) {
    const uint8_t *p = rq_rd_bytes(r, 4, what);
    return p ? (r->big_endian ? rq_rd_u32be(p) : rq_rd_u32le(p)) : 0;
}
uint64_t rq_rd_u64(rq_reader *r, const char *what) {
    const uint8_t *p = rq_rd_bytes(r, 8, what);
    return p ? (r->big_endian ? rq_rd_u64be(p) : rq_rd_u64le(p)) : 0;
}
int32_t rq_rd_i32(rq_reader *r, const char *what) { return (int32_t)rq_rd_u32(r, what); }
float rq_rd_f32(rq_reader *r, const char *what) { return rq_bits_f32(rq_rd_u32(r, what)); }

int rq_rd_f32s(rq_reader *r, float *dst, size_t n, const char *what) {
    if (n > (r->len - r->pos) / 4) {
        rq_rd_bytes(r, n * 4, what);  // records the truncation error
        return r->err;
    }
    const uint8_t *p = rq_rd_bytes(r, n * 4, what);
    for (size_t i = 0; i < n; i++, p += 4) dst[i] = rq_bits_f32(r->big_endian ? rq_rd_u32be(p) : rq_rd_u32le(p));
    return 0;
}

// ---------------------------------------------------------------------------------------------
// files

// What a non-regular file is, for "refusing to replace" messages.
static const char *file_kind(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

int rq_open_regular(const char *path, int *fd) {
    *fd = -1;
    // O_NONBLOCK: opening a FIFO with no writer must not hang; cleared again for the reads.
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0) {
        if (errno == EISDIR) return rq_fail(RQ_EINPUT, "%s: is a directory (expected a file)", path);
        return rq_fail(RQ_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        int dir = S_ISDIR(st.st_mode);
        const char *kind = file_kind(st.st_mode);
        close(f);
        if (dir) return rq_fail(RQ_EINPUT, "%s: is a directory (expected a file)", path);
        return rq_fail(RQ_EINPUT, "%s: is %s, not a regular file", path, kind);
    }
    fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK);
    *fd = f;
    return 0;
}

int rq_read_file(const char *path, uint8_t **data, size_t *len) {
    *data = NULL;
    *len = 0;
    int fd, rc = rq_open_regular(path, &fd);
    if (rc) return rc;
    rq_buf b = {0};
    uint8_t chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            rq_buf_free(&b);
            return rq_fail(RQ_EINPUT, "%s: read error: %s", path, strerror(e));
        }
        rq_buf_put(&b, chunk, (size_t)n);
    }
    close(fd);
    *len = b.len;
    rq_buf_u8(&b, 0);  // NUL terminator for text parsers, not counted in len
    *data = b.data;
    return 0;
}

int rq_check_output(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return rq_fail(RQ_EINPUT, "%s: is %s: refusing to replace it (give a regular file)", path, file_kind(st.st_mode));
    return 0;
}

int rq_write_atomic(const char *path, const void *data, size_t len) {
    // Never rename over a device, FIFO or directory: `-o /dev/full` must fail, not replace the node.
    int rc = rq_check_output(path);
    if (rc) return rc;
    // A temp name of this process (PATH.PID.tmp): two writers of one PATH never share a temp file.
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof tmp)
        return rq_fail(RQ_EINPUT, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return rq_fail(RQ_ERUNTIME, "%s: cannot create: %s", path, strerror(errno));
    const uint8_t *p = (const uint8_t *)data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return rq_fail(RQ_ERUNTIME, "%s: write failed: %s", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return rq_fail(RQ_ERUNTIME, "%s: write failed: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return rq_fail(RQ_ERUNTIME, "%s: cannot rename into place: %s", path, strerror(e));
    }
    return 0;
}

int rq_finish_stdout(void) {
    errno = 0;
    int bad = fflush(stdout) != 0 || ferror(stdout);
    int e = errno;
    if (fclose(stdout) != 0 && !bad) bad = 1, e = errno;
    if (bad) return rq_fail(RQ_ERUNTIME, "standard output: write error%s%s", e ? ": " : "", e ? strerror(e) : "");
    return 0;
}

int rq_mkdir_p(const char *dir) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) return rq_fail(RQ_EINPUT, "%s: path too long", dir);
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p) continue;
        char save = *p;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return rq_fail(RQ_ERUNTIME, "%s: cannot create: %s", tmp, strerror(errno));
        *p = save;
        if (!save) break;
    }
    return 0;
}
