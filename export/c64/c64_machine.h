// c64_machine.h: the c64 target's programs on retroqat's own 6502 (emu/) instead of sim65:
//   "c64"    the C64 model with an REU (emu/c64.h): retroqat.prg from its BASIC line, the REU
//            image in the REU, arguments typed after RUN:REM, files from the export folder on
//            drive 8 (the REU path: ws_reu.c's DMA through $DF00)
//   "m6502"  sim65's machine (emu/sim65.h): c64.sim with sim65's hooks and cycle counts
#ifndef RQ_EXPORT_C64_MACHINE_H
#define RQ_EXPORT_C64_MACHINE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *machine;        // "c64" or "m6502"
    const char *prog;           // the program file
    const char *reu;            // "c64": the REU image (its size is the REU's); NULL: no REU
    const char *dir;            // the folder the program's files are in
    int argc;                   // the program's arguments, argv[0] its name; "c64": joined
    const char *const *argv;    //   into the command line (quoted where they hold spaces)
    const uint8_t *in;          // console input (keyboard lines / fd 0), NULL: none
    size_t in_len;
    int echo;                   // "c64": show typed lines in the output
    double timeout;             // wall-clock seconds (0: none)
} c64m_run;

typedef struct {
    int exit_code;              // the program's; 124 when the timeout stopped it
    int timed_out;
    char *out, *err;            // the console's streams (fd 1, fd 2), NUL terminated, malloc'd
    size_t out_len, err_len;
    uint64_t cycles;            // CPU + REU DMA
    uint64_t cpu_cycles, dma_cycles, dma_bytes, dma_transfers, kernal_calls, rom_reads;
} c64m_result;

// Load and run. 0 when the program ran (whatever its exit code); RQ_EINPUT for a program or REU
// image that is not one (message names the file and byte) or a command line a C64 cannot hold;
// RQ_ERUNTIME when the emulated program went wrong (undocumented opcode, unserved KERNAL call).
int c64m_run_program(const c64m_run *p, c64m_result *r);
void c64m_result_free(c64m_result *r);

#endif
