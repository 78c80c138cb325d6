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
// File names go out with both cases folded to the unshifted letters a drive lists: "tok.tok" and
// "TOK.TOK" both name the file TOK.TOK that cc1541 wrote. On a C64 the translation, the argument
// and file name fix-ups and the chunked output are assembly (c64_petscii.s: 500 bytes of cc65 C
// did not fit next to the int4 build).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "c64_rt.h"

#ifndef C64_REU
// (on a C64 these three are c64_petscii.s)
void c64_args(int argc, char **argv) { (void)argc, (void)argv; }
int c64_open(const char *name, int flags) { return open(name, flags); }
void c64_write(int fd, const void *p, unsigned n) { write(fd, p, n); }
#endif

void c64_exit(int code) { exit(code); }
