// test_target_c64.c: the Commodore 64 target (export/c64/) under sim65.
//   - the 6502 kernels (c64_*.s) == infer/'s C, on random inputs, on the 6502 and against the
//     host's own computation of the same numbers
//   - stories260K int8 over several prompts and int4: text and every step's logits CRC identical
//     to the host target (the reference implementation of export/target.h)
//   - a corrupt REU image or tokenizer -> "FILE: byte N: ..." and exit 2, not garbage
//   - models that do not fit RAM or the largest REU are refused with the shortfall in bytes
// Skipped (outside CI) when cc65, sim65, cc1541 or python3's pycparser is missing.
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/crc32.h"
#include "export/c64/c64_build.h"
#include "export/c64/cpu/test_kernels.h"
#include "export/rt_build.h"
#include "export/target.h"
#include "infer/lm_gen.h"
#include "infer/lm_ops.h"
#include "model/llama.h"

static const rq_target *c64(void) { return rq_target_find("c64"); }

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

static int export_quiet(const rq_target *t, const rq_model *m, const char *out, const char *tok) {
    const char *none[8] = {0};
    rq_export_opts eo = {.out = out, .tokenizer = tok, .flag = none};
    FILE *devnull = fopen("/dev/null", "w"), *save = stdout;
    stdout = devnull;
    int rc = t->export_fn(m, &eo);
    stdout = save;
    fclose(devnull);
    return rc;
}

static char *slurp(FILE *f) {
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *s = calloc(1, (size_t)n + 1);
    if (n > 0) assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    return s;
}

static void run_one(const rq_target *t, const char *art, const char *tok, const char *prompt, int steps, double temp, char **text,
                    rq_run_result *r) {
    const char *none[8] = {0};
    FILE *out = tmpfile();
    rq_run_opts ro = {.prompt = prompt, .steps = steps, .temp = temp, .topp = 0.9, .seed = 7, .tokenizer = tok, .debug_logits = 1,
                      .timeout = 600, .out = out, .flag = none};
    memset(r, 0, sizeof *r);
    if (t->run_fn(art, &ro, r)) fail_msg("%s run: %s", t->name, rq_last_error());
    *text = slurp(out);
    fclose(out);
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
                       .test_main = "export/c64/cpu/test_kernels.c"};
    long shortfall = 0;
    if (c64_compile(&b, "sim6502", exe, &shortfall)) fail_msg("test_kernels build: %s", rq_last_error());
    char *out = NULL;
    assert_int_equal(rq_test_run(&out, NULL, "sim65 '%s'", exe), 0);
    const struct {
        const char *name;
        uint32_t (*host)(void);
        int trials;
    } k[] = {{"rq", host_rq_check, 4}, {"mv", host_mv_check, KT_MV_CASES}, {"norm", host_norm_check, KT_NORM_CASES},
               {"att", host_att_check, KT_ATT_CASES}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s %d 0 %x\n", k[i].name, k[i].trials, k[i].host());
        if (!strstr(out, want)) fail_msg("kernel %s: expected '%.*s', the 6502 printed:\n%s", k[i].name, (int)strlen(want) - 1, want, out);
    }
    free(out);
}

// Corrupt inputs of the target program: a message naming the file and byte, exit code 2.
static void test_corrupt_inputs(void **state) {
    (void)state;
    if (!usable()) return;
    const char *tmp = rq_test_tmpdir("c64_corrupt");
    char tk[600], bin[700], dir[700];
    snprintf(tk, sizeof tk, "%s", rq_test_data("llama2c/tok512.bin"));
    snprintf(bin, sizeof bin, "%s/r.bin", tmp);
    snprintf(dir, sizeof dir, "%s/out", tmp);
    random_llama(bin, 32, 48, 2, 16, 4);
    rq_model m;
    assert_int_equal(rq_model_open(bin, NULL, &m), 0);
    if (export_quiet(c64(), &m, dir, tk)) fail_msg("c64 export: %s", rq_last_error());
    rq_model_close(&m);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_corrupt_inputs),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_stories_int8),
        cmocka_unit_test(test_stories_int4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
