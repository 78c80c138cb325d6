// test_chat_model.c: the float QAT graph (model/chatnet, with the activation L1) against finite
// differences, and against the integer contract (infer/chat_kernel): fake-quant logits == kernel
// logits, bit for bit.
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "infer/chat_kernel.h"
#include "model/chatnet.h"
#include "qat/quant.h"

// A small random network: dims d, params with shadow weights near the grid, random counts.
typedef struct {
    chatnet net;
    float *params, *grads;
    chatnet_quant q;
    uint8_t *x, *y;
    int B;
} small;

static void build_small(small *s, int L, const int *dims, int B, uint64_t seed, float wstd) {
    pcg32 r;
    pcg32_seed(&r, seed, 1);
    build_chatnet(&s->net, L, dims, B);
    s->params = calloc(s->net.n_params, sizeof(float));
    s->grads = calloc(s->net.n_params, sizeof(float));
    for (size_t i = 0; i < s->net.n_weights; i++) s->params[i] = wstd * pcg32_normal(&r);
    for (size_t i = s->net.n_weights; i + 1 < s->net.n_params; i++) s->params[i] = 0.5f * pcg32_normal(&r);
    s->params[s->net.n_params - 1] = -3.0f;  // logtau
    memset(&s->q, 0, sizeof s->q);
    s->q.in_shift = 3;
    for (int l = 0; l < L; l++) s->q.shift[l] = l < L - 1 ? 2 : 0, s->q.bexp[l] = 4;
    s->B = B;
    s->x = malloc((size_t)B * dims[0]);
    s->y = malloc((size_t)B);
    for (int i = 0; i < B * dims[0]; i++) s->x[i] = (uint8_t)(pcg32_bounded(&r, 4) == 0 ? pcg32_bounded(&r, 3) + 1 : 0);
    for (int i = 0; i < B; i++) s->y[i] = (uint8_t)pcg32_bounded(&r, (uint32_t)dims[L]);
}

static void free_small(small *s) {
    free_chatnet(&s->net);
    free(s->params), free(s->grads), free(s->x), free(s->y);
}

// Finite differences at lambda = 0 (the smooth float graph; the STE backward is the same code at
// every lambda). Double-sided, step h; compare with the analytic gradient.
static void test_chatnet_gradients_match_finite_differences(void **state) {
    (void)state;
    const int dims[] = {10, 9, 7, 5};
    small s;
    build_small(&s, 3, dims, 6, 7, 0.8f);
    chatnet_forward(&s.net, s.params, &s.q, 0.0f, s.x, s.B, s.y);
    chatnet_backward(&s.net, s.params, &s.q, 0.0f, s.B, s.y, NULL, s.grads);
    int checked = 0, bad = 0;
    for (size_t i = 0; i < s.net.n_params; i++) {
        float keep = s.params[i];
        float h = 2e-3f;
        s.params[i] = keep + h;
        double lp = chatnet_forward(&s.net, s.params, &s.q, 0.0f, s.x, s.B, s.y);
        s.params[i] = keep - h;
        double lm = chatnet_forward(&s.net, s.params, &s.q, 0.0f, s.x, s.B, s.y);
        s.params[i] = keep;
        double fd = (lp - lm) / (2 * h), an = s.grads[i];
        // relative 2%, plus the float rounding of the loss (~1e-7 * loss / h)
        checked++;
        if (fabs(fd - an) > 2e-2 * (fabs(fd) + fabs(an)) + 1e-4) {
            bad++;
            if (bad < 10) fprintf(stderr, "param %zu: fd %.6g analytic %.6g\n", i, fd, an);
        }
    }
    // A ReLU kink inside [p-h, p+h] can spoil a coordinate or two; more than that is a bug.
    assert_true(checked == (int)s.net.n_params);
    assert_true(bad <= 1);
    free_small(&s);
}


// Whether every hidden accumulator of the last forward has the ReLU gate (acc > 0) of `gate`.
static int same_gates(const chatnet *n, int B, const uint8_t *gate) {
    for (int l = 0, o = 0; l + 1 < n->L; l++)
        for (int i = 0; i < B * n->dims[l + 1]; i++, o++)
            if ((n->acc[l][i] > 0.0f) != gate[o]) return 0;
    return 1;
}

