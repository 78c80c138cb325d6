// zx48.c: the ZX Spectrum 48K model (zx48.h): memory and system variables as NEW and LOAD leave
// them, the BASIC loader's three statements, the trapped ROM entry points, the IM 1 interrupt
// with the keyboard, contended memory, and the IY / H'L' checks.
#include "emu/zx48.h"

#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "emu/con_in.h"
#include "emu/z80_machine.h"
#include "emu/zx_tape.h"

// System variables (their addresses in the 48K ROM's map).
enum {
    SV_LAST_K = 0x5C08, SV_STRMS = 0x5C10, SV_FLAGS = 0x5C3B, SV_MODE = 0x5C41, SV_VARS = 0x5C4B,
    SV_CHANS = 0x5C4F, SV_CURCHL = 0x5C51, SV_PROG = 0x5C53, SV_DATADD = 0x5C57, SV_E_LINE = 0x5C59,
    SV_K_CUR = 0x5C5B, SV_WORKSP = 0x5C61, SV_STKBOT = 0x5C63, SV_STKEND = 0x5C65, SV_FRAMES = 0x5C78,
    SV_UDG = 0x5C7B, SV_SCR_CT = 0x5C8C, SV_RAMTOP = 0x5CB2, SV_P_RAMT = 0x5CB4, CHANS_AT = 0x5CB6,
};
#define FLAGS_L_MODE 0x08
#define FLAGS_NEW_KEY 0x20
#define ROM_RST10 0x0010
#define ROM_IM1 0x0038
#define ROM_CLS 0x0D6B
#define ROM_CHAN_OPEN 0x1601
#define UPPER_ROWS 22  // the upper screen's lines (the lower screen keeps 2)
#define T_RET 10

struct zx48_machine {
    z80_machine z;
    uint8_t *mem;
    zx48_stats st;
    uint16_t usr, ramtop, hl_alt;  // the loader's USR address, RAMTOP, H'L' at USR
    uint16_t basic_sp;             // SP of BASIC's machine stack when it calls USR
    int row, col;              // the upper screen's print position, for SCR-CT
    zx48_watch_fn watch_fn;
    void *watch_ud;
    // keyboard
    con_input in;
    int last_cr;  // the last byte was CR: a following LF is the same ENTER
    int idle;     // interrupts in a row that woke a HALT with the keys run out
    // output
    FILE *out;
    rq_buf cap;
};

// ---- contended memory ---------------------------------------------------------------------------

// The ULA holds the CPU off 4000h-7FFFh while it fetches screen bytes: 192 lines of 224 T-states
// from T-state 14335 of the frame, in the first 128 T-states of each line, by a repeating pattern
// of 8.
static int contention(z80_machine *z, uint16_t addr, uint64_t t) {
    if (addr < 0x4000 || addr >= 0x8000) return 0;
    static const int delay[8] = {6, 5, 4, 3, 2, 1, 0, 0};
    uint64_t f = t % ZX48_FRAME_TSTATES;
    if (f < 14335 || f >= 14335 + 192 * 224) return 0;
    unsigned x = (unsigned)((f - 14335) % 224);
    if (x >= 128) return 0;
    zx48_machine *m = z->ud;
    m->st.contended_tstates += (uint64_t)delay[x & 7];
    return delay[x & 7];
}

// ---- the machine after NEW ----------------------------------------------------------------------

static void put16(uint8_t *mem, uint16_t at, uint16_t v) { mem[at] = (uint8_t)v, mem[(uint16_t)(at + 1)] = (uint8_t)(v >> 8); }
static uint16_t get16(const uint8_t *mem, uint16_t at) { return (uint16_t)(mem[at] | mem[(uint16_t)(at + 1)] << 8); }

