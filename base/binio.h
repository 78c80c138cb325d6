// binio.h: the binary I/O layer every file format uses.
//
//   rq_buf     a growable byte buffer with little/big-endian appenders (writers build one, then
//              rq_write_atomic() puts it on disk: temp file + fsync + rename, so a reader never
//              sees half a file)
//   rq_reader  a bounds-checked cursor over bytes in memory; a short read records
//              "FILE: byte N: truncated ..." and every later read returns zeros, so a parser can
//              read a whole header and check rd->err once.
#ifndef RQ_BINIO_H
#define RQ_BINIO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/endian.h"

static inline uint32_t rq_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float rq_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

typedef struct {
    uint8_t *data;
    size_t len, cap;
    int big_endian;  // 0: appenders write little-endian (the default), 1: big-endian
} rq_buf;

void rq_buf_free(rq_buf *b);
void rq_buf_put(rq_buf *b, const void *src, size_t n);
void rq_buf_zeros(rq_buf *b, size_t n);
void rq_buf_u8(rq_buf *b, uint8_t v);
void rq_buf_u16(rq_buf *b, uint16_t v);
void rq_buf_u32(rq_buf *b, uint32_t v);
void rq_buf_u64(rq_buf *b, uint64_t v);
void rq_buf_i32(rq_buf *b, int32_t v);
void rq_buf_f32(rq_buf *b, float v);
void rq_buf_f32s(rq_buf *b, const float *v, size_t n);
void rq_buf_align(rq_buf *b, size_t a);  // zero-pad to a multiple of a

typedef struct {
    const uint8_t *data;
    size_t len, pos;
    size_t origin;     // file offset of data[0], so errors name absolute byte offsets
    const char *file;  // for error messages
    int big_endian;
    int err;           // 0, or RQ_EINPUT after the first failed read (message recorded)
} rq_reader;

void rq_reader_init(rq_reader *r, const void *data, size_t len, const char *file);
// Returns a pointer to the next n bytes and advances, or NULL (and sets err) if fewer remain.
const uint8_t *rq_rd_bytes(rq_reader *r, size_t n, const char *what);
uint8_t rq_rd_u8(rq_reader *r, const char *what);
uint16_t rq_rd_u16(rq_reader *r, const char *what);
uint32_t rq_rd_u32(rq_reader *r, const char *what);
uint64_t rq_rd_u64(rq_reader *r, const char *what);
int32_t rq_rd_i32(rq_reader *r, const char *what);
float rq_rd_f32(rq_reader *r, const char *what);
// Read n floats into dst (converting from the reader's byte order).
int rq_rd_f32s(rq_reader *r, float *dst, size_t n, const char *what);
// Record "FILE: byte POS: msg" as an input error on this reader (returns RQ_EINPUT).
int rq_reader_fail(rq_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Whole-file helpers. rq_read_file: returns 0 and a malloc'd buffer (with a NUL after the
// data, for text), or an error naming the path (missing file is RQ_EINPUT).
// A directory is "PATH: is a directory", a FIFO/device/socket is refused (RQ_EINPUT) without
// blocking: readers need the whole, seekable file.
int rq_read_file(const char *path, uint8_t **data, size_t *len);
// Open PATH for reading when it is a regular file (*fd), else RQ_EINPUT as rq_read_file says.
int rq_open_regular(const char *path, int *fd);
// Write atomically: PATH.PID.tmp, fsync, rename over PATH. RQ_ERUNTIME on failure (the message
// names PATH); RQ_EINPUT when PATH exists and is not a regular file (see rq_check_output).
int rq_write_atomic(const char *path, const void *data, size_t len);
// RQ_EINPUT ("PATH: is a device: refusing to replace it") when PATH exists and is a directory,
// device, FIFO or socket; 0 when it is a regular file or absent. For outputs written in place.
int rq_check_output(const char *path);
// Flush and close stdout at exit: RQ_ERUNTIME "standard output: write error: ..." when any write
// to it failed (a full disk, /dev/full, a closed pipe), so no verb's output is lost silently.
int rq_finish_stdout(void);
// Create a directory and its missing parents (like mkdir -p). RQ_ERUNTIME on failure.
int rq_mkdir_p(const char *dir);

#endif
