// test_target_qemu.c: the ColdFire MCF5307 and PowerPC 750 targets (export/qemu_target.h), run
// under qemu-m68k -cpu m5206 and qemu-ppc -cpu 750, against the host target (the integer
// contract of infer/ on this machine):
//   - the instruction-count plugin on loops of known length (exact counts and marks)
//   - the kernels (ColdFire assembly, PowerPC C) bit-exact against infer/ on random and extreme
//     inputs
//   - stories260K int8 and int4: 3 prompts x 64 tokens greedy and one sampled run, the same text
//     and the same logits CRC at every step as the host
//   - a chat model trained here (a small net on examples/tinychat, 3 epochs): same answers and
//     logits
//   - bad files: the target program itself prints "FILE: byte N: ..." and exits 2
//   - the ISA check (0 undecodable words in every program; > 0 for a 68020 / AltiVec word)
//   - the PowerPC prompt.txt -> output.txt mode; a model refused by --ram with its shortfall
// Skipped when the cross tools or qemu are absent, except under CI (CI=true), where it fails.
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/binio.h"
#include "base/err.h"
#include "export/lm_image_write.h"
#include "export/qemu_target.h"
#include "export/target.h"
#include "infer/lm_image.h"
#include "tests/cpu/kcheck_cases.c"

// snprintf into a fixed buffer that must not truncate (paths, names, JSON)
#define PATHF(buf, cap, ...) assert_true(snprintf(buf, cap, __VA_ARGS__) < (int)(cap))

extern const rq_target rq_target_host, rq_target_coldfire, rq_target_ppc;
extern const qt_target qt_coldfire, qt_ppc;

typedef struct {
    const rq_target *t;
    const qt_target *q;
    const char *loop_src;   // a counted loop: 1000 iterations of two instructions, exit code 7
    uint64_t loop_insns;    // every instruction it executes
    int loop_body_first;    // instructions before the loop body first runs
} target_case;

static const target_case CASES[] = {
    {&rq_target_coldfire, &qt_coldfire,
     "    .text\n    .globl _start\n_start:\n    move.l #1000,%d0\nbody:\n    subq.l #1,%d0\n    bne.s body\n"
     "done:\n    moveq #7,%d1\n    move.l #247,%d0\n    trap #0\n",
     1 + 2000 + 3, 1},
    {&rq_target_ppc, &qt_ppc,
     "    .text\n    .globl _start\n_start:\n    li 3,1000\n    mtctr 3\nbody:\n    addi 4,4,1\n    bdnz body\n"
     "done:\n    li 3,7\n    li 0,234\n    sc\n",
     2 + 2000 + 3, 2},
};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

static int usable(const target_case *c) {
    const rq_target *t = c->t;
    if (rq_tools_present(t->export_tools) && rq_tools_present(t->run_tools) && qu_plugin_path()) return 1;
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0) fail_msg("target %s: toolchain, qemu or the plugin missing (CI: failing)", t->name);
    fprintf(stderr, "target %s: toolchain, qemu or build/qemu_insn.so missing, skipped\n", t->name);
    return 0;
}

static void quiet_export(const rq_target *t, const rq_model *m, const rq_export_opts *o) {
    FILE *devnull = fopen("/dev/null", "w"), *save = stdout;
    stdout = devnull;  // the export summary
    int rc = t->export_fn(m, o);
    stdout = save;
    fclose(devnull);
    if (rc) fail_msg("target %s: export to %s failed: %s", t->name, o->out, rq_last_error());
}

typedef struct {
    char *text;
    rq_run_result r;
} run_out;

static run_out run(const rq_target *t, const char *art, const rq_run_opts *base) {
    run_out o = {0};
    rq_run_opts ro = *base;
    FILE *f = tmpfile();
    ro.out = f;
    int rc = t->run_fn(art, &ro, &o.r);
    if (rc) fail_msg("target %s: run of %s failed: %s", t->name, art, rq_last_error());
    o.text = rq_test_slurp(f);
    fclose(f);
    return o;
}

