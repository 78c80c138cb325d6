// test_llama_format.c: llama2.c checkpoint files: stories260K loads with its known shape, version-0
// export -> reload gives identical bytes and logits, version 1 reads to the same weights, and
// broken files (truncated, oversized, bad dims, heads not dividing dim, NaN weights) are input
// errors that name the byte offset.
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "model/llama.h"

static void test_stories260K_shape(void **state) {
    (void)state;
    const char *path = rq_test_data("llama2c/stories260K.bin");
    if (!path) return;
    llama_model m;
    assert_int_equal(llama_load(&m, path), 0);
    llama_config c = m.config;
    assert_int_equal(c.dim, 64);
    assert_int_equal(c.hidden_dim, 172);
    assert_int_equal(c.n_layers, 5);
    assert_int_equal(c.n_heads, 8);
    assert_int_equal(c.n_kv_heads, 4);
    assert_int_equal(c.vocab_size, 512);
    assert_int_equal(c.seq_len, 512);
    assert_int_equal(c.shared_classifier, 1);
    assert_int_equal(m.n_params, 260032);
    assert_ptr_equal(m.w.wcls, m.w.token_embedding);
    // wk of layer 0 starts right after wq of all layers and is kv_dim x dim = 32 x 64.
    assert_ptr_equal(m.w.wk, m.w.wq + 5 * 64 * 64);
    assert_ptr_equal(m.w.wo, m.w.wv + 5 * 32 * 64);
    llama_free(&m);
}

static void random_model(llama_model *m, int shared, int kv_heads) {
    llama_config c = {.dim = 16, .hidden_dim = 24, .n_layers = 2, .n_heads = 4, .n_kv_heads = kv_heads,
                      .vocab_size = 40, .seq_len = 12, .shared_classifier = shared};
    assert_int_equal(llama_build(m, &c), 0);
    llama_init_random(m, 7);
    // Norm weights away from 1 so their placement matters.
    for (size_t i = 0; i < (size_t)c.n_layers * c.dim; i++) m->w.rms_att[i] = 1.0f + 0.01f * i, m->w.rms_ffn[i] = 0.5f + 0.02f * i;
}

static void assert_same_logits(const llama_model *a, const llama_model *b) {
    llama_state sa, sb;
    llama_state_build(&sa, &a->config);
    llama_state_build(&sb, &b->config);
    int toks[5] = {1, 7, 33, 2, 39};
    for (int pos = 0; pos < 5; pos++) {
        float *la = llama_forward(a, &sa, toks[pos], pos);
        float *lb = llama_forward(b, &sb, toks[pos], pos);
        assert_memory_equal(la, lb, a->config.vocab_size * sizeof(float));
    }
    llama_state_free(&sa);
    llama_state_free(&sb);
}

static void test_v0_round_trip(void **state) {
    (void)state;
    for (int shared = 0; shared < 2; shared++) {
        llama_model m, r;
        random_model(&m, shared, 2);
        const char *dir = rq_test_tmpdir("llama_v0");
        char path[512];
        snprintf(path, sizeof path, "%s/m.bin", dir);
        assert_int_equal(llama_save_v0(&m, path), 0);
        assert_int_equal(llama_load(&r, path), 0);
        assert_memory_equal(&r.config, &m.config, sizeof m.config);
        assert_int_equal(r.n_params, m.n_params);
        assert_memory_equal(r.params, m.params, m.n_params * sizeof(float));
        assert_same_logits(&m, &r);
        llama_free(&m);
        llama_free(&r);
    }
    // stories260K: our version-0 writer reproduces the file byte for byte.
    const char *path = rq_test_data("llama2c/stories260K.bin");
    if (!path) return;
    uint8_t *orig, *mine;
    size_t olen, mlen;
    assert_int_equal(rq_read_file(path, &orig, &olen), 0);
    llama_model m;
    assert_int_equal(llama_load_mem(&m, orig, olen, path), 0);
    llama_serialise_v0(&m, &mine, &mlen);
    assert_int_equal(mlen, olen);
    // The weights and header are identical; the unused freq_cis tables are recomputed by us and
    // may differ from PyTorch's in the last bit, so compare them with a tolerance.
    size_t rope_at = 28 + 4 * m.n_params, rope_n = 512 * 8 / 2 * 2;
    assert_memory_equal(mine, orig, rope_at);
    for (size_t i = 0; i < rope_n; i++) {
        float a = rq_bits_f32(rq_rd_u32le(mine + rope_at + 4 * i)), b = rq_bits_f32(rq_rd_u32le(orig + rope_at + 4 * i));
        assert_true(fabsf(a - b) < 1e-3f);
    }
    free(orig);
    free(mine);
    llama_free(&m);
}

