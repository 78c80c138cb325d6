// cpm.c: the CP/M 2.2 machine: memory, the Z80 (libz80ex), the run loop with its PC traps and
// test ports, loading a .COM and building the command tail and default FCBs like the CCP.
#include "emu/cpm.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "emu/cpm_int.h"

#define T_RET 10  // the RET executed for a trapped BDOS/BIOS call (C9h: 10 T-states)

int cpm_fail(cpm_machine *m, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, sizeof m->err, fmt, ap);
    va_end(ap);
    m->st.end = CPM_END_ERROR;
    m->st.exit_code = RQ_ERUNTIME;
    return rq_fail(RQ_ERUNTIME, "%s", m->err);
}

// ---- the CPU's view of memory and ports ------------------------------------------------------
// Callback names avoid POSIX pread/pwrite (libz80ex's typedef names would suggest them).

static Z80EX_BYTE on_mem_read(Z80EX_CONTEXT *cpu, Z80EX_WORD addr, int m1, void *ud) {
    (void)cpu, (void)m1;
    return ((cpm_machine *)ud)->mem[addr];
}

static void on_mem_write(Z80EX_CONTEXT *cpu, Z80EX_WORD addr, Z80EX_BYTE v, void *ud) {
    (void)cpu;
    cpm_machine *m = ud;
    if (addr >= m->map.top) {  // the BDOS and BIOS live here: refuse, report after the step
        if (!m->ev_fault) m->fault_addr = addr;
        m->ev_fault = 1;
        return;
    }
    m->mem[addr] = v;
}

static Z80EX_BYTE on_port_in(Z80EX_CONTEXT *cpu, Z80EX_WORD port, void *ud) {
    (void)cpu, (void)port, (void)ud;
    return 0xFF;  // an unconnected bus
}

static void on_port_out(Z80EX_CONTEXT *cpu, Z80EX_WORD port, Z80EX_BYTE v, void *ud) {
    (void)cpu;
    cpm_machine *m = ud;
    int p = port & 0xFF;
    if (p == CPM_PORT_EXIT) {
        m->ev_exit = 1;
        m->exit_val = v;
    } else if (p >= CPM_PORT_REGION_START && p < CPM_PORT_REGION_START + CPM_NREGIONS) {
        m->ev_region = 1;
        m->ev_region_id = p - CPM_PORT_REGION_START;
    } else if (p >= CPM_PORT_REGION_STOP && p < CPM_PORT_REGION_STOP + CPM_NREGIONS) {
        m->ev_region = 2;
        m->ev_region_id = p - CPM_PORT_REGION_STOP;
    }
}

static Z80EX_BYTE on_int_read(Z80EX_CONTEXT *cpu, void *ud) {
    (void)cpu, (void)ud;
    return 0xFF;
}

// ---- memory map ------------------------------------------------------------------------------

int cpm_map_for(uint16_t top, cpm_map *map) {
    if (top == 0) top = CPM_TOP_DEFAULT;
    // The TPA needs at least one page below the CCP; the BIOS table (17 x 3 bytes) must end by FFFFh.
    if (top < 0x0A06 || top > 0xF1D3)
        return rq_fail(RQ_EINPUT, "BDOS entry %04Xh is outside 0A06h..F1D3h (a TPA and the BIOS table must fit)", top);
    map->top = top;
    map->bdos_base = (uint16_t)(top - 6);
    map->ccp = (uint16_t)(map->bdos_base - 0x800);
    map->bios = (uint16_t)(map->bdos_base + 0xE00);
    return RQ_OK;
}

cpm_map cpm_get_map(const cpm_machine *m) { return m->map; }

// Page zero and the system area as a cold-started CP/M leaves them, and a fresh CPU whose stack
// holds 0000h (so a final RET warm-boots, as returning to the CCP would).
static void reset_machine(cpm_machine *m) {
    memset(m->mem, 0, sizeof m->mem);
    uint8_t *mem = m->mem;
    uint16_t wboot = (uint16_t)(m->map.bios + 3);
    mem[0] = 0xC3, mem[1] = wboot & 0xFF, mem[2] = wboot >> 8;  // JP BIOS+3
    mem[3] = 0;                                                    // IOBYTE
    mem[4] = 0;                                                    // drive A, user 0
    mem[5] = 0xC3, mem[6] = m->map.top & 0xFF, mem[7] = m->map.top >> 8;  // JP BDOS
    mem[m->map.top] = 0xC9;  // trapped by PC; a RET in case anything reads it
    for (int i = 0; i < 17; i++) mem[m->map.bios + 3 * i] = 0xC9;
    memset(mem + 0x5C + 1, ' ', 11);
    memset(mem + 0x6C + 1, ' ', 11);
    z80ex_reset(m->cpu);
    uint16_t sp = (uint16_t)(m->map.bdos_base - 2);
    mem[sp] = 0, mem[sp + 1] = 0;
    z80ex_set_reg(m->cpu, regSP, sp);
    z80ex_set_reg(m->cpu, regPC, 0x100);
    m->dma = 0x80;
    m->drive = m->user = 0;
}

