// hostfile.h: a file an emulated program names, opened inside the emulator's folder and nowhere
// else. The emulated systems (sim65's paravirtual open, the C64's disk drive) pass names from
// guest memory; only one path component of printable bytes may reach the host, and the kernel,
// not the string, decides where it lands: openat on a descriptor of the folder with O_NOFOLLOW,
// and the result must be a regular file (a link or a FIFO planted in the folder leads nowhere).
#ifndef RQ_EMU_HOSTFILE_H
#define RQ_EMU_HOSTFILE_H

#include <sys/types.h>

// 1 when name is one component: 1..255 printable ASCII bytes, no '/', not "." or "..".
int host_name_ok(const char *name);
// open(2) of DIR/NAME confined as above (flags: O_RDONLY, O_WRONLY | O_CREAT | O_TRUNC, ...).
// -1 with errno (EINVAL for a refused name or a non-regular file, ELOOP for a link).
int host_open_in(const char *dir, const char *name, int flags, mode_t mode);

#endif
