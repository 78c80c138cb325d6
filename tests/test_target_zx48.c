// test_target_zx48.c: the ZX Spectrum 48K target and its machine model (export/zx48, emu/zx48).
//
//   - the .TAP through libspectrum: written, read back, byte layout and checksums; the BASIC
//     loader's tokenised bytes; corrupt tapes and loaders refused with the byte or line
//   - the machine model on hand-assembled programs: IY clobbered at a ROM call and at the 50 Hz
//     interrupt (the published port's bug), H'L' at the return to BASIC, RST 10h before CHAN-OPEN,
//     ROM writes ignored and counted, ROM reads, HALT with interrupts off, keys in K mode, the
//     interrupt's pushes below SP, contended memory below 8000h only
//   - the kernels' relocation: relocated to 6000h = assembled at 6000h, both builds
//   - a chat model trained here: answers one-shot (a$) and in chat mode at the keyboard identical
//     to `retroqat chat`, and the CRC of every step's logits identical to infer/, with each kernel
//     (auto = packed, --layout sparse = the 1.5 KB sparse-only kernel) and at 6000h
//   - a random 256 -> 128 -> 96 -> 43 dense model fits from 8000h up past E400h and answers as
//     infer/; the deep architecture (config-deep.json) does not fit: refused with the bytes over and what would fit
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <z80ex/z80ex.h>

#include "base/err.h"
#include "base/rng.h"
#include "emu/z80asm.h"
#include "emu/zx48.h"
#include "emu/zx_tape.h"
#include "export/target.h"
#include "export/zx48/zx48.h"
#include "infer/lm_gen.h"
#include "model/chatnet.h"
#include "qat/model_open.h"

// ---- the tape and the loader ---------------------------------------------------------------------

static void test_tape_round_trip(void **state) {
    (void)state;
    uint8_t code[300];
    for (int i = 0; i < 300; i++) code[i] = (uint8_t)(i * 7);
    size_t n, plen;
    uint8_t *basic = zx48_basic_loader(0x8000, &n, &plen);
    zx_tape_file f[2] = {{.type = ZX_TAPE_PROGRAM, .name = "chat", .param1 = 10, .param2 = (uint16_t)plen, .data = basic, .len = n},
                         {.type = ZX_TAPE_CODE, .name = "chatcode", .param1 = 0x8000, .param2 = 32768, .data = code, .len = 300}};
    uint8_t *tap;
    size_t len;
    assert_int_equal(zx_tap_write(f, 2, &tap, &len), 0);
    // Four blocks, each a length word, a flag, the bytes and an XOR checksum.
    assert_int_equal(len, 4 * 4 + 17 + n + 17 + 300);
    size_t at = 0;
    const uint8_t flags[4] = {0x00, 0xFF, 0x00, 0xFF};
    const size_t sizes[4] = {17, n, 17, 300};
    for (int b = 0; b < 4; b++) {
        assert_int_equal(tap[at] | tap[at + 1] << 8, sizes[b] + 2);
        assert_int_equal(tap[at + 2], flags[b]);
        uint8_t x = 0;
        for (size_t i = 0; i < sizes[b] + 2; i++) x ^= tap[at + 2 + i];
        assert_int_equal(x, 0);
        at += 4 + sizes[b];
    }
    static const uint8_t head[17] = {0, 'c', 'h', 'a', 't', ' ', ' ', ' ', ' ', ' ', ' ', 0, 0, 10, 0, 0, 0};
    assert_memory_equal(tap + 3, head, 11);  // type, name blank padded
    assert_int_equal(tap[14] | tap[15] << 8, n);
    assert_int_equal(tap[16] | tap[17] << 8, 10);    // autostart line
    assert_int_equal(tap[18] | tap[19] << 8, plen);  // program without variables
    zx_tape_file *r;
    int nr;
    assert_int_equal(zx_tap_read(tap, len, "t.tap", &r, &nr), 0);
    assert_int_equal(nr, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r[i].type, f[i].type);
        assert_string_equal(r[i].name, f[i].name);
        assert_int_equal(r[i].param1, f[i].param1);
        assert_int_equal(r[i].param2, f[i].param2);
        assert_int_equal(r[i].len, f[i].len);
        assert_memory_equal(r[i].data, f[i].data, f[i].len);
    }
    zx_tape_files_free(r, nr);
    free(tap), free(basic);
}

