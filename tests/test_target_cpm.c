// test_target_cpm.c: the cpm target through its interface (export/target.h, rq_target_cpm):
// export_fn writes a .COM for a random chat model, run_fn runs it in the emulator and must print
// exactly the host's answer (upper-cased, as the .COM prints) and report, with debug_logits, the
// CRC-32 of the int16 logits of every generation step equal to infer/'s (chat_forward) step by
// step. Also: the refusals (a transformer model, debug_logits on a foreign .COM, a bad --layout)
// and the wall-clock timeout (exit 124).
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "base/rng.h"
#include "export/target.h"
#include "infer/chat_kernel.h"
#include "infer/lm_gen.h"
#include "qat/image_open.h"

extern const rq_target rq_target_cpm;

// A random 2-bit model Q+K -> 96 -> n_out whose biases make the answers long and varied.
static uint8_t *random_model(pcg32 *r, chat_imodel *m, size_t *n) {
    memset(m, 0, sizeof *m);
    m->enc = (chat_enc_cfg){.q_buckets = 64, .k_buckets = 64, .context = 8, .max_query = 40};
    m->max_answer = 24, m->mode = CHAT_W2BIT, m->n_layers = 2, m->in_shift = 2;
    m->dims[0] = 128, m->dims[1] = 96, m->dims[2] = 2 + (int)pcg32_bounded(r, 40);
    m->shift[0] = 3, m->shift[1] = 0;
    uint8_t charset[256];
    for (int k = 0; k < 255; k++) charset[k] = (uint8_t)('a' + pcg32_bounded(r, 26));
    *n = chat_image_size(2, m->dims);
    uint8_t *img = rq_calloc(*n, 1);
    chat_image_layout(m, img, charset);
    int8_t row[CHAT_MAX_WIDTH];
    for (int l = 0; l < 2; l++) {
        int n_in = m->dims[l], n_out = m->dims[l + 1];
        for (int j = 0; j < n_out; j++) {
            for (int i = 0; i < n_in; i++) row[i] = pcg32_bounded(r, 3) ? 0 : (int8_t)((int)pcg32_bounded(r, 4) - 2);
            chat_pack_row(row, n_in, (uint8_t *)m->w[l] + (size_t)j * chat_row_bytes(n_in));
            int bias = (int)pcg32_bounded(r, 201) - 100 - (l == 1 && j == 0 ? 60 : 0);  // class 0 (end) rarer
            ((uint8_t *)m->b[l])[2 * j] = (uint8_t)bias, ((uint8_t *)m->b[l])[2 * j + 1] = (uint8_t)(bias >> 8);
        }
    }
    chat_imodel chk;
    assert_int_equal(chat_image_parse(img, *n, "random", &chk), 0);
    return img;
}

// The host's answer and the CRC of every step's logits (chat_generate's loop, step by step).
static int host_answer(const chat_imodel *m, const char *q, char *out, uint32_t *crc) {
    uint8_t counts[256], ctx[CHAT_MAX_CONTEXT];
    int16_t logits[CHAT_MAX_WIDTH];
    chat_encode_query(&m->enc, q, (int)strlen(q), counts);
    chat_context_reset(&m->enc, ctx);
    int n = 0, steps = 0;
    while (n < m->max_answer) {
        chat_encode_context(&m->enc, ctx, counts + m->enc.q_buckets);
        int k = chat_forward(m, counts, logits, NULL);
        crc[steps++] = chat_logits_crc(logits, m->dims[m->n_layers]);
        if (k == CHAT_END) break;
        out[n++] = (char)chat_upper(m->charset[k - 1]);
        chat_context_push(&m->enc, ctx, m->charset[k - 1]);
    }
    out[n] = 0;
    return steps;
}

static char *slurp(FILE *f) {
    long n = ftell(f);
    char *s = rq_malloc((size_t)n + 1);
    rewind(f);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    return s;
}

static const char *NO_FLAGS[8];

