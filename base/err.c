#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char last_error[1024];

static int vrecord(int code, const char *prefix, const char *fmt, va_list ap) {
    size_t n = 0;
    if (prefix) n = (size_t)snprintf(last_error, sizeof last_error, "%s", prefix);
    if (n >= sizeof last_error) n = sizeof last_error - 1;
    vsnprintf(last_error + n, sizeof last_error - n, fmt, ap);
    return code;
}

int rq_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vrecord(code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int rq_fail_line(int code, const char *file, long line, long col, const char *fmt, ...) {
    char prefix[512];
    if (line < 0) snprintf(prefix, sizeof prefix, "%s: ", file);
    else if (col > 0) snprintf(prefix, sizeof prefix, "%s:%ld:%ld: ", file, line, col);
    else snprintf(prefix, sizeof prefix, "%s:%ld: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vrecord(code, prefix, fmt, ap);
    va_end(ap);
    return code;
}

int rq_fail_at(int code, const char *file, long offset, const char *fmt, ...) {
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s: byte %ld: ", file, offset);
    va_list ap;
    va_start(ap, fmt);
    vrecord(code, prefix, fmt, ap);
    va_end(ap);
    return code;
}

const char *rq_last_error(void) { return last_error; }
void rq_clear_error(void) { last_error[0] = 0; }

int rq_report(int code) {
    if (code != RQ_OK && code != RQ_EINTR) fprintf(stderr, "retroqat: %s\n", last_error[0] ? last_error : "failed");
    return code;
}

static void oom(size_t n) {
    fprintf(stderr, "retroqat: out of memory (%zu bytes)\n", n);
    exit(RQ_ERUNTIME);
}

void *rq_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}
void *rq_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}
void *rq_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}
char *rq_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(rq_malloc(n), s, n);
}