static void run_free(run_out *o) {
    free(o->text);
    rq_run_result_free(&o->r);
}

// The target's run equals the host's: text, exit code, token count, one CRC per step.
static void assert_same_run(const char *what, const run_out *host, const run_out *got) {
    if (strcmp(host->text, got->text) != 0) fail_msg("%s: printed\n%s\nexpected (host)\n%s", what, got->text, host->text);
    assert_int_equal(got->r.exit_code, 0);
    assert_int_equal(host->r.exit_code, 0);
    if (got->r.n_crc != host->r.n_crc || got->r.n_crc == 0) fail_msg("%s: %d logits CRCs, host %d", what, got->r.n_crc, host->r.n_crc);
    for (int i = 0; i < host->r.n_crc; i++)
        if (got->r.logit_crc[i] != host->r.logit_crc[i]) fail_msg("%s: the logits of step %d differ from the host's", what, i);
    if (got->r.tokens != host->r.tokens)
        fail_msg("%s: %llu tokens counted, host %llu", what, (unsigned long long)got->r.tokens, (unsigned long long)host->r.tokens);
    assert_string_equal(got->r.unit, "insns");
    assert_true(got->r.count > 0);
}

// ---- the plugin ----------------------------------------------------------------------------------

static void test_plugin_counts(void **state) {
    (void)state;
    for (int k = 0; k < NCASES; k++) {
        const target_case *c = &CASES[k];
        if (!usable(c)) continue;
        const char *dir = rq_test_tmpdir("qemu_loop");
        char src[600], bin[600];
        PATHF(src, sizeof src, "%s/loop.S", dir);
        PATHF(bin, sizeof bin, "%s/loop", dir);
        rq_test_write(src, c->loop_src);
        assert_int_equal(rq_test_run(NULL, NULL, "%s %s -nostdlib -static -o %s %s", c->q->cpu.cc, c->q->cpu.cflags[0], bin, src), 0);
        uint32_t body = qu_symbol(&c->q->cpu, bin, "body"), done = qu_symbol(&c->q->cpu, bin, "done");
        assert_true(body && done);
        qu_run run = {.bin = bin, .args = (const char *const[]){NULL}, .timeout = 60, .n_marks = 2, .marks = {body, done}};
        qu_result r;
        assert_int_equal(qu_run_program(&c->q->cpu, &run, &r), 0);
        assert_int_equal(r.p.exit_code, 7);
        assert_true(r.counted);
        assert_int_equal(r.insns, c->loop_insns);
        assert_int_equal(r.mark_calls[0], 1000);
        assert_int_equal(r.mark_first[0], c->loop_body_first);
        assert_int_equal(r.mark_calls[1], 1);
        assert_int_equal(r.mark_first[1], c->loop_insns - 3);
        qu_result_free(&r);
    }
}

// ---- the kernels -----------------------------------------------------------------------------------

static void collect(void *ctx, const char *name, int rows, int cols, uint32_t crc) {
    char *s = ctx;
    sprintf(s + strlen(s), "%s %d %d %08x\n", name, rows, cols, crc);
}

