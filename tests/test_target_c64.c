// test_target_c64.c: the Commodore 64 target (export/c64/) under sim65 and on the C64 model.
//   - the 6502 kernels (c64_*.s) == infer/'s C, on random inputs, on the 6502 and against the
//     host's own computation of the same numbers
//   - stories260K int8 over several prompts and int4: text and every step's logits CRC identical
//     to the host target (the reference implementation of export/target.h)
//   - the REU path: stories260K int8's .prg on the C64 model (emu/c64.h) with the image in the
//     REU: the host's text and logits step by step, the device's DMA count = the program's
//   - sim65 and retroqat's 6502 (--machine m6502) agree on a random model: text, logits, cycles
//   - a corrupt REU image or tokenizer -> "FILE: byte N: ..." and exit 2, not garbage (sim65 and
//     the C64 model; a missing tokenizer on drive 8; an REU image of no REU's size)
//   - models that do not fit RAM or the largest REU are refused with the shortfall in bytes
//   - the chat model (trained here): answers and logits == infer/ on sim65, m6502 and the C64
//     model, its weights in RAM and in the REU; the "> " loop from standard input
//   - chat_layer.s == infer/'s chat_layer_forward on random layers (widths, wraps, shifts, ReLU)
// Skipped (outside CI) when cc65, sim65, cc1541 or python3's pycparser is missing.
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/crc32.h"
#include "export/c64/c64_build.h"
#include "export/c64/c64_machine.h"
#include "export/c64/cpu/test_kernels.h"
#include "export/rt_build.h"
#include "export/target.h"
#include "infer/chat_kernel.h"
#include "infer/lm_gen.h"
#include "infer/lm_ops.h"
#include "model/llama.h"

static const rq_target *c64(void) { return rq_target_find("c64"); }

static void chat_step_crc(void *ctx, const int16_t *logits, int n) {
    struct {
        uint32_t *c;
        int *n;
    } *x = ctx;
    if (*x->n < 512) x->c[(*x->n)++] = chat_logits_crc(logits, n);
}

static int usable(void) {
    const char *ci = getenv("CI");
    int ok = rq_tools_present(c64()->export_tools) && rq_tools_present(c64()->run_tools) &&
             rq_test_run(NULL, NULL, "python3 -c 'import pycparser'") == 0;
    if (!ok) {
        fprintf(stderr, "c64: cc65 / sim65 / cc1541 / pycparser missing%s\n", ci && !strcmp(ci, "true") ? " (CI: failing)" : ", skipped");
        if (ci && !strcmp(ci, "true")) fail_msg("c64 tools missing");
    }
    return ok;
}

static int export_flags(const rq_target *t, const rq_model *m, const char *out, const char *tok, const char *const *flags) {
    rq_export_opts eo = {.out = out, .tokenizer = tok, .flag = flags};
    FILE *devnull = fopen("/dev/null", "w"), *save = stdout;
    stdout = devnull;
    int rc = t->export_fn(m, &eo);
    stdout = save;
    fclose(devnull);
    return rc;
}
static int export_quiet(const rq_target *t, const rq_model *m, const char *out, const char *tok) {
    const char *none[8] = {0};
    return export_flags(t, m, out, tok, none);
}

static char *slurp(FILE *f) {
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *s = calloc(1, (size_t)n + 1);
    if (n > 0) assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    return s;
}

// One run of t; machine: the c64 target's --machine (NULL: its default, sim65); temp 0: greedy.
static void run_on(const rq_target *t, const char *machine, const char *art, const char *tok, const char *prompt, int steps, double temp,
                   char **text, rq_run_result *r) {
    const char *flags[8] = {machine};
    FILE *out = tmpfile();
    rq_run_opts ro = {.prompt = prompt, .steps = steps, .temp = temp, .topp = 0.9, .seed = 7, .tokenizer = tok, .debug_logits = 1,
                      .timeout = 600, .out = out, .flag = flags};
    memset(r, 0, sizeof *r);
    if (t->run_fn(art, &ro, r)) fail_msg("%s run: %s", t->name, rq_last_error());
    *text = slurp(out);
    fclose(out);
}
static void run_one(const rq_target *t, const char *art, const char *tok, const char *prompt, int steps, double temp, char **text,
                    rq_run_result *r) {
    run_on(t, NULL, art, tok, prompt, steps, temp, text, r);
}

