// err.h: one error convention for the whole project.
//
// Library code never exits: it records one error message and returns a status.
// The CLI prints "retroqat: <message>" and exits with the status:
//   RQ_EINPUT   (2) bad input or usage: the message names the file and the line
//                   (FILE:LINE[:COL]) or the byte offset (FILE: byte N)
//   RQ_ERUNTIME (1) the input was fine but something failed at run time
//   RQ_EINTR  (130) interrupted by Ctrl-C (SIGINT) after saving what can be resumed: the shell's
//                   128 + SIGINT, so a script can tell an interrupted training from a finished one
#ifndef RQ_ERR_H
#define RQ_ERR_H

#include <stddef.h>

enum { RQ_OK = 0, RQ_ERUNTIME = 1, RQ_EINPUT = 2, RQ_EINTR = 130 };

// Record "msg" and return code. The message is kept until the next error.
int rq_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Record "FILE:LINE: msg" (col 0 = no column) or, with line < 0, "FILE: msg".
int rq_fail_line(int code, const char *file, long line, long col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
// Record "FILE: byte OFFSET: msg".
int rq_fail_at(int code, const char *file, long offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

const char *rq_last_error(void);
void rq_clear_error(void);

// Print "retroqat: <last error>" to stderr and return code (for CLI verbs); RQ_EINTR prints
// nothing (the trainer has said where it saved).
int rq_report(int code);

// Allocation that never returns NULL: out-of-memory is a runtime failure we do not recover from.
void *rq_malloc(size_t n);
void *rq_calloc(size_t n, size_t size);
void *rq_realloc(void *p, size_t n);
char *rq_strdup(const char *s);

#endif
