// test_target_ps2.c: the PS2 target in its emulators against the host runtime, through the CLI.
// stories260K int8 and int4: 3 prompts on the real R5900 build under GXemul (text and every
// step's logits CRC identical to `retroqat run MODEL.rqm`), 64 tokens on the qemu build; the
// same model under a 128 KB budget (smaller than its weights: they stream every token); a budget
// too small refused with the shortfall; corrupted sectors in the image and on the disc stop the
// program with the byte offset; the static ISA check; and a random model whose int8 weights
// exceed the 32 MB RAM, run for a few tokens. The chat family and small random transformers are
// covered by the conformance test (tests/test_targets.c) through the registry.
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "export/target.h"
#include "export/lm_image_write.h"
#include "model/llama.h"
#include "qat/lm_quant.h"

static const char *R;    // the CLI
static const char *TOK;  // tok512.bin
static char tokbuf[600], s260k[600];

static int in_ci(void) {
    const char *ci = getenv("CI");
    return ci && strcmp(ci, "true") == 0;
}

static int setup(void **state) {
    (void)state;
    R = rq_test_bin();
    const char *t = rq_test_data("llama2c/tok512.bin");
    if (t) snprintf(tokbuf, sizeof tokbuf, "%s", t), TOK = tokbuf;
    const char *m = rq_test_data("llama2c/stories260K.bin");
    if (m) snprintf(s260k, sizeof s260k, "%s", m);
    return 0;
}

// 1 when GXemul, qemu-mipsel and the cross compiler are here; under CI their absence fails.
static int tools(void) {
    const rq_target *t = rq_target_find("ps2");
    assert_non_null(t);
    int ok = rq_tools_present(t->export_tools) && rq_tools_present(t->run_tools);
    if (!ok && in_ci()) fail_msg("ps2: toolchain or emulator missing under CI");
    if (!ok) fprintf(stderr, "ps2: toolchain or emulator missing, skipped\n");
    return ok && TOK && s260k[0];
}

// The #logits lines of a stderr capture, in order.
static char *logit_lines(const char *err) {
    size_t n = strlen(err);
    char *o = calloc(1, n + 1), *w = o;
    for (const char *l = err; l && *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) + 1 : strlen(l);
        if (strncmp(l, "#logits ", 8) == 0) memcpy(w, l, len), w += len;
        l += len;
    }
    return o;
}

// Run the host runtime on MODEL.rqm and the PS2 export DIR on the same arguments (extra: run
// flags such as --fast); text and logits must be identical. Returns the PS2 run's stderr.
static char *check_same(const char *rqm, const char *dir, const char *prompt, int n, const char *extra) {
    char *ho, *he, *po, *pe;
    assert_int_equal(rq_test_run(&ho, &he, "'%s' run '%s' -z '%s' -i '%s' -n %d -t 0 --debug-logits", R, rqm, TOK, prompt, n), 0);
    int rc = rq_test_run(&po, &pe, "'%s' run --target ps2 %s '%s' -i '%s' -n %d -t 0 --debug-logits --json", R, extra, dir, prompt, n);
    if (rc) fail_msg("ps2 run %s (%s) exit %d: %s", dir, extra, rc, pe);
    if (strcmp(ho, po) != 0) fail_msg("ps2 %s '%s': printed\n%s\nhost\n%s", extra, prompt, po, ho);
    char *hl = logit_lines(he), *pl = logit_lines(pe);
    assert_true(strlen(hl) > 0);
    if (strcmp(hl, pl) != 0) fail_msg("ps2 %s '%s': logits differ:\n%s\nhost\n%s", extra, prompt, pl, hl);
    free(ho), free(he), free(po), free(hl), free(pl);
    return pe;
}

static double json_num(const char *s, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(s, k);
    if (!p) fail_msg("no %s in %s", key, s);
    return strtod(p + strlen(k), NULL);
}

static void export_pair(const char *tmp, int wbits, char *rqm, char *dir, const char *ps2flags) {
    sprintf(rqm, "%s/s260k_%d.rqm", tmp, wbits);
    sprintf(dir, "%s/ps2_%d%s", tmp, wbits, ps2flags[0] ? "_small" : "");
    char *err;
    assert_int_equal(rq_test_run(NULL, &err, "'%s' export '%s' --target host --wbits %d -o '%s'", R, s260k, wbits, rqm), 0);
    free(err);
    int rc = rq_test_run(NULL, &err, "'%s' export '%s' --target ps2 -z '%s' -o '%s' %s", R, rqm, TOK, dir, ps2flags);
    if (rc) fail_msg("ps2 export: %s", err);
    free(err);
}

