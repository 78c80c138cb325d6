// test_targets.c: the conformance test of every registered target (export/target.h). For each
// target whose toolchain and emulator are installed (under CI: every target, or the test fails),
// random small models of every family it accepts are exported, run in its emulator, and compared
// with a reference computed here straight from infer/ (lm_forward / chat_forward): the printed
// text and the CRC-32 of every step's logits. Adding a target adds it here through the registry.
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc32.h"
#include "base/err.h"
#include "base/rng.h"
#include "data/tokenizer.h"
#include "export/target.h"
#include "infer/lm_gen.h"
#include "infer/lm_ops.h"
#include "model/chatnet.h"
#include "model/llama.h"

static int in_ci(void) {
    const char *ci = getenv("CI");
    return ci && strcmp(ci, "true") == 0;
}

// 1 when t can run here; under CI a target without its tools fails the test.
static int usable(const rq_target *t) {
    int ok = rq_tools_present(t->export_tools) && rq_tools_present(t->run_tools);
    if (!ok) {
        fprintf(stderr, "target %s: toolchain or emulator missing%s\n", t->name, in_ci() ? " (CI: failing)" : ", skipped");
        if (in_ci()) fail_msg("target %s: its tools are not installed", t->name);
    }
    return ok;
}

static const char *artefact_path(const rq_target *t, const char *dir, const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s%s", dir, name, t->artefact == RQ_TARGET_ARTEFACT_FILE ? ".out" : "");
    return buf;
}

// ---- the transformer -----------------------------------------------------------------------------