// Central differences of CE + P over every parameter against s->grads (the analytic gradient of
// both), at lambda 0 with P's normaliser frozen. P (the penalty of the current forward) is
// piecewise linear: a coordinate whose +-h forwards change a ReLU gate, or (kink_at_zero) a weight
// within 2h of 0, is skipped. moved counts the coordinates where P's gradient (s->grads - gce)
// exceeds the tolerance by far. Returns the number of mismatches.
typedef double (*penalty_fn)(small *s, void *ctx);
typedef struct {
    int checked, skipped, moved;
} fd_counts;
static int fd_check_penalty(small *s, penalty_fn pen, void *ctx, const float *gce, const uint8_t *gate, int kink_at_zero,
                            fd_counts *c) {
    int bad = 0;
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < s->net.n_params; i++) {
        float keep = s->params[i], h = 2e-3f;
        if (kink_at_zero && i < s->net.n_weights && fabsf(keep) < 2 * h) {
            c->skipped++;
            continue;
        }
        s->params[i] = keep + h;
        double lp = chatnet_forward(&s->net, s->params, &s->q, 0.0f, s->x, s->B, s->y) + pen(s, ctx);
        int same = same_gates(&s->net, s->B, gate);
        s->params[i] = keep - h;
        double lm = chatnet_forward(&s->net, s->params, &s->q, 0.0f, s->x, s->B, s->y) + pen(s, ctx);
        same = same && same_gates(&s->net, s->B, gate);
        s->params[i] = keep;
        if (!same) {
            c->skipped++;
            continue;
        }
        // as in the chatnet check: relative 2%, plus the float rounding of the loss (~1e-7 * loss / h)
        double fd = (lp - lm) / (2 * h), an = s->grads[i], tol = 2e-2 * (fabs(fd) + fabs(an)) + 1e-4;
        c->checked++;
        c->moved += fabs(an - gce[i]) > 10 * tol;
        if (fabs(fd - an) > tol) {
            bad++;
            if (bad < 10) fprintf(stderr, "param %zu: fd %.6g analytic %.6g\n", i, fd, an);
        }
    }
    return bad;
}

typedef struct {
    float mu, *m;
} act_l1_ctx;
static double act_l1_pen(small *s, void *ctx) {
    act_l1_ctx *a = ctx;
    return chatnet_act_l1_forward(&s->net, s->B, a->mu, a->m);
}

// The whole loss with the activation L1 (qat.act_l1, train/chat_family.c): CE + P(x; m), m frozen
// at the base point as the trainer's gradient holds it (with m re-measured P is mu times the share
// of active units, a step function that finite differences cannot see). Parameters against central
// differences at lambda = 0, the penalty's gradient entering chatnet_backward as dacc_extra. With
// m fixed P is piecewise linear in each parameter, kinked only where a hidden accumulator crosses
// 0: a coordinate whose +-h forwards change any ReLU gate is skipped (counted), so every checked
// difference is taken inside one linear piece of P and the smooth CE.
static void test_act_l1_gradient_matches_finite_differences(void **state) {
    (void)state;
    const int dims[] = {10, 9, 7, 5};
    const float mu = 1.0f;  // large enough that P's gradient dominates (checked below)
    small s;
    build_small(&s, 3, dims, 6, 7, 0.8f);
    float *gce = calloc(s.net.n_params, sizeof(float)), *dpen[CHAT_MAX_LAYERS] = {0}, m[CHAT_MAX_LAYERS];
    uint8_t gate[6 * (9 + 7)];
    chatnet_forward(&s.net, s.params, &s.q, 0.0f, s.x, s.B, s.y);
    chatnet_act_l1_norm(&s.net, s.B, m);
    double share = 0.0;
    for (int l = 0, o = 0; l < 2; l++) {
        int n = s.B * dims[l + 1], np = 0;
        dpen[l] = calloc((size_t)n, sizeof(float));
        for (int i = 0; i < n; i++, o++) gate[o] = s.net.acc[l][i] > 0.0f, np += s.net.x[l + 1][i] > 0.0f;
        assert_true(np > 0 && np < n);  // both sides of the kink present
        share += (double)np / n;
    }
    // at the measured m, P is mu times the active shares
    assert_float_equal(chatnet_act_l1_forward(&s.net, s.B, mu, m), mu * share, 1e-5);
    chatnet_act_l1_backward(&s.net, &s.q, s.B, mu, m, dpen);
    chatnet_backward(&s.net, s.params, &s.q, 0.0f, s.B, s.y, dpen, s.grads);
    chatnet_backward(&s.net, s.params, &s.q, 0.0f, s.B, s.y, NULL, gce);  // CE alone
    act_l1_ctx ac = {mu, m};
    fd_counts fc;
    int bad = fd_check_penalty(&s, act_l1_pen, &ac, gce, gate, 0, &fc), checked = fc.checked, skipped = fc.skipped, moved = fc.moved;
    if (bad || skipped * 10 > (int)s.net.n_params || moved < 80)
        fprintf(stderr, "act_l1: %d checked, %d skipped (gate change), %d moved by P\n", checked, skipped, moved);
    assert_int_equal(bad, 0);
    assert_true(skipped * 10 <= (int)s.net.n_params);  // kinks are the exception
    // P's gradient can reach only W, beta of layers 0 and 1 (169 parameters; here 90 of them, the
    // rest have no batch row where both their input and their unit are active). Where it does it
    // must exceed the tolerance by far, or a wrong sign or scale of it could pass.
    assert_true(moved >= 80);
    for (int l = 0; l < 2; l++) free(dpen[l]);
    free(gce);
    free_small(&s);
}

