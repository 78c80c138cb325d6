// test_c64_machine.c: the REU (emu/reu.h) and the C64 model (emu/c64.h) on hand-assembled code.
//   - REU registers: C64 -> REU, REU -> C64, swap, verify (match and mismatch), fixed C64 and
//     REU addresses, length 0 = 64 KB, the address wrapping at the end of a 128 KB and a 16 MB
//     unit, autoload, the FF00 trigger, end-of-block and interrupt bits, unused bits, refused sizes
//   - .prg loading (what is refused, with the byte), the command line in BASIC's buffer, banking
//     through $01 (BASIC, KERNAL, I/O, character ROM, RAM), ASCII <-> PETSCII
//   - a program that prints through CHROUT, reads a host file over drive 8 with the KERNAL
//     (SETLFS SETNAM OPEN CHKIN CHRIN READST CLRCHN CLOSE: bytes, EOI, the CR after the end),
//     finds a missing file in the drive status, moves bytes through the REU's registers with
//     the FF00 trigger while the I/O is banked out, and returns to BASIC with ST as exit code
//   - keyboard lines (echo, the end of input), an unserved KERNAL call, an undocumented opcode
#include "tests/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "emu/c64.h"
#include "emu/reu.h"

// ---- the REU on a plain 64 KB bus ---------------------------------------------------------------

static uint8_t RAM[65536];
static uint8_t ram_rd(void *ctx, uint16_t a) { return ((uint8_t *)ctx)[a]; }
static void ram_wr(void *ctx, uint16_t a, uint8_t v) { ((uint8_t *)ctx)[a] = v; }
static const reu_bus BUS = {ram_rd, ram_wr, RAM};

// Program the registers (C64 address, REU address, length, control) and execute cmd.
static uint64_t xfer(reu_dev *r, uint16_t c64, uint32_t reu, uint16_t len, uint8_t ctl, uint8_t cmd) {
    reu_write(r, 2, (uint8_t)c64, &BUS), reu_write(r, 3, (uint8_t)(c64 >> 8), &BUS);
    reu_write(r, 4, (uint8_t)reu, &BUS), reu_write(r, 5, (uint8_t)(reu >> 8), &BUS), reu_write(r, 6, (uint8_t)(reu >> 16), &BUS);
    reu_write(r, 7, (uint8_t)len, &BUS), reu_write(r, 8, (uint8_t)(len >> 8), &BUS);
    reu_write(r, 10, ctl, &BUS);
    return reu_write(r, 1, cmd, &BUS);
}
static unsigned reg16(reu_dev *r, unsigned lo) { return reu_read(r, lo) | reu_read(r, lo + 1) << 8; }
static uint32_t reg_reu(reu_dev *r) { return reu_read(r, 4) | reu_read(r, 5) << 8 | (uint32_t)reu_read(r, 6) << 16; }