static void test_basic_loader(void **state) {
    (void)state;
    size_t n, plen;
    uint8_t *b = zx48_basic_loader(0x8000, &n, &plen);
    // 10 CLEAR 32767: LOAD "" CODE
    // 20 RANDOMIZE USR 32768
    static const uint8_t want[] = {
        0x00, 10, 18, 0,  // line 10, 18 bytes
        0xFD, '3', '2', '7', '6', '7', 0x0E, 0, 0, 0xFF, 0x7F, 0, ':', 0xEF, '"', '"', 0xAF, 0x0D,
        0x00, 20, 14, 0,  // line 20, 14 bytes
        0xF9, 0xC0, '3', '2', '7', '6', '8', 0x0E, 0, 0, 0x00, 0x80, 0, 0x0D,
        0x80,  // the variables: none
    };
    assert_int_equal(n, sizeof want);
    assert_int_equal(plen, sizeof want - 1);
    assert_memory_equal(b, want, sizeof want);
    free(b);
}

// A .TAP of the BASIC loader for org and code at org.
static uint8_t *make_tap(uint16_t org, const uint8_t *code, size_t ncode, size_t *len);

// Fuse's own tape tools (Debian's fuse-emulator-utils, on libspectrum) read the tape and the
// tokenised loader as we wrote them.
static void test_fuse_utils(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("zx48_fuse_utils");
    uint8_t code[1000] = {0xC9};
    size_t len;
    uint8_t *tap = make_tap(0x8000, code, sizeof code, &len);
    char path[4200], *out = NULL;
    snprintf(path, sizeof path, "%s/t.tap", dir);
    rq_test_write_bytes(path, tap, len);
    assert_int_equal(rq_test_run(&out, NULL, "listbasic %s", path), 0);
    assert_non_null(strstr(out, "10 CLEAR 32767: LOAD \"\"CODE"));
    assert_non_null(strstr(out, "20 RANDOMIZE USR 32768\n"));
    free(out);
    assert_int_equal(rq_test_run(&out, NULL, "tzxlist %s", path), 0);
    int pass = 0;
    for (const char *p = out; (p = strstr(p, "(PASS)")); p++) pass++;
    assert_int_equal(pass, 4);
    assert_null(strstr(out, "FAIL"));
    assert_non_null(strstr(out, "Program: \"t         \" LINE 10"));
    assert_non_null(strstr(out, "Bytes: \"c         \" CODE  32768, 1000"));
    free(out), free(tap);
}

static uint8_t *make_tap(uint16_t org, const uint8_t *code, size_t ncode, size_t *len) {
    size_t n, plen;
    uint8_t *basic = zx48_basic_loader(org, &n, &plen), *tap;
    zx_tape_file f[2] = {{.type = ZX_TAPE_PROGRAM, .name = "t", .param1 = 10, .param2 = (uint16_t)plen, .data = basic, .len = n},
                         {.type = ZX_TAPE_CODE, .name = "c", .param1 = org, .param2 = 32768, .data = (uint8_t *)code, .len = ncode}};
    assert_int_equal(zx_tap_write(f, 2, &tap, len), 0);
    free(basic);
    return tap;
}

static void expect_load_error(const uint8_t *tap, size_t len, const char *what) {
    zx48_machine *m = zx48_new(NULL);
    int rc = zx48_load_tap_data(m, tap, len, "x.tap");
    if (rc != RQ_EINPUT || !strstr(rq_last_error(), what))
        fail_msg("expected an input error with '%s', got %d: %s", what, rc, rq_last_error());
    zx48_free(m);
}

