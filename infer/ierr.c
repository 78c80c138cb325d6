// ierr.c: the freestanding error record of infer/ (ierr.h).
#include "infer/ierr.h"

int infer_fail(infer_err *e, long offset, const char *fmt, long a0, long a1, long a2, long a3) {
    if (e) {
        e->offset = offset, e->fmt = fmt;
        e->a[0] = a0, e->a[1] = a1, e->a[2] = a2, e->a[3] = a3;
        e->s[0] = e->s[1] = "";
    }
    return INFER_EBAD;
}

int infer_fail_s(infer_err *e, long offset, const char *fmt, const char *s0, long a0, long a1, long a2) {
    infer_fail(e, offset, fmt, a0, a1, a2, 0);
    if (e) e->s[0] = s0;
    return INFER_EBAD;
}

// Append text to buf[*n] (keeping room for the NUL).
static void put(char *buf, size_t cap, size_t *n, const char *s) {
    while (*s && *n + 1 < cap) buf[(*n)++] = *s++;
}

static void put_num(char *buf, size_t cap, size_t *n, long v, unsigned base) {
    char tmp[24];
    int k = 0;
    unsigned long u = v < 0 && base == 10 ? 0UL - (unsigned long)v : (unsigned long)v;
    if (base == 16) u &= 0xFFFFFFFFUL;
    do {
        unsigned d = (unsigned)(u % base);
        tmp[k++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        u /= base;
    } while (u);
    if (v < 0 && base == 10) tmp[k++] = '-';
    char out[24];
    for (int i = 0; i < k; i++) out[i] = tmp[k - 1 - i];
    out[k] = 0;
    put(buf, cap, n, out);
}

size_t infer_err_format(const infer_err *e, char *buf, size_t cap) {
    size_t n = 0;
    int na = 0, ns = 0;
    if (!cap) return 0;
    if (e->offset >= 0) {
        put(buf, cap, &n, "byte ");
        put_num(buf, cap, &n, e->offset, 10);
        put(buf, cap, &n, ": ");
    }
    for (const char *f = e->fmt ? e->fmt : "invalid input"; *f; f++) {
        if (f[0] == '%' && f[1] == 'l' && f[2] == 'd') {
            put_num(buf, cap, &n, na < 4 ? e->a[na] : 0, 10), na++, f += 2;
        } else if (f[0] == '%' && f[1] == 'x') {
            put_num(buf, cap, &n, na < 4 ? e->a[na] : 0, 16), na++, f += 1;
        } else if (f[0] == '%' && f[1] == 's') {
            put(buf, cap, &n, ns < 2 && e->s[ns] ? e->s[ns] : ""), ns++, f += 1;
        } else if (n + 1 < cap) {
            buf[n++] = *f;
        }
    }
    buf[n] = 0;
    return n;
}