// The grid loss and the overflow penalty against finite differences of their own values.
static void test_qat_losses_match_finite_differences(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 9, 9);
    float w[50], g[50] = {0};
    for (int i = 0; i < 50; i++) {
        w[i] = 3.0f * pcg32_float(&r) - 2.0f;
        float f = w[i] - floorf(w[i]);
        if (fabsf(f - 0.5f) < 0.05f) w[i] += 0.1f;  // keep clear of the rounding boundaries
    }
    qat_grid_loss(w, g, 50, 0.3f, 0);
    for (int i = 0; i < 50; i++) {
        float keep = w[i], h = 1e-3f, d[50];
        w[i] = keep + h;
        double lp = qat_grid_loss(w, d, 50, 0.3f, 0);
        w[i] = keep - h;
        double lm = qat_grid_loss(w, d, 50, 0.3f, 0);
        w[i] = keep;
        assert_float_equal((lp - lm) / (2 * h), g[i], 2e-4);
    }
    // Overflow penalty: acc in and out of the band [-limit, limit]
    float acc[6] = {100.0f, 30000.0f, -31000.0f, 40000.0f, -50000.0f, 27000.0f}, da[6] = {0};
    long wraps = 0;
    qat_overflow_penalty(acc, da, 6, 28000.0f, 2.0f, 4, &wraps);
    assert_int_equal(wraps, 2);  // 40000 and -50000 do not fit int16
    assert_true(da[0] == 0.0f && da[5] == 0.0f);
    for (int i = 0; i < 6; i++) {
        float keep = acc[i], h = 4.0f;
        long wr = 0;
        acc[i] = keep + h;
        double lp = qat_overflow_penalty(acc, NULL, 6, 28000.0f, 2.0f, 4, &wr);
        acc[i] = keep - h;
        double lm = qat_overflow_penalty(acc, NULL, 6, 28000.0f, 2.0f, 4, &wr);
        acc[i] = keep;
        assert_float_equal((lp - lm) / (2 * h), da[i], 1e-6);
    }
}

static void test_blend_schedule_and_quantisers(void **state) {
    (void)state;
    qat_blend b = {0.2f, 0.6f};
    assert_float_equal(qat_lambda(&b, 0, 100), 0.0f, 0);
    assert_float_equal(qat_lambda(&b, 20, 100), 0.0f, 0);
    assert_float_equal(qat_lambda(&b, 40, 100), 0.5f, 1e-6);
    assert_float_equal(qat_lambda(&b, 60, 100), 1.0f, 0);
    assert_float_equal(qat_lambda(&b, 99, 100), 1.0f, 0);
    for (long s = 21; s < 60; s++) assert_true(qat_lambda(&b, s, 100) > qat_lambda(&b, s - 1, 100));
    const float w[] = {-9.0f, -2.4f, -1.6f, -1.5f, -0.51f, -0.5f, 0.49f, 0.5f, 1.49f, 7.0f};
    const float q2[] = {-2, -2, -2, -1, -1, 0, 0, 1, 1, 1}, q3[] = {-1, -1, -1, -1, -1, 0, 0, 1, 1, 1};
    for (int i = 0; i < 10; i++) {
        assert_float_equal(qat_wquant(w[i], 0), q2[i], 0);
        assert_float_equal(qat_wquant(w[i], 1), q3[i], 0);
    }
    assert_float_equal(qat_bquant(40000.4f), 32767.0f, 0);
    assert_float_equal(qat_bquant(-40000.0f), -32768.0f, 0);
    assert_float_equal(qat_bquant(-2.5f), -2.0f, 0);
    assert_float_equal(qat_wrap16f(32768.0f), -32768.0f, 0);
    assert_float_equal(qat_wrap16f(-32769.0f), 32767.0f, 0);
    assert_float_equal(qat_wrap16f(1234.0f), 1234.0f, 0);
}

