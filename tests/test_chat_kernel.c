// test_chat_kernel.c: the integer contract (infer/chat_kernel): packing, wrap and floor, argmax
// ties, the model image, the generation loop, the worst-case bounds, and the promise that the
// trainer's fake-quant graph at lambda = 1 computes the kernel's numbers bit for bit.
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "qat/image_open.h"
#include "base/rng.h"
#include "infer/chat_kernel.h"
#include "model/chatnet.h"
#include "qat/quant.h"

static void test_pack_known_answer_and_round_trips(void **state) {
    (void)state;
    // values 1, -2, -1, 0 | 1  -> codes 1, 2, 3, 0 | 1 -> 0b00111001 = 0x39, then 0x01 (padding 0)
    const int8_t v[5] = {1, -2, -1, 0, 1};
    uint8_t p[2];
    chat_pack_row(v, 5, p);
    assert_int_equal(p[0], 0x39);
    assert_int_equal(p[1], 0x01);
    for (int c = 0; c < 4; c++) assert_int_equal(chat_value_code(chat_code_value(c)), c);
    pcg32 r;
    pcg32_seed(&r, 3, 3);
    for (int n = 1; n <= 37; n++) {
        int8_t a[37], b[37];
        uint8_t q[10];
        for (int i = 0; i < n; i++) a[i] = (int8_t)((int)pcg32_bounded(&r, 4) - 2);
        chat_pack_row(a, n, q);
        chat_unpack_row(q, n, b);
        assert_memory_equal(a, b, (size_t)n);
        if (n % 4) assert_int_equal(q[n / 4] >> (2 * (n % 4)), 0);  // padding codes are 0
    }
}

static void test_wrap_floor_and_argmax(void **state) {
    (void)state;
    assert_int_equal(chat_wrap16(32767), 32767);
    assert_int_equal(chat_wrap16(32768), -32768);
    assert_int_equal(chat_wrap16(-32769), 32767);
    assert_int_equal(chat_wrap16(65536 + 5), 5);
    assert_int_equal(chat_floor_shift(5, 2), 1);
    assert_int_equal(chat_floor_shift(-1, 2), -1);  // floor, not truncation toward zero
    assert_int_equal(chat_floor_shift(-4, 2), -1);
    assert_int_equal(chat_floor_shift(-5, 2), -2);
    assert_int_equal(chat_floor_shift(-32768, 15), -1);
    const int16_t v[5] = {3, 7, -2, 7, 1};
    assert_int_equal(chat_argmax(v, 5), 1);  // the first maximum wins
}

// One layer by hand: 5 inputs, 2 outputs, with a wrap and a negative floor.
static void test_layer_by_hand(void **state) {
    (void)state;
    const int8_t w0[5] = {1, -2, 0, -1, 1}, w1[5] = {-2, -2, -2, -2, -2};
    uint8_t w[4];
    chat_pack_row(w0, 5, w), chat_pack_row(w1, 5, w + 2);
    const int16_t x[5] = {100, 7, 9999, 3, 30000};
    // row 0: 10 + 100 - 14 + 0 - 3 + 30000 = 30093 -> >> 2 = 7523
    // row 1: -5 - 2*(100+7+9999+3+30000) = -80223 -> wrap: -80223 + 131072 = 50849 -> -14687 -> floor/4 = -3672
    uint8_t b[4] = {10, 0, (uint8_t)(-5 & 0xFF), 0xFF};
    int16_t y[2];
    int32_t pre[2];
    chat_layer_forward(w, b, 5, 2, x, 2, 0, y, pre);
    assert_int_equal(pre[0], 30093);
    assert_int_equal(pre[1], -80223);
    assert_int_equal(y[0], 7523);
    assert_int_equal(y[1], -3672);
    chat_layer_forward(w, b, 5, 2, x, 2, 1, y, NULL);  // ReLU
    assert_int_equal(y[1], 0);
}

// A random model and its image (through the trainer's chatnet_to_image).
typedef struct {
    chatnet net;
    float *params;
    chatnet_quant q;
    chat_enc_cfg e;
    uint8_t *img;
    chat_imodel m;
} rmodel;

// zfrac > 0: each layer gets the dead zone that zeroes that share of its weights (qat.zero_frac).
static void build_random(rmodel *rm, int L, const int *dims, int Q, pcg32 *r, float wscale, int ternary, float zfrac) {
    build_chatnet(&rm->net, L, dims, 64);
    rm->params = calloc(rm->net.n_params, sizeof(float));
    for (size_t i = 0; i < rm->net.n_params; i++) rm->params[i] = wscale * pcg32_normal(r);
    memset(&rm->q, 0, sizeof rm->q);
    rm->q.in_shift = (int)pcg32_bounded(r, 8);
    rm->q.ternary = ternary;
    for (int l = 0; l < L; l++) rm->q.shift[l] = (int)pcg32_bounded(r, 6), rm->q.bexp[l] = (int)pcg32_bounded(r, 14);
    if (zfrac > 0.0f) {
        float *scratch = malloc(sizeof(float) * rm->net.n_weights);
        size_t o = 0;
        for (int l = 0; l < L; l++) {
            size_t n = (size_t)dims[l + 1] * dims[l];
            rm->q.dz[l] = qat_deadzone(rm->params + o, n, zfrac, scratch);
            o += n;
        }
        free(scratch);
    }
    rm->e = (chat_enc_cfg){.q_buckets = Q, .k_buckets = dims[0] - Q, .context = 4, .max_query = 40};
    char cs[256];
    for (int k = 0; k < dims[L] - 1; k++) cs[k] = (char)('A' + k % 26);
    rm->img = malloc(chat_image_size(L, dims));
    chatnet_to_image(&rm->net, rm->params, &rm->q, &rm->e, 20, cs, rm->img, &rm->m);
}

