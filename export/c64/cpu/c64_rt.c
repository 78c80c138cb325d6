// c64_rt.c: console output and exit for the C64 program. Under sim65 bytes go to the host's
// fd 1 / fd 2 unchanged; on a C64 (C64_REU builds) both go to the screen through the KERNAL
// (cc65's write -> CHROUT), translated from ASCII to PETSCII in the lower-case character set.
#include <stdlib.h>
#include <unistd.h>

void c64_write(int fd, const void *p, unsigned n) {
#ifdef C64_REU
    static unsigned char started;
    unsigned char b[32];
    const unsigned char *s = p;
    if (!started) {
        b[0] = 14;  // switch to the lower/upper-case character set
        write(1, b, 1);
        started = 1;
    }
    (void)fd;
    while (n) {
        unsigned k = 0;
        while (n && k < sizeof b) {
            unsigned char c = *s++;
            n--;
            if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 32);
            else if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 128);
            else if (c == '\n') c = 13;
            b[k++] = c;
        }
        write(1, b, k);
    }
#else
    write(fd, p, n);
#endif
}

void c64_exit(int code) { exit(code); }