static void test_kernels_bit_exact(void **state) {
    (void)state;
    static char host[16384];
    host[0] = 0;
    kcheck_cases(collect, host);  // infer/'s reference C, here
    for (int k = 0; k < NCASES; k++) {
        const target_case *c = &CASES[k];
        if (!usable(c)) continue;
        const char *dir = rq_test_tmpdir("qemu_kcheck");
        const char *srcs[16];
        int n = 0;
        for (; c->q->cpu.sources[n]; n++) srcs[n] = c->q->cpu.sources[n];
        srcs[n++] = "tests/cpu/kcheck.c", srcs[n] = NULL;
        qu_cpu cpu = c->q->cpu;
        cpu.sources = srcs;
        char bin[600];
        PATHF(bin, sizeof bin, "%s/kcheck", dir);
        const char *defs[] = {"-DRT_ENTRY=kcheck_main", NULL};
        if (qu_build(&cpu, RQ_FAM_LM, 4096, defs, bin)) fail_msg("%s: %s", c->t->name, rq_last_error());
        assert_int_equal(qu_isa_check(&cpu, bin), 0);
        qu_run run = {.bin = bin, .args = (const char *const[]){NULL}, .timeout = 120};
        qu_result r;
        assert_int_equal(qu_run_program(&cpu, &run, &r), 0);
        assert_int_equal(r.p.exit_code, 0);
        if (strcmp(r.p.out, host) != 0) fail_msg("%s kernels differ from infer/:\n%s\nexpected\n%s", c->t->name, r.p.out, host);
        qu_result_free(&r);
    }
}

// ---- stories260K --------------------------------------------------------------------------------------

static char g_dirs[2][NCASES][600];  // the int8 folders, for the bad-input tests
static char g_tok[600];

static void stories_one(int wbits) {
    const char *model = rq_test_data("llama2c/stories260K.bin");
    if (!model) return;
    char mp[600];
    PATHF(mp, sizeof mp, "%s", model);
    const char *tok = rq_test_data("llama2c/tok512.bin");
    if (!tok) return;
    PATHF(g_tok, sizeof g_tok, "%s", tok);
    rq_open_opts oo = {.wbits = wbits};
    rq_model m;
    assert_int_equal(rq_model_open(mp, &oo, &m), 0);
    const char *tmp = rq_test_tmpdir(wbits == 8 ? "qemu_stories8" : "qemu_stories4");
    char host_art[600];
    PATHF(host_art, sizeof host_art, "%s/host.rqm", tmp);
    const char *none[8] = {0};
    rq_export_opts he = {.out = host_art, .flag = none};
    quiet_export(&rq_target_host, &m, &he);
    const char *prompts[] = {"Once upon a time", "Tim saw a big", ""};
    rq_run_opts runs[4];
    for (int i = 0; i < 3; i++)
        runs[i] = (rq_run_opts){.prompt = prompts[i], .steps = 64, .temp = 0, .topp = 0.9, .seed = 1, .tokenizer = g_tok,
                                .debug_logits = 1, .flag = none};
    runs[3] = (rq_run_opts){.prompt = "The dog", .steps = 64, .temp = 0.8, .topp = 0.9, .seed = 42, .tokenizer = g_tok,
                            .debug_logits = 1, .flag = none};
    run_out host[4];
    for (int i = 0; i < 4; i++) host[i] = run(&rq_target_host, host_art, &runs[i]);
    for (int k = 0; k < NCASES; k++) {
        const target_case *c = &CASES[k];
        if (!usable(c)) continue;
        char *dir = g_dirs[wbits == 8 ? 0 : 1][k];
        PATHF(dir, 600, "%s/%s", tmp, c->t->name);
        rq_export_opts eo = {.out = dir, .tokenizer = g_tok, .flag = none};
        quiet_export(c->t, &m, &eo);
        for (int i = 0; i < 4; i++) {
            run_out got = run(c->t, dir, &runs[i]);
            char what[200];
            PATHF(what, sizeof what, "%s int%d, prompt '%s', %s", c->t->name, wbits, runs[i].prompt, i < 3 ? "greedy" : "sampled");
            assert_same_run(what, &host[i], &got);
            if (i == 0) {
                const cJSON *ipf = cJSON_GetObjectItem(got.r.stats, "insns_per_forward");
                assert_non_null(ipf);
                fprintf(stderr, "%s int%d: %.0f instructions per token (64 positions, debug CRCs included)\n", c->t->name, wbits,
                        ipf->valuedouble);
            }
            run_free(&got);
        }
    }
    for (int i = 0; i < 4; i++) run_free(&host[i]);
    rq_model_close(&m);
}

static void test_stories260k(void **state) {
    (void)state;
    stories_one(8);
    stories_one(4);
}