// Reference: run.c's greedy loop written out on lm_forward, with the host tokenizer.
static void lm_reference(const lm_model *m, const tokenizer *tok, const char *prompt, int steps, char **text, uint32_t *crc,
                         int *ncrc) {
    const lm_config *c = &m->c;
    int *pt = malloc((strlen(prompt) + 3) * sizeof(int));
    int np = tokenizer_encode(tok, prompt, 1, 0, pt);
    void *mem = calloc(1, lm_state_bytes(c));
    lm_state s;
    lm_state_init(&s, c, mem);
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    int token = pt[0], n = 0;
    for (int pos = 0; pos < steps; pos++) {
        int32_t *lg = lm_forward(m, &s, token, pos);
        crc[n++] = lm_logits_crc(lg, c->vocab_size);
        int next = pos < np - 1 ? pt[pos + 1] : lm_argmax(lg, c->vocab_size);
        if (next == TOK_BOS) break;
        const char *p = tokenizer_decode(tok, token, next);
        int skip = !p[0] || (!p[1] && !((unsigned char)p[0] >= 0x20 && (unsigned char)p[0] <= 0x7e) &&
                             !(p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r')));
        if (!skip) len += (size_t)snprintf(out + len, cap - len, "%s", p);
        token = next;
    }
    snprintf(out + len, cap - len, "\n");
    *text = out, *ncrc = n;
    free(mem), free(pt);
}

// A random llama2.c model with the tok512 vocabulary, written as a .bin.
static void write_random_llama(const char *path, uint64_t seed) {
    llama_config c = {.dim = 32, .hidden_dim = 48, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 512,
                      .seq_len = 48, .shared_classifier = 1};
    llama_model m;
    assert_int_equal(llama_build(&m, &c), 0);
    llama_init_random(&m, seed);
    assert_int_equal(llama_save_v0(&m, path), 0);
    llama_free(&m);
}

static void check_lm_target(const rq_target *t, const char *model, int wbits, int midrise, const char *tokp) {
    const char *dir = rq_test_tmpdir("targets_lm");
    rq_open_opts oo = {.wbits = wbits, .midrise = midrise};
    rq_model m;
    assert_int_equal(rq_model_open(model, &oo, &m), 0);
    tokenizer tok;
    assert_int_equal(tokenizer_load(&tok, tokp, m.lm.c.vocab_size), 0);
    char art[600];
    artefact_path(t, dir, "lm", art, sizeof art);
    const char *none[16] = {0};
    rq_export_opts eo = {.out = art, .tokenizer = tokp, .json = 0, .flag = none};
    FILE *devnull = fopen("/dev/null", "w");
    FILE *save = stdout;
    stdout = devnull;  // the export summary
    int rc = t->export_fn(&m, &eo);
    stdout = save;
    fclose(devnull);
    if (rq_target_lm_check(t, &m.lm.c)) {  // a grid the target does not declare: refused, with the reason
        if (rc != RQ_EINPUT || !strstr(rq_last_error(), "its kernels take"))
            fail_msg("target %s: int%d%s is not among its grids, export gave %d: %s", t->name, wbits, midrise ? " midrise" : "", rc, rq_last_error());
        tokenizer_free(&tok);
        rq_model_close(&m);
        return;
    }
    if (rc) fail_msg("target %s: export failed: %s", t->name, rq_last_error());
    const char *prompts[] = {"Once upon a time", "", "Tim saw a big"};
    for (int k = 0; k < 3; k++) {
        int steps = 24;
        uint32_t ref_crc[64];
        int nref;
        char *ref;
        lm_reference(&m.lm, &tok, prompts[k], steps, &ref, ref_crc, &nref);
        FILE *out = tmpfile();
        rq_run_opts ro = {.prompt = prompts[k], .steps = steps, .temp = 0, .topp = 0.9, .seed = 1, .tokenizer = tokp,
                          .debug_logits = 1, .timeout = 120, .out = out, .flag = none};
        rq_run_result r = {0};
        rc = t->run_fn(art, &ro, &r);
        if (rc) fail_msg("target %s: run failed: %s", t->name, rq_last_error());
        char *got = rq_test_slurp(out);
        fclose(out);
        if (strcmp(got, ref) != 0) fail_msg("target %s, int%d, prompt '%s': printed\n%s\nexpected\n%s", t->name, wbits, prompts[k], got, ref);
        assert_int_equal(r.exit_code, 0);
        if (r.n_crc != nref) fail_msg("target %s: %d logits CRCs, expected %d", t->name, r.n_crc, nref);
        for (int i = 0; i < nref; i++)
            if (r.logit_crc[i] != ref_crc[i]) fail_msg("target %s, int%d, prompt '%s': logits of step %d differ", t->name, wbits, prompts[k], i);
        free(got), free(ref);
        rq_run_result_free(&r);
    }
    tokenizer_free(&tok);
    rq_model_close(&m);
}

static void test_lm_family(void **state) {
    (void)state;
    const char *tokp = rq_test_data("llama2c/tok512.bin");
    if (!tokp) return;
    char tk[600];
    snprintf(tk, sizeof tk, "%s", tokp);
    const char *dir = rq_test_tmpdir("targets_model");
    char path[600];
    snprintf(path, sizeof path, "%s/random.bin", dir);
    write_random_llama(path, 5);
    int ran = 0;
    for (int i = 0; rq_targets[i]; i++) {
        const rq_target *t = rq_targets[i];
        if (!(t->families & RQ_FAM_LM) || !usable(t)) continue;
        fprintf(stderr, "target %s: transformer int8, int4, 2-bit midrise%s\n", t->name,
                t->lm_weights & RQ_LMW_MIDRISE ? "" : " (refused: not among its grids)");
        check_lm_target(t, path, 8, 0, tk);
        check_lm_target(t, path, 4, 0, tk);
        check_lm_target(t, path, 2, 1, tk);
        ran++;
    }
    assert_true(ran >= 1);  // the host at least
}

// ---- the chat model ------------------------------------------------------------------------------

typedef struct {
    uint32_t crc[4096];
    int n;
} crcs;

static void on_step(void *ctx, const int16_t *logits, int n) {
    crcs *c = ctx;
    if (c->n < 4096) c->crc[c->n++] = chat_logits_crc(logits, n);
}

static void write_random_chat(const char *path, uint64_t seed) {
    const int dims[] = {64, 40, 24, 27};
    chatnet net;
    build_chatnet(&net, 3, dims, 8);
    float *params = calloc(net.n_params, sizeof(float));
    pcg32 r;
    pcg32_seed(&r, seed, 3);
    for (size_t i = 0; i < net.n_params; i++) params[i] = 1.2f * pcg32_normal(&r);
    chatnet_quant q = {0};
    q.in_shift = 3;
    for (int l = 0; l < 3; l++) q.shift[l] = 1 + l, q.bexp[l] = 4;
    chat_enc_cfg e = {.q_buckets = 32, .k_buckets = 32, .context = 4, .max_query = 40};
    char cs[32];
    for (int k = 0; k < 26; k++) cs[k] = (char)(k % 2 ? 'A' + k : ' ' + (k % 7));
    uint8_t *img = malloc(chat_image_size(3, dims));
    chat_imodel m;
    chatnet_to_image(&net, params, &q, &e, 24, cs, img, &m);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(img, 1, chat_image_size(3, dims), f), chat_image_size(3, dims));
    fclose(f);
    free(img), free(params);
    free_chatnet(&net);
}

static void test_chat_family(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("targets_chat");
    char path[600], art[600];
    snprintf(path, sizeof path, "%s/random.rqi", dir);
    write_random_chat(path, 9);
    rq_model m;
    assert_int_equal(rq_model_open(path, NULL, &m), 0);
    char *queries[] = {"hello there", "who are you?", "what is a z80"};
    // reference: chat_generate_steps on infer/
    char ref[4096] = "";
    crcs rc_ref = {.n = 0};
    for (int k = 0; k < 3; k++) {
        char ans[256];
        chat_generate_steps(&m.chat, queries[k], (int)strlen(queries[k]), ans, sizeof ans, on_step, &rc_ref);
        strcat(ref, ans), strcat(ref, "\n");
    }
    int ran = 0;
    for (int i = 0; rq_targets[i]; i++) {
        const rq_target *t = rq_targets[i];
        if (!(t->families & RQ_FAM_CHAT) || !usable(t)) continue;
        fprintf(stderr, "target %s: chat\n", t->name);
        artefact_path(t, dir, "chat", art, sizeof art);
        const char *none[16] = {0};
        rq_export_opts eo = {.out = art, .flag = none};
        FILE *devnull = fopen("/dev/null", "w");
        FILE *save = stdout;
        stdout = devnull;
        int rc = t->export_fn(&m, &eo);
        stdout = save;
        fclose(devnull);
        if (rc) fail_msg("target %s: chat export failed: %s", t->name, rq_last_error());
        // One run per query: a target whose program takes its arguments as one command line
        // (args_after_artefact, CP/M's tail) answers them as one query, the host answers each.
        char *got = rq_calloc(8192, 1);
        rq_run_result r = {0};
        for (int k = 0; k < 3; k++) {
            FILE *out = tmpfile();
            rq_run_opts ro = {.nargs = 1, .args = queries + k, .debug_logits = 1, .timeout = 120, .out = out, .flag = none};
            rq_run_result rk = {0};
            rc = t->run_fn(art, &ro, &rk);
            if (rc) fail_msg("target %s: chat run failed: %s", t->name, rq_last_error());
            char *txt = rq_test_slurp(out);
            fclose(out);
            strncat(got, txt, 8191 - strlen(got));
            r.logit_crc = rq_realloc(r.logit_crc, sizeof *r.logit_crc * (size_t)(r.n_crc + rk.n_crc + 1));
            memcpy(r.logit_crc + r.n_crc, rk.logit_crc, sizeof *r.logit_crc * (size_t)rk.n_crc);
            r.n_crc += rk.n_crc;
            free(txt);
            rq_run_result_free(&rk);
        }
        char want[4096];
        snprintf(want, sizeof want, "%s", ref);
        for (char *c = want; t->upper_case && *c; c++) *c = (char)chat_upper((uint8_t)*c);
        if (strcmp(got, want) != 0) fail_msg("target %s: answered\n%s\nexpected\n%s", t->name, got, want);
        if (r.n_crc != rc_ref.n) fail_msg("target %s: %d chat logits CRCs, expected %d", t->name, r.n_crc, rc_ref.n);
        for (int s = 0; s < rc_ref.n; s++)
            if (r.logit_crc[s] != rc_ref.crc[s]) fail_msg("target %s: chat logits of step %d differ", t->name, s);
        free(got);
        rq_run_result_free(&r);
        ran++;
    }
    rq_model_close(&m);
    assert_true(ran >= 1);
}

// `retroqat targets --json` lists every registered target.
static void test_targets_verb(void **state) {
    (void)state;
    char *out;
    assert_int_equal(rq_test_run(&out, NULL, "%s targets --json", rq_test_bin()), 0);
    for (int i = 0; rq_targets[i]; i++) {
        char key[64];
        snprintf(key, sizeof key, "\"name\":\"%s\"", rq_targets[i]->name);
        assert_non_null(strstr(out, key));
    }
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets_verb),
        cmocka_unit_test(test_lm_family),
        cmocka_unit_test(test_chat_family),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
