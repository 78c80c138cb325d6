// zx48.h: a ZX Spectrum 48K for running machine code from a .TAP, on the Z80 machine
// (emu/z80_machine.h) counted to the T-state. No ROM image is needed or shipped: the ROM entry
// points a program may use are trapped and written in C, and every other ROM address stops the
// run with a clear message.
//
// Memory: 0000h-3FFFh ROM (writes are ignored, as on the real machine, and counted; reads stop
// the run), 4000h-5AFFh screen, 5B00h printer buffer, 5C00h system variables, 5CB6h the channel
// information, 5CCBh the BASIC program, then its variables; RAMTOP (CLEAR) and the machine stack
// below it; up to FFFFh. Memory at 4000h-7FFFh is contended: while the ULA draws the screen
// (192 lines of 224 T-states from T-state 14335 of each 69,888-T-state frame, the first 128 of
// each line) an access waits 6,5,4,3,2,1,0,0 T-states by its position (memory cycles only: the
// extra contended cycles of some instructions are not modelled, so the count is a lower bound
// there; memory at 8000h and above is never contended).
//
// Loading (zx48_load_tap): the .TAP's files are read through libspectrum (emu/zx_tape.h); the
// first must be a BASIC program with an autostart line, which is placed at PROG and "run": the
// model executes exactly the statements a machine-code loader uses, CLEAR n (RAMTOP), LOAD ""
// CODE [a] (the next CODE file, at its header's start address or a) and RANDOMIZE USR n (the
// program's start), anything else is refused with the line and statement.
//
// The program then runs as USR left it: PC = BC = n, IY = 5C3Ah, IM 1 with interrupts on,
// H'L' = 2758h, SP on the machine stack below RAMTOP with the return address 2D2Bh (the ROM's
// STACK-BC): returning there is the end of the run (ZX48_END_BASIC, exit code 0). The 50 Hz
// interrupt arrives every 69,888 T-states (the INT line held for 32) whenever the program has
// interrupts on, and is served by the ROM's IM 1 routine at 0038h as modelled here: FRAMES +1,
// the keyboard (below), the handler's 12 bytes of pushes below the interrupted SP, EI, RET.
//
// Trapped ROM entry points (each costs the RET it ends with; the real ROM spends more):
//   0010h  RST 10h     print A on the current channel, which must be the upper screen 'S'
//                      (stream 2 opened by CHAN-OPEN); the text goes to the output (13 as a line
//                      end, 8 as backspace, other bytes as they are); rows are tracked, and a
//                      scroll that runs SCR-CT (5C8Ch) out is an error (the ROM would stop at
//                      'scroll?' and wait for a key)
//   0038h  IM 1        the interrupt, above
//   0D6Bh  CLS         clear the screen (the print position goes to the top)
//   1601h  CHAN-OPEN   make stream A's channel the current one (STRMS/CHANS as after NEW)
//   2D2Bh  STACK-BC    USR's return: the end of the run
// At every one of them, and at every interrupt, IY must be 5C3Ah (the ROM addresses the system
// variables through it): otherwise the run stops with an error naming the PC (the published Z80
// port's Spectrum build used IY with interrupts on). At the return to BASIC, H'L' must be what
// USR left (the ROM's calculator keeps its place in it).
//
// Keyboard: the model is a typist who presses the next key of the input (a byte stream: LF or
// CR is ENTER, DEL/BS is DELETE (12), printable ASCII as itself, other bytes are not keys) when
// the program has taken the last one: at an interrupt with bit 5 of FLAGS clear, the key goes
// to LAST-K (5C08h) and bit 5 is set, as the ROM's KEYBOARD does. A letter while FLAGS bit 3 is
// clear (K mode: the ROM would decode it as a BASIC keyword) is an error. When the input has
// ended and the program has waited in HALT through ZX48_EOF_FRAMES interrupts in a row (a
// second: it waits for a key), the run ends (ZX48_END_EOF, exit code 0).
#ifndef RQ_ZX48_H
#define RQ_ZX48_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZX48_FRAME_TSTATES 69888
#define ZX48_INT_TSTATES 32
#define ZX48_EOF_FRAMES 50
#define ZX48_IY 0x5C3A
#define ZX48_HL_ALT 0x2758
#define ZX48_USR_RET 0x2D2B
#define ZX48_PROG 0x5CCB
#define ZX48_MAX_TSTATES_DEFAULT 20000000000ull