// The dead-zone quantiser: q_t = q for t <= 1/2, zero inside (-t, t), q outside; the quantile
// threshold reaches the requested zero share exactly on distinct values and never exceeds it on
// ties; the grid loss toward q_t matches finite differences.
static void test_deadzone_quantiser(void **state) {
    (void)state;
    const float w[] = {-2.4f, -1.6f, -1.2f, -0.9f, -0.51f, 0.2f, 0.6f, 0.95f, 1.1f, 1.49f};
    for (int i = 0; i < 10; i++) {
        assert_float_equal(qat_wquant_dz(w[i], 0, 0.0f), qat_wquant(w[i], 0), 0);
        assert_float_equal(qat_wquant_dz(w[i], 0, 0.5f), qat_wquant(w[i], 0), 0);
        float t = 1.0f, want = fabsf(w[i]) < t ? 0.0f : qat_wquant(w[i], 0);
        assert_float_equal(qat_wquant_dz(w[i], 0, t), want, 0);
        assert_float_equal(qat_wquant_dz(w[i], 1, 1.7f), fabsf(w[i]) < 1.7f ? 0.0f : qat_wquant(w[i], 1), 0);
    }
    assert_float_equal(qat_wquant_dz(-1.2f, 0, 1.0f), -1.0f, 0);
    assert_float_equal(qat_wquant_dz(0.95f, 0, 1.0f), 0.0f, 0);
    pcg32 r;
    pcg32_seed(&r, 21, 2);
    static float v[5000], scratch[5000];
    const size_t sizes[] = {1, 7, 100, 4999};
    const float fracs[] = {0.0f, 0.3f, 0.6f, 0.85f, 0.95f};
    for (int si = 0; si < 4; si++)
        for (int fi = 0; fi < 5; fi++) {
            size_t n = sizes[si];
            for (size_t i = 0; i < n; i++) v[i] = 0.8f * pcg32_normal(&r);
            float t = qat_deadzone(v, n, fracs[fi], scratch);
            double share = qat_zero_share(v, n, 0, t), want = floor(fracs[fi] * (double)n + 0.5) / (double)n;
            // below the plain grid's own zero share the dead zone changes nothing
            double plain = qat_zero_share(v, n, 0, 0.0f);
            assert_float_equal(share, want > plain ? want : plain, 1e-12);
        }
    // ties: a quarter of the values equal; the share stays at or below the target
    for (size_t i = 0; i < 1000; i++) v[i] = i % 4 ? 0.5f + (float)i / 1000.0f : 1.0f;
    float t = qat_deadzone(v, 1000, 0.5f, scratch);
    assert_true(qat_zero_share(v, 1000, 0, t) <= 0.5);
    // grid loss toward q_t against finite differences, away from the cell and dead-zone edges
    float g[50] = {0}, d[50];
    for (int i = 0; i < 50; i++) {
        v[i] = 3.0f * pcg32_float(&r) - 2.0f;
        float f = v[i] - floorf(v[i]);
        if (fabsf(f - 0.5f) < 0.05f || fabsf(fabsf(v[i]) - 1.1f) < 0.05f) v[i] += 0.12f;
    }
    qat_grid_loss_dz(v, g, 50, 0.3f, 0, 1.1f);
    for (int i = 0; i < 50; i++) {
        float keep = v[i], h = 1e-3f;
        v[i] = keep + h;
        double lp = qat_grid_loss_dz(v, d, 50, 0.3f, 0, 1.1f);
        v[i] = keep - h;
        double lm = qat_grid_loss_dz(v, d, 50, 0.3f, 0, 1.1f);
        v[i] = keep;
        assert_float_equal((lp - lm) / (2 * h), g[i], 2e-4);
    }
}

