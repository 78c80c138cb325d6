// c64.c: the C64's memory map, I/O, program loading and run loop (c64.h).
#include "emu/c64.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

// ---- ASCII <-> PETSCII --------------------------------------------------------------------------

uint8_t c64_petscii(uint8_t c) {
    if (c >= 0x61 && c <= 0x7A) return (uint8_t)(c - 0x20);
    if (c >= 0x41 && c <= 0x5A) return (uint8_t)(c + 0x80);
    if (c >= 0xC1 && c <= 0xDA) return (uint8_t)(c - 0x60);
    return c == 0x0A ? 0x0D : c == 0x0D ? 0x0A : c;
}

uint8_t c64_ascii(uint8_t c) {
    if (c >= 0x41 && c <= 0x5A) return (uint8_t)(c + 0x20);
    if (c >= 0xC1 && c <= 0xDA) return (uint8_t)(c - 0x80);
    if (c >= 0x61 && c <= 0x7A) return (uint8_t)(c + 0x60);
    return c == 0x0D ? 0x0A : c == 0x0A ? 0x0D : c;
}

// ---- the memory map -----------------------------------------------------------------------------

// The port's lines: output bits as written, the banking lines (0-2) and the cassette switch
// sense (4, no button pressed) pulled up to 1 when they are inputs; the 6510 has no bits 6-7
// (they read 0): PEEK(1) is 55 after power-on.
static uint8_t port_value(const c64 *m) { return (uint8_t)((m->port & m->ddr) | (~m->ddr & 0x17)); }

// Point the CPU's page tables at what $01 maps: RAM directly, everything else through the bus
// functions (ROM reads, I/O). Writes always reach RAM except in I/O and in page $FF (the REU
// watches $FF00).
static void remap(c64 *m) {
    m6502 *c = &m->cpu;
    unsigned mode = port_value(m) & 7, loram = mode & 1, hiram = mode & 2, charen = mode & 4;
    for (int p = 0; p < 256; p++) c->rd[p] = c->wr[p] = m->ram + 256 * p;
    c->wr[0] = NULL;  // the port at $00/$01
    c->wr[0xFF] = NULL;
    if (loram && hiram)
        for (int p = 0xA0; p < 0xC0; p++) c->rd[p] = NULL;
    if (hiram)
        for (int p = 0xE0; p < 0x100; p++) c->rd[p] = NULL;
    if (loram || hiram)
        for (int p = 0xD0; p < 0xE0; p++) c->rd[p] = NULL, c->wr[p] = charen ? NULL : m->ram + 256 * p;
    // what reads of $00/$01 return (the page-0 read pointer is RAM): the port registers
    m->ram[0] = m->ddr, m->ram[1] = port_value(m);
}

static int io_visible(const c64 *m) {
    unsigned mode = port_value(m) & 7;
    return (mode & 3) && (mode & 4);
}

static uint8_t io_read(c64 *m, uint16_t a) {
    unsigned o = a - 0xD000u;
    if (a < 0xD400) {  // VIC-II: latches, the raster counter from the cycles (63 per line, 312 lines)
        unsigned r = a & 0x3F;
        uint64_t line = (c64_cycles(m) / 63) % 312;
        if (r == 0x12) return (uint8_t)line;
        if (r == 0x11) return (uint8_t)((m->io[0x11] & 0x7F) | (line & 0x100 ? 0x80 : 0));
        return m->io[r];
    }
    if (a < 0xD800) return 0;                                         // SID: write-only here
    if (a < 0xDC00) return (uint8_t)(m->io[o] | 0xF0);                // color RAM: 4 bits
    if (a < 0xDD00) return (a & 15) == 1 ? 0xFF : m->io[0xC00 + (a & 15)];  // CIA 1 (no key down)
    if (a < 0xDE00) return m->io[0xD00 + (a & 15)];                   // CIA 2
    if (a < 0xDF00 || !m->has_reu) return 0xFF;                      // I/O 1, 2: nothing
    return reu_read(&m->reu, a & 0x1F);
}

static uint8_t bus_read(void *ctx, uint16_t a) {
    c64 *m = ctx;
    if (a >= 0xD000 && a < 0xE000 && io_visible(m)) return io_read(m, a);
    m->rom_reads++;  // BASIC, KERNAL or character ROM: not modelled
    return 0;
}

static uint8_t dma_read(void *ctx, uint16_t a) {
    c64 *m = ctx;
    return m->cpu.rd[a >> 8] ? m->cpu.rd[a >> 8][a & 0xFF] : bus_read(ctx, a);
}