// stories260K with `wbits` weights: c64 == host for every prompt, text and logits step by step;
// greedy, or sampled (temperature 1, top-p 0.9) for the prompts from `sampled` on.
static void check_stories(int wbits, const char *const *prompts, int n, int steps, int sampled) {
    const char *bin = rq_test_data("llama2c/stories260K.bin");
    if (!bin) return;
    char model[600], tok[600], dir[700], rqm[720];
    snprintf(model, sizeof model, "%s", bin);
    snprintf(tok, sizeof tok, "%s", rq_test_data("llama2c/tok512.bin"));
    snprintf(dir, sizeof dir, "%s/c64", rq_test_tmpdir(wbits == 8 ? "c64_int8" : "c64_int4"));
    snprintf(rqm, sizeof rqm, "%s.rqm", dir);
    rq_open_opts oo = {.wbits = wbits};
    rq_model m;
    assert_int_equal(rq_model_open(model, &oo, &m), 0);
    if (export_quiet(c64(), &m, dir, tok)) fail_msg("c64 export: %s", rq_last_error());
    assert_int_equal(export_quiet(rq_target_find("host"), &m, rqm, NULL), 0);
    for (int k = 0; k < n; k++) {
        char *want, *got;
        rq_run_result rh, rc;
        double temp = k >= sampled ? 1.0 : 0;
        run_one(rq_target_find("host"), rqm, tok, prompts[k], steps, temp, &want, &rh);
        run_one(c64(), dir, tok, prompts[k], steps, temp, &got, &rc);
        assert_int_equal(rc.exit_code, 0);
        if (strcmp(got, want)) fail_msg("int%d '%s': c64 printed\n%s\nthe host\n%s", wbits, prompts[k], got, want);
        assert_int_equal(rc.n_crc, rh.n_crc);
        for (int i = 0; i < rh.n_crc; i++)
            if (rc.logit_crc[i] != rh.logit_crc[i]) fail_msg("int%d '%s': logits of step %d differ", wbits, prompts[k], i);
        assert_true(rc.count > 0);
        assert_int_equal(rc.tokens, (uint64_t)rh.n_crc);
        cJSON *dma = cJSON_GetObjectItem(rc.stats, "reu_dma_bytes");
        assert_true(dma && dma->valuedouble > 0);
        fprintf(stderr, "c64 int%d '%s': %d steps, %.1f M cycles per forward\n", wbits, prompts[k], rc.n_crc, (double)rc.count / rc.n_crc / 1e6);
        if (k == 0 && wbits == 8) {
            // the REU path: the .prg in the C64 model, weights and KV cache by DMA through $DF00
            char *got64;
            rq_run_result r64;
            run_on(c64(), "c64", dir, tok, prompts[k], steps, temp, &got64, &r64);
            assert_int_equal(r64.exit_code, 0);
            if (strcmp(got64, want)) fail_msg("int8 '%s' through the REU: printed\n%s\nthe host\n%s", prompts[k], got64, want);
            assert_int_equal(r64.n_crc, rh.n_crc);
            for (int i = 0; i < rh.n_crc; i++)
                if (r64.logit_crc[i] != rh.logit_crc[i]) fail_msg("int8 '%s' through the REU: logits of step %d differ", prompts[k], i);
            assert_int_equal(r64.tokens, (uint64_t)rh.n_crc);
            // the REU device moved what the program says it asked for, at a cycle per byte, and
            // the cycle count is the CPU's plus those
            double dev = cJSON_GetObjectItem(r64.stats, "reu_dma_bytes")->valuedouble;
            assert_true(dev > 1e6);
            assert_true(dev == cJSON_GetObjectItem(r64.stats, "program_dma_bytes")->valuedouble);
            assert_true(dev == cJSON_GetObjectItem(r64.stats, "reu_dma_cycles")->valuedouble);
            assert_true((double)r64.count == cJSON_GetObjectItem(r64.stats, "cpu_cycles")->valuedouble + dev);
            assert_true(cJSON_GetObjectItem(r64.stats, "rom_reads")->valuedouble == 0);
            fprintf(stderr, "c64 int8 '%s' on the C64 model: %.1f M cycles per forward (%.2f M of them REU DMA), sim65 build %.1f M\n", prompts[k],
                    (double)r64.count / r64.n_crc / 1e6, dev / r64.n_crc / 1e6, (double)rc.count / rc.n_crc / 1e6);
            free(got64);
            rq_run_result_free(&r64);
        }
        free(want), free(got);
        rq_run_result_free(&rh), rq_run_result_free(&rc);
    }
    rq_model_close(&m);
}