static void test_corrupt_tapes(void **state) {
    (void)state;
    uint8_t code[64] = {0xC9};
    size_t len, n, plen;
    uint8_t *basic = zx48_basic_loader(0x8000, &n, &plen);
    // The blocks: program header at 0, its data at 21, code header at h2, code data at d2.
    const size_t h2 = 21 + 2 + n + 2, d2 = h2 + 21;
    uint8_t *tap = make_tap(0x8000, code, sizeof code, &len), *t = malloc(len + 64);
    char what[128];
    expect_load_error(tap, 0, "empty");
    snprintf(what, sizeof what, "byte %zu: not a .TAP", d2);
    expect_load_error(tap, len - 5, what);  // the CODE data block is cut short
    memcpy(t, tap, len);
    t[30] ^= 0x40;  // a byte of the program
    expect_load_error(t, len, "byte 21: checksum error in the data block");
    expect_load_error(tap, d2, "ends after the header of Bytes: \"c\"");
    memcpy(t, tap, len);
    t[2] = 0xFF, t[20] ^= 0xFF;  // the first header's flag says data
    expect_load_error(t, len, "byte 0: a headerless 17-byte block");
    expect_load_error(tap + h2, len - h2, "starts with a CODE file");
    memcpy(t, tap, len);
    t[h2 + 14] = 63, t[h2 + 20] ^= 64 ^ 63;  // the code header names another length than its block has
    expect_load_error(t, len, "should be a 63-byte block");
    free(tap);
    // Loaders the model does not run: PRINT; CODE below RAMTOP; no USR.
    zx_tape_file f[2] = {{.type = ZX_TAPE_PROGRAM, .name = "t", .param1 = 10, .param2 = (uint16_t)plen, .data = basic, .len = n},
                         {.type = ZX_TAPE_CODE, .name = "c", .param1 = 0x8000, .param2 = 32768, .data = code, .len = 64}};
    basic[4] = 0xF5;  // PRINT instead of CLEAR
    assert_int_equal(zx_tap_write(f, 2, &tap, &len), 0);
    expect_load_error(tap, len, "line 10: a statement starting with byte F5h");
    free(tap);
    basic[4] = 0xFD, basic[14] = 0x8F;  // CLEAR 36863: the code at 8000h is below RAMTOP
    assert_int_equal(zx_tap_write(f, 2, &tap, &len), 0);
    expect_load_error(tap, len, "must lie above RAMTOP (8FFFh)");
    free(tap);
    basic[14] = 0x7F;  // line 20 alone, made a REM: the loader never reaches USR
    size_t l20 = 4 + (size_t)(basic[2] | basic[3] << 8);
    f[0].param1 = 20, f[0].data = basic + l20, f[0].len = n - l20, f[0].param2 = (uint16_t)(plen - l20);
    basic[l20 + 4] = 0xEA;
    assert_int_equal(zx_tap_write(f, 2, &tap, &len), 0);
    expect_load_error(tap, len, "without RANDOMIZE USR");
    free(tap), free(basic), free(t);
}

// ---- the machine model on small programs ---------------------------------------------------------

// Assemble src (sdasz80, .org given in it) and run it from a loader at org. Returns the machine
// after the run (rc: zx48_run's status).
static zx48_machine *run_prog(const char *src, uint16_t org, const char *keys, int *rc) {
    const char *dir = rq_test_tmpdir("zx48_prog");
    char path[4200];
    snprintf(path, sizeof path, "%s/p.s", dir);
    char text[4096];
    snprintf(text, sizeof text, "\t.area P (ABS)\n\t.org 0x%x\n%s", org, src);
    rq_test_write(path, text);
    uint16_t at;
    uint8_t *bin;
    size_t n, len;
    if (z80_assemble(path, dir, &at, &bin, &n)) fail_msg("%s", rq_last_error());
    uint8_t *tap = make_tap(org, bin, n, &len);
    zx48_machine *m = zx48_new(NULL);
    assert_int_equal(zx48_load_tap_data(m, tap, len, "p.tap"), 0);
    if (keys) zx48_set_input(m, keys, strlen(keys));
    zx48_set_max_tstates(m, 10000000);
    *rc = zx48_run(m);
    free(bin), free(tap);
    return m;
}

