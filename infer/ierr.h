// ierr.h: how the freestanding readers of infer/ say what is wrong, without stdio or malloc.
//
// A reader that rejects its input fills an infer_err and returns INFER_EBAD (= RQ_EINPUT, exit
// code 2). The message is a format whose conversions are only %ld (taking a[0], a[1], ... in
// order) and %s (taking s[0], s[1] in order), plus %x for a hex long; offset is the byte offset
// in the image where the problem is (-1: none). infer_err_format writes "byte N: message" into a
// buffer; the host prefixes the file name (qat/image_open.h), a target program prints it as is.
#ifndef RQ_INFER_IERR_H
#define RQ_INFER_IERR_H

#include <stddef.h>

enum { INFER_OK = 0, INFER_EBAD = 2 };

typedef struct {
    long offset;        // byte offset of the problem in the input, -1 for none
    const char *fmt;    // static text with %ld / %x / %s conversions (see above)
    long a[4];
    const char *s[2];
} infer_err;

// Record a failure with up to four numbers and return INFER_EBAD (e may be NULL).
int infer_fail(infer_err *e, long offset, const char *fmt, long a0, long a1, long a2, long a3);
// The same with one string argument first among the %s conversions.
int infer_fail_s(infer_err *e, long offset, const char *fmt, const char *s0, long a0, long a1, long a2);
// "byte N: message" (or just the message when offset < 0), NUL-terminated, cut to cap bytes.
// Returns the length written.
size_t infer_err_format(const infer_err *e, char *buf, size_t cap);

#endif