static void test_stories_int8(void **state) {
    (void)state;
    if (!usable()) return;
    const char *prompts[] = {"Once upon a time", "", "Tim saw a big", "Lily"};
    check_stories(8, prompts, 4, 5, 3);  // "Lily": 3 tokens sampled
}

static void test_stories_int4(void **state) {
    (void)state;
    if (!usable()) return;
    const char *prompts[] = {"Lily", "The dog"};
    check_stories(4, prompts, 2, 4, 1);  // "The dog": sampled
}

// A random llama2.c model (tok512's vocabulary) as a .bin.
static void random_llama(const char *path, int dim, int hidden, int layers, int seq, uint64_t seed) {
    llama_config c = {.dim = dim, .hidden_dim = hidden, .n_layers = layers, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 512,
                      .seq_len = seq, .shared_classifier = 1};
    llama_model m;
    assert_int_equal(llama_build(&m, &c), 0);
    llama_init_random(&m, seed);
    assert_int_equal(llama_save_v0(&m, path), 0);
    llama_free(&m);
}

// The checks test_kernels.c prints, recomputed on the host from the same cases (test_kernels.h).
static uint32_t host_mv_check(void) {
    static kt_mv c;
    uint8_t out[4 * KT_MAXR];
    int32_t acc[KT_MAXR];
    uint32_t check = 0;
    lm_rng r;
    lm_rng_seed(&r, 1);
    for (int t = 0; t < KT_MV_CASES; t++) {
        kt_mv_case(&r, t, &c);
        kt_mv_ref(&c, out, acc);
        check = crc32_update(check, out, (size_t)c.rows * kt_mode_bytes(c.mode));
    }
    return check;
}

static uint32_t host_rq_check(void) {
    int32_t acc[KT_RQ_N], init[KT_RQ_N];
    lm_rq rq[KT_RQ_N];
    uint8_t out[4 * KT_RQ_N];
    uint32_t check = 0;
    lm_rng r;
    lm_rng_seed(&r, 2);
    for (int mode = 0; mode < 4; mode++) {
        kt_rq_case(&r, mode, acc, rq, init);
        kt_rq_ref(mode, acc, rq, init, out);
        check = crc32_update(check, out, (size_t)KT_RQ_N * kt_mode_bytes(mode));
    }
    return check;
}

static uint32_t host_norm_check(void) {
    static kt_norm c;
    int8_t out[KT_NORM_MAXN];
    uint32_t check = 0;
    lm_rng r;
    lm_rng_seed(&r, 3);
    for (int t = 0; t < KT_NORM_CASES; t++) {
        kt_norm_case(&r, t, &c);
        lm_rmsnorm_q8(out, c.x, c.g, c.gk, c.n, c.eps);
        check = crc32_update(check, out, (size_t)c.n);
    }
    return check;
}

static uint32_t host_att_check(void) {
    static kt_att c;
    static uint8_t out[KT_ATT_BYTES];
    uint32_t check = 0;
    lm_rng r;
    lm_rng_seed(&r, 4);
    for (int t = 0; t < KT_ATT_CASES; t++) {
        kt_att_case(&r, t, &c);
        check = crc32_update(check, out, kt_att_ref(&c, out));
    }
    return check;
}

