// m6502.h: an NMOS 6502 (the C64's 6510 without its I/O port) counted to the cycle.
//
// Every documented opcode, decimal mode as the NMOS part computes it (ADC: N and V from the sum
// before the high-digit adjust, Z from the binary sum; SBC: every flag from the binary
// difference), the page-crossing cycle of indexed reads ((zp),Y, abs,X, abs,Y), taken branches
// (+1, +1 more across a page), and the JMP ($xxFF) page wrap. Undocumented opcodes stop the run
// (M6502_ILLEGAL). Not modelled: the dummy bus cycles of indexed and read-modify-write
// instructions (a device register read twice on hardware is read once here), interrupts (no IRQ
// or NMI line), and the 6510's port at $00/$01 (the machine decides what those addresses are).
//
// Cycle counts are those of cc65's sim65 2.19 for every documented opcode, so a program counts
// the same here and there (tests/test_m6502.c cross-checks both on the same programs). sim65
// decides the extra cycle of a taken branch from the page of the branch opcode rather than of the
// next instruction (they differ for a branch at $xxFE/$xxFF): sim65_branch = 1 counts its way,
// 0 the hardware's.
//
// Memory goes through 256 page pointers per direction (rd[page], wr[page]: the page's 256 bytes),
// or, where the pointer is NULL, through the machine's bus functions (I/O, banked ROM, devices).
// Trap pages: before fetching an opcode at a PC whose page is flagged in trap_pages, trap() runs;
// it may do the work of a routine in C (an OS call) and return with m6502_rts.
#ifndef RQ_M6502_H
#define RQ_M6502_H

#include <stdint.h>

enum { M6502_C = 0x01, M6502_Z = 0x02, M6502_I = 0x04, M6502_D = 0x08, M6502_B = 0x10, M6502_U = 0x20, M6502_V = 0x40, M6502_N = 0x80 };

// What m6502_run / a trap returns.
enum {
    M6502_RUN = 0,      // (run) the cycle limit was reached; (trap) not handled: execute the opcode at PC
    M6502_DONE = 1,     // (trap) handled: PC and registers are set, go on
    M6502_STOP = 2,     // (trap, run) the machine asked to stop (exit, error, input ended)
    M6502_ILLEGAL = 3,  // (run) an undocumented opcode at bad_pc
};

typedef struct m6502 m6502;
struct m6502 {
    uint16_t pc;
    uint8_t a, x, y, s, p;     // p always has bits 4 and 5 set (as PHP pushes it)
    uint64_t cycles;           // cycles executed
    unsigned last;             // cycles of the last instruction
    uint64_t insns;            // instructions executed
    uint8_t *rd[256], *wr[256];
    uint8_t (*bus_read)(void *ctx, uint16_t addr);
    void (*bus_write)(void *ctx, uint16_t addr, uint8_t v);
    void *ctx;
    const uint8_t *trap_pages; // [256] or NULL
    int (*trap)(void *ctx, m6502 *c);
    int sim65_branch;          // see above
    uint16_t bad_pc;           // where M6502_ILLEGAL stopped
    uint8_t bad_op;
};

// Registers as after reset, with PC = pc (no vector fetch, no cycles).
void m6502_reset(m6502 *c, uint16_t pc);
// Run until cycles >= until, a trap stops, or an undocumented opcode: M6502_RUN / _STOP / _ILLEGAL.
int m6502_run(m6502 *c, uint64_t until);
// Bus access as the CPU sees it (page pointers, else the bus functions).
uint8_t m6502_read(m6502 *c, uint16_t a);
void m6502_write(m6502 *c, uint16_t a, uint8_t v);
// Stack helpers for traps: push/pull a byte; return from a JSR'd routine (PC = pulled + 1),
// counting `cycles` for it (6 for a real RTS; 0 where the emulated system charges nothing).
void m6502_push(m6502 *c, uint8_t v);
uint8_t m6502_pull(m6502 *c);
void m6502_rts(m6502 *c, unsigned cycles);

#endif