// ---- a trained chat model --------------------------------------------------------------------------

static void test_chat_trained(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("qemu_chat"), *root = getenv("RQ_ROOT") ? getenv("RQ_ROOT") : ".";
    char cfg[600], out[600], ck[600];
    PATHF(cfg, sizeof cfg, "%s/small.json", dir);
    PATHF(out, sizeof out, "%s/run", dir);
    char json[1200];
    snprintf(json, sizeof json,
             "{\"model\":\"chat\",\"data\":\"%s/examples/tinychat/chat.txt\",\"seed\":1,\"net\":{\"q_buckets\":64,\"k_buckets\":64,"
             "\"context\":8,\"hidden\":[64,48],\"weights\":\"2bit\",\"max_query\":64,\"max_answer\":32},"
             "\"train\":{\"epochs\":3,\"batch\":128,\"lr\":0.04,\"evals\":1}}\n",
             root);
    rq_test_write(cfg, json);
    assert_int_equal(rq_test_run(NULL, NULL, "OPENBLAS_NUM_THREADS=1 %s train %s --out %s --quiet", rq_test_bin(), cfg, out), 0);
    PATHF(ck, sizeof ck, "%s/best.ckpt", out);
    rq_model m;
    assert_int_equal(rq_model_open(ck, NULL, &m), 0);
    assert_int_equal(m.family, RQ_FAM_CHAT);
    char *queries[] = {"hello", "who are you?", "what is a z80", "tell me a joke"};
    const char *none[8] = {0};
    rq_run_opts ro = {.nargs = 4, .args = queries, .debug_logits = 1, .flag = none};
    char host_art[600];
    PATHF(host_art, sizeof host_art, "%s/chat.rqi", dir);
    rq_export_opts he = {.out = host_art, .flag = none};
    quiet_export(&rq_target_host, &m, &he);
    run_out host = run(&rq_target_host, host_art, &ro);
    for (int k = 0; k < NCASES; k++) {
        const target_case *c = &CASES[k];
        if (!usable(c)) continue;
        char art[600];
        PATHF(art, sizeof art, "%s/%s", dir, c->t->name);
        rq_export_opts eo = {.out = art, .flag = none};
        quiet_export(c->t, &m, &eo);
        run_out got = run(c->t, art, &ro);
        char what[100];
        PATHF(what, sizeof what, "%s chat", c->t->name);
        assert_same_run(what, &host, &got);
        fprintf(stderr, "%s chat: %.0f instructions per character\n", c->t->name,
                cJSON_GetObjectItem(got.r.stats, "insns_per_forward")->valuedouble);
        // a corrupt chat image: the program refuses it
        char path[600], *err = NULL;
        PATHF(path, sizeof path, "%s/MODEL.RQI", art);
        rq_test_write(path, "RQCI\1\0\2\1");
        assert_int_equal(rq_test_run(NULL, &err, "%s run --target %s %s hello", rq_test_bin(), c->t->name, art), 2);
        if (!strstr(err, "MODEL.RQI: byte")) fail_msg("%s: corrupt chat image: %s", c->t->name, err);
        free(err);
        run_free(&got);
    }
    run_free(&host);
    rq_model_close(&m);
}

// ---- bad files ------------------------------------------------------------------------------------

static void copy_folder(const char *from, const char *to) {
    assert_int_equal(rq_test_run(NULL, NULL, "rm -rf %s && cp -r %s %s", to, from, to), 0);
}

// Run the program on a damaged copy of folder: exit code 2 and message on stderr.
static void expect_refusal(const target_case *c, const char *dir, const char *message) {
    char *err = NULL;
    int rc = rq_test_run(NULL, &err, "%s run --target %s %s -i hi -n 4 -t 0", rq_test_bin(), c->t->name, dir);
    if (rc != 2 || !strstr(err, message)) fail_msg("%s: expected exit 2 and '%s', got %d:\n%s", c->t->name, message, rc, err);
    free(err);
}