static uint32_t host_smx_check(void) {
    static int32_t s[KT_SMX_N], cm_ck_dlim[3];
    static uint16_t p[KT_SMX_N];
    uint32_t check = 0;
    lm_rng r;
    lm_rng_seed(&r, 5);
    for (int t = 0; t < KT_SMX_CASES; t++) {
        int n = kt_smx_case(&r, t, s, cm_ck_dlim);
        lm_softmax_q15(p, s, n, cm_ck_dlim[0], (int)cm_ck_dlim[1], cm_ck_dlim[2]);
        check = crc32_update(check, p, 2 * (size_t)n);
    }
    static int8_t v[KT_PVL_N * KT_ATT_HS];  // p*v over the last softmax
    int32_t o[KT_ATT_HS] = {0};
    for (int i = 0; i < KT_PVL_N * KT_ATT_HS; i++) v[i] = kt_val(&r);
    for (int t = 0; t < KT_PVL_N; t++)
        for (int i = 0; i < KT_ATT_HS; i++) o[i] += (int32_t)p[t] * v[t * KT_ATT_HS + i];
    return crc32_update(check, o, sizeof o);
}

// The 6502 kernels (c64_*.s) == infer/'s C on the 6502 == infer/'s C on the host.
static void test_kernels(void **state) {
    (void)state;
    if (!usable()) return;
    const char *tok = rq_test_data("llama2c/tok512.bin");
    if (!tok) return;
    char tk[600], bin[700], dir[700], bdir[720], exe[760];
    snprintf(tk, sizeof tk, "%s", tok);
    const char *tmp = rq_test_tmpdir("c64_kernels");
    snprintf(bin, sizeof bin, "%s/r.bin", tmp);
    snprintf(dir, sizeof dir, "%s/out", tmp);
    random_llama(bin, 32, 40, 1, 16, 3);
    rq_open_opts oo = {.wbits = 4};
    rq_model m;
    assert_int_equal(rq_model_open(bin, &oo, &m), 0);
    if (export_quiet(c64(), &m, dir, tk)) fail_msg("c64 export: %s", rq_last_error());
    rq_model_close(&m);
    // the kernel test program, linked in the export's build folder (its model header), with the
    // widest kernels (255 int8 columns, 128 int4 bytes)
    snprintf(bdir, sizeof bdir, "%s/build", dir);
    snprintf(exe, sizeof exe, "%s/test_kernels.sim", bdir);
    c64_build_cfg b = {.root = rq_source_dir(), .bdir = bdir, .tok_bytes = 16, .prompt_max = 1, .wbits = 4, .maxc8 = 255, .maxb4 = 128,
                       .hs = KT_ATT_HS, .test_main = "export/c64/cpu/test_kernels.c"};
    long shortfall = 0;
    if (c64_compile(&b, "sim6502", exe, &shortfall)) fail_msg("test_kernels build: %s", rq_last_error());
    char *out = NULL;
    assert_int_equal(rq_test_run(&out, NULL, "sim65 '%s'", exe), 0);
    const struct {
        const char *name;
        uint32_t (*host)(void);
        int trials;
    } k[] = {{"rq", host_rq_check, 4}, {"mv", host_mv_check, KT_MV_CASES}, {"norm", host_norm_check, KT_NORM_CASES},
               {"att", host_att_check, KT_ATT_CASES}, {"smx", host_smx_check, KT_SMX_CASES + 1}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s %d 0 %x\n", k[i].name, k[i].trials, k[i].host());
        if (!strstr(out, want)) fail_msg("kernel %s: expected '%.*s', the 6502 printed:\n%s", k[i].name, (int)strlen(want) - 1, want, out);
    }
    free(out);
}

// chat_layer.s (the chat model's layer in 6502 assembly) against infer/'s chat_layer_forward:
// test_chatk.c's random layers under sim65, the same numbers recomputed here.
static uint32_t host_chatk_check(void) {
    static uint8_t W[16 * 16], B[2 * 16];
    static int16_t X[64], Y[16];
    lm_rng r;
    uint32_t check = 0;
    lm_rng_seed(&r, 42);
    for (int t = 0; t < 80; t++) {
        int n_in = t < 4 ? 64 - t : 1 + (int)lm_rng_below(&r, 64);
        int n_out = 1 + (int)lm_rng_below(&r, 16), rb = (n_in + 3) / 4;
        for (int i = 0; i < n_out * rb; i++) W[i] = (uint8_t)lm_rng_below(&r, 256);
        if (n_in % 4)
            for (int i = 0; i < n_out; i++) W[i * rb + rb - 1] &= (uint8_t)((1 << (2 * (n_in % 4))) - 1);
        for (int i = 0; i < 2 * n_out; i++) B[i] = (uint8_t)lm_rng_below(&r, 256);
        for (int i = 0; i < n_in; i++) {
            uint32_t k = lm_rng_below(&r, 8);
            X[i] = k < 4 ? 0 : k == 4 ? (int16_t)(lm_rng_below(&r, 2) ? 32767 : -32768) : (int16_t)((int32_t)lm_rng_below(&r, 65536) - 32768);
            if (t % 5 == 2 && i >= 4 && i < 16) X[i] = 0;
        }
        int shift = (int)lm_rng_below(&r, 16), relu = (int)lm_rng_below(&r, 2);
        chat_layer_forward(W, B, n_in, n_out, X, shift, relu, Y, NULL);
        check = (check << 1 | check >> 31) ^ chat_logits_crc(Y, n_out);
    }
    return check;
}

