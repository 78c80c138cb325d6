// rt_sys.h: the five Linux system calls behind export/rt/rt_linux.c, for targets that run as
// Linux processes (under qemu-user in the tests; under Linux on the real machine). Each CPU
// implements them in its start-up folder (export/NAME/cpu/sys.c: trap #0 on m68k, sc on
// PowerPC, syscall on MIPS). Results are Linux's: the value, or -errno.
#ifndef RQ_EXPORT_RT_SYS_H
#define RQ_EXPORT_RT_SYS_H

#include <stddef.h>

#define RT_O_RDONLY 0
#define RT_O_WRONLY 01
#define RT_O_CREAT 0100
#define RT_O_APPEND 02000  // the generic Linux values (m68k, PowerPC, MIPS alike)

long rt_sys_read(int fd, void *p, size_t n);
long rt_sys_write(int fd, const void *p, size_t n);
long rt_sys_open(const char *path, int flags, int mode);
long rt_sys_close(int fd);
void rt_sys_exit(int code) __attribute__((noreturn));

// Set by a target's main before the program runs: every byte written to fd 1 is also appended to
// this descriptor (the PowerPC build's output.txt); -1: none.
extern int rt_tee_fd;

#endif
