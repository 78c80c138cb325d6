// c64_rt.c: console, files, arguments and exit for the C64 programs. Under sim65 bytes go to the
// host's fd 1 / fd 2 unchanged; on a C64 (C64_REU builds) through the KERNAL (cc65's write ->
// CHROUT on the screen; fd 2 is cc65's logical file 5, the screen too).
//
// Character codes: the C64 builds are compiled with an identity character map (c64_build.c), so
// the program's text and infer/'s comparisons are ASCII as everywhere else; the KERNAL speaks
// PETSCII. The translation is a permutation of the bytes (so every byte of a story survives):
//   ASCII a-z $61-$7A -> $41-$5A   (shown lower case in the lower/upper-case character set)
//         A-Z $41-$5A -> $C1-$DA   (upper case there)
//             $C1-$DA -> $61-$7A   LF $0A <-> CR $0D, everything else unchanged
// and its inverse for what the KERNAL hands in (arguments typed after RUN:REM, keyboard lines).
// File names go out the same way: "tok.tok" is the PETSCII name TOK.TOK that cc1541 wrote.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "c64_rt.h"

#ifdef C64_REU
unsigned char c64_petscii(unsigned char c) {
    if (c >= 0x61 && c <= 0x7A) return (unsigned char)(c - 0x20);
    if (c >= 0x41 && c <= 0x5A) return (unsigned char)(c + 0x80);
    if (c >= 0xC1 && c <= 0xDA) return (unsigned char)(c - 0x60);
    return c == 0x0A ? 0x0D : c == 0x0D ? 0x0A : c;
}

unsigned char c64_ascii(unsigned char c) {
    if (c >= 0x41 && c <= 0x5A) return (unsigned char)(c + 0x20);
    if (c >= 0xC1 && c <= 0xDA) return (unsigned char)(c - 0x80);
    if (c >= 0x61 && c <= 0x7A) return (unsigned char)(c + 0x60);
    return c == 0x0D ? 0x0A : c == 0x0A ? 0x0D : c;
}
#endif

void c64_args(int argc, char **argv) {
#ifdef C64_REU
    int i;
    unsigned char *s;
    for (i = 1; i < argc; i++)
        for (s = (unsigned char *)argv[i]; *s; s++) *s = c64_ascii(*s);
#else
    (void)argc, (void)argv;
#endif
}

int c64_open(const char *name, int flags) {
#ifdef C64_REU
    char n[20];
    unsigned k = 0;
    while (name[k] && k < sizeof n - 1) n[k] = (char)c64_petscii((unsigned char)name[k]), k++;
    n[k] = 0;
    return open(n, flags);
#else
    return open(name, flags);
#endif
}

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
    while (n) {
        unsigned k = 0;
        while (n && k < sizeof b) b[k++] = c64_petscii(*s++), n--;
        write(fd, b, k);
    }
#else
    write(fd, p, n);
#endif
}

void c64_exit(int code) { exit(code); }
