// z80_machine.h: a Z80 with 64 KiB of RAM on libz80ex, counted to the T-state: the machine part
// that every Z80 system emulator here shares (emu/cpm.h adds the CP/M 2.2 OS on top of it).
//
// The machine runs instruction by instruction. At every instruction boundary it checks, in order:
// the T-state limit (end Z80M_END_TLIMIT), the return of z80m_call, the trapped PCs (trap[]: the
// OS layer's trap_fn runs instead of the instruction, e.g. a BDOS written in C; it usually ends
// with z80m_ret), and the watched PC (watch_fn runs, then the instruction). Writes at or above
// ro_from (0: none) are refused and end the run with an error after the instruction.
//
// A machine with a ROM (rom_end: the ZX Spectrum's 4000h) ignores writes below rom_end, as the
// hardware does, and counts them (rom_writes, the first one's address and PC); a read below it
// ends the run with an error (the model has no ROM image: every ROM entry must be trapped).
//
// Maskable interrupts (int_period > 0): the INT line is held for int_len T-states at the start
// of every int_period (from T-state 0 of the run, whose own frame counts as served); at each
// instruction boundary inside that window the CPU accepts it if it can (IFF1, not right after
// EI), in the interrupt mode the program set (IM 1: RST 38h, which the OS layer traps). A HALT
// with interrupts enabled waits for the next one: the T-states up to it are counted (and in
// halted_tstates) without stepping; a HALT with interrupts disabled, or in a machine without
// interrupts, is a runtime error (it would hang).
//
// mem_wait (NULL: none) adds wait states to a memory access at absolute T-state t: contended
// memory (the Spectrum's ULA delays the CPU's accesses to 4000h-7FFFh while it draws the screen).
//
// Test ports (test_ports = 1; OUT (n),A with the high address byte ignored):
//   FEh        exit: the run ends after this instruction (Z80M_END_EXIT) with exit code A
//              (not with no_exit_port: the Spectrum's ULA is there)
//   D0h..DFh   start T-state region 0..15     E0h..EFh  stop region 0..15
// A region counts exactly the T-states of the instructions between the start OUT and the stop
// OUT (neither included), summed over every start/stop pair. Other ports read FFh (an
// unconnected bus) unless the OS layer's port_in/port_out handle them.
#ifndef RQ_Z80_MACHINE_H
#define RQ_Z80_MACHINE_H

#include <stdint.h>

#include <z80ex/z80ex.h>

#define Z80M_NREGIONS 16
#define Z80M_PORT_EXIT 0xFE
#define Z80M_PORT_REGION_START 0xD0
#define Z80M_PORT_REGION_STOP 0xE0
#define Z80M_EXIT_TLIMIT 124  // exit code when the T-state limit stops a run (like timeout(1))

// Why a run ended. The machine's own ends; an OS layer uses the other small values for its own
// (CP/M: 1 warm boot, 3 console EOF), so these stay fixed.
enum { Z80M_END_NONE = 0, Z80M_END_EXIT = 2, Z80M_END_TLIMIT = 4, Z80M_END_ERROR = 5 };

typedef struct z80_machine z80_machine;
typedef void (*z80m_trap_fn)(z80_machine *z, uint16_t pc, void *ud);
typedef void (*z80m_hook_fn)(z80_machine *z, void *ud);
typedef uint8_t (*z80m_in_fn)(z80_machine *z, uint16_t port, void *ud);
typedef void (*z80m_out_fn)(z80_machine *z, uint16_t port, uint8_t v, void *ud);

struct z80_machine {
    uint8_t mem[65536];
    Z80EX_CONTEXT *cpu;
    uint64_t tstates;      // T-states executed (an OS trap adds what its RET costs: z80m_ret)
    uint64_t max_tstates;  // absolute limit on tstates
    int end;               // Z80M_END_* or the OS's; 0 while runnable
    int exit_code;         // the exit code for this end (0, port value, 124, 1)
    uint16_t end_pc;       // PC at the last instruction boundary (where the run ended)
    char err[512];         // the last runtime error