static void test_chat_kernel(void **state) {
    (void)state;
    if (!usable()) return;
    char bdir[700], exe[760];
    snprintf(bdir, sizeof bdir, "%s", rq_test_tmpdir("c64_chatk"));
    snprintf(exe, sizeof exe, "%s/test_chatk.sim", bdir);
    c64_build_cfg b = {.root = rq_source_dir(), .bdir = bdir, .chat_defs = "-DCHAT_MAX_WIDTH=64 -DCHAT_MAX_BUCKETS=64", .chat_width = 64,
                       .test_main = "export/c64/cpu/test_chatk.c"};
    long shortfall = 0;
    if (c64_compile(&b, "sim6502", exe, &shortfall)) fail_msg("test_chatk build: %s", rq_last_error());
    char *out = NULL;
    assert_int_equal(rq_test_run(&out, NULL, "sim65 '%s'", exe), 0);
    unsigned trials, check;
    if (sscanf(out, "chatk %u %x", &trials, &check) != 2 || trials != 80) fail_msg("test_chatk printed: %s", out);
    assert_int_equal(check, host_chatk_check());
    free(out);
}

// Corrupt inputs of the target program: a message naming the file and byte, exit code 2.
// A small random model's export, made once for the tests that share it.
static const char *small_export(void) {
    static char dir[700];
    if (dir[0]) return dir;
    const char *tmp = rq_test_tmpdir("c64_small");
    char tk[600], bin[700];
    snprintf(tk, sizeof tk, "%s", rq_test_data("llama2c/tok512.bin"));
    snprintf(bin, sizeof bin, "%s/r.bin", tmp);
    snprintf(dir, sizeof dir, "%s/out", tmp);
    random_llama(bin, 32, 48, 2, 16, 4);
    rq_model m;
    assert_int_equal(rq_model_open(bin, NULL, &m), 0);
    if (export_quiet(c64(), &m, dir, tk)) fail_msg("c64 export: %s", rq_last_error());
    rq_model_close(&m);
    return dir;
}

