// z80_machine.c: the Z80 machine (z80_machine.h): memory and ports as libz80ex sees them, the run
// loop with its T-state count, traps, watch point and test ports.
#include "emu/z80_machine.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

int z80m_fail(z80_machine *z, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(z->err, sizeof z->err, fmt, ap);
    va_end(ap);
    z->end = Z80M_END_ERROR;
    z->exit_code = RQ_ERUNTIME;
    return rq_fail(RQ_ERUNTIME, "%s", z->err);
}

void z80m_end(z80_machine *z, int end, int exit_code) {
    z->end = end;
    z->exit_code = exit_code;
}

// ---- the CPU's view of memory and ports ------------------------------------------------------
// Callback names avoid POSIX pread/pwrite (libz80ex's typedef names would suggest them).

static void mem_wait(z80_machine *z, Z80EX_CONTEXT *cpu, uint16_t addr) {
    int w = z->mem_wait(z, addr, z->tstates + (uint64_t)z80ex_op_tstate(cpu));
    if (w > 0) z80ex_w_states(cpu, (unsigned)w);
}

static Z80EX_BYTE on_mem_read(Z80EX_CONTEXT *cpu, Z80EX_WORD addr, int m1, void *ud) {
    (void)m1;
    z80_machine *z = ud;
    if (z->mem_wait) mem_wait(z, cpu, addr);
    if (addr < z->rom_end && !z->ev_romread) z->ev_romread = 1, z->romread_addr = addr;
    return z->mem[addr];
}

static void on_mem_write(Z80EX_CONTEXT *cpu, Z80EX_WORD addr, Z80EX_BYTE v, void *ud) {
    z80_machine *z = ud;
    if (z->mem_wait) mem_wait(z, cpu, addr);
    if (addr < z->rom_end) {  // a ROM: the write goes nowhere
        if (!z->rom_writes++) z->rom_write_addr = addr, z->rom_write_pc = z->end_pc;
        return;
    }
    if (z->ro_from && addr >= z->ro_from) {  // protected (CP/M: the BDOS and BIOS): refuse, report after the step
        if (!z->ev_fault) z->fault_addr = addr;
        z->ev_fault = 1;
        return;
    }
    z->mem[addr] = v;
}

static Z80EX_BYTE on_port_in(Z80EX_CONTEXT *cpu, Z80EX_WORD port, void *ud) {
    (void)cpu;
    z80_machine *z = ud;
    return z->port_in ? z->port_in(z, port, z->ud) : 0xFF;  // 0xFF: an unconnected bus
}

static void on_port_out(Z80EX_CONTEXT *cpu, Z80EX_WORD port, Z80EX_BYTE v, void *ud) {
    (void)cpu;
    z80_machine *z = ud;
    int p = port & 0xFF;
    if (z->test_ports && !z->no_exit_port && p == Z80M_PORT_EXIT) {
        z->ev_exit = 1;
        z->exit_val = v;
    } else if (z->test_ports && p >= Z80M_PORT_REGION_START && p < Z80M_PORT_REGION_START + Z80M_NREGIONS) {
        z->ev_region = 1;
        z->ev_region_id = p - Z80M_PORT_REGION_START;
    } else if (z->test_ports && p >= Z80M_PORT_REGION_STOP && p < Z80M_PORT_REGION_STOP + Z80M_NREGIONS) {
        z->ev_region = 2;
        z->ev_region_id = p - Z80M_PORT_REGION_STOP;
    } else if (z->port_out) {
        z->port_out(z, port, v, z->ud);
    }
}

static Z80EX_BYTE on_int_read(Z80EX_CONTEXT *cpu, void *ud) {
    (void)cpu, (void)ud;
    return 0xFF;
}

int z80m_init(z80_machine *z) {
    z->cpu = z80ex_create(on_mem_read, z, on_mem_write, z, on_port_in, z, on_port_out, z, on_int_read, z);
    if (!z->cpu) return rq_fail(RQ_ERUNTIME, "cannot create the Z80 (libz80ex)");
    return RQ_OK;
}

