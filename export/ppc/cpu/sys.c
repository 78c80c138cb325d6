// sys.c: the Linux PowerPC system calls the PowerPC build uses (export/rt/rt_sys.h): number in
// r0, arguments in r3.., `sc`; on failure the kernel sets CR0.SO and leaves errno in r3, which
// is negated here so that every result is Linux's usual value or -errno.
#include "export/rt/rt_sys.h"

static long sys3(long n, long a, long b, long c) {
    register long r0 __asm__("r0") = n;
    register long r3 __asm__("r3") = a;
    register long r4 __asm__("r4") = b;
    register long r5 __asm__("r5") = c;
    __asm__ volatile("sc\n\tbns+ 1f\n\tneg %1,%1\n1:"
                     : "+r"(r0), "+r"(r3), "+r"(r4), "+r"(r5)
                     :
                     : "memory", "cr0", "ctr", "xer", "r6", "r7", "r8", "r9", "r10", "r11", "r12");
    return r3;
}

long rt_sys_read(int fd, void *p, size_t n) { return sys3(3, fd, (long)p, (long)n); }
long rt_sys_write(int fd, const void *p, size_t n) { return sys3(4, fd, (long)p, (long)n); }
long rt_sys_open(const char *path, int flags, int mode) { return sys3(5, (long)path, flags, mode); }
long rt_sys_close(int fd) { return sys3(6, fd, 0, 0); }
void rt_sys_exit(int code) {
    for (;;) sys3(234, code, 0, 0);
}