static void bus_write(void *ctx, uint16_t a, uint8_t v);
static void dma_write(void *ctx, uint16_t a, uint8_t v) {
    c64 *m = ctx;
    if (m->cpu.wr[a >> 8]) m->cpu.wr[a >> 8][a & 0xFF] = v;
    else if (a == 0xFF00) m->ram[a] = v;  // a DMA write to $FF00 does not trigger the REU
    else bus_write(ctx, a, v);
}

static const reu_bus *dma_bus(c64 *m) {
    static reu_bus b;
    b = (reu_bus){.read = dma_read, .write = dma_write, .ctx = m};
    return &b;
}

static void bus_write(void *ctx, uint16_t a, uint8_t v) {
    c64 *m = ctx;
    if (a < 2) {
        if (a == 0) m->ddr = v;
        else m->port = v;
        remap(m);
        return;
    }
    if (a < 0x100 || a >= 0xE000) {
        m->ram[a] = v;
        if (a == 0xFF00 && m->has_reu) m->dma_cycles += reu_ff00(&m->reu, dma_bus(m));
        return;
    }
    unsigned o = a - 0xD000u;
    if (a < 0xD400) m->io[a & 0x3F] = v;
    else if (a < 0xD800) m->io[0x400 + (a & 0x1F)] = v;
    else if (a < 0xDC00) m->io[o] = v & 0x0F;
    else if (a < 0xDD00) m->io[0xC00 + (a & 15)] = v;
    else if (a < 0xDE00) m->io[0xD00 + (a & 15)] = v;
    else if (a >= 0xDF00 && m->has_reu) m->dma_cycles += reu_write(&m->reu, a & 0x1F, v, dma_bus(m));
}

// ---- set-up -------------------------------------------------------------------------------------

int c64_init(c64 *m, uint32_t reu_bytes) {
    memset(m, 0, sizeof *m);
    if (reu_bytes) {
        if (reu_init(&m->reu, reu_bytes)) return RQ_EINPUT;
        m->has_reu = 1;
    }
    m->ddr = 0x2F, m->port = 0x37;  // as the KERNAL leaves them: BASIC, KERNAL and I/O in
    m->cpu.bus_read = bus_read, m->cpu.bus_write = bus_write, m->cpu.ctx = m;
    remap(m);
    m->err_lfn = 5;  // cc65's stderr (libsrc/cbm/filedes.inc: LFN_OFFS 3 + fd 2)
    m->in_fd = -1;
    // zero page as the KERNAL and BASIC leave it after LOAD"...",8 (what cc65's start-up reads)
    m->ram[0x90] = 0;                                   // ST
    m->ram[0x9A] = 3, m->ram[0x99] = 0;                 // output screen, input keyboard
    m->ram[0xBA] = 8;                                   // the last device: the drive
    static const char NAME[] = "RETROQAT";              // the last file name (cc65's argv[0])
    for (size_t i = 0; i < sizeof NAME - 1; i++) m->ram[0x033C + i] = c64_petscii((uint8_t)NAME[i]);
    m->ram[0xB7] = sizeof NAME - 1, m->ram[0xBB] = 0x3C, m->ram[0xBC] = 0x03;
    m->ram[0x2B] = 0x01, m->ram[0x2C] = 0x08;           // start of BASIC
    m->ram[0x37] = 0x00, m->ram[0x38] = 0xA0;           // end of BASIC RAM
    c64_kernal_reset(m);
    return 0;
}

void c64_free(c64 *m) {
    c64_kernal_free(m);
    if (m->has_reu) reu_free(&m->reu);
    m->has_reu = 0;
}

void c64_reu_fill(c64 *m, const uint8_t *p, size_t n) {
    if (m->has_reu) memcpy(m->reu.mem, p, n < m->reu.size ? n : m->reu.size);
}

