// cpm.h: a CP/M 2.2 machine on libz80ex: 64 KiB RAM, a Z80 counted to the T-state, and a BDOS
// written in C that maps console I/O to host streams (or memory buffers) and files to a host
// directory. It runs .COM programs the way a standard 64K CP/M 2.2 system does, so a program that
// works here works there — and the T-state count is what a real Z80 would spend.
//
// Memory map (default, --top moves it; "top" is the BDOS entry, the word at 0006h):
//   0000h  JP BIOS+3 (warm boot: the run ends when PC reaches 0000h or BIOS+3)
//   0005h  JP top (BDOS entry)           005Ch/006Ch default FCBs    0080h command tail, DMA
//   0100h  TPA: the .COM is loaded here and must end below the CCP
//   E400h  CCP (= top-0806h)  EC06h BDOS entry (top)  FA00h BIOS jump table (= top-6+0E00h)
// SP starts at top-8, holding 0000h, so a final RET is a warm boot. The BDOS and BIOS
// are trapped by PC (the C code runs, then a RET is executed and counted: 10 T-states); writes
// at or above the BDOS entry are a runtime error (a program that clobbers the BDOS would crash
// a real machine).
//
// Test ports (OUT (n),A; the high address byte is ignored):
//   FEh        exit: the run ends after this instruction with exit code A
//   D0h..DFh   start T-state region 0..15     E0h..EFh  stop region 0..15
// A region counts exactly the T-states of the instructions between the start OUT and the stop
// OUT (neither OUT included), summed over every start/stop pair.
//
// Typical use (tests, kernels):
//   cpm_machine *m = cpm_new(NULL);                // defaults: no console input, output captured
//   if (cpm_load_com_file(m, "X.COM")) ...         // RQ_EINPUT: missing, empty, too big for the TPA
//   cpm_set_input(m, "hello\n", 6);
//   int rc = cpm_run(m);                           // RQ_OK or RQ_ERUNTIME (message recorded)
//   cpm_output(m, NULL), cpm_stats(m)->tstates, cpm_region(m, 1, &t, &n), cpm_free(m);
#ifndef RQ_CPM_H
#define RQ_CPM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CPM_TOP_DEFAULT 0xEC06u                    // BDOS entry of a standard 64K CP/M 2.2
#define CPM_MAX_TSTATES_DEFAULT 20000000000ull     // 20e9 T-states (~83 minutes at 4 MHz)
#define CPM_NREGIONS 16
#define CPM_PORT_EXIT 0xFE
#define CPM_PORT_REGION_START 0xD0
#define CPM_PORT_REGION_STOP 0xE0
#define CPM_EXIT_TLIMIT 124  // CLI exit code when the T-state limit stops a run (like timeout(1))

typedef struct cpm_machine cpm_machine;

typedef struct {
    uint16_t top;           // BDOS entry address (word at 0006h); 0 = CPM_TOP_DEFAULT
    const char *dir;        // host directory holding the CP/M files; NULL = "."
    uint64_t max_tstates;   // 0 = CPM_MAX_TSTATES_DEFAULT
    int in_fd;              // console input file descriptor; -1 = none (input at EOF)
                            // (cpm_set_input replaces it with a memory buffer)
    FILE *out;              // console output stream; NULL = capture in memory (cpm_output)
    int no_echo;            // 1: BDOS 1 and 10 do not echo the typed characters
} cpm_opts;

// Why a run ended.
typedef enum {
    CPM_END_NONE = 0,  // still runnable (not started, or stopped by cpm_call returning)
    CPM_END_WBOOT,     // PC reached 0000h / BIOS WBOOT, or BDOS 0, or ^C on an empty line: exit 0
    CPM_END_EXIT,      // OUT (FEh),A: exit code A
    CPM_END_EOF,       // the program waited for console input at EOF: exit 0
    CPM_END_TLIMIT,    // the T-state limit was reached: exit CPM_EXIT_TLIMIT
    CPM_END_ERROR,     // unimplemented BDOS/BIOS call, HALT, write into BDOS, host I/O error: exit 1
} cpm_end;

typedef struct {
    uint64_t tstates;       // T-states executed, including the RETs of trapped BDOS/BIOS calls
    uint64_t chars;         // console bytes the program wrote (BDOS 2, 6, 9, BIOS CONOUT; not echo)
    uint64_t bdos[256];     // BDOS calls by function number (C register)
    uint64_t bios_calls;    // direct BIOS calls through the jump table
    cpm_end end;
    int exit_code;          // the CLI exit code for this end (0, port value, 124, 1)
    uint16_t end_pc;        // PC where the run ended
} cpm_stats;