// Straight-through estimator with a dead zone: at lambda = 1 the forward pass sees only q_t(w) and
// the gradient reaches every shadow weight, those inside the dead zone included (they can grow out
// of it): the gradients equal those of the model whose shadows are q_t(w) with no dead zone.
static void test_deadzone_straight_through(void **state) {
    (void)state;
    const int dims[] = {10, 9, 7, 5};
    small s, p;
    build_small(&s, 3, dims, 6, 12, 0.9f);
    build_small(&p, 3, dims, 6, 12, 0.9f);
    for (int l = 0; l < 3; l++) s.q.dz[l] = 1.0f + 0.1f * (float)l;
    size_t o = 0;
    for (int l = 0; l < 3; l++)
        for (size_t e = o + (size_t)dims[l + 1] * dims[l]; o < e; o++) p.params[o] = qat_wquant_dz(s.params[o], 0, s.q.dz[l]);
    float ls = chatnet_forward(&s.net, s.params, &s.q, 1.0f, s.x, s.B, s.y);
    float lp = chatnet_forward(&p.net, p.params, &p.q, 1.0f, p.x, p.B, p.y);
    assert_true(ls == lp);
    assert_memory_equal(s.net.x[3], p.net.x[3], sizeof(float) * 6 * 5);
    chatnet_backward(&s.net, s.params, &s.q, 1.0f, s.B, s.y, NULL, s.grads);
    chatnet_backward(&p.net, p.params, &p.q, 1.0f, p.B, p.y, NULL, p.grads);
    assert_memory_equal(s.grads, p.grads, sizeof(float) * s.net.n_params);
    int dead_with_grad = 0;
    o = 0;
    for (int l = 0; l < 3; l++)
        for (size_t e = o + (size_t)dims[l + 1] * dims[l]; o < e; o++)
            dead_with_grad += qat_wquant(s.params[o], 0) != 0.0f && p.params[o] == 0.0f && s.grads[o] != 0.0f;
    assert_true(dead_with_grad > 5);
    free_small(&s), free_small(&p);
}

// At 0 < lambda < 1 the graph is between float and grid; at lambda = 1 it must not depend on the
// shadows' exact values, only on their grid points (moving a shadow within its cell changes nothing).
static void test_lambda_one_sees_only_the_grid(void **state) {
    (void)state;
    const int dims[] = {10, 9, 7, 5};
    small s;
    build_small(&s, 3, dims, 6, 8, 0.8f);
    chatnet_forward(&s.net, s.params, &s.q, 1.0f, s.x, s.B, s.y);
    float *before = malloc(sizeof(float) * 6 * 5);
    memcpy(before, s.net.x[3], sizeof(float) * 30);
    for (size_t i = 0; i < s.net.n_weights; i++) {
        float q = qat_wquant(s.params[i], 0);
        s.params[i] = q + 0.3f * (s.params[i] - q);  // same cell, closer to the grid point
    }
    chatnet_forward(&s.net, s.params, &s.q, 1.0f, s.x, s.B, s.y);
    assert_memory_equal(before, s.net.x[3], sizeof(float) * 30);
    float l_half = chatnet_forward(&s.net, s.params, &s.q, 0.5f, s.x, s.B, s.y);
    assert_true(l_half == l_half);  // finite
    free(before);
    free_small(&s);
}


typedef struct {
    int q_free;
    const float *c_col, *c_nz;
    float mu, *m;
} cost_ctx;
static double cost_pen(small *s, void *ctx) {
    cost_ctx *c = ctx;
    return chatnet_cost_forward(&s->net, s->params, s->B, c->q_free, c->c_col, c->c_nz, c->mu, c->m);
}