static void test_stories260K(void **state) {
    (void)state;
    if (!tools()) return;
    const char *tmp = rq_test_tmpdir("ps2_s260k");
    const char *prompts[] = {"Once upon a time", "", "Tim saw a big"};
    for (int wbits = 8; wbits >= 4; wbits -= 4) {
        char rqm[700], dir[700];
        export_pair(tmp, wbits, rqm, dir, "");
        double gx = 0;
        for (int k = 0; k < 3; k++) {
            char *pe = check_same(rqm, dir, prompts[k], 40, "");
            // resident: every matrix fits the default budget, nothing streams per token
            assert_true(json_num(pe, "gen_insns_per_token") > 1e6);
            assert_int_equal((long)json_num(pe, "bytes_streamed_per_token"), 0);
            if (k == 0) gx = json_num(pe, "gen_insns_per_token");
            free(pe);
        }
        // --fast counts with the qemu plugin: the mips2 build of the same loop (64 positions
        // against 40: attention grows with the position) lands near the R5900 build's count
        char *pe = check_same(rqm, dir, "Once upon a time", 64, "--fast");
        double q = json_num(pe, "gen_insns_per_token");
        if (q < 0.9 * gx || q > 1.4 * gx) fail_msg("qemu-mipsel %.0f instructions per token against GXemul's %.0f", q, gx);
        assert_true(json_num(pe, "insns") > 64 * q);
        free(pe);
        // ISA: the R5900 disassembler knows every instruction of the GXemul build
        char *out;
        assert_int_equal(rq_test_run(&out, NULL, "mipsel-linux-gnu-objdump -d -m mips:5900 '%s/PS2LM.ELF' | grep -c '\\.word'", dir), 1);
        assert_string_equal(out, "0\n");
        free(out);
        assert_int_equal(rq_test_run(&out, NULL, "mipsel-linux-gnu-objdump -d '%s/PS2LM.ELF' | grep -c 'mult'", dir), 0);
        assert_true(atoi(out) > 0);  // the kernels multiply with the R5900's mult/madd
        free(out);
    }
}

// Flip one byte of file path at offset at.
static void flip(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, at, SEEK_SET), 0);
    fputc(c ^ 0x10, f);
    assert_int_equal(fclose(f), 0);
}