static void test_corrupt_inputs(void **state) {
    (void)state;
    if (!usable()) return;
    const char *dir = small_export();
    struct {
        const char *file;
        long at;       // byte to flip (-1: truncate the file to 40 bytes)
        const char *want;
    } cases[] = {
        {"model.reu", 20000, "model.reu: byte 12: CRC mismatch"},
        {"model.reu", 0, "model.reu: byte 0: bad magic"},
        {"model.reu", 16, "model.reu: byte 16: header field 0"},
        {"tok.tok", 100, "tok.tok: byte "},
        {"tok.tok", -1, "tok.tok: byte "},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char cmd[3000], *err = NULL;
        snprintf(cmd, sizeof cmd, "cd '%s' && rm -rf bad && mkdir bad && cp model.reu tok.tok bad/ && ", dir);
        if (cases[k].at >= 0)
            snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd),
                     "printf '\\377' | dd of=bad/%s bs=1 seek=%ld conv=notrunc 2>/dev/null && ", cases[k].file, cases[k].at);
        else
            snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), "truncate -s 40 bad/%s && ", cases[k].file);
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), "cd bad && sim65 ../c64.sim -m model.reu -k tok.tok -i 'Once' -n 3");
        int rc = rq_test_run(NULL, &err, "%s", cmd);
        if (rc != 2 || !strstr(err, cases[k].want) || !strstr(err, "retroqat: "))
            fail_msg("case %zu: exit %d, stderr '%s' (expected '%s')", k, rc, err, cases[k].want);
        free(err);
    }
    // the .prg on the C64 model: the image in the REU checked by DMA, the tokenizer from drive 8
    struct {
        const char *file;
        long at;  // byte to flip; -1: truncate to 40 bytes; -2: remove the file
        const char *want;
        int rc;   // the runner's return (RQ_EINPUT: it refused the REU image itself)
    } mcases[] = {
        {"model.reu", 20000, "model.reu: byte 12: CRC mismatch", 0},
        {"model.reu", 1, "model.reu: byte 0: no model image in the REU", 0},
        {"model.reu", 16, "model.reu: byte 16: header field 0", 0},
        {"model.reu", -1, "40 bytes: an REU image is the REU's whole memory", RQ_EINPUT},
        {"tok.tok", 100, "tok.tok: byte ", 0},
        {"tok.tok", -1, "tok.tok: byte ", 0},
        {"tok.tok", -2, "tok.tok: cannot open the tokenizer", 0},
    };
    for (size_t k = 0; k < sizeof mcases / sizeof mcases[0]; k++) {
        char cmd[3000], bad[760], prg[760], reu[760];
        snprintf(cmd, sizeof cmd, "cd '%s' && rm -rf bad && mkdir bad && cp model.reu tok.tok bad/", dir);
        if (mcases[k].at >= 0)
            snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " && printf '\\377' | dd of=bad/%s bs=1 seek=%ld conv=notrunc 2>/dev/null",
                     mcases[k].file, mcases[k].at);
        else
            snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), mcases[k].at == -1 ? " && truncate -s 40 bad/%s" : " && rm bad/%s", mcases[k].file);
        assert_int_equal(rq_test_run(NULL, NULL, "%s", cmd), 0);
        snprintf(bad, sizeof bad, "%s/bad", dir), snprintf(prg, sizeof prg, "%s/retroqat.prg", dir), snprintf(reu, sizeof reu, "%s/bad/model.reu", dir);
        const char *argv[] = {"retroqat", "-iOnce", "-n3", NULL};
        c64m_run p = {.machine = "c64", .prog = prg, .reu = reu, .dir = bad, .argc = 3, .argv = argv, .timeout = 120};
        c64m_result r;
        int rc = c64m_run_program(&p, &r);
        const char *msg = mcases[k].rc ? rq_last_error() : r.err;
        if (rc != mcases[k].rc || (!rc && (r.exit_code != 2 || !strstr(msg, "retroqat: "))) || !strstr(msg, mcases[k].want))
            fail_msg("C64 case %zu: rc %d exit %d, '%s' (expected '%s')", k, rc, r.exit_code, msg, mcases[k].want);
        c64m_result_free(&r);
    }
}

// The same export under cc65's sim65 and under retroqat's 6502 with sim65's rules: the same
// text, logits, token count and cycle count.
static void test_machines_agree(void **state) {
    (void)state;
    if (!usable()) return;
    const char *dir = small_export();
    char tk[600];
    snprintf(tk, sizeof tk, "%s", rq_test_data("llama2c/tok512.bin"));
    const char *prompts[] = {"Once upon a time", "Tim"};
    for (int k = 0; k < 2; k++) {
        char *a, *b;
        rq_run_result ra, rb;
        run_on(c64(), NULL, dir, tk, prompts[k], 10, 0, &a, &ra);
        run_on(c64(), "m6502", dir, tk, prompts[k], 10, 0, &b, &rb);
        assert_string_equal(a, b);
        assert_int_equal(ra.exit_code, rb.exit_code);
        assert_int_equal(ra.n_crc, rb.n_crc);
        assert_memory_equal(ra.logit_crc, rb.logit_crc, sizeof(uint32_t) * (size_t)ra.n_crc);
        assert_int_equal(ra.tokens, rb.tokens);
        if (ra.count != rb.count) fail_msg("'%s': sim65 %llu cycles, m6502 %llu", prompts[k], (unsigned long long)ra.count, (unsigned long long)rb.count);
        assert_true(ra.count > 1000000);
        free(a), free(b);
        rq_run_result_free(&ra), rq_run_result_free(&rb);
    }
}

