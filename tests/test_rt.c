// test_rt.c: the shared target programs (export/rt/) and the target tokenizer (infer/lm_tok.h).
// The programs are built natively with rq_rt_build_run and the POSIX machine services, so this
// checks them against the host runtime without any emulator; each target's own test then only
// has to show that its CPU runs the same program.
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "base/rng.h"
#include "data/tokenizer.h"
#include "export/rt_build.h"
#include "export/tok_image.h"
#include "infer/lm_tok.h"
#include "qat/model_open.h"

// Every encoding and every decoded piece equal the host tokenizer's, on random and tricky text.
static void test_tok_image_matches_tokenizer(void **state) {
    (void)state;
    const char *tp = rq_test_data("llama2c/tok512.bin");
    if (!tp) return;
    char path[600];
    snprintf(path, sizeof path, "%s", tp);
    tokenizer ref;
    assert_int_equal(tokenizer_load(&ref, path, 512), 0);
    for (int be = 0; be < 2; be++) {
        rq_buf b = {0};
        assert_int_equal(tok_image_build(path, 512, be, &b), 0);
        lm_tok t;
        infer_err e;
        assert_int_equal(lm_tok_load(&t, b.data, b.len, 512, &e), 0);
        pcg32 r;
        pcg32_seed(&r, 3, (uint64_t)be);
        const char *alpha = "abcdefghijklmnopqrstuvwxyz      ,.!?'\"\n\tTLOS\xc3\xa9\xe2\x82\xac\x01";
        size_t na = strlen(alpha);
        for (int k = 0; k < 400; k++) {
            char text[200];
            int n = (int)pcg32_bounded(&r, 120);
            for (int i = 0; i < n; i++) text[i] = alpha[pcg32_bounded(&r, (uint32_t)na)];
            text[n] = 0;
            if (k == 0) snprintf(text, sizeof text, "Once upon a time, there was a little girl named Lily.");
            int a[256], c[256];
            void *scratch = malloc(lm_tok_scratch_bytes(&t, strlen(text)));
            int na_ = tokenizer_encode(&ref, text, 1, 0, a);
            int nc = lm_tok_encode(&t, text, strlen(text), 1, c, scratch);
            free(scratch);
            assert_int_equal(na_, nc);
            assert_memory_equal(a, c, (size_t)na_ * sizeof(int));
        }
        for (int prev = 0; prev < 3; prev++)
            for (int id = 0; id < 512; id++) {
                const char *p = tokenizer_decode(&ref, prev, id);
                int skip = !p[0] || (!p[1] && !((unsigned char)p[0] >= 0x20 && (unsigned char)p[0] <= 0x7e) &&
                                     !(p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r')));
                uint8_t byte;
                int n;
                const uint8_t *q = lm_tok_decode(&t, prev, id, &byte, &n);
                assert_int_equal(n, skip ? 0 : (int)strlen(p));
                if (n) assert_memory_equal(q, p, (size_t)n);
            }
        // corruption: a flipped byte fails the CRC; a wrong vocabulary is named
        b.data[40] ^= 1;
        assert_int_equal(lm_tok_load(&t, b.data, b.len, 512, &e), INFER_EBAD);
        assert_int_equal(e.offset, 12);
        b.data[40] ^= 1;
        assert_int_equal(lm_tok_load(&t, b.data, b.len, 500, &e), INFER_EBAD);
        assert_int_equal(e.offset, 16);
        assert_int_equal(lm_tok_load(&t, b.data, b.len - 1, 512, &e), INFER_EBAD);
        rq_buf_free(&b);
    }
    tokenizer_free(&ref);
}

static void build_native(const char *out, int family) {
    const char *cflags[] = {"-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", NULL};
    const char *src[] = {"export/rt/posix/rt_posix.c", NULL};
    rq_rt_build b = {.cc = "gcc", .cflags = cflags, .sources = src, .family = family, .arena_bytes = 2u << 20, .out = out};
    if (rq_rt_build_run(&b)) fail_msg("%s", rq_last_error());
}

// The native transformer program prints what `retroqat run` prints, with the same logits.
static void test_lm_program_matches_host(void **state) {
    (void)state;
    const char *mp = rq_test_data("llama2c/stories260K.bin");
    if (!mp) return;
    char model[600], tok[600];
    snprintf(model, sizeof model, "%s", mp);
    snprintf(tok, sizeof tok, "%s", rq_test_data("llama2c/tok512.bin"));
    const char *dir = rq_test_tmpdir("rt_lm");
    char prog[700];
    snprintf(prog, sizeof prog, "%s/rq_lm", dir);
    build_native(prog, RQ_FAM_LM);
    const char *bin = rq_test_bin();
    for (int wb = 8; wb >= 4; wb -= 4) {
        assert_int_equal(rq_test_run(NULL, NULL, "%s export %s --target host --wbits %d -o %s/MODEL.RQM", bin, model, wb, dir), 0);
        rq_buf b = {0};
        assert_int_equal(tok_image_build(tok, 512, 0, &b), 0);
        char tpath[700];
        snprintf(tpath, sizeof tpath, "%s/TOK.RQT", dir);
        assert_int_equal(rq_write_atomic(tpath, b.data, b.len), 0);
        rq_buf_free(&b);
        // (string flags back to back: a non-numeric value must not poison the next flag's check)
        const char *runs[][2] = {{"-m MODEL.RQM -k TOK.RQT -i 'Once upon a time' -n 64 -T 0", "-i 'Once upon a time' -n 64 -t 0"},
                                 {"-i '' -n 40 -T 0", "-i '' -n 40 -t 0"},
                                 {"-i 'The dog' -n 64 -T 230 -P 29491 -s 11", "-i 'The dog' -n 64 -t 0.9 -p 0.9 -s 11"}};
        for (int k = 0; k < 3; k++) {
            char *o1, *e1, *o2, *e2;
            assert_int_equal(rq_test_run(&o1, &e1, "cd %s && ./rq_lm -d %s", dir, runs[k][0]), 0);
            assert_int_equal(rq_test_run(&o2, &e2, "%s run %s/MODEL.RQM -z %s --debug-logits %s", bin, dir, tok, runs[k][1]), 0);
            assert_string_equal(o1, o2);
            // the "#logits" lines are the same (the host adds its tok/s line)
            char *p = e1;
            int lines = 0;
            for (char *l; (l = strstr(p, "#logits")); p = l + 1, lines++) {
                char *end = strchr(l, '\n');
                *end = 0;
                assert_non_null(strstr(e2, l));
                *end = '\n';
            }
            assert_true(lines >= 39);
            free(o1), free(e1), free(o2), free(e2);
        }
    }
    // bad input: a corrupt image and a missing tokenizer give a message and exit 2
    char *err;
    assert_int_equal(rq_test_run(NULL, &err, "cd %s && printf 'RQLMxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' > BAD.RQM && ./rq_lm -m BAD.RQM", dir), 2);
    assert_non_null(strstr(err, "BAD.RQM: byte 4"));
    free(err);
    assert_int_equal(rq_test_run(NULL, &err, "cd %s && ./rq_lm -k NONE.RQT", dir), 2);
    assert_non_null(strstr(err, "NONE.RQT: cannot open"));
    free(err);
    // usage: a bad number, a negative count, an unknown flag, a missing value (exit 2, the flag named)
    const char *bad[][2] = {{"-n 1x", "-n"}, {"-n -5", "-n"}, {"-T -1", "-T"}, {"-q 1", "-q"}, {"-i", "-i"}};
    for (int k = 0; k < 5; k++) {
        assert_int_equal(rq_test_run(NULL, &err, "cd %s && ./rq_lm %s", dir, bad[k][0]), 2);
        char want[64];
        snprintf(want, sizeof want, "bad or missing value for %s\n", bad[k][1]);
        assert_non_null(strstr(err, want));
        free(err);
    }
    // a negative seed is a seed
    assert_int_equal(rq_test_run(NULL, NULL, "cd %s && ./rq_lm -n 3 -s -3 -T 200", dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tok_image_matches_tokenizer),
        cmocka_unit_test(test_lm_program_matches_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