static void test_bad_files(void **state) {
    (void)state;
    for (int k = 0; k < NCASES; k++) {
        const target_case *c = &CASES[k];
        if (!usable(c) || !g_dirs[0][k][0]) continue;  // the stories test wrote the folders
        const char *tmp = rq_test_tmpdir("qemu_bad");
        char d[600], p[600];
        PATHF(d, sizeof d, "%s/%s", tmp, c->t->name);
        uint8_t *img;
        size_t n;
        PATHF(p, sizeof p, "%s/MODEL.RQM", g_dirs[0][k]);
        assert_int_equal(rq_read_file(p, &img, &n), 0);
        PATHF(p, sizeof p, "%s/MODEL.RQM", d);
        // truncated
        copy_folder(g_dirs[0][k], d);
        assert_int_equal(rq_write_atomic(p, img, n / 2), 0);
        expect_refusal(c, d, "MODEL.RQM: byte");
        // one byte changed inside the weights (the CRC catches it)
        img[n / 2] ^= 0x40;
        assert_int_equal(rq_write_atomic(p, img, n), 0);
        expect_refusal(c, d, "MODEL.RQM: byte 12");
        img[n / 2] ^= 0x40;
        // the little-endian image of the same model: refused, not converted
        lm_model lm;
        infer_err e;
        assert_int_equal(lm_image_load(img, n, &lm, &e), 0);  // now in host order
        rq_buf le = {0};
        assert_int_equal(lm_image_write(&lm, 0, &le), 0);
        assert_int_equal(rq_write_atomic(p, le.data, le.len), 0);
        expect_refusal(c, d, "MODEL.RQM: byte 4: a little-endian image");
        rq_buf_free(&le);
        free(img);
        // a little-endian tokenizer image; then none
        copy_folder(g_dirs[0][k], d);
        PATHF(p, sizeof p, "%s/TOK.RQT", d);
        uint8_t *tk;
        assert_int_equal(rq_read_file(p, &tk, &n), 0);
        tk[4] = 0;
        assert_int_equal(rq_write_atomic(p, tk, n), 0);
        expect_refusal(c, d, "TOK.RQT: byte 4: a little-endian image");
        free(tk);
        unlink(p);
        expect_refusal(c, d, "TOK.RQT: cannot open");
        // a folder of the other target
        const target_case *o = &CASES[(k + 1) % NCASES];
        char *err = NULL;
        assert_int_equal(rq_test_run(NULL, &err, "%s run --target %s %s -i hi", rq_test_bin(), o->t->name, g_dirs[0][k]), 2);
        assert_non_null(strstr(err, "exported for target"));
        free(err);
    }
}

// ---- the ISA check -------------------------------------------------------------------------------

static void test_isa_check(void **state) {
    (void)state;
    for (int k = 0; k < NCASES; k++) {
        const target_case *c = &CASES[k];
        if (!usable(c)) continue;
        for (int w = 0; w < 2; w++) {
            if (!g_dirs[w][k][0]) continue;
            char bin[600];
            PATHF(bin, sizeof bin, "%s/lm", g_dirs[w][k]);
            assert_int_equal(qu_isa_check(&c->q->cpu, bin), 0);
        }
        // the check sees a word of another CPU: a 68020 64-bit multiply, an AltiVec add
        const char *dir = rq_test_tmpdir("qemu_isa");
        char src[600], obj[600];
        PATHF(src, sizeof src, "%s/x.s", dir);
        PATHF(obj, sizeof obj, "%s/x.o", dir);
        int m68k = c->q == &qt_coldfire;
        rq_test_write(src, m68k ? "    .text\n    mulu.l %d0,%d1:%d2\n    rts\n" : "    .text\n    vaddubm 0,0,0\n    blr\n");
        const char *as = m68k ? "m68k-linux-gnu-as -mcpu=68020" : "powerpc-linux-gnu-as -maltivec";
        assert_int_equal(rq_test_run(NULL, NULL, "%s -o %s %s", as, obj, src), 0);
        assert_int_equal(qu_isa_check(&c->q->cpu, obj), 1);
    }
}