// The channel records (output routine, input routine, letter) and the streams NEW sets up:
// K (keyboard / lower screen), S (upper screen), R (workspace), P (printer).
static void reset_system(zx48_machine *m) {
    uint8_t *mem = m->mem;
    memset(mem, 0, 65536);
    static const uint8_t chans[] = {0xF4, 0x09, 0xA8, 0x10, 'K', 0xF4, 0x09, 0xC4, 0x15, 'S',
                                    0x81, 0x0F, 0xC4, 0x15, 'R', 0xF4, 0x09, 0xC4, 0x15, 'P', 0x80};
    memcpy(mem + CHANS_AT, chans, sizeof chans);
    // STRMS: streams -3..15, the offset+1 of the channel in CHANS (0: closed)
    static const uint8_t strms[] = {1, 0, 6, 0, 11, 0, 1, 0, 1, 0, 6, 0, 16, 0};
    memcpy(mem + SV_STRMS, strms, sizeof strms);
    put16(mem, SV_CHANS, CHANS_AT);
    put16(mem, SV_CURCHL, CHANS_AT);  // the lower screen until the program opens stream 2
    put16(mem, SV_PROG, ZX48_PROG);
    put16(mem, SV_VARS, ZX48_PROG);
    mem[ZX48_PROG] = 0x80;
    put16(mem, SV_E_LINE, ZX48_PROG + 1);
    mem[ZX48_PROG + 1] = 0x0D, mem[ZX48_PROG + 2] = 0x80;
    put16(mem, SV_WORKSP, ZX48_PROG + 3), put16(mem, SV_STKBOT, ZX48_PROG + 3), put16(mem, SV_STKEND, ZX48_PROG + 3);
    put16(mem, SV_UDG, 0xFF58);
    put16(mem, SV_RAMTOP, 0xFF57), put16(mem, SV_P_RAMT, 0xFFFF);
    mem[SV_SCR_CT] = 1;
    mem[SV_FLAGS] = 0;  // K mode: a program that reads keys must ask for L mode
    m->ramtop = 0xFF57;
}

// ---- the trapped ROM ----------------------------------------------------------------------------

static uint16_t reg(zx48_machine *m, Z80_REG_T r) { return z80ex_get_reg(m->z.cpu, r); }

// The return address on the stack (of the RST or CALL into the ROM, or of the interrupt).
static uint16_t ret_addr(zx48_machine *m) { return get16(m->mem, reg(m, regSP)); }

static int iy_ok(zx48_machine *m, uint16_t pc, const char *what) {
    uint16_t iy = reg(m, regIY);
    if (iy == ZX48_IY) return 1;
    z80m_fail(&m->z,
              "IY = %04Xh at %s (PC %04Xh, returning to %04Xh): the ROM addresses the system variables through IY, "
              "which must be %04Xh whenever it runs: keep IY, or restore it before any ROM call and keep interrupts "
              "off while it is changed",
              iy, what, pc, ret_addr(m), ZX48_IY);
    return 0;
}

static void emit(zx48_machine *m, uint8_t c) {
    if (m->out) fputc(c, m->out);
    else rq_buf_u8(&m->cap, c);
}

// A new line of the upper screen: scroll at the bottom, counting SCR-CT down as the ROM does.
static void new_line(zx48_machine *m, uint16_t pc) {
    m->col = 0;
    if (++m->row < UPPER_ROWS) return;
    m->row = UPPER_ROWS - 1;
    uint8_t *ct = &m->mem[SV_SCR_CT];
    if (--*ct == 0)
        z80m_fail(&m->z,
                  "RST 10h at %04Xh scrolls the screen with SCR-CT (5C8Ch) run out: the ROM would stop at 'scroll?' and wait "
                  "for a key (a program that prints many lines keeps SCR-CT above 1)",
                  pc);
}

static void rst10(zx48_machine *m) {
    uint8_t *mem = m->mem;
    uint16_t cur = get16(mem, SV_CURCHL);
    uint8_t a = (uint8_t)(reg(m, regAF) >> 8);
    if (mem[(uint16_t)(cur + 4)] != 'S') {
        uint8_t k = mem[(uint16_t)(cur + 4)];
        z80m_fail(&m->z,
                  "RST 10h at %04Xh prints on channel '%c' (CURCHL %04Xh), not the upper screen 'S': open stream 2 first "
                  "(LD A,2: CALL 1601h)",
                  ret_addr(m) - 1, k >= 32 && k < 127 ? k : '?', cur);
        return;
    }
    m->st.rst10++;
    m->st.chars++;
    if (a == 13) {
        emit(m, '\n');
        new_line(m, (uint16_t)(ret_addr(m) - 1));
    } else if (a == 8) {
        emit(m, '\b');
        if (m->col > 0) m->col--;
        else if (m->row > 0) m->row--, m->col = 31;
    } else {
        emit(m, a);
        if (a >= 32 && ++m->col == 32) new_line(m, (uint16_t)(ret_addr(m) - 1));
    }
}