static void test_reu_transfers(void **state) {
    (void)state;
    reu_dev r;
    assert_int_equal(reu_init(&r, 256u << 10), 0);
    for (int i = 0; i < 65536; i++) RAM[i] = (uint8_t)(i * 7 + 3);
    // C64 -> REU, 256 bytes from $1000 to $012345: 256 cycles, registers after the last byte
    assert_int_equal(xfer(&r, 0x1000, 0x012345, 256, 0, 0x90), 256);
    for (int i = 0; i < 256; i++) assert_int_equal(r.mem[0x012345 + i], RAM[0x1000 + i]);
    assert_int_equal(reg16(&r, 2), 0x1100);
    assert_int_equal(reg_reu(&r) & 0x07FFFF, 0x012445);
    assert_int_equal(reg16(&r, 7), 1);
    assert_int_equal(reu_read(&r, 1) & 0x90, 0x10);  // execute clear, FF00 set
    uint8_t st = reu_read(&r, 0);
    assert_int_equal(st & 0xF0, 0x40 | 0x10);  // end of block, 256 Kbit chips
    assert_int_equal(reu_read(&r, 0) & 0x40, 0);  // the read cleared it
    // REU -> C64 into a fixed C64 address: the last byte stays
    assert_int_equal(xfer(&r, 0x2000, 0x012345, 16, 0x80, 0x91), 16);
    assert_int_equal(RAM[0x2000], r.mem[0x012345 + 15]);
    assert_int_equal(RAM[0x2001], (uint8_t)(0x2001 * 7 + 3));
    assert_int_equal(reg16(&r, 2), 0x2000);
    // C64 -> REU into a fixed REU address
    xfer(&r, 0x3000, 0x000100, 8, 0x40, 0x90);
    assert_int_equal(r.mem[0x100], RAM[0x3007]);
    assert_int_equal(r.mem[0x101], 0);
    assert_int_equal(reg_reu(&r) & 0x07FFFF, 0x100);
    // length 0: 65536 bytes, the C64 address comes round to where it started
    assert_int_equal(xfer(&r, 0x4000, 0x020000, 0, 0, 0x90), 65536);
    assert_int_equal(r.mem[0x020000], RAM[0x4000]);
    assert_int_equal(r.mem[0x02FFFF], RAM[0x3FFF]);
    assert_int_equal(reg16(&r, 2), 0x4000);
    // swap: two cycles per byte
    memset(r.mem + 0x30000, 0xAB, 4);
    uint8_t keep[4];
    memcpy(keep, RAM + 0x5000, 4);
    assert_int_equal(xfer(&r, 0x5000, 0x030000, 4, 0, 0x92), 8);
    assert_memory_equal(r.mem + 0x30000, keep, 4);
    assert_int_equal(RAM[0x5003], 0xAB);
    // verify: equal -> end of block, no fault; a mismatch at byte 5 stops after it
    reu_read(&r, 0);
    assert_int_equal(xfer(&r, 0x1000, 0x012345, 200, 0, 0x93), 200);
    assert_int_equal(reu_read(&r, 0) & 0x60, 0x40);
    r.mem[0x012345 + 5] ^= 1;
    assert_int_equal(xfer(&r, 0x1000, 0x012345, 200, 0, 0x93), 6);
    assert_int_equal(reu_read(&r, 0) & 0x60, 0x20);
    assert_int_equal(reg16(&r, 2), 0x1006);
    assert_int_equal(reg16(&r, 7), 194);
    // autoload: the registers come back as written; an interrupt when enabled
    reu_write(&r, 9, 0xC0, &BUS);
    xfer(&r, 0x6000, 0x001000, 32, 0, 0xB0);
    assert_int_equal(reg16(&r, 2), 0x6000);
    assert_int_equal(reg_reu(&r) & 0x07FFFF, 0x001000);
    assert_int_equal(reg16(&r, 7), 32);
    assert_int_equal(reu_read(&r, 0) & 0xC0, 0xC0);
    // the FF00 trigger: armed by execute without bit 4, started by a write to $FF00
    assert_int_equal(xfer(&r, 0x7000, 0x001000, 10, 0, 0x81), 0);
    assert_int_equal(r.bytes, 256 + 16 + 8 + 65536 + 4 + 200 + 6 + 32);
    assert_int_equal(reu_ff00(&r, &BUS), 10);
    assert_int_equal(reu_ff00(&r, &BUS), 0);
    assert_memory_equal(RAM + 0x7000, r.mem + 0x1000, 10);
    // registers that read 1 where unused, and the unused ones
    assert_int_equal(reu_read(&r, 9), 0xC0 | 0x1F);
    assert_int_equal(reu_read(&r, 10), 0x3F);
    for (unsigned k = 11; k < 32; k++) assert_int_equal(reu_read(&r, k), 0xFF);
    assert_int_equal(reu_read(&r, 6) & 0xF8, 0xF8);  // 3 bank bits below 512 KB
    reu_free(&r);
}

static void test_reu_wrap(void **state) {
    (void)state;
    reu_dev r;
    // 128 KB (a 1700): the memory repeats through the REC's 512 KB; no size bit
    assert_int_equal(reu_init(&r, 128u << 10), 0);
    assert_int_equal(reu_read(&r, 0) & 0x10, 0);
    for (int i = 0; i < 32; i++) RAM[0x8000 + i] = (uint8_t)(0x40 + i);
    xfer(&r, 0x8000, 0x01FFF0, 32, 0, 0x90);
    assert_int_equal(r.mem[0x1FFFF], 0x4F);
    assert_int_equal(r.mem[0x00000], 0x50);
    assert_int_equal(r.mem[0x0000F], 0x5F);
    assert_int_equal(reg_reu(&r) & 0x07FFFF, 0x020010);
    xfer(&r, 0x8000, 0x07FFFF, 2, 0, 0x90);  // the end of 512 KB wraps to 0
    assert_int_equal(reg_reu(&r) & 0x07FFFF, 0x000001);
    reu_free(&r);
    // 16 MB: 24 address bits, wrap at the end
    assert_int_equal(reu_init(&r, 16u << 20), 0);
    xfer(&r, 0x8000, 0xFFFFF8, 16, 0, 0x90);
    assert_int_equal(r.mem[0xFFFFFF], 0x47);
    assert_int_equal(r.mem[0x000000], 0x48);
    assert_int_equal(reg_reu(&r), 0x000008);
    assert_int_equal(reu_read(&r, 6), 0x00);
    reu_free(&r);
    // sizes an REU does not come in
    assert_int_equal(reu_init(&r, 64u << 10), RQ_EINPUT);
    assert_int_equal(reu_init(&r, 3u << 20), RQ_EINPUT);
    assert_int_equal(reu_init(&r, 32u << 20), RQ_EINPUT);
}