// Machine lifecycle. opts may be NULL (defaults). cpm_new returns NULL and records an error for
// an impossible --top. The opts strings are copied.
cpm_machine *cpm_new(const cpm_opts *opts);
void cpm_free(cpm_machine *m);

// Load a .COM at 0100h. RQ_EINPUT (message names `name`) when empty or larger than the TPA
// (0100h up to the CCP). cpm_load_com_file also reports a missing/unreadable file.
int cpm_load_com(cpm_machine *m, const uint8_t *data, size_t n, const char *name);
int cpm_load_com_file(cpm_machine *m, const char *path);

// The command tail and default FCBs, as the CCP builds them from "PROG ARG1 ARG2...":
// tail at 0080h (length byte, " ARG1 ARG2" upper-cased, then 0), FCB1 at 005Ch from ARG1, FCB2
// at 006Ch from ARG2 ("D:NAME.TYP", '*' expands to '?'). RQ_EINPUT when longer than 127 bytes.
int cpm_set_args(cpm_machine *m, int argc, char **argv);
int cpm_set_tail(cpm_machine *m, const char *tail);  // tail as typed after the command name

// Console input from memory (copied; replaces any fd). LF is read as CR, CR LF as one CR.
void cpm_set_input(cpm_machine *m, const void *data, size_t n);
void cpm_set_input_fd(cpm_machine *m, int fd);
// Captured console output (when opts.out was NULL): NUL-terminated, CR LF already mapped to LF.
const char *cpm_output(const cpm_machine *m, size_t *n);
void cpm_clear_output(cpm_machine *m);

// Run from the current PC until the program ends. RQ_OK for a normal end (warm boot, exit
// port, console EOF); RQ_ERUNTIME for the T-state limit and runtime errors (message recorded,
// also in cpm_error). After a T-state stop, cpm_set_max_tstates + cpm_run continue the run.
int cpm_run(cpm_machine *m);
void cpm_set_max_tstates(cpm_machine *m, uint64_t max);  // absolute limit on stats.tstates

// Call the subroutine at addr with the current registers and stack (pushes a return address
// 0000h), run until it returns there, and leave the machine ready for the next call. *tstates
// (may be NULL) gets the T-states from the first instruction at addr through the final RET (no
// CALL instruction is executed). Same return codes as cpm_run; an exit-port OUT with A = 0 also
// counts as returning (any other exit code is an error).
int cpm_call(cpm_machine *m, uint16_t addr, uint64_t *tstates);

const cpm_stats *cpm_stats_get(const cpm_machine *m);
const char *cpm_error(const cpm_machine *m);     // last runtime error of this machine, "" if none
const char *cpm_end_name(cpm_end e);             // "wboot", "exit", "eof", "tlimit", "error"

// Call fn(m, ud) every time the instruction at pc is about to execute (one watched address per
// machine; fn NULL: none). fn may read memory and registers; it must not change them.
typedef void (*cpm_watch_fn)(cpm_machine *m, void *ud);
void cpm_set_watch(cpm_machine *m, uint16_t pc, cpm_watch_fn fn, void *ud);

// Region counters (r in 0..15): T-states summed over all start/stop pairs and the pair count.
void cpm_region(const cpm_machine *m, int r, uint64_t *tstates, uint64_t *count);

// Direct access to the 64 KiB of RAM (read and write) and the registers.
uint8_t *cpm_mem(cpm_machine *m);
typedef enum { CPM_AF, CPM_BC, CPM_DE, CPM_HL, CPM_IX, CPM_IY, CPM_SP, CPM_PC } cpm_reg_id;
uint16_t cpm_reg(cpm_machine *m, cpm_reg_id r);
void cpm_set_reg(cpm_machine *m, cpm_reg_id r, uint16_t v);

// The memory map this machine uses.
typedef struct {
    uint16_t top;        // BDOS entry (word at 0006h)
    uint16_t bdos_base;  // top - 6
    uint16_t ccp;        // bdos_base - 0800h: the TPA is 0100h..ccp-1
    uint16_t bios;       // bdos_base + 0E00h: 17 jump-table entries
} cpm_map;
cpm_map cpm_get_map(const cpm_machine *m);
// The map for a given top (0 = default); RQ_EINPUT when top is outside 0A06h..F1D3h.
int cpm_map_for(uint16_t top, cpm_map *map);

#endif