static void chan_open(zx48_machine *m) {
    uint8_t *mem = m->mem;
    int s = (int8_t)(reg(m, regAF) >> 8);
    m->st.chan_open++;
    uint16_t off = s >= -3 && s <= 15 ? get16(mem, (uint16_t)(SV_STRMS + 2 * (s + 3))) : 0;
    if (!off) {
        z80m_fail(&m->z, "CHAN-OPEN of stream %d, which is not open (the ROM reports 'O Invalid stream')", s);
        return;
    }
    put16(mem, SV_CURCHL, (uint16_t)(get16(mem, SV_CHANS) + off - 1));
}

// ---- the keyboard -------------------------------------------------------------------------------

// The next key code: ENTER 13 (LF, CR, CR LF once), DELETE 12 (DEL, BS), printable ASCII; other
// bytes are skipped.
static int next_key(zx48_machine *m, int wait) {
    for (;;) {
        if (wait && m->out && m->in.fd >= 0) fflush(m->out);  // whoever types sees the prompt first
        int c = con_input_get(&m->in, wait);
        if (c < 0) return c;
        int cr = m->last_cr;
        m->last_cr = c == '\r';
        if (c == '\n' && cr) continue;
        if (c == '\n' || c == '\r') return 13;
        if (c == 0x7F || c == 0x08) return 12;
        if (c >= 32 && c < 127) return c;
    }
}

// The ROM's IM 1 routine: FRAMES, the keyboard, its stack frame, EI and RET.
static void im1(zx48_machine *m) {
    uint8_t *mem = m->mem;
    uint32_t frames = mem[SV_FRAMES] | mem[SV_FRAMES + 1] << 8 | (uint32_t)mem[SV_FRAMES + 2] << 16;
    frames = (frames + 1) & 0xFFFFFF;
    mem[SV_FRAMES] = (uint8_t)frames, mem[SV_FRAMES + 1] = (uint8_t)(frames >> 8), mem[SV_FRAMES + 2] = (uint8_t)(frames >> 16);
    // What the handler pushes below the interrupted program's return address: AF, HL, BC, DE and
    // two return addresses of its calls into the keyboard routines (12 bytes). A program that keeps
    // live data under SP with interrupts on loses it here, as it would on the machine.
    uint16_t sp = reg(m, regSP), w[6] = {reg(m, regAF), reg(m, regHL), reg(m, regBC), reg(m, regDE), 0x0052, 0x02C6};
    for (int i = 0; i < 6; i++) {
        sp = (uint16_t)(sp - 2);
        for (int k = 0; k < 2; k++)
            if ((uint16_t)(sp + k) >= 0x4000) mem[(uint16_t)(sp + k)] = (uint8_t)(w[i] >> (8 * k));
    }
    if (!m->z.int_from_halt) m->idle = 0;
    if (!(mem[SV_FLAGS] & FLAGS_NEW_KEY)) {
        int k = next_key(m, m->z.int_from_halt);
        // Out of keys, and the program has waited in HALT for a second of interrupts: it waits for
        // a key that will never come.
        if (k == -1 && m->z.int_from_halt && ++m->idle >= ZX48_EOF_FRAMES) {
            z80m_end(&m->z, ZX48_END_EOF, 0);
            return;
        }
        if (k >= 0) {
            if (!(mem[SV_FLAGS] & FLAGS_L_MODE) && ((k | 0x20) >= 'a' && (k | 0x20) <= 'z')) {
                z80m_fail(&m->z,
                          "the key '%c' arrived in K mode (bit 3 of FLAGS, 5C3Bh, is clear): the ROM decodes a letter "
                          "there as a BASIC keyword; set L mode first",
                          k);
                return;
            }
            mem[SV_LAST_K] = (uint8_t)k;
            mem[SV_FLAGS] |= FLAGS_NEW_KEY;
        }
    }
    z80ex_set_reg(m->z.cpu, regIFF1, 1);  // EI: RET
    z80ex_set_reg(m->z.cpu, regIFF2, 1);
    z80m_ret(&m->z, 4 + T_RET);
}

// ---- traps --------------------------------------------------------------------------------------