static void free_random(rmodel *rm) {
    free_chatnet(&rm->net);
    free(rm->params), free(rm->img);
}

// THE promise: fake-quant logits (lambda = 1, float, BLAS) == infer/ logits, and the float graph's
// accumulators == the kernel's exact pre-wrap sums, on random models (odd widths, ternary too) and
// random inputs, including accumulators that wrap.
static void test_fake_quant_equals_kernel_bit_exact(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 11, 12);
    const int shapes[][5] = {{16, 9, 7, 5, 3}, {9, 6, 5, 0, 0}, {64, 33, 17, 11, 0}, {256, 256, 192, 128, 43}};
    const int nl[] = {4, 2, 3, 4}, qb[] = {8, 8, 32, 128};
    long logits = 0, wraps = 0, models = 0, dz_models = 0;
    for (int s = 0; s < 4; s++)
        for (int rep = 0; rep < (s == 3 ? 2 : 12); rep++) {
            rmodel rm;
            int ternary = rep % 3 == 2;
            // every fourth model with dead zones (60-95% zero codes per layer)
            float zf = rep % 4 == 1 ? 0.6f + 0.35f * pcg32_float(&r) : 0.0f;
            build_random(&rm, nl[s], shapes[s], qb[s], &r, rep % 2 ? 0.9f : 1.7f, ternary, zf);
            dz_models += zf > 0.0f;
            // the image parses back to the same model
            chat_imodel m2;
            int prc = chat_image_parse(rm.img, chat_image_size(nl[s], shapes[s]), "img", &m2);
            if (prc) print_error("%s\n", rq_last_error());
            assert_int_equal(prc, 0);
            assert_int_equal(m2.in_shift, rm.q.in_shift);
            int B = 40, d0 = shapes[s][0], L = nl[s], C = shapes[s][L];
            uint8_t *x = malloc((size_t)B * d0);
            for (int i = 0; i < B * d0; i++) x[i] = (uint8_t)(pcg32_bounded(&r, 3) == 0 ? pcg32_bounded(&r, 6) : 0);
            chatnet_forward(&rm.net, rm.params, &rm.q, 1.0f, x, B, NULL);
            if (zf > 0.0f) {  // the requested share of zero codes, layer by layer
                const float *we = rm.net.weff;
                for (int l = 0; l < L; l++) {
                    size_t n = (size_t)shapes[s][l + 1] * shapes[s][l], z = 0;
                    for (size_t i = 0; i < n; i++) z += we[i] == 0.0f;
                    assert_true(fabs((double)z / (double)n - zf) <= 1.0 / (double)n + 1e-6);
                    we += n;
                }
            }
            int32_t acc[CHAT_MAX_LAYERS][CHAT_MAX_WIDTH];
            int32_t *accp[CHAT_MAX_LAYERS];
            for (int l = 0; l < L; l++) accp[l] = acc[l];
            for (int b = 0; b < B; b++) {
                int16_t lg[CHAT_MAX_WIDTH];
                int k = chat_forward(&m2, x + (size_t)b * d0, lg, accp);
                for (int j = 0; j < C; j++) assert_true((float)lg[j] == rm.net.x[L][(size_t)b * C + j]);
                for (int l = 0; l < L; l++)
                    for (int j = 0; j < shapes[s][l + 1]; j++) {
                        assert_true((float)acc[l][j] == rm.net.acc[l][(size_t)b * shapes[s][l + 1] + j]);
                        wraps += acc[l][j] > 32767 || acc[l][j] < -32768;
                    }
                int best = 0;
                for (int j = 1; j < C; j++)
                    if (rm.net.x[L][(size_t)b * C + j] > rm.net.x[L][(size_t)b * C + best]) best = j;
                assert_int_equal(k, best);
                logits += C;
            }
            free(x);
            free_random(&rm);
            models++;
        }
    print_message("fake-quant == kernel: %ld models (%ld with dead zones), %ld logits bit-exact, %ld wrapped accumulators\n", models, dz_models,
                  logits, wraps);
    assert_true(dz_models >= 6);
    assert_true(wraps > 100);  // the wrap path was exercised
}

