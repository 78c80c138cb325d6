// test_lm_stream.c: streaming weights on the host. lm_forward with matrices fetched through a
// weight source (infer/lm_kernel.h lm_wsource) equals the resident forward bit for bit for every
// block size; the streaming image (export/ps2/lm_stream.h) round-trips, with every matrix
// streamed, some or all cached; corrupt images are refused at open, and a corrupt matrix is
// caught by its CRC while it streams, before the forward returns.
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/crc32.h"
#include "base/endian.h"
#include "base/rng.h"
#include "export/ps2/lm_stream.h"
#include "export/ps2/lm_stream_write.h"
#include "infer/lm_kernel.h"
#include "model/llama.h"
#include "qat/lm_quant.h"

// A small random model: grouped-query attention, odd hidden size, shared or unshared classifier.
static void build_model(lm_model *q, int wbits, int shared) {
    llama_config c = {.dim = 32, .hidden_dim = 46, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 61,
                      .seq_len = 24, .shared_classifier = shared};
    llama_model f;
    assert_int_equal(llama_build(&f, &c), 0);
    llama_init_random(&f, 17 + (uint64_t)wbits + (uint64_t)shared);
    for (int i = 0; i < c.vocab_size * c.dim; i++) f.w.token_embedding[i] *= 20;
    uint16_t cal[120];
    pcg32 r;
    pcg32_seed(&r, 5, 5);
    for (int i = 0; i < 120; i++) cal[i] = (uint16_t)pcg32_bounded(&r, (uint32_t)c.vocab_size);
    assert_int_equal(lmq_ptq(&f, cal, 120, wbits, q), 0);
    llama_free(&f);
}

// Logits of positions 0..n-1 for a fixed token sequence.
static int32_t *run_logits(const lm_model *m, int n) {
    int V = m->c.vocab_size;
    int32_t *all = malloc((size_t)n * V * sizeof(int32_t));
    void *mem = calloc(1, lm_state_bytes(&m->c));
    lm_state s;
    lm_state_init(&s, &m->c, mem);
    for (int p = 0; p < n; p++) memcpy(all + (size_t)p * V, lm_forward(m, &s, (p * 7 + 3) % V, p), V * sizeof(int32_t));
    free(mem);
    return all;
}

// ---- the kernel's weight source ------------------------------------------------------------------

typedef struct {
    const uint8_t *disc;
    long reads;
} mem_src;

static void mem_read(void *ctx, uint32_t off, void *buf, uint32_t n) {
    mem_src *s = ctx;
    memcpy(buf, s->disc + off, n);
    s->reads++;
}

static void test_kernel_source_bit_exact(void **state) {
    (void)state;
    for (int variant = 0; variant < 4; variant++) {
        lm_model q;
        build_model(&q, variant & 1 ? 4 : 8, variant & 2 ? 0 : 1);
        int n = q.c.seq_len;
        int32_t *want = run_logits(&q, n);
        // every matrix into one "disc", in the streaming image's order
        static lmst_mat lay[7 * LM_MAX_LAYERS + 1];
        lm_model sm = q;
        int nm = lmst_mats(&sm, lay);
        size_t total = 0;
        uint32_t max_row = 0;
        for (int i = 0; i < nm; i++) {
            uint32_t rb = lm_row_bytes(lay[i].bits, lay[i].cols);
            total += (size_t)rb * lay[i].rows;
            if (rb > max_row) max_row = rb;
        }
        uint8_t *disc = malloc(total);
        size_t at = 0;
        for (int i = 0; i < nm; i++) {
            size_t b = (size_t)lm_row_bytes(lay[i].bits, lay[i].cols) * lay[i].rows;
            memcpy(disc + at, lay[i].mat->w, b);
            lay[i].mat->w = NULL, lay[i].mat->off = (uint32_t)at;
            at += b;
        }
        // one row, three rows, an odd byte count, a whole hidden-size matrix
        uint32_t sizes[] = {max_row, 3 * max_row, 1001 > max_row ? 1001 : max_row, 46 * 32};
        for (int k = 0; k < 4; k++) {
            uint8_t *buf = malloc(sizes[k]);
            mem_src ms = {disc, 0};
            lm_wsource src = {mem_read, &ms, buf, sizes[k]};
            sm.src = &src;
            int32_t *got = run_logits(&sm, n);
            assert_memory_equal(got, want, (size_t)n * q.c.vocab_size * 4);
            assert_true(ms.reads >= (long)nm * n);  // every matrix of every position streamed
            free(got), free(buf);
        }
        free(disc), free(want);
        lmq_free(&q);
    }
}