static void on_trap(z80_machine *z, uint16_t pc, void *ud) {
    zx48_machine *m = ud;
    (void)z;
    switch (pc) {
    case ROM_RST10:
        if (iy_ok(m, pc, "RST 10h (print)")) rst10(m);
        break;
    case ROM_IM1:
        if (iy_ok(m, pc, "the 50 Hz interrupt (IM 1, 0038h)")) im1(m);
        return;
    case ROM_CLS:
        if (iy_ok(m, pc, "CLS (0D6Bh)")) m->row = m->col = 0, m->st.cls++;
        break;
    case ROM_CHAN_OPEN:
        if (iy_ok(m, pc, "CHAN-OPEN (1601h)")) chan_open(m);
        break;
    case ZX48_USR_RET:
        if (!iy_ok(m, pc, "the return to BASIC (STACK-BC, 2D2Bh)")) return;
        if (reg(m, regHL_) != m->hl_alt) {
            z80m_fail(&m->z,
                      "the program returned to BASIC with H'L' = %04Xh, not the %04Xh USR gave it: the ROM's calculator "
                      "keeps its place in H'L' (save it before using the alternate registers)",
                      reg(m, regHL_), m->hl_alt);
            return;
        }
        m->st.usr_bc = reg(m, regBC);
        z80m_end(&m->z, ZX48_END_BASIC, 0);
        return;
    default:
        z80m_fail(&m->z,
                  "the program went to %04Xh in the ROM (the word on the stack: %04Xh), which this model does not provide: "
                  "it traps RST 10h, 0038h (IM 1), CLS 0D6Bh, CHAN-OPEN 1601h and USR's return 2D2Bh",
                  pc, ret_addr(m));
        return;
    }
    if (!m->z.end) z80m_ret(&m->z, T_RET);
}

static void on_stop(z80_machine *z, void *ud) {
    (void)z;
    zx48_machine *m = ud;
    if (m->out) fflush(m->out);
}

// The ULA at every even port: the border colour, MIC and the speaker. Nothing to model here.
static void on_out(z80_machine *z, uint16_t port, uint8_t v, void *ud) { (void)z, (void)port, (void)v, (void)ud; }

zx48_machine *zx48_new(const zx48_opts *opts) {
    zx48_opts o = {.in_fd = -1};
    if (opts) o = *opts;
    zx48_machine *m = rq_calloc(1, sizeof *m);
    m->mem = m->z.mem;
    m->z.max_tstates = o.max_tstates ? o.max_tstates : ZX48_MAX_TSTATES_DEFAULT;
    m->z.rom_end = 0x4000;
    m->z.test_ports = 1;
    m->z.no_exit_port = 1;
    m->z.int_period = ZX48_FRAME_TSTATES;
    m->z.int_len = ZX48_INT_TSTATES;
    m->z.mem_wait = contention;
    m->z.trap_fn = on_trap;
    m->z.port_out = on_out;
    m->z.on_stop = on_stop;
    m->z.ud = m;
    for (unsigned pc = 0; pc < 0x4000; pc++) z80m_trap(&m->z, (uint16_t)pc);
    con_input_fd(&m->in, o.in_fd);
    m->out = o.out;
    if (z80m_init(&m->z)) {
        free(m);
        return NULL;
    }
    reset_system(m);
    return m;
}

void zx48_free(zx48_machine *m) {
    if (!m) return;
    z80m_free(&m->z);
    con_input_free(&m->in);
    rq_buf_free(&m->cap);
    free(m);
}

// ---- loading: the tape and the BASIC loader -----------------------------------------------------

enum { T_CODE = 0xAF, T_USR = 0xC0, T_REM = 0xEA, T_LOAD = 0xEF, T_RANDOMIZE = 0xF9, T_CLEAR = 0xFD };

typedef struct {
    zx48_machine *m;
    const char *path;
    const uint8_t *p, *end;  // the statement being read
    int line;
    const zx_tape_file *files;
    int nfiles, next;        // the next tape file LOAD reads
} loader;

static int loader_fail(loader *l, const char *what) {
    return rq_fail(RQ_EINPUT, "%s: the BASIC loader's line %d: %s (the model runs CLEAR n, LOAD \"\" CODE and RANDOMIZE USR n)",
                   l->path, l->line, what);
}

// A number as the ROM stores it after its digits: 0Eh and five bytes; integers in the small
// form 00h, sign, low, high, 00h.
static int number(loader *l, uint16_t *v) {
    while (l->p < l->end && ((*l->p >= '0' && *l->p <= '9') || *l->p == '.' || *l->p == ' ')) l->p++;
    if (l->end - l->p < 6 || l->p[0] != 0x0E) return loader_fail(l, "a number without its 5-byte form");
    const uint8_t *f = l->p + 1;
    if (f[0] != 0 || f[1] != 0 || f[4] != 0) return loader_fail(l, "a number that is not a positive integer below 65536");
    *v = (uint16_t)(f[2] | f[3] << 8);
    l->p += 6;
    return RQ_OK;
}

