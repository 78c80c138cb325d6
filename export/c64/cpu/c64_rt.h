// c64_rt.h: the C64 programs' machine services (c64_rt.c): console, files, arguments, exit.
#ifndef C64_RT_H
#define C64_RT_H

// Write n bytes to fd 1 (text) or 2 (diagnostics), as PETSCII on a C64.
void c64_write(int fd, const void *p, unsigned n);
// The arguments a C64 hands main() are PETSCII: translate them to ASCII in place.
void c64_args(int argc, char **argv);
// open() of a file named in ASCII (the disk's PETSCII name on a C64).
int c64_open(const char *name, int flags);
void c64_exit(int code);
#ifdef C64_REU
unsigned char c64_petscii(unsigned char ascii);
unsigned char c64_ascii(unsigned char petscii);
#endif

#endif