// ---- the C64 ------------------------------------------------------------------------------------

typedef struct {
    uint8_t b[8192];
    size_t n;
} prg;

// A .prg: load address $0801, the BASIC line `10 SYS2061`, code from $080D.
static void prg_start(prg *p) {
    const uint8_t head[] = {0x01, 0x08, 0x0B, 0x08, 0x0A, 0x00, 0x9E, '2', '0', '6', '1', 0x00, 0x00, 0x00};
    memcpy(p->b, head, sizeof head);
    p->n = sizeof head;
}
static void put(prg *p, int n, const uint8_t *b) { memcpy(p->b + p->n, b, (size_t)n), p->n += (size_t)n; }
#define P(p, ...) put(p, (int)sizeof((uint8_t[]){__VA_ARGS__}), (uint8_t[]){__VA_ARGS__})
static void put_at(prg *p, unsigned addr, const void *d, size_t n) {
    size_t off = addr - 0x0801 + 2;
    memcpy(p->b + off, d, n);
    if (off + n > p->n) p->n = off + n;
}
#define LDA(v) 0xA9, (v)
#define LDX(v) 0xA2, (v)
#define LDY(v) 0xA0, (v)
#define STA(a) 0x8D, (uint8_t)(a), (uint8_t)((a) >> 8)
#define LDAA(a) 0xAD, (uint8_t)(a), (uint8_t)((a) >> 8)
#define JSR(a) 0x20, (uint8_t)(a), (uint8_t)((a) >> 8)

typedef struct {
    char s[2][4096];
    size_t n[2];
} console;
static void on_out(void *ud, int stream, const uint8_t *p, size_t n) {
    console *c = ud;
    size_t *k = &c->n[stream == 2];
    if (*k + n < sizeof c->s[0]) memcpy(c->s[stream == 2] + *k, p, n), *k += n, c->s[stream == 2][*k] = 0;
}

static c64 *boot(const prg *p, uint32_t reu, const char *dir, console *con) {
    c64 *m = calloc(1, sizeof *m);
    uint16_t sys;
    assert_int_equal(c64_init(m, reu), 0);
    if (c64_load_prg(m, p->b, p->n, "t.prg", &sys)) fail_msg("%s", rq_last_error());
    assert_int_equal(sys, 2061);
    m->dir = dir, m->out = on_out, m->ud = con;
    memset(con, 0, sizeof *con);
    c64_start(m, sys);
    return m;
}