static int load_code(loader *l, int has_addr, uint16_t addr) {
    while (l->next < l->nfiles && l->files[l->next].type != ZX_TAPE_CODE) l->next++;
    if (l->next >= l->nfiles) return loader_fail(l, "LOAD \"\" CODE finds no CODE file after the program on the tape");
    const zx_tape_file *f = &l->files[l->next++];
    uint32_t at = has_addr ? addr : f->param1;
    zx48_machine *m = l->m;
    if (at <= m->ramtop || at + f->len > 0x10000)
        return rq_fail(RQ_EINPUT, "%s: byte %zu: the CODE file \"%s\" (%zu bytes at %04Xh) must lie above RAMTOP (%04Xh) and end by FFFFh",
                       l->path, f->offset, f->name, f->len, (unsigned)at, m->ramtop);
    memcpy(m->mem + at, f->data, f->len);
    return RQ_OK;
}

// Run the statements of one line: CLEAR n, LOAD "" CODE [a], RANDOMIZE USR n, REM.
static int run_line(loader *l, int *usr_found) {
    zx48_machine *m = l->m;
    while (l->p < l->end && !*usr_found) {
        uint8_t t = *l->p++;
        uint16_t v;
        int rc;
        if (t == ':' || t == ' ') continue;
        if (t == 0x0D) break;
        if (t == T_REM) break;
        if (t == T_CLEAR) {
            if ((rc = number(l, &v))) return rc;
            uint16_t vars_end = get16(m->mem, SV_E_LINE);
            if (v < vars_end + 256) return loader_fail(l, "CLEAR below the BASIC area (the ROM reports 'M RAMTOP no good')");
            m->ramtop = v;
            put16(m->mem, SV_RAMTOP, v);
        } else if (t == T_LOAD) {
            if (l->end - l->p < 3 || l->p[0] != '"' || l->p[1] != '"' || l->p[2] != T_CODE)
                return loader_fail(l, "a LOAD other than LOAD \"\" CODE");
            l->p += 3;
            int has = l->p < l->end && ((*l->p >= '0' && *l->p <= '9') || *l->p == 0x0E);
            v = 0;
            if (has && (rc = number(l, &v))) return rc;
            if ((rc = load_code(l, has, v))) return rc;
        } else if (t == T_RANDOMIZE) {
            if (l->p >= l->end || *l->p != T_USR) return loader_fail(l, "RANDOMIZE without USR");
            l->p++;
            if ((rc = number(l, &v))) return rc;
            m->usr = v;
            *usr_found = 1;
        } else {
            char what[64];
            snprintf(what, sizeof what, "a statement starting with byte %02Xh", t);
            return loader_fail(l, what);
        }
    }
    return RQ_OK;
}