static void test_v1_reads_same_weights(void **state) {
    (void)state;
    for (int shared = 0; shared < 2; shared++) {
        llama_model m, r;
        random_model(&m, shared, 1);
        rq_buf b = {0};
        rq_test_llama_v1(&m, &b);
        assert_int_equal(llama_load_mem(&r, b.data, b.len, "v1.bin"), 0);
        assert_memory_equal(&r.config, &m.config, sizeof m.config);
        assert_memory_equal(r.params, m.params, m.n_params * sizeof(float));
        llama_free(&r);
        // the v1 header has the v0 limits: seq_len above 65,536 is refused at its offset (32)
        rq_wr_u32le(b.data + 32, 65537);
        assert_int_equal(llama_load_mem(&r, b.data, b.len, "v1.bin"), RQ_EINPUT);
        assert_non_null(strstr(rq_last_error(), "v1.bin: byte 32: seq_len = 65537 is out of range [1, 65536]"));
        rq_wr_u32le(b.data + 32, (uint32_t)m.config.seq_len);
        // version 2 (Q8_0) is refused by name
        rq_wr_u32le(b.data + 4, 2);
        assert_int_equal(llama_load_mem(&r, b.data, b.len, "v2.bin"), RQ_EINPUT);
        assert_non_null(strstr(rq_last_error(), "v2.bin: byte 4: llama2.c file version 2"));
        rq_buf_free(&b);
        llama_free(&m);
    }
}

// Load must fail with RQ_EINPUT and a message containing want.
static void expect_error(const uint8_t *data, size_t len, const char *want) {
    llama_model m;
    int rc = llama_load_mem(&m, data, len, "bad.bin");
    if (rc != RQ_EINPUT || !strstr(rq_last_error(), want)) fail_msg("rc %d, message '%s', wanted '%s'", rc, rq_last_error(), want);
}

static void test_broken_files(void **state) {
    (void)state;
    llama_model m;
    random_model(&m, 1, 2);
    uint8_t *good;
    size_t len;
    llama_serialise_v0(&m, &good, &len);
    uint8_t *bad = malloc(len + 8);

    expect_error(good, 10, "bad.bin: byte 8: truncated");
    expect_error(good, len - 4, "truncated: the header implies");
    memcpy(bad, good, len);
    memset(bad + len, 0, 8);
    expect_error(bad, len + 8, "8 unexpected bytes after the weights");

    struct { int field; int32_t value; const char *want; } cases[] = {
        {0, 0, "byte 0: dim = 0 is out of range"},
        {1, -5, "byte 4: hidden_dim = -5 is out of range"},
        {2, 0, "byte 8: n_layers = 0"},
        {3, 3, "n_heads does not divide dim"},
        {4, 3, "n_kv_heads does not divide n_heads"},
        {4, 0, "byte 16: n_kv_heads = 0"},
        {5, 0, "byte 20: vocab_size = 0"},
        {6, -1, "byte 24: seq_len = -1"},
        {6, 65537, "byte 24: seq_len = 65537 is out of range [1, 65536]"},  // one limit, as documented
        {3, 16, "head size dim/n_heads is odd"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bad, good, len);
        rq_wr_u32le(bad + 4 * cases[i].field, (uint32_t)cases[i].value);
        expect_error(bad, len, cases[i].want);
    }
    // A NaN inside the weights is reported at its byte offset.
    memcpy(bad, good, len);
    rq_wr_u32le(bad + 28 + 4 * 100, 0x7fc00000u);
    expect_error(bad, len, "bad.bin: byte 428: weights[100] is not a finite number");
    // A header claiming more layers than the data holds is a size mismatch, not a crash.
    memcpy(bad, good, len);
    rq_wr_u32le(bad + 8, 3);
    expect_error(bad, len, "truncated: the header implies");
    free(good);
    free(bad);
    llama_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories260K_shape),
        cmocka_unit_test(test_v0_round_trip),
        cmocka_unit_test(test_v1_reads_same_weights),
        cmocka_unit_test(test_broken_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