    // set up by the OS layer
    uint16_t ro_from;      // writes at or above fault (0: none)
    const char *ro_name;   // what lives there, for the message ("BDOS/BIOS area")
    uint16_t rom_end;      // writes below it are ignored (counted), reads fail (0: no ROM)
    int test_ports;        // 1: the exit and region ports above
    int no_exit_port;      // 1: OUT (FEh) goes to port_out like any other port
    uint32_t int_period;   // T-states from one maskable interrupt to the next (0: none)
    int int_len;           // T-states the INT line is held at the start of a period
    int (*mem_wait)(z80_machine *z, uint16_t addr, uint64_t t);  // wait states of an access at t
    uint8_t trap[8192];    // bit pc: trap_fn runs at that PC (z80m_trap)
    z80m_trap_fn trap_fn;
    z80m_in_fn port_in;    // other ports (NULL: FFh in, OUT ignored)
    z80m_out_fn port_out;
    z80m_hook_fn on_stop;  // runs when z80m_run stops (before it returns), e.g. flush the console
    void *ud;              // for trap_fn, port_in, port_out, on_stop
    uint16_t watch_pc;     // z80m_set_watch
    z80m_hook_fn watch_fn;
    void *watch_ud;

    // counters
    uint64_t rom_writes;   // writes into the ROM, ignored
    uint16_t rom_write_addr, rom_write_pc;  // the first one
    uint64_t interrupts;   // maskable interrupts accepted
    uint64_t halted_tstates;  // T-states spent in HALT waiting for an interrupt
    int int_from_halt;     // the interrupt being served woke a HALT (for the OS's trap)

    // run state
    int in_call;           // z80m_call in progress: call_ret is its return address
    uint16_t call_ret;
    uint64_t t_insn;       // tstates at the start of the current instruction
    int ev_exit, ev_fault, ev_region, ev_region_id, ev_romread;  // raised by callbacks, handled after the step
    uint8_t exit_val;
    uint16_t fault_addr, romread_addr;
    uint64_t int_served;   // the last period whose interrupt was accepted or missed
    struct { uint64_t start, sum, count; int running; } region[Z80M_NREGIONS];
};

// Create the CPU on zeroed memory (z itself zeroed by the caller, e.g. calloc; fill the OS fields
// after). RQ_ERUNTIME when libz80ex cannot create the CPU. z80m_free releases the CPU only.
int z80m_init(z80_machine *z);
void z80m_free(z80_machine *z);
void z80m_trap(z80_machine *z, uint16_t pc);  // trap_fn runs at pc

// Run from the current PC until the run ends (z->end != 0) or a z80m_call returns. RQ_OK for a
// normal end or return; RQ_ERUNTIME for the T-state limit and runtime errors (message recorded).
// After a T-state stop, raising max_tstates and calling z80m_run again continues the run.
int z80m_run(z80_machine *z);
// Call the subroutine at addr with the current registers and stack (pushes the return address
// ret, which the run loop recognises), run until it returns and leave the machine ready for the
// next call. *tstates (may be NULL): T-states from the first instruction at addr through the final
// RET. An exit-port OUT with A = 0 also counts as returning (any other code is an error).
int z80m_call(z80_machine *z, uint16_t addr, uint16_t ret, uint64_t *tstates);

// Record a runtime error: the run ends (Z80M_END_ERROR, exit code RQ_ERUNTIME); returns RQ_ERUNTIME.
int z80m_fail(z80_machine *z, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void z80m_end(z80_machine *z, int end, int exit_code);
// The address of the CALL that entered a trapped routine (the return address on the stack - 3).
uint16_t z80m_caller(z80_machine *z);
// Return from a trapped routine: pop PC and count the RET's t T-states.
void z80m_ret(z80_machine *z, int t);

void z80m_set_watch(z80_machine *z, uint16_t pc, z80m_hook_fn fn, void *ud);
// Region counters (r in 0..15): T-states summed over all start/stop pairs and the pair count.
void z80m_region(const z80_machine *z, int r, uint64_t *tstates, uint64_t *count);

#endif