// Why a run ended (the Z80 machine's own ends keep their numbers, z80_machine.h).
typedef enum {
    ZX48_END_NONE = 0,
    ZX48_END_BASIC = 1,   // returned to BASIC through USR: exit code 0
    ZX48_END_EOF = 3,     // waiting for a key in HALT at the end of the input: exit code 0
    ZX48_END_TLIMIT = 4,  // the T-state limit: exit code 124
    ZX48_END_ERROR = 5,   // a runtime error of the program (message recorded): exit code 1
} zx48_end;

typedef struct {
    uint64_t max_tstates;  // 0 = ZX48_MAX_TSTATES_DEFAULT
    int in_fd;             // keyboard input; -1 = none (zx48_set_input replaces it)
    FILE *out;             // the upper screen's text; NULL = captured (zx48_output)
} zx48_opts;

typedef struct {
    uint64_t tstates;         // all T-states of the run
    uint64_t halted_tstates;  // of them, in HALT waiting for an interrupt (for a key)
    uint64_t contended_tstates;  // wait states of contended memory (included in tstates)
    uint64_t chars;           // bytes printed through RST 10h
    uint64_t interrupts;      // interrupts served
    uint64_t rst10, chan_open, cls;  // calls of the trapped ROM routines
    uint64_t rom_writes;      // writes into the ROM, ignored
    uint16_t rom_write_addr, rom_write_pc;  // the first
    zx48_end end;
    int exit_code;            // 0, 124 (T-state limit), 1 (error)
    uint16_t end_pc;
    uint16_t usr;             // where USR started the program
    uint16_t usr_bc;          // BC at the return to BASIC (USR's value)
} zx48_stats;

typedef struct zx48_machine zx48_machine;

zx48_machine *zx48_new(const zx48_opts *o);  // NULL (error recorded) if the CPU cannot be made
void zx48_free(zx48_machine *m);

// Load the .TAP at path as LOAD "" does and run its BASIC loader up to the USR (see above).
// RQ_EINPUT for a bad file or loader (the message names the file and the byte or line).
int zx48_load_tap(zx48_machine *m, const char *path);
int zx48_load_tap_data(zx48_machine *m, const uint8_t *tap, size_t len, const char *name);
// LET x$="text" (letter a..z): the string variable in the BASIC variables area (replacing one of
// the same name). RQ_EINPUT when it does not fit below RAMTOP.
int zx48_set_string(zx48_machine *m, char letter, const char *text, size_t n);
// RANDOMIZE USR addr: set the machine up as USR leaves it (above) to start at addr. The loader
// does this with its own address; call it again for another entry point or, after a return to
// BASIC, for another call (memory and the counters carry on).
void zx48_call_usr(zx48_machine *m, uint16_t addr);
uint16_t zx48_usr(const zx48_machine *m);  // the loader's USR address

void zx48_set_input(zx48_machine *m, const void *data, size_t n);  // keys from memory
void zx48_set_input_fd(zx48_machine *m, int fd);
const char *zx48_output(const zx48_machine *m, size_t *n);        // captured text, NUL terminated

// Run until the program ends. RQ_OK for a return to BASIC or the end of the input; RQ_ERUNTIME
// for the T-state limit and runtime errors (message recorded, also zx48_error). After a T-state
// stop, zx48_set_max_tstates + zx48_run continue.
int zx48_run(zx48_machine *m);
void zx48_set_max_tstates(zx48_machine *m, uint64_t max);
const zx48_stats *zx48_stats_get(const zx48_machine *m);
const char *zx48_error(const zx48_machine *m);
const char *zx48_end_name(zx48_end e);  // "basic", "eof", "tlimit", "error"

// fn(m, ud) before the instruction at pc executes (one watch point; fn NULL: none).
typedef void (*zx48_watch_fn)(zx48_machine *m, void *ud);
void zx48_set_watch(zx48_machine *m, uint16_t pc, zx48_watch_fn fn, void *ud);
void zx48_region(const zx48_machine *m, int r, uint64_t *tstates, uint64_t *count);  // OUT D0h+r..E0h+r
uint8_t *zx48_mem(zx48_machine *m);  // the 64 KiB
uint16_t zx48_reg(zx48_machine *m, int z80ex_reg);  // a register (libz80ex's regAF.. numbering)
void zx48_set_reg(zx48_machine *m, int z80ex_reg, uint16_t v);

#endif