static void expect_error(const char *src, const char *what) {
    int rc;
    zx48_machine *m = run_prog(src, 0x8000, "x", &rc);
    if (rc != RQ_ERUNTIME || zx48_stats_get(m)->end != ZX48_END_ERROR || !strstr(zx48_error(m), what))
        fail_msg("expected a runtime error with '%s', got %d: %s", what, rc, zx48_error(m));
    zx48_free(m);
}

static void test_iy_and_rom_checks(void **state) {
    (void)state;
    int rc;
    // The control: open channel 2, print, return; interrupts stay on and HALT waits for one.
    zx48_machine *m = run_prog("\tld a,#2\n\tcall 0x1601\n\tld a,#'o'\n\trst 0x10\n\tld a,#'k'\n\trst 0x10\n"
                               "\tei\n\thalt\n\tld bc,#1234\n\tret\n",
                               0x8000, NULL, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(zx48_output(m, NULL), "ok");
    const zx48_stats *s = zx48_stats_get(m);
    assert_int_equal(s->end, ZX48_END_BASIC);
    assert_int_equal(s->usr_bc, 1234);
    assert_int_equal(s->interrupts, 1);
    assert_true(s->halted_tstates > 0);
    assert_int_equal(s->tstates % ZX48_FRAME_TSTATES, 13 + 14 + 10 + 10);  // IM 1, the handler, LD BC, RET
    assert_int_equal(zx48_mem(m)[0x5C78], 1);                               // FRAMES
    zx48_free(m);
    // The published port's bug: IY used while the ROM may run.
    expect_error("\tld iy,#0x1234\n\tld a,#2\n\tcall 0x1601\n\tret\n", "IY = 1234h at CHAN-OPEN (1601h)");
    expect_error("\tld a,#2\n\tcall 0x1601\n\tld iy,#0\n\tld a,#'x'\n\trst 0x10\n\tret\n", "IY = 0000h at RST 10h");
    expect_error("\tld iy,#0x8000\n\tei\n\thalt\n\tret\n", "IY = 8000h at the 50 Hz interrupt");
    expect_error("\tld iy,#0\n\tret\n", "IY = 0000h at the return to BASIC");
    // ...and the rest of what the ROM needs.
    expect_error("\texx\n\tld hl,#0\n\texx\n\tret\n", "returned to BASIC with H'L' = 0000h, not the 2758h");
    expect_error("\tld a,#'x'\n\trst 0x10\n\tret\n", "prints on channel 'K'");
    expect_error("\tld a,(0x3D00)\n\tret\n", "read of 3D00h in the ROM");
    expect_error("\tcall 0x0DAF\n\tret\n", "went to 0DAFh in the ROM");
    expect_error("\tdi\n\thalt\n", "HALT at 8001h with interrupts disabled");
    expect_error("\tld hl,#0x5C3B\n\tres 3,(hl)\n1$:\tei\n\thalt\n\tjr 1$\n", "the key 'x' arrived in K mode");
    expect_error("\tld a,#2\n\tcall 0x1601\n\tld b,#30\n1$:\tld a,#13\n\trst 0x10\n\tdjnz 1$\n\tret\n",
                 "SCR-CT (5C8Ch) run out");
    // A write into the ROM goes nowhere and is counted; the run goes on (OUT (FEh) is the border,
    // not an exit).
    m = run_prog("\tld a,#0x55\n\tld (0x1000),a\n\tld (0x1001),a\n\tout (0xFE),a\n\tret\n", 0x8000, NULL, &rc);
    assert_int_equal(rc, 0);
    s = zx48_stats_get(m);
    assert_int_equal(s->end, ZX48_END_BASIC);
    assert_int_equal(s->rom_writes, 2);
    assert_int_equal(s->rom_write_addr, 0x1000);
    assert_int_equal(s->rom_write_pc, 0x8002);
    assert_int_equal(zx48_mem(m)[0x1000], 0);
    zx48_free(m);
    // A key through the IM 1 handler in L mode; data left under SP is lost to the handler's pushes
    // below the interrupt's return address (an SP trick needs interrupts off): BC = 80h | key.
    m = run_prog("\tld hl,#0x5C3B\n\tset 3,(hl)\n\tld de,#0xA5A5\n\tpush de\n\tpush de\n\tpush de\n\tpop de\n\tpop de\n\tpop de\n"
                 "1$:\tei\n\thalt\n\tbit 5,(hl)\n\tjr z,1$\n\tdi\n\tld hl,#-6\n\tadd hl,sp\n\tld a,(hl)\n"
                 "\tld bc,(0x5C08)\n\tld b,#0\n\tcp #0xA5\n\tret z\n\tset 7,b\n\tret\n",
                 0x8000, "Q", &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(zx48_stats_get(m)->usr_bc, 0x8000 | 'Q');
    zx48_free(m);
}

// The same program from 9000h and from 6000h (its stack below RAMTOP with it): only the second
// waits for the ULA, and the waits are the whole difference. It runs from the start of a frame
// (after a HALT) through the 192 screen lines.
static void test_contention(void **state) {
    (void)state;
    const char *src = "\tei\n\thalt\n\tld bc,#0x0800\n0$:\tdec bc\n\tld a,b\n\tor c\n\tjr nz,0$\n"
                      "\tld hl,#0xA000\n\tld b,#0\n1$:\tld a,(hl)\n\tdjnz 1$\n\tret\n";
    int rc;
    zx48_machine *hi = run_prog(src, 0x9000, NULL, &rc);
    assert_int_equal(rc, 0);
    zx48_machine *lo = run_prog(src, 0x6000, NULL, &rc);
    assert_int_equal(rc, 0);
    const zx48_stats *a = zx48_stats_get(hi), *b = zx48_stats_get(lo);
    assert_int_equal(a->contended_tstates, 0);
    assert_true(b->contended_tstates > 1000);
    assert_int_equal(b->tstates - a->tstates, b->contended_tstates);
    fprintf(stderr, "zx48: a %llu T-state loop through the screen lines waits %llu T-states for the ULA from 6000h, none from 9000h\n",
            (unsigned long long)(a->tstates - a->halted_tstates), (unsigned long long)b->contended_tstates);
    zx48_free(hi), zx48_free(lo);
}

// ---- the kernels ---------------------------------------------------------------------------------

// Both builds assembled at 6000h equal their 8000h build relocated there.
static void test_relocation(void **state) {
    (void)state;
    const char *root = getenv("RQ_ROOT") ? getenv("RQ_ROOT") : ".";
    const char *dir = rq_test_tmpdir("zx48_reloc");
    assert_int_equal(rq_test_run(NULL, NULL, "python3 %s/export/cpm/cpu/gen_handlers.py > %s/handlers.s", root, dir), 0);
    for (int k = 0; k < ZX48_NKERNELS; k++) {
        const zx48_kernel *kn = &zx48_kernels[k];
        assert_int_equal(rq_test_run(NULL, NULL,
                                     "(printf 'ORG = 0x6000\\nPACKED = %d\\n'; cat %s/export/zx48/cpu/zx48_io.s %s/export/cpm/cpu/chat.s) > %s/k.s",
                                     kn->packed, root, root, dir),
                         0);
        char path[4200];
        snprintf(path, sizeof path, "%s/k.s", dir);
        uint16_t org;
        uint8_t *bin, *rel = malloc(kn->size);
        size_t n;
        if (z80_assemble(path, dir, &org, &bin, &n)) fail_msg("%s", rq_last_error());
        assert_int_equal(org, 0x6000);
        assert_int_equal(n, kn->size);
        zx48_relocate(kn, 0x6000, rel);
        if (memcmp(bin, rel, n) != 0)
            fail_msg("kernel %d relocated to 6000h differs from its assembly there (stale library? run make)", k);
        assert_true(kn->nreloc > 50);
        free(bin), free(rel);
    }
    assert_true(zx48_kernels[0].size < 3072 && !zx48_kernels[0].packed);  // 2,048 bytes with layer 1's counter path
    assert_true(zx48_kernels[1].size > 10000 && zx48_kernels[1].packed);
}

// ---- a trained model -------------------------------------------------------------------------------

#define NQ 24
static char queries[NQ][96];

// Distinct queries of the bundled dataset, spread over it, and two of our own.
static int pick_queries(const char *data) {
    uint8_t *txt;
    size_t n;
    assert_int_equal(rq_read_file(data, &txt, &n), 0);
    int nq = 0, line = 0;
    snprintf(queries[nq++], sizeof queries[0], "HELLO?");
    snprintf(queries[nq++], sizeof queries[0], "what is a z80, and why is it slow");
    char *save = NULL;
    for (char *l = strtok_r((char *)txt, "\n", &save); l && nq < NQ; l = strtok_r(NULL, "\n", &save)) {
        char *bar = strchr(l, '|');
        if (l[0] == '#' || !bar || line++ % 97 || bar - l >= 90) continue;
        *bar = 0;
        snprintf(queries[nq++], sizeof queries[0], "%s", l);
    }
    free(txt);
    return nq;
}

typedef struct {
    uint32_t crc[8192];
    int n;
} crcs;

static void on_step(void *ctx, const int16_t *logits, int n) {
    crcs *c = ctx;
    if (c->n < 8192) c->crc[c->n++] = chat_logits_crc(logits, n);
}

// Export with flags, run all queries one-shot (one machine, a$ after a$) and compare answers and
// every step's logits with infer/; then the same queries typed at the '> ' prompt.
static void check_export(const rq_model *md, const char *ckpt, const char *flags, int nq, const char *ref, const crcs *rc_ref,
                         const char *kernel) {
    const char *dir = rq_test_tmpdir("zx48_model_run");
    char tap[4200], *out = NULL, *err = NULL;
    snprintf(tap, sizeof tap, "%s/CHAT.TAP", dir);
    int rc = rq_test_run(&out, &err, "%s export %s --target zx48 -o %s --json %s", rq_test_bin(), ckpt, tap, flags);
    if (rc) fail_msg("export %s: %s", flags, err);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "kernel")->valuestring, kernel);
    int org = (int)cJSON_GetObjectItem(j, "org")->valuedouble;
    cJSON_Delete(j);
    free(out), free(err);
    const rq_target *t = rq_target_find("zx48");
    char *args[NQ];
    for (int i = 0; i < nq; i++) args[i] = queries[i];
    FILE *o = tmpfile();
    const char *none[8] = {0};
    rq_run_opts ro = {.nargs = nq, .args = args, .debug_logits = 1, .out = o, .flag = none};
    rq_run_result r = {0};
    assert_int_equal(t->run_fn(tap, &ro, &r), 0);
    char *got = rq_test_slurp(o);
    fclose(o);
    if (strcmp(got, ref) != 0) fail_msg("zx48 %s answered\n%s\nexpected\n%s", flags, got, ref);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.n_crc, rc_ref->n);
    for (int i = 0; i < r.n_crc; i++)
        if (r.logit_crc[i] != rc_ref->crc[i]) fail_msg("zx48 %s: the logits of step %d differ", flags, i);
    double contended = cJSON_GetObjectItem(r.stats, "contended_tstates")->valuedouble;
    fprintf(stderr, "zx48 %-16s org %04Xh, %s kernel: %d answers and %d steps' logits == infer/, %.0f T-states per char (%.0f contended)\n",
            flags, org, kernel, nq, r.n_crc, (double)r.count / (double)r.tokens, contended);
    assert_true(org >= 0x8000 ? contended < 2000 : contended > 0);  // below 8000h the kernel itself waits
    rq_run_result_free(&r);
    free(got);
    // Chat mode: the same queries typed, then an empty line back to BASIC.
    zx48_machine *m = zx48_new(NULL);
    assert_int_equal(zx48_load_tap(m, tap), 0);
    char keys[NQ * 100], want[1 << 16];
    size_t nk = 0, nw = 0;
    const char *a = ref;
    for (int i = 0; i < nq; i++) {
        const char *e = strchr(a, '\n');
        nk += (size_t)snprintf(keys + nk, sizeof keys - nk, "%s\n", queries[i]);
        nw += (size_t)snprintf(want + nw, sizeof want - nw, "> %s\n%.*s\n", queries[i], (int)(e - a), a);
        a = e + 1;
    }
    snprintf(keys + nk, sizeof keys - nk, "\n");
    snprintf(want + nw, sizeof want - nw, "> \n");
    zx48_set_input(m, keys, strlen(keys));
    assert_int_equal(zx48_run(m), 0);
    assert_int_equal(zx48_stats_get(m)->end, ZX48_END_BASIC);
    assert_string_equal(zx48_output(m, NULL), want);
    zx48_free(m);
    (void)md;
}