// ---- the streaming image -------------------------------------------------------------------------

typedef struct {
    const uint8_t *img;
    size_t len;
} img_src;

static int img_read(void *ctx, uint32_t off, void *buf, uint32_t n) {
    img_src *s = ctx;
    if (off > s->len || n > s->len - off) return -1;
    memcpy(buf, s->img + off, n);
    return 0;
}

// A bump arena like the target's (export/rt/arena.c).
static uint8_t *arena;
static size_t arena_used, arena_cap;
static void *arena_alloc(size_t n) {
    n = (n + 3) & ~(size_t)3;
    if (n > arena_cap - arena_used) return NULL;
    void *p = arena + arena_used;
    arena_used += n;
    return p;
}
static void arena_reset(size_t cap) {
    free(arena);
    arena = calloc(1, cap), arena_cap = cap, arena_used = 0;
}

static jmp_buf on_fail;
static char fail_msg_buf[256];
static void fail_jump(void *ctx, const infer_err *e) {
    (void)ctx;
    infer_err_format(e, fail_msg_buf, sizeof fail_msg_buf);
    longjmp(on_fail, 1);
}

static void fail_test(void *ctx, const infer_err *e) {
    (void)ctx;
    infer_err_format(e, fail_msg_buf, sizeof fail_msg_buf);
    fail_msg("streaming failed: %s", fail_msg_buf);
}

// expect: lmst_open's result (0 or INFER_EBAD); 1 means 0 with streaming failures jumping to on_fail.
static void open_image(lmst *st, lm_model *m, img_src *src, uint32_t buf_bytes, infer_err *e, int expect) {
    memset(st, 0, sizeof *st);
    st->read = img_read, st->read_ctx = src, st->fail = expect == 1 ? fail_jump : fail_test;
    if (expect == 1) expect = 0;
    assert_int_equal(lmst_open(st, m, buf_bytes, arena_alloc, e), expect);
}

static void test_image_round_trip(void **state) {
    (void)state;
    for (int variant = 0; variant < 4; variant++) {
        lm_model q;
        build_model(&q, variant & 1 ? 4 : 8, variant & 2 ? 0 : 1);
        int n = q.c.seq_len;
        int32_t *want = run_logits(&q, n);
        rq_buf b = {0};
        lmst_sizes sz;
        assert_int_equal(lmst_write(&q, 0, &b, &sz), 0);
        assert_int_equal(b.len % LMST_SECTOR, 0);
        assert_int_equal(sz.total, b.len);
        img_src src = {b.data, b.len};
        // 0: everything streamed through a one-row buffer; 1: half the matrices cached; 2: all
        for (int mode = 0; mode < 3; mode++) {
            arena_reset(8u << 20);
            lmst st;
            lm_model m;
            infer_err e;
            open_image(&st, &m, &src, mode == 0 ? 1 : 4096, &e, 0);
            assert_int_equal(st.src.buf_bytes, mode == 0 ? ((sz.max_row + 3) & ~3u) : 4096);
            for (int i = 0; i < (int)st.n_mats; i++) assert_int_equal(st.mats[i].off % LMST_SECTOR, 0);
            if (mode == 1) arena_cap = arena_used + sz.matrices / 2;
            if (mode > 0) assert_true(lmst_cache(&st, &m, arena_alloc, &e) > 0);
            if (mode == 2) assert_int_equal(st.bytes_cached, sz.matrices);
            if (mode == 1) assert_true(st.bytes_cached > 0 && st.bytes_cached < sz.matrices);
            int32_t *got = run_logits(&m, n);
            assert_memory_equal(got, want, (size_t)n * q.c.vocab_size * 4);
            assert_int_equal(st.bytes_streamed, (uint64_t)(sz.matrices - st.bytes_cached) * (uint64_t)n);
            free(got);
        }
        rq_buf_free(&b);
        free(want);
        lmq_free(&q);
    }
}