int zx48_load_tap_data(zx48_machine *m, const uint8_t *tap, size_t len, const char *name) {
    zx_tape_file *files;
    int n, rc = zx_tap_read(tap, len, name, &files, &n);
    if (rc) return rc;
    const zx_tape_file *p = &files[0];
    if (p->type != ZX_TAPE_PROGRAM) {
        rc = rq_fail(RQ_EINPUT, "%s: byte %zu: the tape starts with a CODE file; LOAD \"\" wants a BASIC program first", name, p->offset);
    } else if (p->param2 > p->len || p->len == 0 || p->data[p->len - 1] != 0x80 || ZX48_PROG + p->len + 3 > 0xFF00) {
        rc = rq_fail(RQ_EINPUT, "%s: byte %zu: the program \"%s\" is not a BASIC program as SAVE writes it (lines, variables, 80h)",
                     name, p->offset, p->name);
    } else if (p->param1 >= 10000) {
        rc = rq_fail(RQ_EINPUT, "%s: byte %zu: the program \"%s\" has no autostart line: LOAD \"\" would not run it", name, p->offset, p->name);
    }
    if (rc) {
        zx_tape_files_free(files, n);
        return rc;
    }
    uint8_t *mem = m->mem;
    memcpy(mem + ZX48_PROG, p->data, p->len);
    put16(mem, SV_VARS, (uint16_t)(ZX48_PROG + p->param2));
    uint16_t e_line = (uint16_t)(ZX48_PROG + p->len);
    put16(mem, SV_E_LINE, e_line);
    mem[e_line] = 0x0D, mem[e_line + 1] = 0x80;
    put16(mem, SV_WORKSP, (uint16_t)(e_line + 2)), put16(mem, SV_STKBOT, (uint16_t)(e_line + 2));
    put16(mem, SV_STKEND, (uint16_t)(e_line + 2));
    // Run from the autostart line: lines are (number BE u16, length LE u16, text ending 0Dh).
    loader l = {.m = m, .path = name, .files = files, .nfiles = n, .next = 1};
    const uint8_t *q = mem + ZX48_PROG, *pend = mem + ZX48_PROG + p->param2;
    int usr_found = 0, started = 0;
    while (!rc && !usr_found && q + 4 <= pend) {
        int num = q[0] << 8 | q[1], ll = q[2] | q[3] << 8;
        if (q + 4 + ll > pend) {
            rc = rq_fail(RQ_EINPUT, "%s: the BASIC program's line %d runs past its end", name, num);
            break;
        }
        if (num >= p->param1) started = 1;
        if (started) {
            l.line = num, l.p = q + 4, l.end = q + 4 + ll;
            rc = run_line(&l, &usr_found);
        }
        q += 4 + ll;
    }
    zx_tape_files_free(files, n);
    if (!rc && !usr_found) rc = rq_fail(RQ_EINPUT, "%s: the BASIC loader ends without RANDOMIZE USR: nothing to run", name);
    if (rc) return rc;
    // The machine stack below RAMTOP: the ROM's GO SUB end marker and the interpreter's error
    // address; USR's return address goes below them.
    uint16_t sp = m->ramtop;
    mem[sp] = 0x3E, mem[(uint16_t)(sp - 1)] = 0x00;
    sp = (uint16_t)(sp - 3);
    put16(mem, sp, 0x1303);
    m->basic_sp = sp;
    z80ex_reset(m->z.cpu);
    zx48_call_usr(m, m->usr);
    return RQ_OK;
}

int zx48_load_tap(zx48_machine *m, const char *path) {
    uint8_t *buf;
    size_t len;
    int rc = rq_read_file(path, &buf, &len);
    if (rc) return rc;
    rc = zx48_load_tap_data(m, buf, len, path);
    free(buf);
    return rc;
}

void zx48_call_usr(zx48_machine *m, uint16_t addr) {
    Z80EX_CONTEXT *cpu = m->z.cpu;
    uint16_t sp = (uint16_t)(m->basic_sp - 2);
    put16(m->mem, sp, ZX48_USR_RET);
    z80ex_set_reg(cpu, regSP, sp);
    z80ex_set_reg(cpu, regPC, addr);
    z80ex_set_reg(cpu, regBC, addr);
    z80ex_set_reg(cpu, regAF, 0x0000);  // USR leaves the zero and carry flags reset
    z80ex_set_reg(cpu, regIY, ZX48_IY);
    z80ex_set_reg(cpu, regHL_, ZX48_HL_ALT);
    z80ex_set_reg(cpu, regIM, 1);
    z80ex_set_reg(cpu, regIFF1, 1);
    z80ex_set_reg(cpu, regIFF2, 1);
    m->hl_alt = ZX48_HL_ALT;
    m->st.usr = addr;
    if (m->z.end == ZX48_END_BASIC) m->z.end = ZX48_END_NONE;  // BASIC called again
}

uint16_t zx48_usr(const zx48_machine *m) { return m->usr; }  // the loader's