cpm_machine *cpm_new(const cpm_opts *opts) {
    cpm_opts o = {0};
    o.in_fd = -1;
    if (opts) o = *opts;
    cpm_map map;
    if (cpm_map_for(o.top, &map)) return NULL;
    cpm_machine *m = rq_calloc(1, sizeof *m);
    m->map = map;
    m->dir = rq_strdup(o.dir ? o.dir : ".");
    m->max_tstates = o.max_tstates ? o.max_tstates : CPM_MAX_TSTATES_DEFAULT;
    m->in_fd = o.in_fd;
    m->in_tty = o.in_fd >= 0 && isatty(o.in_fd);
    m->peek = -1;
    m->out = o.out;
    m->out_tty = o.out && isatty(fileno(o.out));
    m->no_echo = o.no_echo;
    m->cpu = z80ex_create(on_mem_read, m, on_mem_write, m, on_port_in, m, on_port_out, m, on_int_read, m);
    if (!m->cpu) {
        cpm_free(m);
        rq_fail(RQ_ERUNTIME, "cannot create the Z80 (libz80ex)");
        return NULL;
    }
    reset_machine(m);
    return m;
}

void cpm_free(cpm_machine *m) {
    if (!m) return;
    if (m->cpu) z80ex_destroy(m->cpu);
    file_search_free(m);
    free(m->in_buf);
    rq_buf_free(&m->cap);
    free(m->dir);
    free(m);
}

// ---- loading ---------------------------------------------------------------------------------

int cpm_load_com(cpm_machine *m, const uint8_t *data, size_t n, const char *name) {
    size_t tpa = (size_t)m->map.ccp - 0x100;
    if (n == 0) return rq_fail(RQ_EINPUT, "%s: empty .COM file", name);
    if (n > tpa)
        return rq_fail(RQ_EINPUT, "%s: %zu bytes do not fit the TPA 0100h-%04Xh (%zu bytes): %zu bytes over", name, n,
                       m->map.ccp - 1, tpa, n - tpa);
    memcpy(m->mem + 0x100, data, n);
    return RQ_OK;
}

int cpm_load_com_file(cpm_machine *m, const char *path) {
    uint8_t *data;
    size_t n;
    int rc = rq_read_file(path, &data, &n);
    if (rc) return rc;
    rc = cpm_load_com(m, data, n, path);
    free(data);
    return rc;
}

// ---- command tail and default FCBs (what the CCP does with "PROG ARG1 ARG2") ----------------

static int fcb_delim(int c) { return c == 0 || strchr(" =_.:;<>,", c) != NULL; }

// Parse one CCP argument into the 12 leading bytes of an FCB: drive, 8-byte name, 3-byte type.
static void parse_fcb(uint8_t *f, const char *s) {
    f[0] = 0;
    memset(f + 1, ' ', 11);
    if (!s) return;
    if (isalpha((unsigned char)s[0]) && s[1] == ':') {
        f[0] = (uint8_t)(toupper((unsigned char)s[0]) - 'A' + 1);
        s += 2;
    }
    for (int field = 0; field < 2; field++) {
        int off = field ? 9 : 1, len = field ? 3 : 8, i = 0;
        for (; !fcb_delim((unsigned char)*s); s++) {
            if (*s == '*') {
                for (; i < len; i++) f[off + i] = '?';
            } else if (i < len) {
                f[off + i++] = (uint8_t)toupper((unsigned char)*s);
            }
        }
        if (field == 0) {
            if (*s != '.') break;
            s++;
        }
    }
}