static void test_trained_model(void **state) {
    (void)state;
    const char *root = getenv("RQ_ROOT") ? getenv("RQ_ROOT") : ".", *bin = rq_test_bin();
    const char *dir = rq_test_tmpdir("zx48_model");
    char data[4200], ckpt[4200];
    snprintf(data, sizeof data, "%s/examples/tinychat/chat.txt", root);
    rq_test_train_small_chat(dir, ckpt, sizeof ckpt);
    int nq = pick_queries(data);
    assert_true(nq >= 16);
    // The reference: infer/'s answers and the CRC of every step's logits.
    rq_model md;
    assert_int_equal(rq_model_open(ckpt, NULL, &md), 0);
    static crcs ref_crc;
    ref_crc.n = 0;
    char ref[1 << 14] = "";
    for (int i = 0; i < nq; i++) {
        char ans[256];
        chat_generate_steps(&md.chat, queries[i], (int)strlen(queries[i]), ans, sizeof ans, on_step, &ref_crc);
        strcat(ref, ans), strcat(ref, "\n");
    }
    // ... which is what `retroqat chat` prints.
    char *host = NULL;
    assert_int_equal(rq_test_run(&host, NULL, "%s chat %s \"%s\"", bin, ckpt, queries[1]), 0);
    assert_non_null(strstr(ref, host));
    free(host);
    // auto: every part of this model is faster sparse, so the small sparse-only kernel (a tie)
    check_export(&md, ckpt, "", nq, ref, &ref_crc, "sparse");
    check_export(&md, ckpt, "--layout sparse", nq, ref, &ref_crc, "sparse");
    check_export(&md, ckpt, "--org 6000h --layout packed", nq, ref, &ref_crc, "packed+sparse");
    rq_model_close(&md);
}