// What does not fit is refused with the shortfall in bytes: the KV cache beyond the largest REU,
// the attention buffers beyond the C64's RAM.
static void test_refusals(void **state) {
    (void)state;
    if (!usable()) return;
    const char *tmp = rq_test_tmpdir("c64_refuse");
    char tk[600], bin[700], dir[700];
    snprintf(tk, sizeof tk, "%s", rq_test_data("llama2c/tok512.bin"));
    const struct {
        int dim, layers, seq;
        const char *want;
    } cases[] = {
        {64, 8, 60000, "largest REU has"},
        {32, 1, 6000, "does not fit the C64's RAM"},
    };
    for (int k = 0; k < 2; k++) {
        snprintf(bin, sizeof bin, "%s/r%d.bin", tmp, k);
        snprintf(dir, sizeof dir, "%s/out%d", tmp, k);
        random_llama(bin, cases[k].dim, 48, cases[k].layers, cases[k].seq, 5);
        rq_model m;
        assert_int_equal(rq_model_open(bin, NULL, &m), 0);
        int rc = export_quiet(c64(), &m, dir, tk);
        rq_model_close(&m);
        assert_int_equal(rc, RQ_EINPUT);
        const char *msg = rq_last_error();
        if (!strstr(msg, cases[k].want) || !strstr(msg, "bytes short")) fail_msg("refusal %d: '%s'", k, msg);
    }
}