int c64_load_prg(c64 *m, const uint8_t *p, size_t n, const char *name, uint16_t *sys) {
    if (n < 2) return rq_fail_at(RQ_EINPUT, name, (long)n, "truncated: a .prg starts with its 2-byte load address");
    unsigned load = p[0] | p[1] << 8, end = load + (unsigned)(n - 2);
    if (load != 0x0801)
        return rq_fail_at(RQ_EINPUT, name, 0, "loads at $%04X: only BASIC programs (load address $0801, started by RUN) run here", load);
    if (end > 0xD000) return rq_fail_at(RQ_EINPUT, name, 2, "%zu bytes from $0801 reach $%04X: LOAD fills RAM up to $CFFF", n - 2, end - 1);
    // the first BASIC line: link, line number, then SYS (token $9E) and a decimal address
    if (n < 2 + 7) return rq_fail_at(RQ_EINPUT, name, (long)n, "truncated BASIC line (a program started by RUN begins with `SYS nnnn`)");
    size_t i = 6;
    while (i < n && p[i] == ' ') i++;
    if (i >= n || p[i] != 0x9E) return rq_fail_at(RQ_EINPUT, name, (long)i, "the first BASIC line is not SYS (token $9E): not a machine-code program");
    i++;
    while (i < n && (p[i] == ' ' || p[i] == '(')) i++;
    unsigned long a = 0;
    size_t digits = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9' && digits < 6; i++, digits++) a = a * 10 + (p[i] - '0');
    if (!digits || a < 0x0801 || a >= end)
        return rq_fail_at(RQ_EINPUT, name, (long)i, "SYS %lu does not start the loaded program ($0801-$%04X)", a, end - 1);
    memcpy(m->ram + load, p + 2, n - 2);
    m->ram[0x2D] = (uint8_t)end, m->ram[0x2E] = (uint8_t)(end >> 8);  // end of the program
    *sys = (uint16_t)a;
    return 0;
}

int c64_set_command_line(c64 *m, const char *args) {
    static const char RUN[] = "RUN:REM ";
    size_t n = strlen(args);
    if (sizeof RUN - 1 + n > C64_LINE_MAX)
        return rq_fail(RQ_EINPUT, "the C64's command line is %d characters: `RUN:REM %s` has %zu", C64_LINE_MAX, args, sizeof RUN - 1 + n);
    uint8_t *b = m->ram + 0x0200;
    size_t k = 0;
    b[k++] = 0x8A, b[k++] = ':', b[k++] = 0x8F, b[k++] = ' ';  // RUN, ':', REM tokens as BASIC crunches them
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)args[i];
        if (c < 0x20 || c > 0x7E) return rq_fail(RQ_EINPUT, "the C64's command line cannot hold byte 0x%02x (only printable ASCII can be typed)", c);
        b[k++] = c64_petscii(c);
    }
    b[k] = 0;
    return 0;
}

// ---- running ------------------------------------------------------------------------------------

uint64_t c64_cycles(const c64 *m) { return m->cpu.cycles + m->dma_cycles; }

static int trap(void *ctx, m6502 *c) {
    c64 *m = ctx;
    if (!(port_value(m) & 2)) return M6502_RUN;  // KERNAL banked out: RAM code
    if (c->pc == C64_BASIC_RETURN) {
        m->end = C64_END_RETURN, m->exit_code = m->ram[0x90];
        return M6502_STOP;
    }
    if (c->pc >= 0xFF81 && c->pc <= 0xFFF3) return c64_kernal_trap(m);
    m->end = C64_END_ERROR;
    snprintf(m->err, sizeof m->err, "jump into the KERNAL ROM at $%04X (no ROM image: only the jump table $FF81-$FFF3 is served)", c->pc);
    return M6502_STOP;
}

int c64_start(c64 *m, uint16_t sys) {
    m6502 *c = &m->cpu;
    memset(m->traps, 0, sizeof m->traps);
    for (int p = 0xE0; p < 0x100; p++) m->traps[p] = 1;
    c->trap_pages = m->traps, c->trap = trap;
    m6502_reset(c, sys);
    c->s = 0xFA;  // BASIC's stack during SYS, with the return address into BASIC on it
    m6502_push(c, (uint8_t)((C64_BASIC_RETURN - 1) >> 8));
    m6502_push(c, (uint8_t)(C64_BASIC_RETURN - 1));
    c->p = M6502_U | M6502_B;
    m->end = 0;
    return 0;
}

int c64_run(c64 *m, uint64_t until) {
    m6502 *c = &m->cpu;
    // the CPU's own limit: what is left after the DMA cycles
    uint64_t dma = m->dma_cycles;
    int r = m6502_run(c, until > dma ? until - dma : 0);
    if (r == M6502_STOP) {
        if (m->end == C64_END_RETURN) return 0;
        return rq_fail(RQ_ERUNTIME, "%s", m->err);
    }
    if (r == M6502_ILLEGAL) {
        m->end = C64_END_ILLEGAL;
        return rq_fail(RQ_ERUNTIME, "illegal opcode $%02X at $%04X after %llu cycles", c->bad_op, c->bad_pc, (unsigned long long)c64_cycles(m));
    }
    return 0;  // the slice is over: m->end is still 0
}
