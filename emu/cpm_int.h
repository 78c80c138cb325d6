// cpm_int.h: the machine's insides, shared by cpm.c (CPU, memory, run loop), cpm_con.c
// (console streams), cpm_bdos.c (BDOS/BIOS dispatch and console functions) and cpm_file.c
// (file functions). Not for use outside emu/.
#ifndef RQ_CPM_INT_H
#define RQ_CPM_INT_H

#include <z80ex/z80ex.h>

#include "base/binio.h"
#include "emu/cpm.h"

struct cpm_machine {
    uint8_t mem[65536];
    Z80EX_CONTEXT *cpu;
    cpm_map map;
    char *dir;
    uint64_t max_tstates;
    cpm_stats st;
    char err[512];

    // CP/M state
    uint16_t dma;
    uint8_t drive, user;

    // events raised by memory/port callbacks during one z80ex_step, handled after it
    int ev_exit, ev_fault;
    uint8_t exit_val;
    uint16_t fault_addr;
    int ev_region;       // 0 none, 1 start, 2 stop
    int ev_region_id;

    uint64_t t_insn;     // T-state count at the start of the current instruction
    struct { uint64_t start, sum, count; int running; } region[CPM_NREGIONS];
    int in_call;         // cpm_call in progress: PC 0000h is its return
    uint16_t watch_pc;   // cpm_set_watch
    cpm_watch_fn watch_fn;
    void *watch_ud;

    // console input: a memory buffer or a file descriptor, with one byte of lookahead
    uint8_t *in_buf;
    size_t in_len, in_pos;
    int in_fd;
    int in_tty;          // in_fd is a terminal: ^D (04h) is end of input
    int peek;            // -1 none, else the raw byte read ahead by a status check
    int in_eof;
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

// cpm.c
int cpm_fail(cpm_machine *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint16_t cpm_caller(cpm_machine *m);  // address of the CALL that entered the BDOS/BIOS

// cpm_con.c
void con_out(cpm_machine *m, uint8_t c, int counted);  // one byte to the console (CR LF -> LF)
void con_flush(cpm_machine *m, int final);  // final: the run is over, write a held CR
int con_in(cpm_machine *m);        // blocking: next byte (LF -> CR) or -1 at EOF
int con_ready(cpm_machine *m);     // non-blocking: 1 when a byte is waiting

// cpm_bdos.c: run BDOS function C / BIOS entry `entry` (registers in the CPU; result in HL/A/B)
void bdos_call(cpm_machine *m);
void bios_call(cpm_machine *m, int entry);

// cpm_file.c: the file functions; return the BDOS result byte (A)
uint8_t file_call(cpm_machine *m, int fn, uint16_t fcb);
void file_search_free(cpm_machine *m);

#endif