// The Z80 cost penalty (qat.cost, model/chatnet.h) against finite differences of the whole loss
// CE + P(x, w; m), m frozen as in the act_l1 check. P is piecewise linear in each parameter, kinked
// where a hidden accumulator crosses 0 (a ReLU gate) or a weight crosses 0 (|w|): such coordinates
// are skipped (counted). Its value at the base point is the cost model's sum written out, and the
// first q_free inputs (the query buckets) add nothing to it.
static void test_cost_gradient_matches_finite_differences(void **state) {
    (void)state;
    const int dims[] = {10, 9, 7, 5}, q_free = 4;
    const float c_col[3] = {230.0f, 430.0f, 300.0f}, c_nz[3] = {36.0f, 80.0f, 48.0f}, mu = 4e-3f;
    small s;
    build_small(&s, 3, dims, 6, 7, 0.8f);
    float *gce = calloc(s.net.n_params, sizeof(float)), *dpen[CHAT_MAX_LAYERS] = {0}, m[CHAT_MAX_LAYERS];
    uint8_t gate[6 * (9 + 7)];
    chatnet_forward(&s.net, s.params, &s.q, 0.0f, s.x, s.B, s.y);
    chatnet_act_l1_norm(&s.net, s.B, m);
    for (int l = 0, o = 0; l < 2; l++) {
        int n = s.B * dims[l + 1];
        dpen[l] = calloc((size_t)n, sizeof(float));
        for (int i = 0; i < n; i++, o++) gate[o] = s.net.acc[l][i] > 0.0f;
    }
    // the value, written out: sum over layers and inputs of a_li (c_col + c_nz sum_j |w_lji|)
    double want = 0.0;
    const float *w = s.params;
    for (int l = 0; l < 3; l++) {
        for (int i = 0; i < dims[l]; i++) {
            double a = 0.0, sw = 0.0;
            for (int r = 0; r < s.B; r++) {
                float x = s.net.x[l][r * dims[l] + i];
                a += l == 0 ? (i >= q_free && x != 0.0f) : x / m[l - 1];
            }
            for (int j = 0; j < dims[l + 1]; j++) sw += fabsf(w[j * dims[l] + i]);
            want += a / s.B * (c_col[l] + c_nz[l] * sw);
        }
        w += dims[l + 1] * dims[l];
    }
    assert_float_equal(chatnet_cost_forward(&s.net, s.params, s.B, q_free, c_col, c_nz, mu, m), mu * want, 1e-4 * mu * want);
    chatnet_cost_backward(&s.net, s.params, &s.q, s.B, q_free, c_col, c_nz, mu, m, dpen, s.grads);
    // the direct weight gradient: none on a query column (layer 0, input < q_free: it runs once per
    // query, not per step), some on the context columns
    int direct = 0;
    for (int j = 0; j < dims[1]; j++)
        for (int i = 0; i < dims[0]; i++) {
            float g = s.grads[j * dims[0] + i];
            if (i < q_free) assert_true(g == 0.0f);
            else direct += g != 0.0f;
        }
    assert_true(direct > 10);
    chatnet_backward(&s.net, s.params, &s.q, 0.0f, s.B, s.y, dpen, s.grads);
    chatnet_backward(&s.net, s.params, &s.q, 0.0f, s.B, s.y, NULL, gce);  // CE alone
    cost_ctx cc = {q_free, c_col, c_nz, mu, m};
    fd_counts fc;
    int bad = fd_check_penalty(&s, cost_pen, &cc, gce, gate, 1, &fc), checked = fc.checked, skipped = fc.skipped, moved = fc.moved;
    if (bad || skipped * 10 > (int)s.net.n_params || moved < 100)
        fprintf(stderr, "cost: %d checked, %d skipped, %d moved by P\n", checked, skipped, moved);
    assert_int_equal(bad, 0);
    assert_true(skipped * 10 <= (int)s.net.n_params);
    assert_true(moved >= 100);  // P's gradient matters where it acts: a wrong sign or scale cannot pass
    for (int l = 0; l < 2; l++) free(dpen[l]);
    free(gce);
    free_small(&s);
}