static void test_prg_and_banking(void **state) {
    (void)state;
    static c64 m;
    uint16_t sys;
    assert_int_equal(c64_init(&m, 0), 0);
    prg p;
    prg_start(&p);
    P(&p, 0x60);
    assert_int_equal(c64_load_prg(&m, p.b, p.n, "t.prg", &sys), 0);
    assert_int_equal(m.ram[0x080D], 0x60);
    assert_int_equal(m.ram[0x2D] | m.ram[0x2E] << 8, 0x080E);
    const struct {
        int at, v;
        size_t len;
        const char *want;
    } bad[] = {{-1, 0, 1, "t.prg: byte 1: truncated"},
               {0, 0x00, 15, "t.prg: byte 0: loads at $0800"},
               {6, 0x99, 15, "t.prg: byte 6: the first BASIC line is not SYS"},
               {7, '9', 15, "SYS 9061 does not start the loaded program"},
               {-2, 0, 15, "reach $"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        static uint8_t q[60000];
        memcpy(q, p.b, p.n);
        size_t len = bad[i].len;
        if (bad[i].at >= 0) q[bad[i].at] = (uint8_t)bad[i].v;
        if (bad[i].at == -2) len = 0xD000 - 0x0801 + 3;
        assert_int_equal(c64_load_prg(&m, q, len, "t.prg", &sys), RQ_EINPUT);
        if (!strstr(rq_last_error(), bad[i].want)) fail_msg("case %zu: '%s'", i, rq_last_error());
    }
    // the command line: RUN : REM tokens, then PETSCII
    assert_int_equal(c64_set_command_line(&m, "-n5 \"-iHi there\""), 0);
    assert_int_equal(m.ram[0x200], 0x8A);
    assert_int_equal(m.ram[0x202], 0x8F);
    assert_int_equal(m.ram[0x204], '-');
    assert_int_equal(m.ram[0x205], 0x4E);  // n
    assert_int_equal(m.ram[0x20A], 0x49);  // i
    assert_int_equal(m.ram[0x20B], 0xC8);  // H
    assert_int_equal(c64_set_command_line(&m, "tab\there"), RQ_EINPUT);
    char longer[100];
    memset(longer, 'x', 73), longer[73] = 0;
    assert_int_equal(c64_set_command_line(&m, longer), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "80 characters"));
    longer[72] = 0;
    assert_int_equal(c64_set_command_line(&m, longer), 0);
    // banking: $37 BASIC+KERNAL+I/O, $36 KERNAL+I/O, $35 I/O only, $34 all RAM, $33 char ROM
    m.ram[0xA000] = 0x11, m.ram[0xD020] = 0x22, m.ram[0xE000] = 0x33;
    m6502 *c = &m.cpu;
    const struct {
        uint8_t port, a000, e000;
        int io;
    } map[] = {{0x37, 0, 0, 1}, {0x36, 0x11, 0, 1}, {0x35, 0x11, 0x33, 1}, {0x34, 0x11, 0x33, 0}, {0x33, 0, 0, 2}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        m6502_write(c, 0x01, map[i].port);
        assert_int_equal(m6502_read(c, 0x01), map[i].port);
        assert_int_equal(m6502_read(c, 0xA000), map[i].a000);
        assert_int_equal(m6502_read(c, 0xE000), map[i].e000);
        m6502_write(c, 0xD020, 0x0E);  // border colour, or RAM under it
        uint8_t d = m6502_read(c, 0xD020);
        if (map[i].io == 1) assert_int_equal(d, 0x0E);
        else if (map[i].io == 0) assert_int_equal(d, 0x0E), assert_int_equal(m.ram[0xD020], 0x0E);
        else assert_int_equal(d, 0);  // character ROM: not modelled, reads 0
        m6502_write(c, 0xA000, 0x11);  // writes under ROM reach RAM
        assert_int_equal(m.ram[0xA000], 0x11);
    }
    assert_true(m.rom_reads > 0);
    // ASCII <-> PETSCII is a permutation
    for (int b = 0; b < 256; b++) assert_int_equal(c64_ascii(c64_petscii((uint8_t)b)), b);
    assert_int_equal(c64_petscii('a'), 0x41);
    assert_int_equal(c64_petscii('A'), 0xC1);
    assert_int_equal(c64_petscii('\n'), 0x0D);
    c64_free(&m);
}

#define SETLFS 0xFFBA
#define SETNAM 0xFFBD
#define OPEN 0xFFC0
#define CLOSE 0xFFC3
#define CHKIN 0xFFC6
#define CLRCHN 0xFFCC
#define CHRIN 0xFFCF
#define CHROUT 0xFFD2
#define READST 0xFFB7

