// test_base.c: the shared basics: PCG32, CRC32, endian I/O, the checkpoint container, configs.
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/config.h"
#include "base/crc32.h"
#include "base/err.h"
#include "base/rng.h"
#include "base/rqfile.h"

static void test_pcg32_known_answer(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 42, 54);
    const uint32_t want[6] = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
    for (int i = 0; i < 6; i++) assert_int_equal(pcg32_next(&r), want[i]);
    const uint32_t want_b[6] = {5, 3, 0, 2, 0, 1};
    for (int i = 0; i < 6; i++) assert_int_equal(pcg32_bounded(&r, 6), want_b[i]);
}

static void test_pcg32_streams_and_shuffle(void **state) {
    (void)state;
    pcg32 a, b;
    pcg32_seed(&a, 1, 1);
    pcg32_seed(&b, 1, 2);
    int same = 0;
    for (int i = 0; i < 100; i++) same += pcg32_next(&a) == pcg32_next(&b);
    assert_true(same < 3);  // different streams are different sequences
    int v[50], seen[50] = {0};
    for (int i = 0; i < 50; i++) v[i] = i;
    pcg32_shuffle(&a, v, 50);
    for (int i = 0; i < 50; i++) seen[v[i]]++;
    for (int i = 0; i < 50; i++) assert_int_equal(seen[i], 1);  // a permutation
    for (int i = 0; i < 10000; i++) {
        float f = pcg32_float(&a);
        assert_true(f >= 0.0f && f < 1.0f);
    }
}

