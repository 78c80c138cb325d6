/* fcntl.h for the c89.py pass: cc65's open() (variadic, hence cdecl) and its flag values. */
#ifndef C64_FCNTL_H
#define C64_FCNTL_H
#define O_RDONLY 0x01
#define O_WRONLY 0x02
#define O_RDWR 0x03
#define O_CREAT 0x10
#define O_TRUNC 0x20
#define O_APPEND 0x40
int open(const char *name, int flags, ...);
#endif
