// sim65.h: cc65's sim65 2.19 machine on the m6502 core: the same programs, the same output, exit
// code and cycle count, so `retroqat` can cross-check its 6502 against sim65 and run sim6502
// programs where sim65 is not installed.
//
// What sim65 2.19 is (read from its sources; the tests check it against the binary):
//   memory    64 KB of RAM filled with $FF, all of it readable and writable
//   program   header "sim65", version 2, CPU (0: 6502), zero-page address of cc65's C stack
//             pointer, load address, reset address (little-endian words), then the bytes loaded
//             from the load address up to at most $FFF3; the reset address goes to $FFFC
//   CPU       A = X = Y = 0, S = 0, P = $30, PC = the reset address; sim65's branch cycle rule
//   hooks     a JSR or JMP to $FFF4..$FFF9 runs open, close, read, write, args, exit in the host
//             and returns as an RTS would, at no cost beyond the JSR's 6 cycles. Arguments come
//             from cc65's C stack (the pointer at the header's zero-page address) and A/X; the
//             result goes to A/X (-1 as A = X = $FF; sim65 2.19 leaves X unmasked, so a failed
//             open reads as a handle there: the one place the two differ)
//   exit      exit(A); `sim65 -c` prints "N cycles" with N not counting the JSR/JMP into exit
// Files: sim65 opens any host path; here a program's names are one component inside `dir`
// (emu/hostfile.h), so a program cannot reach outside the folder it was given.
#ifndef RQ_EMU_SIM65_H
#define RQ_EMU_SIM65_H

#include <stddef.h>
#include <stdint.h>

#include "emu/m6502.h"

#define SIM65_HOOKS 0xFFF4
#define SIM65_MAX_FDS 16
#define SIM65_EXIT_ERROR 0x7F    // sim65's exit code for an illegal opcode or a bad program
#define SIM65_EXIT_TIMEOUT 0x7E  // sim65 -x: the cycle limit

// How a run ended.
enum { SIM65_END_EXIT = 1, SIM65_END_LIMIT = 2, SIM65_END_ILLEGAL = 3 };

typedef struct sim65 {
    m6502 cpu;
    uint8_t mem[65536];
    uint8_t traps[256];
    uint8_t sp_zp;                 // the header's zero-page address of the C stack pointer
    const char *dir;               // the folder a program's file names resolve in
    int argc;                      // what the args hook hands the program; argv[0] its name
    const char *const *argv;
    // console: fd 1 and 2 go to out(); fd 0 reads in_buf or in_fd (-1: end of input at once)
    void (*out)(void *ud, int fd, const uint8_t *p, size_t n);
    void *ud;
    int in_fd;
    const uint8_t *in_buf;         // fd 0 reads these bytes instead, when set
    size_t in_len, in_pos;
    int fd[SIM65_MAX_FDS];         // guest handle -> host descriptor (-1: closed); 0..2 the console
    int end, exit_code;
    uint64_t cycles;               // at the end: what `sim65 -c` prints
    uint64_t hook_calls;
} sim65;

// Load a sim6502 program (the bytes of a file named name, for messages) into fresh memory:
// RQ_EINPUT "NAME: byte N: ..." for a file that is not one.
int sim65_load(sim65 *s, const uint8_t *prog, size_t n, const char *name);
// sim65_start: the CPU as sim65 resets it. sim65_run: run until the program exits (end
// SIM65_END_EXIT, its code in exit_code), an undocumented opcode (SIM65_END_ILLEGAL, exit code
// 0x7F, message recorded, RQ_ERUNTIME) or until cycles reach `until` (end still 0: call again to
// go on). sim65_limit: end the run as `sim65 -x` does (SIM65_END_LIMIT, 0x7E).
void sim65_start(sim65 *s);
int sim65_run(sim65 *s, uint64_t until);
void sim65_limit(sim65 *s);
// Close the files the program left open.
void sim65_free(sim65 *s);

#endif