// The chat model: a small one trained here, exported, answering on sim65, on retroqat's 6502
// (sim65's rules) and as a .prg on the C64 model exactly as infer/ does (the host's `retroqat
// chat`), logits step by step; the "> " loop reading standard input.
static void test_chat(void **state) {
    (void)state;
    if (!usable()) return;
    const char *tmp = rq_test_tmpdir("c64_chat");
    char cfg[700], run[700], ckpt[760], dir[760];
    rq_test_chat_fixture(tmp, 30, cfg, sizeof cfg);
    snprintf(run, sizeof run, "%s/run", tmp);
    snprintf(ckpt, sizeof ckpt, "%s/best.ckpt", run);
    snprintf(dir, sizeof dir, "%s/c64", tmp);
    assert_int_equal(rq_test_run(NULL, NULL, "'%s' train '%s' --out '%s' --quiet", rq_test_bin(), cfg, run), 0);
    rq_model m;
    assert_int_equal(rq_model_open(ckpt, NULL, &m), 0);
    if (export_quiet(c64(), &m, dir, NULL)) fail_msg("c64 chat export: %s", rq_last_error());
    char *queries[] = {"hello", "who are you", "how much ram", "bye now"};
    char want[1024] = "";
    uint32_t crc[512];
    int ncrc = 0;
    for (int k = 0; k < 4; k++) {
        char ans[256];
        // chat_generate_steps with a CRC per step: infer/'s reference, what `retroqat chat` runs
        struct {
            uint32_t *c;
            int *n;
        } ctx = {crc, &ncrc};
        chat_generate_steps(&m.chat, queries[k], (int)strlen(queries[k]), ans, sizeof ans, chat_step_crc, &ctx);
        strcat(want, ans), strcat(want, "\n");
    }
    assert_true(ncrc > 8);
    const char *machines[] = {NULL, "m6502", "c64"};
    uint64_t cycles[3];
    for (int i = 0; i < 3; i++) {
        const char *flags[8] = {machines[i]};
        FILE *out = tmpfile();
        rq_run_opts ro = {.nargs = 4, .args = queries, .debug_logits = 1, .timeout = 300, .out = out, .flag = flags};
        rq_run_result r = {0};
        if (c64()->run_fn(dir, &ro, &r)) fail_msg("chat on %s: %s", machines[i] ? machines[i] : "sim65", rq_last_error());
        char *got = slurp(out);
        fclose(out);
        if (strcmp(got, want)) fail_msg("chat on %s answered\n%s\ninfer/ answers\n%s", machines[i] ? machines[i] : "sim65", got, want);
        assert_int_equal(r.exit_code, 0);
        assert_int_equal(r.n_crc, ncrc);
        for (int s = 0; s < ncrc; s++)
            if (r.logit_crc[s] != crc[s]) fail_msg("chat on %s: logits of step %d differ", machines[i] ? machines[i] : "sim65", s);
        assert_int_equal(r.tokens, strlen(want) - 4);  // the answers' characters
        cycles[i] = r.count;
        free(got);
        rq_run_result_free(&r);
    }
    assert_true(cycles[0] == cycles[1]);
    fprintf(stderr, "c64 chat (%d-byte image): %.0f cycles per character on sim65, %.0f on the C64 model\n", (int)m.image_bytes,
            (double)cycles[0] / (double)(strlen(want) - 4), (double)cycles[2] / (double)(strlen(want) - 4));
    // the weights in the REU (what a model too big for the RAM gets): the same answers and logits
    char rdir[800];
    snprintf(rdir, sizeof rdir, "%s/reu", tmp);
    const char *reu_flag[8] = {NULL, "1"};  // --chat-reu
    if (export_flags(c64(), &m, rdir, NULL, reu_flag)) fail_msg("c64 chat export --chat-reu: %s", rq_last_error());
    {
        const char *flags[8] = {"c64"};
        FILE *out = tmpfile();
        rq_run_opts ro = {.nargs = 4, .args = queries, .debug_logits = 1, .timeout = 300, .out = out, .flag = flags};
        rq_run_result r = {0};
        if (c64()->run_fn(rdir, &ro, &r)) fail_msg("chat through the REU: %s", rq_last_error());
        char *got = slurp(out);
        fclose(out);
        if (strcmp(got, want)) fail_msg("chat through the REU answered\n%s\ninfer/ answers\n%s", got, want);
        assert_int_equal(r.n_crc, ncrc);
        assert_memory_equal(r.logit_crc, crc, sizeof(uint32_t) * (size_t)ncrc);
        assert_true(cJSON_GetObjectItem(r.stats, "reu_dma_bytes")->valuedouble >= (double)ncrc * (double)(m.image_bytes - 300));
        free(got);
        rq_run_result_free(&r);
    }
    // a corrupt REU: a weight byte (the CRC), a header byte (another model)
    const struct {
        long at;
        const char *want;
    } bad[] = {{(long)m.image_bytes - 20, "MODEL.RQI: CRC mismatch"}, {20, "MODEL.RQI: byte 20: the REU holds another chat model"}};
    for (int k = 0; k < 2; k++) {
        char cmd[2000], prg[900], reu[900];
        snprintf(cmd, sizeof cmd, "cd '%s' && cp model.reu bad.reu && printf '\\252' | dd of=bad.reu bs=1 seek=%ld conv=notrunc 2>/dev/null", rdir, bad[k].at);
        assert_int_equal(rq_test_run(NULL, NULL, "%s", cmd), 0);
        snprintf(prg, sizeof prg, "%s/chat.prg", rdir), snprintf(reu, sizeof reu, "%s/bad.reu", rdir);
        const char *argv[] = {"chat", "hello", NULL};
        c64m_run p = {.machine = "c64", .prog = prg, .reu = reu, .dir = rdir, .argc = 2, .argv = argv, .timeout = 120};
        c64m_result r;
        assert_int_equal(c64m_run_program(&p, &r), 0);
        if (r.exit_code != 2 || !strstr(r.err, bad[k].want) || !strstr(r.err, "retroqat: ")) fail_msg("bad REU %d: exit %d, '%s'", k, r.exit_code, r.err);
        c64m_result_free(&r);
    }
    // the "> " loop: the same transcript on sim65 and the C64 (keyboard lines from stdin)
    char *a = NULL, *b = NULL;
    assert_int_equal(rq_test_run(&a, NULL, "printf 'hello\\nwho are you\\n' | '%s' run --target c64 '%s'", rq_test_bin(), dir), 0);
    assert_int_equal(rq_test_run(&b, NULL, "printf 'hello\\nwho are you\\n' | '%s' run --target c64 '%s' --machine c64", rq_test_bin(), dir), 0);
    assert_string_equal(a, b);
    assert_true(strncmp(a, "> ", 2) == 0 && strstr(a, "\n> ") != NULL);
    free(a), free(b);
    rq_model_close(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_chat_kernel),
        cmocka_unit_test(test_corrupt_inputs),
        cmocka_unit_test(test_machines_agree),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_stories_int8),
        cmocka_unit_test(test_stories_int4),
        cmocka_unit_test(test_chat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
