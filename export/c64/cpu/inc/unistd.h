/* unistd.h for the c89.py pass: cc65's read/write/close (sim65: paravirtual host files; C64:
   KERNAL files and the console). */
#ifndef C64_UNISTD_H
#define C64_UNISTD_H
int read(int fd, void *buf, unsigned count);
int write(int fd, const void *buf, unsigned count);
int close(int fd);
#endif