static void test_program(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("c64_prog");
    char path[600];
    snprintf(path, sizeof path, "%s/data", dir);
    rq_test_write_bytes(path, "\x11\x22\x33", 3);
    prg p;
    prg_start(&p);
    P(&p, LDA(0xC8), JSR(CHROUT), LDA(0x49), JSR(CHROUT), LDA(0x0D), JSR(CHROUT));  // "Hi\n"
    // OPEN 2,8,2,"DATA,S,R"; read 4 bytes with their status
    P(&p, LDA(2), LDX(8), LDY(2), JSR(SETLFS), LDA(8), LDX(0x00), LDY(0x0A), JSR(SETNAM), JSR(OPEN));
    P(&p, LDX(2), 0x20, 0xC6, 0xFF);
    for (int i = 0; i < 4; i++) P(&p, JSR(CHRIN), STA(0xC000 + 2 * i), JSR(READST), STA(0xC001 + 2 * i));
    P(&p, JSR(CLRCHN), LDA(2), JSR(CLOSE));
    // OPEN 3,8,3,"NOPE"; OPEN 15,8,15; the first two status characters
    P(&p, LDA(3), LDX(8), LDY(3), JSR(SETLFS), LDA(4), LDX(0x10), LDY(0x0A), JSR(SETNAM), JSR(OPEN));
    P(&p, LDA(15), LDX(8), LDY(15), JSR(SETLFS), LDA(0), JSR(SETNAM), JSR(OPEN));
    P(&p, LDX(15), JSR(CHKIN), JSR(CHRIN), STA(0xC008), JSR(CHRIN), STA(0xC009), JSR(CLRCHN));
    // REU: $C000-$C009 to REU $010000 at once, then back to $C100 on the FF00 trigger with all RAM
    P(&p, LDA(0x00), STA(0xDF02), LDA(0xC0), STA(0xDF03), LDA(0), STA(0xDF04), STA(0xDF05), LDA(1), STA(0xDF06));
    P(&p, LDA(10), STA(0xDF07), LDA(0), STA(0xDF08), STA(0xDF0A), LDA(0x90), STA(0xDF01));
    P(&p, LDA(0xC1), STA(0xDF03), LDA(0), STA(0xDF02), STA(0xDF05), LDA(10), STA(0xDF07), LDA(0x81), STA(0xDF01));
    P(&p, LDAA(0x0001), 0x48, 0x29, 0xF8, STA(0x0001), LDAA(0xFF00), STA(0xFF00), 0x68, STA(0x0001));
    P(&p, LDA(7), 0x85, 0x90, 0x60);  // ST = 7; RTS to BASIC
    const uint8_t data[] = {0x44, 0x41, 0x54, 0x41, ',', 0x53, ',', 0x52}, nope[] = {0x4E, 0x4F, 0x50, 0x45};
    put_at(&p, 0x0A00, data, sizeof data);
    put_at(&p, 0x0A10, nope, sizeof nope);
    console con;
    c64 *m = boot(&p, 128u << 10, dir, &con);
    assert_int_equal(c64_run(m, 1000000), 0);
    assert_int_equal(m->end, C64_END_RETURN);
    assert_int_equal(m->exit_code, 7);
    assert_string_equal(con.s[0], "Hi\n");
    const uint8_t want[10] = {0x11, 0, 0x22, 0, 0x33, 0x40, 0x0D, 0x40, '6', '2'};
    assert_memory_equal(m->ram + 0xC000, want, 10);
    assert_memory_equal(m->ram + 0xC100, want, 10);
    assert_memory_equal(m->reu.mem + 0x010000, want, 10);
    assert_int_equal(m->dma_cycles, 20);
    assert_int_equal(m->reu.transfers, 2);
    assert_int_equal(m->kernal_calls, 27);
    assert_int_equal(m->cpu.s, 0xFA);  // the stack as SYS left it, the return address pulled
    c64_free(m);
    free(m);
}

static void test_keyboard_and_errors(void **state) {
    (void)state;
    // two keyboard lines into $C000.., a CR each, then an empty line at the end of input
    prg p;
    prg_start(&p);
    P(&p, LDX(0));
    unsigned loop = 0x0801 + (unsigned)p.n - 2;
    P(&p, 0x8A, 0x48, JSR(CHRIN), 0x85, 0xFB, 0x68, 0xAA, 0xA5, 0xFB, 0x9D, 0x00, 0xC0, 0xE8, 0xE0, 0x10, 0xD0);
    P(&p, (uint8_t)(loop - (0x0801 + (unsigned)p.n - 2) - 1), 0x60);
    console con;
    c64 *m = boot(&p, 0, ".", &con);
    m->in_buf = (const uint8_t *)"Ab1\nxY\n", m->in_len = 7, m->echo = 1;
    assert_int_equal(c64_run(m, 1000000), 0);
    assert_int_equal(m->end, C64_END_RETURN);
    const uint8_t want[] = {0xC1, 0x42, '1', 0x0D, 0x58, 0xD9, 0x0D, 0x0D, 0x0D};
    assert_memory_equal(m->ram + 0xC000, want, sizeof want);
    assert_string_equal(con.s[0], "Ab1xY");  // typed lines shown (the program prints no CR)
    c64_free(m);
    free(m);
    // a KERNAL call that is not served, an undocumented opcode
    prg_start(&p);
    P(&p, JSR(0xFFD5));
    m = boot(&p, 0, ".", &con);
    assert_int_equal(c64_run(m, 1000000), RQ_ERUNTIME);
    assert_int_equal(m->end, C64_END_ERROR);
    assert_non_null(strstr(rq_last_error(), "KERNAL's LOAD ($FFD5)"));
    c64_free(m);
    free(m);
    prg_start(&p);
    P(&p, 0xEA, 0x02);
    m = boot(&p, 0, ".", &con);
    assert_int_equal(c64_run(m, 1000000), RQ_ERUNTIME);
    assert_int_equal(m->end, C64_END_ILLEGAL);
    assert_non_null(strstr(rq_last_error(), "illegal opcode $02 at $080E"));
    c64_free(m);
    free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reu_transfers), cmocka_unit_test(test_reu_wrap),          cmocka_unit_test(test_prg_and_banking),
        cmocka_unit_test(test_program),       cmocka_unit_test(test_keyboard_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