static void expect_open_error(uint8_t *img, size_t len, const char *needle) {
    arena_reset(4u << 20);
    img_src src = {img, len};
    lmst st;
    lm_model m;
    infer_err e;
    open_image(&st, &m, &src, 4096, &e, INFER_EBAD);
    char msg[256];
    infer_err_format(&e, msg, sizeof msg);
    if (!strstr(msg, needle)) fail_msg("expected '%s' in: %s", needle, msg);
}

static void test_image_corrupt(void **state) {
    (void)state;
    lm_model q;
    build_model(&q, 8, 0);
    rq_buf b = {0};
    lmst_sizes sz;
    assert_int_equal(lmst_write(&q, 0, &b, &sz), 0);
    uint8_t *c = malloc(b.len);
#define FRESH() memcpy(c, b.data, b.len)
    FRESH(), c[0] = 'X', expect_open_error(c, b.len, "byte 0: bad magic");
    FRESH(), c[4] = 1, expect_open_error(c, b.len, "byte 4: image is big-endian");
    FRESH(), c[5] = 9, expect_open_error(c, b.len, "byte 5: unsupported streaming image version 9");
    FRESH(), c[50] ^= 1, expect_open_error(c, b.len, "byte 12: header CRC mismatch");
    uint32_t roff = rq_rd_u32le(b.data + 20);
    FRESH(), c[roff + 7] ^= 0x40, expect_open_error(c, b.len, "resident part CRC mismatch");
    FRESH(), expect_open_error(c, 2048, "byte 2048: read error in the resident part");  // a short disc

    // a flipped byte in matrix 3 (layer 0 wo): open succeeds, the forward stops in that matrix
    uint32_t moff = rq_rd_u32le(b.data + LMST_HEADER_FIXED + 12 * 3);
    FRESH(), c[moff + 100] ^= 0x01;
    arena_reset(4u << 20);
    img_src src = {c, b.len};
    lmst st;
    lm_model m;
    infer_err e;
    open_image(&st, &m, &src, 64, &e, 1);  // 1: failures jump back here
    void *mem = calloc(1, lm_state_bytes(&m.c));
    lm_state s;
    lm_state_init(&s, &m.c, mem);
    volatile int reached = 0;
    if (setjmp(on_fail) == 0) {
        lm_forward(&m, &s, 3, 0);
        reached = 1;
    }
    assert_int_equal(reached, 0);
    char want[64];
    snprintf(want, sizeof want, "byte %u: CRC mismatch in streamed matrix 3", moff);
    if (!strstr(fail_msg_buf, want)) fail_msg("expected '%s' in: %s", want, fail_msg_buf);
    // the same matrix kept resident is checked when it is cached
    arena_reset(4u << 20);
    open_image(&st, &m, &src, 64, &e, 0);
    assert_int_equal(lmst_cache(&st, &m, arena_alloc, &e), -2);
    infer_err_format(&e, fail_msg_buf, sizeof fail_msg_buf);
    assert_non_null(strstr(fail_msg_buf, "CRC mismatch in matrix 3"));
    free(mem), free(c);
    rq_buf_free(&b);
    lmq_free(&q);
    free(arena), arena = NULL;
}

static void test_crc_matches_zlib(void **state) {
    (void)state;
    lmst_crc_init();
    assert_int_equal(lmst_crc(0, "123456789", 9), 0xCBF43926u);
    uint8_t buf[1037];
    for (int i = 0; i < (int)sizeof buf; i++) buf[i] = (uint8_t)(i * 131 + 7);
    // unaligned starts and pieces give the CRC of the whole
    uint32_t whole = lmst_crc(0, buf, sizeof buf), parts = lmst_crc(lmst_crc(lmst_crc(0, buf, 3), buf + 3, 518), buf + 521, 516);
    assert_int_equal(whole, parts);
    assert_int_equal(whole, crc32_update(0, buf, sizeof buf));
    assert_int_equal(lmst_crc(0, buf + 1, 1000), crc32_update(0, buf + 1, 1000));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc_matches_zlib),
        cmocka_unit_test(test_kernel_source_bit_exact),
        cmocka_unit_test(test_image_round_trip),
        cmocka_unit_test(test_image_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