static void test_small_budget_and_corruption(void **state) {
    (void)state;
    if (!tools()) return;
    const char *tmp = rq_test_tmpdir("ps2_small");
    char rqm[700], dir[700];
    export_pair(tmp, 8, rqm, dir, "--ram 131072 --ctx 64");
    char *js;
    char *err;
    // 128 KB: the weights (226,560 bytes of matrices) stream through the buffer every token
    char *pe = check_same(rqm, dir, "Once upon a time", 64, "");
    assert_true(json_num(pe, "bytes_streamed_per_token") > 150000);
    assert_true(json_num(pe, "arena_high_water") <= 131072);
    assert_true(json_num(pe, "stream_insns_per_token") > 0);
    free(pe);
    free(check_same(rqm, dir, "Tim saw a big", 64, "--fast"));
    // more positions than the KV cache holds: refused by the program
    assert_int_equal(rq_test_run(NULL, &err, "'%s' run --target ps2 --fast '%s' -i x -n 65 -t 0", R, dir), 2);
    if (!strstr(err, "KV cache holds 64")) fail_msg("%s", err);
    free(err);
    // a budget that cannot hold the resident part: refused at export with the shortfall
    assert_int_equal(rq_test_run(&js, &err, "'%s' export '%s' --target ps2 -z '%s' -o '%s/no' --ram 65536 --ctx 64", R, rqm, TOK, tmp), 2);
    if (!strstr(err, "does not fit the RAM budget") || !strstr(err, "bytes short")) fail_msg("%s", err);
    free(js), free(err);

    // a corrupted sector of matrix 5 (layer 0 w3): in the image (qemu reads it) and on the disc
    char rqs[800], iso[800];
    snprintf(rqs, sizeof rqs, "%s/MODEL.RQS", dir);
    snprintf(iso, sizeof iso, "%s/PS2.ISO", dir);
    uint8_t *img, *disc;
    size_t ilen, dlen;
    assert_int_equal(rq_read_file(rqs, &img, &ilen), 0);
    assert_int_equal(rq_read_file(iso, &disc, &dlen), 0);
    uint32_t moff = img[96 + 60] | img[97 + 60] << 8 | img[98 + 60] << 16 | (uint32_t)img[99 + 60] << 24;
    long base = -1;  // where MODEL.RQS starts on the disc: the sector holding its header
    for (size_t s = 0; s + 2048 <= dlen && base < 0; s += 2048)
        if (memcmp(disc + s, img, 2048) == 0) base = (long)s;
    assert_true(base > 0);
    free(img), free(disc);
    flip(rqs, (long)moff + 2048 + 77);
    flip(iso, base + (long)moff + 2048 + 77);
    char want[120];
    snprintf(want, sizeof want, "MODEL.RQS: byte %u: CRC mismatch in streamed matrix 5", moff);
    const char *modes[] = {"", "--fast"};
    for (int k = 0; k < 2; k++) {
        char *out;
        int rc = rq_test_run(&out, &err, "'%s' run --target ps2 %s '%s' -i 'Once upon a time' -n 16 -t 0", R, modes[k], dir);
        assert_int_equal(rc, 2);
        if (!strstr(err, want)) fail_msg("%s: expected '%s' in: %s", modes[k], want, err);
        assert_int_equal(strlen(out), 0);  // stopped inside the first forward: no token printed
        free(out), free(err);
    }
    // the header sector on the disc: a clear error too
    flip(iso, base + 13);
    assert_int_equal(rq_test_run(NULL, &err, "'%s' run --target ps2 '%s' -n 4 -t 0", R, dir), 2);
    if (!strstr(err, "MODEL.RQS: byte 12: header CRC mismatch")) fail_msg("%s", err);
    free(err);
}

// dim 512, hidden 2176, 8 layers, vocab 512: 35.1 M int8 matrix weights, more than the 32 MB RAM.
static void test_model_bigger_than_ram(void **state) {
    (void)state;
    if (!tools()) return;
    const char *tmp = rq_test_tmpdir("ps2_big");
    char rqm[700], dir[700];
    snprintf(rqm, sizeof rqm, "%s/big.rqm", tmp);
    snprintf(dir, sizeof dir, "%s/ps2", tmp);
    llama_config c = {.dim = 512, .hidden_dim = 2176, .n_layers = 8, .n_heads = 8, .n_kv_heads = 8, .vocab_size = 512,
                      .seq_len = 64, .shared_classifier = 1};
    llama_model m;
    assert_int_equal(llama_build(&m, &c), 0);
    llama_init_random(&m, 3);
    // post-training quantisation on 24 calibration tokens (the export's default self-generated
    // calibration takes half a minute on a model this size)
    uint16_t cal[24];
    for (int i = 0; i < 24; i++) cal[i] = (uint16_t)((i * 37 + 1) % c.vocab_size);
    lm_model q;
    assert_int_equal(lmq_ptq(&m, cal, 24, 8, &q), 0);
    assert_int_equal(lm_image_save(&q, 0, rqm), 0);
    lmq_free(&q);
    llama_free(&m);
    char *js, *err;
    assert_int_equal(rq_test_run(&js, &err, "'%s' export '%s' --target ps2 -z '%s' -o '%s' --json", R, rqm, TOK, dir), 0);
    assert_true(json_num(js, "matrices") > 32.0 * 1024 * 1024);
    assert_non_null(strstr(js, "\"all_cached\":false"));
    free(js), free(err);
    char *pe = check_same(rqm, dir, "Once", 4, "");
    assert_true(json_num(pe, "bytes_streamed_per_token") > 1e6);
    assert_true(json_num(pe, "arena_high_water") <= 32.0 * 1024 * 1024);
    free(pe);
    free(check_same(rqm, dir, "Once upon", 6, "--fast"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260K),
        cmocka_unit_test(test_small_budget_and_corruption),
        cmocka_unit_test(test_model_bigger_than_ram),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
