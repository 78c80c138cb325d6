// cpm_int.h: the CP/M machine's insides: the Z80 machine it runs on (emu/z80_machine.h) and the
// state of the OS (memory map, DMA, drive, console, directory search). Shared by cpm.c (the
// machine's set-up, traps and loading), cpm_bdos.c (BDOS/BIOS), cpm_file.c (file functions) and
// cpm_con.c (console streams); each declares its own functions in its header (cpm_bdos.h,
// cpm_file.h, cpm_con.h), so the OS files depend on the machine, never the other way round.
// Not for use outside emu/.
#ifndef RQ_CPM_INT_H
#define RQ_CPM_INT_H

#include <z80ex/z80ex.h>

#include "base/binio.h"
#include "emu/con_in.h"
#include "emu/cpm.h"
#include "emu/z80_machine.h"

struct cpm_machine {
    z80_machine z;       // CPU, 64 KiB, T-states, regions, end of the run
    uint8_t *mem;        // = z.mem
    cpm_map map;
    char *dir;
    cpm_stats st;        // the OS's counters (chars, bdos, bios_calls); the rest copied from z
    cpm_watch_fn watch_fn;  // cpm_set_watch
    void *watch_ud;

    // CP/M state
    uint16_t dma;
    uint8_t drive, user;

    // console input: a memory buffer or a file descriptor, with one byte of lookahead
    con_input in;
    int peek;            // -1 none, else the raw byte read ahead by a status check
    int last_cr;         // the last raw byte was CR: a following LF is swallowed
    int no_echo;

    // console output: a FILE or the capture buffer; a CR waits to see whether LF follows
    FILE *out;
    int out_tty;
    rq_buf cap;
    int pending_cr;
    int last_emit;       // the last byte written out (LF CR: the CR is dropped)

    // BDOS search first/next state: matching host names, in CP/M directory order
    char **found;
    int nfound, ifound;
};

// A runtime error of the program (the run ends with exit code 1; returns RQ_ERUNTIME), and the
// address of the CALL that entered the BDOS/BIOS.
#define cpm_fail(m, ...) z80m_fail(&(m)->z, __VA_ARGS__)
#define cpm_caller(m) z80m_caller(&(m)->z)
// End the run (CPM_END_*) with the exit code.
static inline void cpm_end_run(cpm_machine *m, cpm_end e, int code) { z80m_end(&m->z, (int)e, code); }

#endif