void z80m_free(z80_machine *z) {
    if (z->cpu) z80ex_destroy(z->cpu);
    z->cpu = NULL;
}

void z80m_trap(z80_machine *z, uint16_t pc) { z->trap[pc >> 3] |= (uint8_t)(1u << (pc & 7)); }

// ---- running ---------------------------------------------------------------------------------

uint16_t z80m_caller(z80_machine *z) {
    uint16_t sp = z80ex_get_reg(z->cpu, regSP);
    uint16_t ret = (uint16_t)(z->mem[sp] | z->mem[(uint16_t)(sp + 1)] << 8);
    return (uint16_t)(ret - 3);
}

void z80m_ret(z80_machine *z, int t) {
    uint16_t sp = z80ex_get_reg(z->cpu, regSP);
    uint16_t ret = (uint16_t)(z->mem[sp] | z->mem[(uint16_t)(sp + 1)] << 8);
    z80ex_set_reg(z->cpu, regSP, (uint16_t)(sp + 2));
    z80ex_set_reg(z->cpu, regPC, ret);
    z->tstates += (uint64_t)t;
}

// Handle what the callbacks raised during the last step (an instruction is complete).
static void step_events(z80_machine *z) {
    if (z->ev_romread) {
        z->ev_romread = 0;
        z80m_fail(z, "read of %04Xh in the ROM by the instruction at %04Xh: this machine has no ROM image", z->romread_addr,
                  z->end_pc);
        return;
    }
    if (z->ev_fault) {
        z->ev_fault = 0;
        z80m_fail(z, "write to %04Xh (%s at or above %04Xh) by the instruction at %04Xh", z->fault_addr,
                  z->ro_name ? z->ro_name : "protected area", z->ro_from, z->end_pc);
        return;
    }
    if (z->ev_region) {
        int r = z->ev_region_id;
        if (z->ev_region == 1) {
            if (z->region[r].running) {
                z80m_fail(z, "region %d started again at %04Xh while running", r, z->end_pc);
            } else {
                z->region[r].running = 1;
                z->region[r].start = z->tstates;  // after the start OUT
            }
        } else {
            if (!z->region[r].running) {
                z80m_fail(z, "region %d stopped at %04Xh but never started", r, z->end_pc);
            } else {
                z->region[r].running = 0;
                z->region[r].sum += z->t_insn - z->region[r].start;  // before the stop OUT
                z->region[r].count++;
            }
        }
        z->ev_region = 0;
        if (z->end) return;
    }
    if (z->ev_exit) {
        z->ev_exit = 0;
        z80m_end(z, Z80M_END_EXIT, z->exit_val);
    }
}

// At an instruction boundary of a machine with interrupts: accept the period's interrupt while
// the INT line is held, or let a HALT wait for the next one. 1 when the CPU state changed (the
// run loop starts over at the new PC).
static int interrupt(z80_machine *z) {
    uint64_t period = z->tstates / z->int_period, pos = z->tstates % z->int_period;
    if (period != z->int_served && pos < (uint64_t)z->int_len) {
        int halted = z80ex_doing_halt(z->cpu);
        int t = z80ex_int(z->cpu);
        if (t > 0) {
            z->int_served = period;
            z->int_from_halt = halted;
            z->interrupts++;
            z->tstates += (uint64_t)t;
            return 1;
        }
    } else if (period != z->int_served) {
        z->int_served = period;  // the line dropped before the CPU could take it: missed
    }
    if (z80ex_doing_halt(z->cpu) && z80ex_get_reg(z->cpu, regIFF1)) {  // wait for the next period
        uint64_t next = (period + 1) * z->int_period;
        if (next > z->max_tstates) next = z->max_tstates;
        if (next > z->tstates) {
            z->halted_tstates += next - z->tstates;
            z->tstates = next;
            return 1;
        }
    }
    return 0;
}