int cpm_set_tail(cpm_machine *m, const char *tail) {
    size_t n = strlen(tail);
    if (n > 127) return rq_fail(RQ_EINPUT, "command tail is %zu bytes; CP/M allows 127", n);
    uint8_t *mem = m->mem;
    mem[0x80] = (uint8_t)n;
    for (size_t i = 0; i < n; i++) mem[0x81 + i] = (uint8_t)toupper((unsigned char)tail[i]);
    mem[0x81 + n] = 0;
    // FCB1 and FCB2 from the first two words of the tail.
    char words[2][128] = {{0}};
    const char *s = tail;
    for (int w = 0; w < 2; w++) {
        while (*s == ' ' || *s == '\t') s++;
        size_t k = 0;
        while (*s && *s != ' ' && *s != '\t' && k < 127) words[w][k++] = *s++;
    }
    memset(mem + 0x5C, 0, 0x80 - 0x5C);
    parse_fcb(mem + 0x5C, words[0]);
    parse_fcb(mem + 0x6C, words[1]);
    return RQ_OK;
}

int cpm_set_args(cpm_machine *m, int argc, char **argv) {
    char tail[256];
    size_t n = 0;
    for (int i = 0; i < argc; i++) {
        size_t k = strlen(argv[i]);
        if (n + 1 + k > 127) return rq_fail(RQ_EINPUT, "command tail longer than CP/M's 127 bytes at '%s'", argv[i]);
        tail[n++] = ' ';
        memcpy(tail + n, argv[i], k);
        n += k;
    }
    tail[n] = 0;
    return cpm_set_tail(m, tail);
}

// ---- running ---------------------------------------------------------------------------------

uint16_t cpm_caller(cpm_machine *m) {
    uint16_t sp = z80ex_get_reg(m->cpu, regSP);
    uint16_t ret = (uint16_t)(m->mem[sp] | m->mem[(uint16_t)(sp + 1)] << 8);
    return (uint16_t)(ret - 3);
}

static void do_ret(cpm_machine *m) {
    uint16_t sp = z80ex_get_reg(m->cpu, regSP);
    uint16_t ret = (uint16_t)(m->mem[sp] | m->mem[(uint16_t)(sp + 1)] << 8);
    z80ex_set_reg(m->cpu, regSP, (uint16_t)(sp + 2));
    z80ex_set_reg(m->cpu, regPC, ret);
    m->st.tstates += T_RET;
}

static void end_run(cpm_machine *m, cpm_end e, int code) {
    m->st.end = e;
    m->st.exit_code = code;
}

// Handle what the callbacks raised during the last step (an instruction is complete).
static void step_events(cpm_machine *m) {
    if (m->ev_fault) {
        m->ev_fault = 0;
        cpm_fail(m, "write to %04Xh (BDOS/BIOS area at or above %04Xh) by the instruction at %04Xh", m->fault_addr,
                 m->map.top, m->st.end_pc);
        return;
    }
    if (m->ev_region) {
        int r = m->ev_region_id;
        if (m->ev_region == 1) {
            if (m->region[r].running) {
                cpm_fail(m, "region %d started again at %04Xh while running", r, m->st.end_pc);
            } else {
                m->region[r].running = 1;
                m->region[r].start = m->st.tstates;  // after the start OUT
            }
        } else {
            if (!m->region[r].running) {
                cpm_fail(m, "region %d stopped at %04Xh but never started", r, m->st.end_pc);
            } else {
                m->region[r].running = 0;
                m->region[r].sum += m->t_insn - m->region[r].start;  // before the stop OUT
                m->region[r].count++;
            }
        }
        m->ev_region = 0;
        if (m->st.end) return;
    }
    if (m->ev_exit) {
        m->ev_exit = 0;
        end_run(m, CPM_END_EXIT, m->exit_val);
    }
}