// ---- what fits and what does not ----------------------------------------------------------------

// A random dense chat model of the given widths (Q = K = 128), written to path.
static void random_model(const char *path, int L, const int *dims, uint64_t seed) {
    chatnet net;
    build_chatnet(&net, L, dims, 8);
    float *params = calloc(net.n_params, sizeof(float));
    pcg32 r;
    pcg32_seed(&r, seed, 3);
    for (size_t i = 0; i < net.n_params; i++) params[i] = 1.5f * pcg32_normal(&r);
    chatnet_quant q = {.in_shift = 3};
    for (int l = 0; l < L; l++) q.shift[l] = 3, q.bexp[l] = 4;
    chat_enc_cfg e = {.q_buckets = 128, .k_buckets = 128, .context = 8, .max_query = 64};
    char cs[64];
    for (int k = 0; k < 64; k++) cs[k] = (char)('A' + k % 26);
    size_t size = chat_image_size(L, dims);
    uint8_t *img = malloc(size);
    chat_imodel m;
    chatnet_to_image(&net, params, &q, &e, 12, cs, img, &m);
    rq_test_write_bytes(path, img, size);
    free(img), free(params);
    free_chatnet(&net);
}

static void test_fit_and_refusal(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("zx48_fit");
    char path[4200], tap[4200];
    snprintf(path, sizeof path, "%s/mid.rqi", dir);
    snprintf(tap, sizeof tap, "%s/MID.TAP", dir);
    // 256 -> 128 -> 96 -> 43 dense: 12,320 bytes of packed weights fit from 8000h with the packed
    // kernel and end above E400h (where CP/M's CCP would start), and answer as infer/ does.
    const int mid[] = {256, 128, 96, 43};
    random_model(path, 3, mid, 5);
    char *out = NULL, *err = NULL;
    if (rq_test_run(&out, &err, "%s export %s --target zx48 -o %s --json", rq_test_bin(), path, tap)) fail_msg("%s", err);
    cJSON *j = cJSON_Parse(out);
    assert_int_equal((int)cJSON_GetObjectItem(j, "org")->valuedouble, 0x8000);
    assert_true(cJSON_GetObjectItem(j, "end")->valuedouble > 0xE400);
    cJSON_Delete(j);
    free(out), free(err);
    rq_model md;
    assert_int_equal(rq_model_open(path, NULL, &md), 0);
    char want[1024] = "", *args[2] = {"hello there", "what is your name"};
    for (int i = 0; i < 2; i++) {
        char ans[256];
        chat_generate_steps(&md.chat, args[i], (int)strlen(args[i]), ans, sizeof ans, NULL, NULL);
        strcat(want, ans), strcat(want, "\n");
    }
    rq_model_close(&md);
    assert_int_equal(rq_test_run(&out, NULL, "%s run --target zx48 %s \"%s\" \"%s\"", rq_test_bin(), tap, args[0], args[1]), 0);
    assert_string_equal(out, want);
    free(out);

    // The deep architecture (config-deep.json, the default before z80fast), 256 -> 256 -> 192 -> 128 -> 43, dense: refused.
    snprintf(path, sizeof path, "%s/big.rqi", dir);
    snprintf(tap, sizeof tap, "%s/BIG.TAP", dir);
    const int big[] = {256, 256, 192, 128, 43};
    random_model(path, 4, big, 11);
    int rc = rq_test_run(NULL, &err, "%s export %s --target zx48 -o %s", rq_test_bin(), path, tap);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "big.rqi"));
    // "needs N bytes from 6000h, X over the A up to the top of RAM (kernel k, weights w, data d,
    // buffers b, stack s)": the parts add up, the excess is exact.
    unsigned need, org, over, avail, k, w, d, b, s;
    const char *p = strstr(err, "needs ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "needs %u bytes from %xh, %u over the %u up to the top of RAM (kernel %u, weights %u, data %u, buffers %u, stack %u)",
                            &need, &org, &over, &avail, &k, &w, &d, &b, &s),
                     9);
    assert_int_equal(org, 0x6000);
    assert_int_equal(need, k + w + d + b + s);
    assert_int_equal(avail, 0x10000 - 0x6000);
    assert_int_equal(over, need - avail);
    assert_non_null(strstr(err, "What fits: in the sparse layout at most"));
    assert_null(fopen(tap, "rb"));  // nothing written
    free(err);
    rc = rq_test_run(NULL, &err, "%s export %s --target zx48 -o %s --org 7F80h", rq_test_bin(), path, tap);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "a page address"));
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tape_round_trip),
        cmocka_unit_test(test_basic_loader),
        cmocka_unit_test(test_fuse_utils),
        cmocka_unit_test(test_corrupt_tapes),
        cmocka_unit_test(test_iy_and_rom_checks),
        cmocka_unit_test(test_contention),
        cmocka_unit_test(test_relocation),
        cmocka_unit_test(test_trained_model),
        cmocka_unit_test(test_fit_and_refusal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