static void test_crc32_known_answers(void **state) {
    (void)state;
    assert_int_equal(crc32_update(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(crc32_update(0, "", 0), 0u);
    assert_int_equal(crc32_update(0, "The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);
    // Pieces in order equal the whole.
    uint32_t c = crc32_update(0, "12345", 5);
    assert_int_equal(crc32_update(c, "6789", 4), 0xCBF43926u);
}

static void test_endian_round_trips(void **state) {
    (void)state;
    uint8_t b[8];
    rq_wr_u32le(b, 0x11223344u);
    assert_int_equal(b[0], 0x44);
    assert_int_equal(b[3], 0x11);
    assert_int_equal(rq_rd_u32le(b), 0x11223344u);
    rq_wr_u32be(b, 0x11223344u);
    assert_int_equal(b[0], 0x11);
    assert_int_equal(rq_rd_u32be(b), 0x11223344u);
    rq_wr_u16le(b, 0xBEEF);
    assert_int_equal(rq_rd_u16le(b), 0xBEEF);
    assert_int_equal(rq_rd_u16be(b), 0xEFBE);
    rq_wr_u64be(b, 0x0102030405060708ull);
    assert_int_equal(b[0], 1);
    assert_true(rq_rd_u64be(b) == 0x0102030405060708ull);
    rq_wr_u64le(b, 0x0102030405060708ull);
    assert_true(rq_rd_u64le(b) == 0x0102030405060708ull);

    // Buffer writer and reader agree in both byte orders, floats by bit pattern.
    for (int be = 0; be < 2; be++) {
        rq_buf w = {0};
        w.big_endian = be;
        rq_buf_u8(&w, 7);
        rq_buf_u16(&w, 0xABCD);
        rq_buf_u32(&w, 0xDEADBEEF);
        rq_buf_i32(&w, -5);
        rq_buf_f32(&w, -1.5f);
        rq_buf_u64(&w, 1234567890123ull);
        assert_int_equal(w.len, 1 + 2 + 4 + 4 + 4 + 8);
        assert_int_equal(w.data[1], be ? 0xAB : 0xCD);
        rq_reader r;
        rq_reader_init(&r, w.data, w.len, "mem");
        r.big_endian = be;
        assert_int_equal(rq_rd_u8(&r, "a"), 7);
        assert_int_equal(rq_rd_u16(&r, "b"), 0xABCD);
        assert_int_equal(rq_rd_u32(&r, "c"), 0xDEADBEEFu);
        assert_int_equal(rq_rd_i32(&r, "d"), -5);
        assert_true(rq_rd_f32(&r, "e") == -1.5f);
        assert_true(rq_rd_u64(&r, "f") == 1234567890123ull);
        assert_int_equal(r.err, 0);
        // Reading past the end is an input error naming the byte offset, and sticks.
        rq_rd_u32(&r, "tail");
        assert_int_equal(r.err, RQ_EINPUT);
        assert_non_null(strstr(rq_last_error(), "mem: byte 23: truncated: tail"));
        assert_int_equal(rq_rd_u8(&r, "after"), 0);
        rq_buf_free(&w);
    }
}

static void test_rqfile_round_trip_and_corruption(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("rqfile");
    char path[4200];
    snprintf(path, sizeof path, "%s/x.ckpt", dir);
    rqf_writer w;
    rqf_writer_init(&w, "test", 3);
    rq_buf *s = rqf_section_begin(&w, "HEAD");
    rq_buf_u32(s, 42);
    rq_buf_u8(s, 9);  // odd length: the next section must still be aligned
    s = rqf_section_begin(&w, "DATA");
    for (int i = 0; i < 100; i++) rq_buf_f32(s, (float)i * 0.5f);
    assert_int_equal(rqf_write(&w, path), 0);

    rqf_file f;
    assert_int_equal(rqf_open(&f, path, "test"), 0);
    assert_int_equal(f.version, 3);
    rq_reader r;
    assert_int_equal(rqf_section(&f, "DATA", &r), 0);
    assert_int_equal(r.origin % 4, 0);
    float x[100];
    assert_int_equal(rq_rd_f32s(&r, x, 100, "data"), 0);
    assert_true(x[99] == 49.5f);
    assert_int_equal(rqf_section(&f, "HEAD", &r), 0);
    assert_int_equal(rq_rd_u32(&r, "v"), 42);
    assert_int_equal(rqf_section(&f, "NOPE", &r), RQ_EINPUT);
    size_t len = f.len;
    uint8_t *copy = malloc(len);
    memcpy(copy, f.data, len);
    rqf_close(&f);

    // Wrong kind, flipped byte, truncation, bad magic: all input errors, none a crash.
    assert_int_equal(rqf_open(&f, path, "other"), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "expected 'other'"));
    for (size_t cut = 0; cut < len; cut += 7) {
        uint8_t *d = malloc(len);
        memcpy(d, copy, len);
        assert_int_equal(rqf_open_mem(&f, d, cut, "cut", "test"), RQ_EINPUT);
        free(d);
    }
    uint8_t *d = malloc(len);
    memcpy(d, copy, len);
    d[len / 2] ^= 0x10;
    assert_int_equal(rqf_open_mem(&f, d, len, "flip", "test"), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "checksum mismatch"));
    d[len / 2] ^= 0x10;
    d[0] = 'X';
    assert_int_equal(rqf_open_mem(&f, d, len, "magic", "test"), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "magic: byte 0: not a retroqat checkpoint"));
    free(d);
    free(copy);
    // No temp file is left behind by the atomic write.
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *t = fopen(tmp, "rb");
    assert_null(t);
}

// --- configs ------------------------------------------------------------------------------------

typedef struct {
    int epochs;
    double lr;
    float wd;
    int quiet;
    char name[16];
    int hidden[4], n_hidden;
    float frac[3];
    int n_frac;
} toy_cfg;

static int load_toy(const char *text, toy_cfg *c) {
    static const cfg_field train_fields[] = {
        {.key = "epochs", .type = CFG_INT, .min = 1, .max = 1000},
        {.key = "lr", .type = CFG_NUM, .min = 0, .max = 1},
        {0},
    };
    // dst pointers must be set per call: build the schema on the stack.
    cfg_field tf[3];
    memcpy(tf, train_fields, sizeof tf);
    tf[0].dst = &c->epochs;
    tf[1].dst = &c->lr;
    cfg_field top[] = {
        {.key = "train", .type = CFG_OBJ, .sub = tf},
        {.key = "wd", .type = CFG_FLOAT, .dst = &c->wd},
        {.key = "quiet", .type = CFG_BOOL, .dst = &c->quiet},
        {.key = "name", .type = CFG_STR, .dst = c->name, .cap = sizeof c->name},
        {.key = "hidden", .type = CFG_INT_ARRAY, .dst = c->hidden, .cap = 4, .count = &c->n_hidden, .min = 1, .max = 4096},
        {.key = "frac", .type = CFG_FLOAT_LIST, .dst = c->frac, .cap = 3, .count = &c->n_frac, .min = 0, .max = 0.99},
        {.key = "comment", .type = CFG_IGNORE},
        {0},
    };
    cJSON *root;
    int rc = cfg_parse_text(text, "cfg.json", &root);
    if (rc) return rc;
    rc = cfg_apply(root, "cfg.json", top);
    cJSON_Delete(root);
    return rc;
}

static void test_config_ok(void **state) {
    (void)state;
    toy_cfg c = {.epochs = 5};
    assert_int_equal(load_toy("{\"train\": {\"lr\": 0.01}, \"wd\": 0.1, \"quiet\": true, \"name\": \"abc\","
                              " \"hidden\": [256, 192, 128], \"comment\": [1, {}]}", &c), 0);
    assert_int_equal(c.epochs, 5);  // absent keys keep their default
    assert_true(c.lr == 0.01);
    assert_true(c.wd == 0.1f);
    assert_int_equal(c.quiet, 1);
    assert_string_equal(c.name, "abc");
    assert_int_equal(c.n_hidden, 3);
    assert_int_equal(c.hidden[2], 128);
    assert_int_equal(c.n_frac, 0);
    // a float list: an array, or one number (a list of one)
    assert_int_equal(load_toy("{\"frac\": [0.5, 0, 0.25]}", &c), 0);
    assert_int_equal(c.n_frac, 3);
    assert_true(c.frac[0] == 0.5f && c.frac[1] == 0.0f && c.frac[2] == 0.25f);
    assert_int_equal(load_toy("{\"frac\": 0.75}", &c), 0);
    assert_int_equal(c.n_frac, 1);
    assert_true(c.frac[0] == 0.75f);
}

static void expect_cfg_error(const char *text, const char *msg) {
    toy_cfg c = {0};
    assert_int_equal(load_toy(text, &c), RQ_EINPUT);
    if (!strstr(rq_last_error(), msg)) fail_msg("error '%s' does not contain '%s'", rq_last_error(), msg);
}

static void test_config_errors(void **state) {
    (void)state;
    expect_cfg_error("{\"train\": {\"lrr\": 1}}", "cfg.json: $.train.lrr: unknown key");
    expect_cfg_error("{\"train\": {\"lr\": \"fast\"}}", "cfg.json: $.train.lr: expected a number, got a string");
    expect_cfg_error("{\"train\": {\"epochs\": 2.5}}", "$.train.epochs: expected an integer, got 2.5");
    expect_cfg_error("{\"train\": {\"epochs\": 0}}", "$.train.epochs: 0 is out of range [1, 1000]");
    expect_cfg_error("{\"train\": 3}", "$.train: expected an object, got a number");
    expect_cfg_error("{\"hidden\": [1, 2, true]}", "$.hidden[2]: expected an integer, got a boolean");
    expect_cfg_error("{\"hidden\": [1, 2, 3, 4, 5]}", "$.hidden: at most 4 elements, got 5");
    expect_cfg_error("{\"name\": \"a very long name indeed\"}", "$.name: string longer than 15 characters");
    expect_cfg_error("{\"quiet\": 1}", "$.quiet: expected a boolean, got a number");
    expect_cfg_error("{\"frac\": \"x\"}", "$.frac: expected a number or an array, got a string");
    expect_cfg_error("{\"frac\": [0.1, 2]}", "$.frac[1]: 2 is out of range [0, 0.99]");
    expect_cfg_error("{\"frac\": 1.5}", "$.frac: 1.5 is out of range [0, 0.99]");
    expect_cfg_error("{\"frac\": [0.1, 0.2, 0.3, 0.4]}", "$.frac: at most 3 elements, got 4");
    // Malformed JSON: line and column of the first bad character.
    expect_cfg_error("{\n  \"train\": {\n    \"lr\": 0.1,\n  }\n}", "cfg.json:4:3: malformed JSON");
    expect_cfg_error("{\"a\": 1", "cfg.json:1:8: malformed JSON: unexpected end of file");
    expect_cfg_error("{\"a\": 1} trailing", "cfg.json:1:10: malformed JSON near 'trailing'");
}

// The CLI maps input errors to exit 2 with the file and key path or line:column on stderr.
static void test_cli_config_errors_exit_2(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("cli_config");
    char p[4200];
    char *err;
    snprintf(p, sizeof p, "%s/bad.json", dir);
    rq_test_write(p, "{\n \"model\": \"chat\",\n \"epochs\" 3\n}\n");
    assert_int_equal(rq_test_run(NULL, &err, "%s train %s", rq_test_bin(), p), 2);
    assert_non_null(strstr(err, "bad.json:3:11: malformed JSON"));
    free(err);
    rq_test_write(p, "{\"model\": 5}");
    assert_int_equal(rq_test_run(NULL, &err, "%s train %s", rq_test_bin(), p), 2);
    assert_non_null(strstr(err, "bad.json: $.model: expected a string"));
    free(err);
    rq_test_write(p, "{\"model\": \"gpt\"}");
    assert_int_equal(rq_test_run(NULL, &err, "%s train %s", rq_test_bin(), p), 2);
    assert_non_null(strstr(err, "$.model: unknown model family 'gpt'"));
    free(err);
    assert_int_equal(rq_test_run(NULL, &err, "%s train %s/missing.json", rq_test_bin(), dir), 2);
    assert_non_null(strstr(err, "missing.json: cannot open"));
    free(err);
}

static void test_cli_usage(void **state) {
    (void)state;
    char *out, *err;
    assert_int_equal(rq_test_run(&out, NULL, "%s help", rq_test_bin()), 0);
    assert_non_null(strstr(out, "usage: retroqat VERB"));
    free(out);
    assert_int_equal(rq_test_run(NULL, &err, "%s frobnicate", rq_test_bin()), 2);
    assert_non_null(strstr(err, "unknown verb 'frobnicate'"));
    free(err);
    assert_int_equal(rq_test_run(NULL, &err, "%s", rq_test_bin()), 2);
    free(err);
    assert_int_equal(rq_test_run(NULL, &err, "%s export x --target zx81", rq_test_bin()), 2);
    assert_non_null(strstr(err, "unknown export target 'zx81'"));
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcg32_known_answer),
        cmocka_unit_test(test_pcg32_streams_and_shuffle),
        cmocka_unit_test(test_crc32_known_answers),
        cmocka_unit_test(test_endian_round_trips),
        cmocka_unit_test(test_rqfile_round_trip_and_corruption),
        cmocka_unit_test(test_config_ok),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_cli_config_errors_exit_2),
        cmocka_unit_test(test_cli_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
