// cpm.c: the CP/M 2.2 machine: the system area on the Z80 machine (emu/z80_machine.h), its PC
// traps into the BDOS and BIOS (cpm_bdos.c), loading a .COM and building the command tail and
// default FCBs like the CCP.
#include "emu/cpm.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "emu/cpm_bdos.h"
#include "emu/cpm_con.h"
#include "emu/cpm_file.h"
#include "emu/cpm_int.h"

#define T_RET 10  // the RET executed for a trapped BDOS/BIOS call (C9h: 10 T-states)

// CP/M's ends and the machine's share one numbering (z80_machine.h).
_Static_assert((int)CPM_END_EXIT == (int)Z80M_END_EXIT && (int)CPM_END_TLIMIT == (int)Z80M_END_TLIMIT &&
                   (int)CPM_END_ERROR == (int)Z80M_END_ERROR,
               "cpm_end and Z80M_END_* disagree");
_Static_assert(CPM_NREGIONS == Z80M_NREGIONS && CPM_EXIT_TLIMIT == Z80M_EXIT_TLIMIT, "cpm.h and z80_machine.h disagree");

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
    memset(m->mem, 0, sizeof m->z.mem);
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
    z80ex_reset(m->z.cpu);
    uint16_t sp = (uint16_t)(m->map.bdos_base - 2);
    mem[sp] = 0, mem[sp + 1] = 0;
    z80ex_set_reg(m->z.cpu, regSP, sp);
    z80ex_set_reg(m->z.cpu, regPC, 0x100);
    m->dma = 0x80;
    m->drive = m->user = 0;
}

// The traps: BDOS entry, warm boot at 0000h, the BIOS jump table. The C code runs, then (unless
// the run ended) the RET it stands for.
static void on_trap(z80_machine *z, uint16_t pc, void *ud) {
    cpm_machine *m = ud;
    (void)z;
    if (pc == m->map.top) {
        bdos_call(m);
        if (!m->z.end) z80m_ret(&m->z, T_RET);
    } else if (pc == 0) {
        cpm_end_run(m, CPM_END_WBOOT, 0);
    } else {
        bios_call(m, (pc - m->map.bios) / 3);
        if (!m->z.end) z80m_ret(&m->z, T_RET);
    }
}

static void on_stop(z80_machine *z, void *ud) {
    con_flush(ud, z->end != CPM_END_NONE && z->end != CPM_END_TLIMIT);
}

cpm_machine *cpm_new(const cpm_opts *opts) {
    cpm_opts o = {0};
    o.in_fd = -1;
    if (opts) o = *opts;
    cpm_map map;
    if (cpm_map_for(o.top, &map)) return NULL;
    cpm_machine *m = rq_calloc(1, sizeof *m);
    m->map = map;
    m->mem = m->z.mem;
    m->dir = rq_strdup(o.dir ? o.dir : ".");
    m->z.max_tstates = o.max_tstates ? o.max_tstates : CPM_MAX_TSTATES_DEFAULT;
    m->z.ro_from = map.top;
    m->z.ro_name = "BDOS/BIOS area";
    m->z.test_ports = 1;
    m->z.trap_fn = on_trap;
    m->z.on_stop = on_stop;
    m->z.ud = m;
    z80m_trap(&m->z, map.top);
    z80m_trap(&m->z, 0);
    for (int i = 0; i < 17; i++) z80m_trap(&m->z, (uint16_t)(map.bios + 3 * i));
    con_input_fd(&m->in, o.in_fd);
    m->peek = -1;
    m->out = o.out;
    m->out_tty = o.out && isatty(fileno(o.out));
    m->no_echo = o.no_echo;
    if (z80m_init(&m->z)) {
        cpm_free(m);
        return NULL;
    }
    reset_machine(m);
    return m;
}

void cpm_free(cpm_machine *m) {
    if (!m) return;
    z80m_free(&m->z);
    file_search_free(m);
    con_input_free(&m->in);
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

// The OS's counters with the machine's figures copied in (after every run, so that a cpm_stats
// pointer stays current).
static int sync_stats(cpm_machine *m, int rc) {
    m->st.tstates = m->z.tstates;
    m->st.end = (cpm_end)m->z.end;
    m->st.exit_code = m->z.exit_code;
    m->st.end_pc = m->z.end_pc;
    return rc;
}

int cpm_run(cpm_machine *m) { return sync_stats(m, z80m_run(&m->z)); }

void cpm_set_max_tstates(cpm_machine *m, uint64_t max) { m->z.max_tstates = max; }

static void on_watch(z80_machine *z, void *ud) {
    (void)z;
    cpm_machine *m = ud;
    m->watch_fn(m, m->watch_ud);
}

void cpm_set_watch(cpm_machine *m, uint16_t pc, cpm_watch_fn fn, void *ud) {
    m->watch_fn = fn;
    m->watch_ud = ud;
    z80m_set_watch(&m->z, pc, fn ? on_watch : NULL, m);
}

int cpm_call(cpm_machine *m, uint16_t addr, uint64_t *tstates) {
    uint16_t sp = (uint16_t)(z80ex_get_reg(m->z.cpu, regSP) - 2);
    if (m->z.end != CPM_END_ERROR && sp >= m->map.top - 1) {
        if (tstates) *tstates = 0;
        return sync_stats(m, cpm_fail(m, "cpm_call: SP=%04Xh would push into the BDOS area", sp + 2));
    }
    return sync_stats(m, z80m_call(&m->z, addr, 0x0000, tstates));  // 0000h: a RET there is the call's return
}

// ---- inspection ------------------------------------------------------------------------------

const cpm_stats *cpm_stats_get(const cpm_machine *m) { return &m->st; }

const char *cpm_error(const cpm_machine *m) {
    return m->z.end == CPM_END_ERROR || m->z.end == CPM_END_TLIMIT ? m->z.err : "";
}

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

void cpm_region(const cpm_machine *m, int r, uint64_t *tstates, uint64_t *count) { z80m_region(&m->z, r, tstates, count); }

uint8_t *cpm_mem(cpm_machine *m) { return m->mem; }

static const Z80_REG_T REGMAP[] = {regAF, regBC, regDE, regHL, regIX, regIY, regSP, regPC};
uint16_t cpm_reg(cpm_machine *m, cpm_reg_id r) { return z80ex_get_reg(m->z.cpu, REGMAP[r]); }
void cpm_set_reg(cpm_machine *m, cpm_reg_id r, uint16_t v) { z80ex_set_reg(m->z.cpu, REGMAP[r], v); }