// ---- the PowerPC's prompt.txt -> output.txt, and --ram ----------------------------------------------------

static void test_ppc_files_and_ram(void **state) {
    (void)state;
    const target_case *c = &CASES[1];
    if (!usable(c) || !g_dirs[0][1][0]) return;
    const char *dir = g_dirs[0][1];
    char out[600];
    PATHF(out, sizeof out, "%s/output.txt", dir);
    unlink(out);
    const char *files[] = {"1", NULL};
    rq_run_opts ro = {.prompt = "Lily wanted", .steps = 40, .temp = 0, .seed = 1, .flag = files};
    run_out a = run(c->t, dir, &ro);
    run_out b = run(c->t, dir, &ro);
    assert_int_equal(a.r.exit_code, 0);
    assert_true(strlen(a.text) > 20);
    assert_string_equal(a.text, b.text);
    uint8_t *txt;
    size_t n;
    assert_int_equal(rq_read_file(out, &txt, &n), 0);
    char *twice = malloc(2 * strlen(a.text) + 1);
    sprintf(twice, "%s%s", a.text, a.text);
    assert_string_equal((char *)txt, twice);  // appended, run after run
    // the same text as the console mode (-i)
    rq_run_opts rc = {.prompt = "Lily wanted", .steps = 40, .temp = 0, .seed = 1, .flag = (const char *const[]){NULL, NULL}};
    run_out con = run(c->t, dir, &rc);
    assert_string_equal(con.text, a.text);
    free(twice), free(txt);
    run_free(&a), run_free(&b), run_free(&con);

    // stories260K int8 in 400,000 bytes: refused with the shortfall (need - ram), before and after
    // the compile; through the CLI: exit 2
    rq_model m;
    rq_open_opts oo = {.wbits = 8};
    char img[600];
    PATHF(img, sizeof img, "%s/MODEL.RQM", dir);
    assert_int_equal(rq_model_open(img, &oo, &m), 0);
    const long rams[] = {400000, 640000};  // refused before the compile (data alone), and after it
    for (int i = 0; i < 2; i++) {
        char ram[32], art[600];
        PATHF(ram, sizeof ram, "%ld", rams[i]);
        PATHF(art, sizeof art, "%s/small%d", rq_test_tmpdir("qemu_ram"), i);
        const char *fl[] = {ram, NULL};
        rq_export_opts eo = {.out = art, .tokenizer = g_tok, .flag = fl};
        assert_int_equal(c->t->export_fn(&m, &eo), RQ_EINPUT);
        long need = 0, short_by = 0;
        const char *s = strstr(rq_last_error(), "needs ");
        assert_non_null(s);
        assert_int_equal(sscanf(s, "needs %ld bytes, %ld bytes short", &need, &short_by), 2);
        assert_int_equal(short_by, need - rams[i]);
        assert_true(short_by > 0);
        struct stat st;
        PATHF(img, sizeof img, "%s/lm", art);
        assert_true(stat(img, &st) != 0);  // nothing left behind
    }
    rq_model_close(&m);
    char *err = NULL;
    assert_int_equal(rq_test_run(NULL, &err, "%s export %s/MODEL.RQM --target ppc -o %s/x -z %s --ram 400000", rq_test_bin(), dir,
                                 rq_test_tmpdir("qemu_ram"), g_tok),
                     2);
    assert_non_null(strstr(err, "bytes short"));
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_counts),     cmocka_unit_test(test_kernels_bit_exact),
        cmocka_unit_test(test_stories260k),       cmocka_unit_test(test_chat_trained),
        cmocka_unit_test(test_bad_files),         cmocka_unit_test(test_isa_check),
        cmocka_unit_test(test_ppc_files_and_ram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
