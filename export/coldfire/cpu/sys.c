// sys.c: the Linux m68k system calls the ColdFire build uses (export/rt/rt_sys.h): number in d0,
// arguments in d1, d2, d3, `trap #0`, result (or -errno) in d0.
#include "export/rt/rt_sys.h"

static long sys3(long n, long a, long b, long c) {
    register long d0 __asm__("d0") = n;
    register long d1 __asm__("d1") = a;
    register long d2 __asm__("d2") = b;
    register long d3 __asm__("d3") = c;
    __asm__ volatile("trap #0" : "+d"(d0) : "d"(d1), "d"(d2), "d"(d3) : "memory");
    return d0;
}

long rt_sys_read(int fd, void *p, size_t n) { return sys3(3, fd, (long)p, (long)n); }
long rt_sys_write(int fd, const void *p, size_t n) { return sys3(4, fd, (long)p, (long)n); }
long rt_sys_open(const char *path, int flags, int mode) { return sys3(5, (long)path, flags, mode); }
long rt_sys_close(int fd) { return sys3(6, fd, 0, 0); }
void rt_sys_exit(int code) {
    for (;;) sys3(247, code, 0, 0);
}