int zx48_set_string(zx48_machine *m, char letter, const char *text, size_t n) {
    uint8_t *mem = m->mem;
    if (letter < 'a' || letter > 'z') return rq_fail(RQ_EINPUT, "string variable name '%c': a letter a..z", letter);
    uint8_t name = (uint8_t)(0x40 | (letter - 'a' + 1));
    uint32_t vars = get16(mem, SV_VARS), e_line = get16(mem, SV_E_LINE);
    // Remove an existing one of that name; the area ends with 80h at E_LINE - 1.
    for (uint32_t v = vars; mem[v] != 0x80;) {
        uint8_t c = mem[v], kind = c & 0xE0;
        uint32_t size = kind == 0x60 ? 6 : kind == 0xE0 ? 19 : 0;
        if (kind == 0xA0) {
            uint32_t e = v + 1;
            while (e < e_line && !(mem[e] & 0x80)) e++;
            size = e - v + 6;
        } else if (!size) {
            size = 3u + get16(mem, (uint16_t)(v + 1));
        }
        if (v + size >= e_line || kind < 0x40)
            return rq_fail(RQ_EINPUT, "LET %c$: the BASIC variables area is not well formed at %04Xh", letter, (unsigned)v);
        if (c == name) {
            memmove(mem + v, mem + v + size, e_line + 2 - (v + size));
            e_line -= size;
        } else {
            v += size;
        }
    }
    uint32_t at = e_line - 1;  // the 80h end marker
    if (e_line + 2 + 3 + n + 256 > m->ramtop)
        return rq_fail(RQ_EINPUT, "LET %c$: %zu characters do not fit below RAMTOP (%04Xh)", letter, n, m->ramtop);
    memmove(mem + at + 3 + n, mem + at, 3);  // 80h, then the edit line's 0Dh 80h
    mem[at] = name;
    put16(mem, (uint16_t)(at + 1), (uint16_t)n);
    memcpy(mem + at + 3, text, n);
    e_line += 3 + (uint32_t)n;
    put16(mem, SV_E_LINE, (uint16_t)e_line);
    put16(mem, SV_WORKSP, (uint16_t)(e_line + 2)), put16(mem, SV_STKBOT, (uint16_t)(e_line + 2));
    put16(mem, SV_STKEND, (uint16_t)(e_line + 2));
    return RQ_OK;
}

// ---- running ------------------------------------------------------------------------------------

void zx48_set_input(zx48_machine *m, const void *data, size_t n) {
    con_input_mem(&m->in, data, n);
    m->last_cr = 0;
}

void zx48_set_input_fd(zx48_machine *m, int fd) {
    con_input_fd(&m->in, fd);
    m->last_cr = 0;
}

const char *zx48_output(const zx48_machine *m, size_t *n) {
    if (n) *n = m->cap.len;
    if (!m->cap.data) return "";
    rq_buf *b = (rq_buf *)&m->cap;
    rq_buf_u8(b, 0);
    b->len--;
    return (const char *)b->data;
}

static int sync_stats(zx48_machine *m, int rc) {
    const z80_machine *z = &m->z;
    m->st.tstates = z->tstates;
    m->st.halted_tstates = z->halted_tstates;
    m->st.interrupts = z->interrupts;
    m->st.rom_writes = z->rom_writes;
    m->st.rom_write_addr = z->rom_write_addr, m->st.rom_write_pc = z->rom_write_pc;
    m->st.end = (zx48_end)z->end;
    m->st.exit_code = z->exit_code;
    m->st.end_pc = z->end_pc;
    return rc;
}

int zx48_run(zx48_machine *m) { return sync_stats(m, z80m_run(&m->z)); }
void zx48_set_max_tstates(zx48_machine *m, uint64_t max) { m->z.max_tstates = max; }
const zx48_stats *zx48_stats_get(const zx48_machine *m) { return &m->st; }
const char *zx48_error(const zx48_machine *m) {
    return m->z.end == ZX48_END_ERROR || m->z.end == ZX48_END_TLIMIT ? m->z.err : "";
}

const char *zx48_end_name(zx48_end e) {
    switch (e) {
    case ZX48_END_NONE: return "none";
    case ZX48_END_BASIC: return "basic";
    case ZX48_END_EOF: return "eof";
    case ZX48_END_TLIMIT: return "tlimit";
    case ZX48_END_ERROR: return "error";
    }
    return "?";
}

static void on_watch(z80_machine *z, void *ud) {
    (void)z;
    zx48_machine *m = ud;
    m->watch_fn(m, m->watch_ud);
}

void zx48_set_watch(zx48_machine *m, uint16_t pc, zx48_watch_fn fn, void *ud) {
    m->watch_fn = fn, m->watch_ud = ud;
    z80m_set_watch(&m->z, pc, fn ? on_watch : NULL, m);
}

void zx48_region(const zx48_machine *m, int r, uint64_t *tstates, uint64_t *count) { z80m_region(&m->z, r, tstates, count); }
uint8_t *zx48_mem(zx48_machine *m) { return m->mem; }
uint16_t zx48_reg(zx48_machine *m, int r) { return z80ex_get_reg(m->z.cpu, (Z80_REG_T)r); }
void zx48_set_reg(zx48_machine *m, int r, uint16_t v) { z80ex_set_reg(m->z.cpu, (Z80_REG_T)r, v); }