int cpm_run(cpm_machine *m) {
    if (m->st.end == CPM_END_TLIMIT) m->st.end = CPM_END_NONE;  // continue with a new limit
    if (m->st.end) return m->st.end == CPM_END_ERROR ? RQ_ERUNTIME : RQ_OK;
    m->err[0] = 0;
    Z80EX_CONTEXT *cpu = m->cpu;
    const uint16_t top = m->map.top, bios = m->map.bios;
    int boundary = 1;  // at an instruction boundary (not after a DD/FD prefix)
    while (!m->st.end) {
        if (boundary) {
            uint16_t pc = z80ex_get_reg(cpu, regPC);
            m->st.end_pc = pc;
            if (m->st.tstates >= m->max_tstates) {
                end_run(m, CPM_END_TLIMIT, CPM_EXIT_TLIMIT);
                snprintf(m->err, sizeof m->err, "T-state limit of %llu reached at PC=%04Xh",
                         (unsigned long long)m->max_tstates, pc);
                break;
            }
            if (pc == top) {
                bdos_call(m);
                if (!m->st.end) do_ret(m);
                continue;
            }
            if (pc == 0) {
                end_run(m, m->in_call ? CPM_END_NONE : CPM_END_WBOOT, 0);
                if (m->in_call) break;
                continue;
            }
            if (pc >= bios && pc < bios + 17 * 3 && (pc - bios) % 3 == 0) {
                bios_call(m, (pc - bios) / 3);
                if (!m->st.end) do_ret(m);
                continue;
            }
            if (pc == m->watch_pc && m->watch_fn) m->watch_fn(m, m->watch_ud);
            m->t_insn = m->st.tstates;
        }
        m->st.tstates += (uint64_t)z80ex_step(cpu);
        boundary = z80ex_last_op_type(cpu) == 0;
        if (!boundary) continue;
        if (m->ev_fault | m->ev_region | m->ev_exit) step_events(m);
        if (z80ex_doing_halt(cpu) && !m->st.end)
            cpm_fail(m, "HALT at %04Xh: no interrupts in this machine, the program would hang", m->st.end_pc);
    }
    con_flush(m, m->st.end != CPM_END_NONE && m->st.end != CPM_END_TLIMIT);
    if (m->st.end == CPM_END_TLIMIT) return rq_fail(RQ_ERUNTIME, "%s", m->err);
    if (m->st.end == CPM_END_ERROR) return rq_fail(RQ_ERUNTIME, "%s", m->err);
    return RQ_OK;
}

void cpm_set_max_tstates(cpm_machine *m, uint64_t max) { m->max_tstates = max; }

void cpm_set_watch(cpm_machine *m, uint16_t pc, cpm_watch_fn fn, void *ud) {
    m->watch_pc = pc;
    m->watch_fn = fn;
    m->watch_ud = ud;
}

int cpm_call(cpm_machine *m, uint16_t addr, uint64_t *tstates) {
    if (tstates) *tstates = 0;
    if (m->st.end == CPM_END_ERROR) return rq_fail(RQ_ERUNTIME, "%s", m->err);
    m->st.end = CPM_END_NONE;
    uint16_t sp = (uint16_t)(z80ex_get_reg(m->cpu, regSP) - 2);
    if (sp >= m->map.top - 1) return cpm_fail(m, "cpm_call: SP=%04Xh would push into the BDOS area", sp + 2);
    m->mem[sp] = 0, m->mem[sp + 1] = 0;
    z80ex_set_reg(m->cpu, regSP, sp);
    z80ex_set_reg(m->cpu, regPC, addr);
    uint64_t t0 = m->st.tstates;
    m->in_call = 1;
    int rc = cpm_run(m);
    m->in_call = 0;
    if (tstates) *tstates = m->st.tstates - t0;
    if (m->st.end == CPM_END_EXIT) {  // an exit-port OUT inside a call ends the call, not the machine
        if (m->exit_val != 0) rc = cpm_fail(m, "cpm_call(%04Xh): exit port with code %d", addr, m->exit_val);
        else m->st.end = CPM_END_NONE;
    }
    return rc;
}

// ---- inspection ------------------------------------------------------------------------------

const cpm_stats *cpm_stats_get(const cpm_machine *m) { return &m->st; }
const char *cpm_error(const cpm_machine *m) { return m->st.end == CPM_END_ERROR || m->st.end == CPM_END_TLIMIT ? m->err : ""; }

const char *cpm_end_name(cpm_end e) {
    switch (e) {
    case CPM_END_NONE: return "none";
    case CPM_END_WBOOT: return "wboot";
    case CPM_END_EXIT: return "exit";
    case CPM_END_EOF: return "eof";
    case CPM_END_TLIMIT: return "tlimit";
    case CPM_END_ERROR: return "error";
    }
    return "?";
}

void cpm_region(const cpm_machine *m, int r, uint64_t *tstates, uint64_t *count) {
    if (r < 0 || r >= CPM_NREGIONS) {
        if (tstates) *tstates = 0;
        if (count) *count = 0;
        return;
    }
    if (tstates) *tstates = m->region[r].sum;
    if (count) *count = m->region[r].count;
}

uint8_t *cpm_mem(cpm_machine *m) { return m->mem; }

static const Z80_REG_T REGMAP[] = {regAF, regBC, regDE, regHL, regIX, regIY, regSP, regPC};
uint16_t cpm_reg(cpm_machine *m, cpm_reg_id r) { return z80ex_get_reg(m->cpu, REGMAP[r]); }
void cpm_set_reg(cpm_machine *m, cpm_reg_id r, uint16_t v) { z80ex_set_reg(m->cpu, REGMAP[r], v); }