// Distillation (qat.distill): with soft targets the loss is (1 - a) CE(target) + a CE(soft);
// its gradient against finite differences (lambda 0), and a = 0 is plain CE bit for bit.
static void test_distill_gradient_matches_finite_differences(void **state) {
    (void)state;
    const int dims[] = {10, 9, 7, 5};
    small s;
    build_small(&s, 3, dims, 6, 17, 0.8f);
    pcg32 r;
    pcg32_seed(&r, 5, 5);
    float soft[6 * 5];
    for (int i = 0; i < 6; i++) {
        float sum = 0.0f;
        for (int k = 0; k < 5; k++) sum += soft[i * 5 + k] = expf(2.0f * pcg32_normal(&r));
        for (int k = 0; k < 5; k++) soft[i * 5 + k] /= sum;
    }
    float plain = chatnet_forward(&s.net, s.params, &s.q, 0.0f, s.x, s.B, s.y);
    s.net.soft = soft, s.net.soft_w = 0.0f;
    assert_true(chatnet_forward(&s.net, s.params, &s.q, 0.0f, s.x, s.B, s.y) == plain);
    s.net.soft_w = 0.6f;
    float mixed = chatnet_forward(&s.net, s.params, &s.q, 0.0f, s.x, s.B, s.y);
    double soft_ce = 0.0;
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 5; k++) soft_ce -= soft[i * 5 + k] * log(s.net.probs[i * 5 + k]);
    assert_float_equal(mixed, 0.4 * plain + 0.6 * soft_ce / 6, 1e-5);
    chatnet_backward(&s.net, s.params, &s.q, 0.0f, s.B, s.y, NULL, s.grads);
    int bad = 0;
    for (size_t i = 0; i < s.net.n_params; i++) {
        float keep = s.params[i], h = 2e-3f;
        s.params[i] = keep + h;
        double lp = chatnet_forward(&s.net, s.params, &s.q, 0.0f, s.x, s.B, s.y);
        s.params[i] = keep - h;
        double lm = chatnet_forward(&s.net, s.params, &s.q, 0.0f, s.x, s.B, s.y);
        s.params[i] = keep;
        double fd = (lp - lm) / (2 * h), an = s.grads[i];
        if (fabs(fd - an) > 2e-2 * (fabs(fd) + fabs(an)) + 1e-4) {
            bad++;
            if (bad < 10) fprintf(stderr, "param %zu: fd %.6g analytic %.6g\n", i, fd, an);
        }
    }
    assert_true(bad <= 1);  // a ReLU kink may spoil one coordinate, as in the plain check
    free_small(&s);
}

// Layer 1's query columns with their own dead zone (qat.query_zero_frac): the forward pass at
// lambda 1 and the image use dzq for inputs < nq and dz[0] for the others.
static void test_query_dead_zone(void **state) {
    (void)state;
    const int dims[] = {10, 9, 7, 5};
    small s, p;
    build_small(&s, 3, dims, 6, 12, 0.9f);
    build_small(&p, 3, dims, 6, 12, 0.9f);
    s.q.nq = 4, s.q.dzq = 0.2f, s.q.dz[0] = 1.3f, s.q.dz[1] = 0.9f, s.q.dz[2] = 0.0f;
    size_t o = 0;
    int zq = 0, zc = 0;
    for (int l = 0; l < 3; l++)
        for (int j = 0; j < dims[l + 1]; j++)
            for (int i = 0; i < dims[l]; i++, o++) {
                float t = l == 0 ? (i < 4 ? 0.2f : 1.3f) : s.q.dz[l];
                assert_true(chatnet_dz(&s.q, l, i) == t);
                p.params[o] = qat_wquant_dz(s.params[o], 0, t);
                if (l == 0 && p.params[o] == 0.0f && fabsf(s.params[o]) >= 0.5f) *(i < 4 ? &zq : &zc) += 1;
            }
    assert_int_equal(zq, 0);  // dzq < 1/2: the plain grid on the query columns
    assert_true(zc > 5);      // the dead zone of the context columns zeroes more
    chatnet_forward(&s.net, s.params, &s.q, 1.0f, s.x, s.B, s.y);
    chatnet_forward(&p.net, p.params, &p.q, 1.0f, p.x, p.B, p.y);
    assert_memory_equal(s.net.x[3], p.net.x[3], sizeof(float) * 6 * 5);
    // the image has the same codes
    chat_enc_cfg e = {.q_buckets = 4, .k_buckets = 6, .context = 3, .max_query = 8};
    size_t n = chat_image_size(3, dims);
    uint8_t *img = malloc(n), *imgp = malloc(n);
    chat_imodel m, mp;
    chatnet_to_image(&s.net, s.params, &s.q, &e, 8, "abcd", img, &m);
    chatnet_to_image(&p.net, p.params, &p.q, &e, 8, "abcd", imgp, &mp);
    assert_memory_equal(img, imgp, n);
    free(img), free(imgp);
    free_small(&s), free_small(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chatnet_gradients_match_finite_differences),
        cmocka_unit_test(test_act_l1_gradient_matches_finite_differences),
        cmocka_unit_test(test_qat_losses_match_finite_differences),
        cmocka_unit_test(test_blend_schedule_and_quantisers),
        cmocka_unit_test(test_lambda_one_sees_only_the_grid),
        cmocka_unit_test(test_deadzone_quantiser),
        cmocka_unit_test(test_deadzone_straight_through),
        cmocka_unit_test(test_cost_gradient_matches_finite_differences),
        cmocka_unit_test(test_distill_gradient_matches_finite_differences),
        cmocka_unit_test(test_query_dead_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
