// io.c: console and file helpers of the target programs over the machine services (rt.h).
#include <string.h>

#include "export/rt/rt.h"
#include "infer/ierr.h"

void rt_puts(int fd, const char *s) { rt_write(fd, s, strlen(s)); }

void rt_put_dec(int fd, long v) {
    char b[24];
    int k = sizeof b;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    b[--k] = 0;
    do b[--k] = (char)('0' + u % 10), u /= 10;
    while (u);
    if (v < 0) b[--k] = '-';
    rt_puts(fd, b + k);
}

void rt_put_hex8(int fd, uint32_t v) {
    char b[9];
    for (int i = 7; i >= 0; i--, v >>= 4) b[i] = "0123456789abcdef"[v & 15];
    b[8] = 0;
    rt_puts(fd, b);
}

void *rt_load_file(const char *name, size_t *len, int *rc) {
    size_t cap;
    void *buf = rt_alloc_rest(&cap);
    long n = rt_read_file(name, buf, cap);
    if (n == -1) {
        rt_puts(2, "retroqat: "), rt_puts(2, name), rt_puts(2, ": cannot open the file\n");
        *rc = INFER_EBAD;
        return NULL;
    }
    if (n < 0) {
        rt_puts(2, "retroqat: "), rt_puts(2, name), rt_puts(2, ": does not fit the program's memory (");
        rt_put_dec(2, (long)cap), rt_puts(2, " bytes free)\n");
        *rc = 1;
        return NULL;
    }
    rt_alloc((size_t)n);
    *len = (size_t)n;
    return buf;
}

// "retroqat: NAME: byte N: message" for a reader's failure.
void rt_report(const char *name, const infer_err *e) {
    char msg[256];
    infer_err_format(e, msg, sizeof msg);
    rt_puts(2, "retroqat: "), rt_puts(2, name), rt_puts(2, ": "), rt_puts(2, msg), rt_puts(2, "\n");
}

long rt_atol(const char *s, int *ok) {
    long v = 0;
    int neg = *s == '-';
    if (neg) s++;
    *ok = *s != 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') *ok = 0;
        else v = 10 * v + (*s - '0');
    }
    return neg ? -v : v;
}