static void test_logits_step_by_step(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("target_cpm");
    pcg32 r;
    pcg32_seed(&r, 11, 5);
    static const char *queries[] = {"hello there", "what is a z80", "X", "tell me a story about cp/m please"};
    int steps_checked = 0;
    for (int t = 0; t < 4; t++) {
        rq_model md = {.family = RQ_FAM_CHAT, .path = "random", .source = "chat image"};
        uint8_t *img = random_model(&r, &md.chat, &md.image_bytes);
        md.image = img;
        char com[4200];
        snprintf(com, sizeof com, "%s/T%d.COM", dir, t);
        const char *xflag[] = {t % 2 ? "sparse" : "packed", t == 3 ? "1" : NULL, NULL};
        rq_export_opts eo = {.out = com, .flag = xflag};
        assert_int_equal(rq_target_cpm.export_fn(&md, &eo), 0);  // prints its one-line summary
        char want[64];
        uint32_t crc[64];
        int steps = host_answer(&md.chat, queries[t], want, crc);
        char *arg = (char *)queries[t];
        FILE *out = tmpfile();
        rq_run_opts ro = {.prompt = "", .nargs = 1, .args = &arg, .debug_logits = 1, .out = out, .flag = NO_FLAGS};
        rq_run_result res;
        assert_int_equal(rq_target_cpm.run_fn(com, &ro, &res), 0);
        assert_int_equal(res.exit_code, 0);
        char *got = slurp(out);
        fclose(out);
        strcat(want, "\n");
        assert_string_equal(got, want);
        assert_string_equal(res.unit, "tstates");
        assert_true(res.count > 0);
        assert_int_equal(res.tokens, strlen(want) + 1);  // the answer and CR LF
        assert_int_equal(res.n_crc, steps);
        for (int s = 0; s < steps; s++)
            if (res.logit_crc[s] != crc[s]) fail_msg("query %d, step %d: Z80 logits CRC %08x, infer/ %08x", t, s, res.logit_crc[s], crc[s]);
        steps_checked += steps;
        free(got), free(res.logit_crc), cJSON_Delete(res.stats), free(img);
    }
    fprintf(stderr, "target cpm: %d generation steps, logits CRC-identical to infer/\n", steps_checked);
}

static void test_refusals(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("target_cpm_bad");
    char com[4200];
    snprintf(com, sizeof com, "%s/X.COM", dir);
    rq_model lm = {.family = RQ_FAM_LM, .path = "m.rqm", .source = "integer image"};
    rq_export_opts eo = {.out = com, .flag = NO_FLAGS};
    assert_int_equal(rq_target_cpm.export_fn(&lm, &eo), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "trigram chat model"));
    pcg32 r;
    pcg32_seed(&r, 3, 1);
    rq_model md = {.family = RQ_FAM_CHAT, .path = "random"};
    uint8_t *img = random_model(&r, &md.chat, &md.image_bytes);
    const char *bad[] = {"dense", NULL, NULL};
    eo.flag = bad;
    assert_int_equal(rq_target_cpm.export_fn(&md, &eo), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "--layout"));
    free(img);
    // A .COM that is not the kernel: its logits cannot be read.
    static const uint8_t ret[] = {0xC9};
    assert_int_equal(rq_write_atomic(com, ret, 1), 0);
    FILE *out = tmpfile();
    rq_run_opts ro = {.prompt = "", .debug_logits = 1, .out = out, .flag = NO_FLAGS};
    rq_run_result res;
    assert_int_equal(rq_target_cpm.run_fn(com, &ro, &res), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "not a .COM of `retroqat export --target cpm`"));
    // A bad run flag.
    const char *rflag[] = {NULL, "lots", NULL, NULL, NULL};
    ro.debug_logits = 0, ro.flag = rflag;
    assert_int_equal(rq_target_cpm.run_fn(com, &ro, &res), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "--max-tstates"));
    fclose(out);
}

static void test_timeout(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("target_cpm_timeout");
    char com[4200];
    snprintf(com, sizeof com, "%s/LOOP.COM", dir);
    static const uint8_t loop[] = {0x18, 0xFE};  // JR $
    assert_int_equal(rq_write_atomic(com, loop, 2), 0);
    FILE *out = tmpfile();
    rq_run_opts ro = {.prompt = "", .timeout = 0.3, .out = out, .flag = NO_FLAGS};
    rq_run_result res;
    assert_int_equal(rq_target_cpm.run_fn(com, &ro, &res), 0);
    assert_int_equal(res.exit_code, 124);
    assert_true(res.count > 20000000ull);  // it ran
    assert_true(res.count < 20000000000ull);  // and stopped long before the T-state limit
    cJSON_Delete(res.stats), free(res.logit_crc);
    fclose(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logits_step_by_step),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