static void test_bounds_hold_on_real_inputs(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 5, 5);
    const int dims[] = {32, 12, 9, 6};
    for (int rep = 0; rep < 20; rep++) {
        rmodel rm;
        build_random(&rm, 3, dims, 16, &r, 1.0f, 0, 0.0f);
        rm.m.in_shift = rm.q.in_shift = (int)pcg32_bounded(&r, 4);
        char cs[8] = "ABCDE";
        chatnet_to_image(&rm.net, rm.params, &rm.q, &rm.e, 20, cs, rm.img, &rm.m);
        int32_t lo[CHAT_MAX_LAYERS], hi[CHAT_MAX_LAYERS];
        chat_bounds(&rm.m, lo, hi);
        int32_t acc[CHAT_MAX_LAYERS][CHAT_MAX_WIDTH];
        int32_t *accp[CHAT_MAX_LAYERS] = {acc[0], acc[1], acc[2]};
        for (int t = 0; t < 200; t++) {
            char q[48];
            int n = 1 + (int)pcg32_bounded(&r, 47);
            for (int i = 0; i < n; i++) q[i] = (char)(32 + pcg32_bounded(&r, 95));
            uint8_t ctx[4], counts[32];
            for (int i = 0; i < 4; i++) ctx[i] = (uint8_t)(32 + pcg32_bounded(&r, 95));
            chat_encode_query(&rm.e, q, n, counts);
            chat_encode_context(&rm.e, ctx, counts + 16);
            int16_t lg[8];
            chat_forward(&rm.m, counts, lg, accp);
            for (int l = 0; l < 3; l++)
                for (int j = 0; j < dims[l + 1]; j++) assert_true(acc[l][j] >= lo[l] && acc[l][j] <= hi[l]);
        }
        free_random(&rm);
    }
}

// The generation loop: a one-layer model whose biases alone choose the class.
static void test_generate_loop_stops_at_end_or_max(void **state) {
    (void)state;
    chat_imodel m = {.enc = {.q_buckets = 4, .k_buckets = 4, .context = 3, .max_query = 8}, .max_answer = 5, .mode = CHAT_W2BIT, .n_layers = 1};
    m.dims[0] = 8, m.dims[1] = 3;
    uint8_t img[256];
    assert_true(chat_image_size(1, m.dims) <= sizeof img);
    chat_image_layout(&m, img, (const uint8_t *)"XY");
    uint8_t *b = (uint8_t *)m.b[0];
    b[4] = 9;  // class 2 ('Y') has bias 9, the others 0: every step answers 'Y'
    char out[16];
    assert_int_equal(chat_generate(&m, "hello", 5, out, sizeof out), 5);
    assert_string_equal(out, "YYYYY");
    assert_int_equal(chat_generate(&m, "hello", 5, out, 3), 2);  // the buffer limit
    b[0] = 9;                                                     // tie between end and 'Y': the first (end) wins
    assert_int_equal(chat_generate(&m, "hello", 5, out, sizeof out), 0);
    assert_string_equal(out, "");
}

static void test_image_errors(void **state) {
    (void)state;
    chat_imodel m = {.enc = {.q_buckets = 4, .k_buckets = 4, .context = 3, .max_query = 8}, .max_answer = 5, .mode = CHAT_WTERNARY, .n_layers = 1};
    m.dims[0] = 8, m.dims[1] = 3;
    m.dims[0] = 7;  // odd width: the image will not parse (Q + K = 8)
    uint8_t img[256], bad[256];
    size_t n = chat_image_layout(&m, img, (const uint8_t *)"XY");
    chat_imodel p;
    assert_int_equal(chat_image_parse(img, n, "m.img", &p), RQ_EINPUT);
    assert_string_equal(rq_last_error(), "m.img: byte 16: input width 7 != Q + K = 8");
    m.dims[0] = 8;
    n = chat_image_layout(&m, img, (const uint8_t *)"XY");
    assert_int_equal(chat_image_parse(img, n, "m.img", &p), 0);
    assert_int_equal(chat_image_parse(img, n - 1, "m.img", &p), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "truncated"));
    memcpy(bad, img, n);
    bad[0] = 'X';
    assert_int_equal(chat_image_parse(bad, n, "m.img", &p), RQ_EINPUT);
    assert_string_equal(rq_last_error(), "m.img: byte 0: not a chat model image (magic RQCI)");
    memcpy(bad, img, n);
    ((uint8_t *)bad)[m.w[0] - img] = 0x02;  // code -2 in a ternary model
    assert_int_equal(chat_image_parse(bad, n, "m.img", &p), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "code -2 in a ternary model"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_known_answer_and_round_trips),
        cmocka_unit_test(test_wrap_floor_and_argmax),
        cmocka_unit_test(test_layer_by_hand),
        cmocka_unit_test(test_fake_quant_equals_kernel_bit_exact),
        cmocka_unit_test(test_bounds_hold_on_real_inputs),
        cmocka_unit_test(test_generate_loop_stops_at_end_or_max),
        cmocka_unit_test(test_image_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