int z80m_run(z80_machine *z) {
    if (z->end == Z80M_END_TLIMIT) z->end = Z80M_END_NONE;  // continue with a new limit
    if (z->end) return z->end == Z80M_END_ERROR ? RQ_ERUNTIME : RQ_OK;
    z->err[0] = 0;
    Z80EX_CONTEXT *cpu = z->cpu;
    int boundary = 1;  // at an instruction boundary (not after a DD/FD prefix)
    while (!z->end) {
        if (boundary) {
            uint16_t pc = z80ex_get_reg(cpu, regPC);
            z->end_pc = pc;
            if (z->tstates >= z->max_tstates) {
                z80m_end(z, Z80M_END_TLIMIT, Z80M_EXIT_TLIMIT);
                snprintf(z->err, sizeof z->err, "T-state limit of %llu reached at PC=%04Xh",
                         (unsigned long long)z->max_tstates, pc);
                break;
            }
            if (z->in_call && pc == z->call_ret) break;
            if (z->int_period && interrupt(z)) continue;
            if (z->trap[pc >> 3] & (1u << (pc & 7))) {
                z->trap_fn(z, pc, z->ud);
                continue;
            }
            if (pc == z->watch_pc && z->watch_fn) z->watch_fn(z, z->watch_ud);
            z->t_insn = z->tstates;
        }
        z->tstates += (uint64_t)z80ex_step(cpu);
        boundary = z80ex_last_op_type(cpu) == 0;
        if (!boundary) continue;
        if (z->ev_fault | z->ev_region | z->ev_exit | z->ev_romread) step_events(z);
        if (z80ex_doing_halt(cpu) && !z->end) {
            if (!z->int_period)
                z80m_fail(z, "HALT at %04Xh: no interrupts in this machine, the program would hang", z->end_pc);
            else if (!z80ex_get_reg(cpu, regIFF1))
                z80m_fail(z, "HALT at %04Xh with interrupts disabled: the program would hang", z->end_pc);
        }
    }
    if (z->on_stop) z->on_stop(z, z->ud);
    if (z->end == Z80M_END_TLIMIT || z->end == Z80M_END_ERROR) return rq_fail(RQ_ERUNTIME, "%s", z->err);
    return RQ_OK;
}

int z80m_call(z80_machine *z, uint16_t addr, uint16_t ret, uint64_t *tstates) {
    if (tstates) *tstates = 0;
    if (z->end == Z80M_END_ERROR) return rq_fail(RQ_ERUNTIME, "%s", z->err);
    z->end = Z80M_END_NONE;
    uint16_t sp = (uint16_t)(z80ex_get_reg(z->cpu, regSP) - 2);
    if (z->ro_from && sp >= z->ro_from - 1)
        return z80m_fail(z, "call of %04Xh: SP=%04Xh would push into the %s", addr, sp + 2,
                         z->ro_name ? z->ro_name : "protected area");
    z->mem[sp] = (uint8_t)ret, z->mem[sp + 1] = (uint8_t)(ret >> 8);
    z80ex_set_reg(z->cpu, regSP, sp);
    z80ex_set_reg(z->cpu, regPC, addr);
    uint64_t t0 = z->tstates;
    z->in_call = 1;
    z->call_ret = ret;
    int rc = z80m_run(z);
    z->in_call = 0;
    if (tstates) *tstates = z->tstates - t0;
    if (z->end == Z80M_END_EXIT) {  // an exit-port OUT inside a call ends the call, not the machine
        if (z->exit_val != 0) rc = z80m_fail(z, "call of %04Xh: exit port with code %d", addr, z->exit_val);
        else z->end = Z80M_END_NONE;
    }
    return rc;
}

void z80m_set_watch(z80_machine *z, uint16_t pc, z80m_hook_fn fn, void *ud) {
    z->watch_pc = pc;
    z->watch_fn = fn;
    z->watch_ud = ud;
}

void z80m_region(const z80_machine *z, int r, uint64_t *tstates, uint64_t *count) {
    if (r < 0 || r >= Z80M_NREGIONS) {
        if (tstates) *tstates = 0;
        if (count) *count = 0;
        return;
    }
    if (tstates) *tstates = z->region[r].sum;
    if (count) *count = z->region[r].count;
}
