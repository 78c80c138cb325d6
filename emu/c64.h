// c64.h: a Commodore 64 good enough to run a cc65 program (`cl65 -t c64` .prg) bit for bit:
// the 6510 (m6502 core, hardware branch timing), 64 KB of RAM, the banking of $01, I/O at
// $D000-$DFFF with an REU at $DF00 (emu/reu.h), and the KERNAL's jump table served in C
// (emu/c64_kernal.c): console, keyboard lines, and disk drive 8 as a host folder.
//
// What happens, in order: the .prg (load address $0801, a BASIC line "SYS nnnn") is copied to
// RAM as LOAD would; BASIC's input buffer at $0200 holds the typed command line
// `RUN:REM ARGS` (tokenised: cc65's start-up finds its arguments after the REM token); the CPU
// starts at the SYS address with a return address into BASIC on the stack, and the run ends when
// the program returns there (its exit code is in ST, $90, where cc65's start-up leaves it).
//
// Modelled: RAM, the 6510 port ($00/$01: LORAM, HIRAM, CHAREN switch BASIC ROM, KERNAL ROM,
// I/O / character ROM in and out), the REU's registers and DMA (the CPU halted for one cycle per
// byte, counted apart in dma_cycles), the KERNAL calls cc65's library makes (c64_kernal.c).
// Not modelled, and what it means on a real C64:
//   - No ROM images are used or shipped: a read of BASIC, KERNAL or character ROM returns 0 and
//     is counted (rom_reads); a jump into ROM other than the KERNAL jump table stops the run.
//   - The KERNAL's routines cost nothing but the JSR and the RTS here (12 cycles). On a C64 a
//     CHROUT to the screen costs a few hundred cycles and a byte from a 1541 about 2,500 (the
//     serial bus: ~400 bytes/s); the model counts calls (kernal_calls) instead.
//   - VIC-II: no bad lines, no sprites, no raster interrupts; $D000-$D3FF are latches ($D011/
//     $D012 count rasters from the cycle counter). On a PAL C64 with the screen on, bad lines
//     take 40-43 of every 504 cycles of 8 raster lines (about 5% of the CPU), and an REU
//     transfer waits for them too.
//   - CIA timers and the KERNAL's 60 Hz interrupt (keyboard scan, jiffy clock, ~2% of the CPU
//     on a real machine) do not run; SID and the CIAs are latches; color RAM keeps 4 bits.
//   - No dummy bus cycles (a register read twice by an indexed instruction is read once).
// So the cycle counts here are the CPU's own; a real PAL C64 takes about 7% longer.
#ifndef RQ_EMU_C64_H
#define RQ_EMU_C64_H

#include <stddef.h>
#include <stdint.h>

#include "emu/m6502.h"
#include "emu/reu.h"

#define C64_HZ_PAL 985248
#define C64_BASIC_RETURN 0xE147  // where SYS returns into BASIC (the run ends there)
#define C64_LINE_MAX 80          // the screen editor's logical line: what a command line may hold
#define C64_MAX_FILES 10         // the KERNAL's table of open logical files

// How a run ended.
enum { C64_END_RETURN = 1, C64_END_LIMIT, C64_END_ILLEGAL, C64_END_ERROR };

typedef struct {
    uint8_t open, lfn, dev, sa;
    char mode;                     // 'r' 'w' 'a' for a disk file, 'c' the command channel
    int fd;                        // host descriptor of a disk file (-1: none or not found)
    uint8_t *data;                 // a disk file opened for reading, read whole at OPEN
    size_t len, pos;
} c64_file;

typedef struct c64 {
    m6502 cpu;
    uint8_t ram[65536];
    uint8_t ddr, port;             // 6510 $00 (direction) and $01 (data)
    uint8_t io[0x1000];            // latches of $D000-$DFFF
    uint8_t traps[256];
    reu_dev reu;
    int has_reu;
    uint64_t dma_cycles;           // CPU halted by REU transfers
    uint64_t rom_reads, kernal_calls;
    // the KERNAL (c64_kernal.c)
    const char *dir;               // drive 8: this host folder
    c64_file files[C64_MAX_FILES];
    int in_lfn, out_lfn;           // current input / output file (-1: keyboard / screen)
    char drive_status[48];         // drive 8's error channel
    size_t status_pos;
    char cmd[64];                  // bytes written to the command channel, run at CLRCHN
    size_t cmd_len;
    int err_lfn;                   // screen output to this logical file goes to stream 2 (cc65: 5)
    void (*out)(void *ud, int stream, const uint8_t *p, size_t n);  // console: stream 1 / 2
    void *ud;
    int in_fd;                     // keyboard lines come from here (-1: none) ...
    const uint8_t *in_buf;         // ... or from these bytes, when in_buf is set
    size_t in_len, in_pos;
    int echo;                      // show typed lines in the output, as the screen would
    uint8_t line[C64_LINE_MAX + 2];
    size_t line_len, line_pos;
    int line_ready, eat_cr;
    int end, exit_code;
    char err[256];
} c64;

// A C64 with zeroed RAM and KERNAL variables as after power-on and LOAD; reu_bytes > 0 plugs in
// an REU of that size (a power of two, 128 KB .. 16 MB). 0 or RQ_EINPUT.
int c64_init(c64 *m, uint32_t reu_bytes);
void c64_free(c64 *m);
// Copy an image into the REU from address 0 (n <= its size).
void c64_reu_fill(c64 *m, const uint8_t *p, size_t n);
// LOAD a BASIC-started .prg (the bytes of the file `name`, for messages): RAM from $0801 and
// the SYS address of its first line in *sys. RQ_EINPUT "NAME: byte N: ..." otherwise.
int c64_load_prg(c64 *m, const uint8_t *p, size_t n, const char *name, uint16_t *sys);
// Put `RUN:REM ` + args (ASCII, translated to PETSCII as typed) into BASIC's input buffer.
// RQ_EINPUT when the line is longer than C64_LINE_MAX or has a character that cannot be typed.
int c64_set_command_line(c64 *m, const char *args);
// c64_start: registers and stack as BASIC's SYS leaves them. c64_run: run until the program
// returns to BASIC (end C64_END_RETURN, exit code from ST) or until CPU + DMA cycles reach
// `until` (end still 0: call again to go on; the caller decides when that is a limit). RQ_ERUNTIME
// for an undocumented opcode or a KERNAL call the model does not serve (message recorded, end
// C64_END_ILLEGAL / C64_END_ERROR).
int c64_start(c64 *m, uint16_t sys);
int c64_run(c64 *m, uint64_t until);
// CPU + DMA cycles so far.
uint64_t c64_cycles(const c64 *m);

// ASCII <-> PETSCII as the programs exported here translate (export/c64/cpu/c64_rt.c), a
// permutation of the 256 bytes: a-z <-> $41-$5A, A-Z <-> $C1-$DA, $C1-$DA <-> $61-$7A (so
// every byte survives the round trip), LF <-> CR; everything else is itself.
uint8_t c64_petscii(uint8_t ascii);
uint8_t c64_ascii(uint8_t petscii);

// The KERNAL (c64_kernal.c): the trap at $FF81-$FFF3 and its state.
void c64_kernal_reset(c64 *m);
int c64_kernal_trap(c64 *m);
void c64_kernal_free(c64 *m);

#endif
