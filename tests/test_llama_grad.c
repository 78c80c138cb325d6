// test_llama_grad.c: finite-difference checks of every backward pass of the transformer, on tiny
// shapes: RMSNorm, RoPE, causal GQA attention (head size 8 and a generic size), SwiGLU,
// cross-entropy, and the whole model with a tied and an untied classifier (which also checks the
// embedding gradient). Each op is reduced to a scalar loss = sum(out * R) with a fixed random R;
// the analytic gradient is compared with the central difference (f(x+h) - f(x-h)) / 2h.
// Tolerance: 1e-2 relative to max(|numeric|, 5% of the tensor's largest) (float32, h = 1e-3..1e-2).
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "model/llama.h"
#include "model/llama_train.h"

static pcg32 rng;

static float *randn(size_t n, float std) {
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = std * pcg32_normal(&rng);
    return p;
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

typedef double (*loss_fn)(void *ctx);

// Compare grad[i] with the central difference of f over x[i] for every i (or a strided sample).
// The error is relative to max(|numeric|, 5% of the largest |numeric| in the tensor, a floor for
// float32 rounding noise in the whole-model loss: 1e-2), and the
// tensor's gradient must not be negligible (so a check cannot pass on all-zero gradients).
static void check_floor(const char *what, float *x, const float *grad, size_t n, size_t stride, float h, double floor, loss_fn f, void *ctx) {
    double *num = malloc(n * sizeof(double)), biggest = 0, worst = 0;
    for (size_t i = 0; i < n; i += stride) {
        float keep = x[i];
        x[i] = keep + h;
        double up = f(ctx);
        x[i] = keep - h;
        double down = f(ctx);
        x[i] = keep;
        num[i] = (up - down) / (2.0 * h);
        biggest = fmax(biggest, fabs(num[i]));
    }
    f(ctx);  // leave the forward state as it was
    if (biggest < 1e-3) fail_msg("%s: gradient too small to check (max %.3g)", what, biggest);
    for (size_t i = 0; i < n; i += stride) {
        double err = fabs(grad[i] - num[i]) / fmax(fmax(fabs(num[i]), 0.05 * biggest), floor);
        if (err > worst) worst = err;
        if (err > 1e-2) fail_msg("%s[%zu]: analytic %.6g numeric %.6g", what, i, grad[i], num[i]);
    }
    printf("  %-32s max rel error %.2e (max |grad| %.3g)\n", what, worst, biggest);
    free(num);
}

static void check(const char *what, float *x, const float *grad, size_t n, size_t stride, float h, loss_fn f, void *ctx) {
    check_floor(what, x, grad, n, stride, h, 0.0, f, ctx);
}

// ---- RMSNorm ----------------------------------------------------------------------------------
typedef struct { float *x, *w, *R, *out, *rstd; int N, C; } rms_ctx;
static double rms_loss(void *p) {
    rms_ctx *c = p;
    rmsnorm_forward(c->out, c->rstd, c->x, c->w, c->N, c->C);
    return dot(c->out, c->R, (size_t)c->N * c->C);
}
static void test_rmsnorm(void **state) {
    (void)state;
    rms_ctx c = {.N = 3, .C = 8};
    size_t n = c.N * c.C;
    c.x = randn(n, 1.0f), c.w = randn(c.C, 1.0f), c.R = randn(n, 1.0f), c.out = malloc(n * 4), c.rstd = malloc(c.N * 4);
    float *dx = calloc(n, 4), *dw = calloc(c.C, 4);
    rms_loss(&c);
    rmsnorm_backward(dx, dw, c.R, c.x, c.w, c.rstd, c.N, c.C);
    check("rmsnorm dx", c.x, dx, n, 1, 1e-3f, rms_loss, &c);
    check("rmsnorm dw", c.w, dw, c.C, 1, 1e-3f, rms_loss, &c);
    free(c.x), free(c.w), free(c.R), free(c.out), free(c.rstd), free(dx), free(dw);
}

// ---- RoPE -------------------------------------------------------------------------------------
typedef struct { float *x, *y, *R, *cs, *sn; int B, T, W, hs; } rope_ctx;
static double rope_loss(void *p) {
    rope_ctx *c = p;
    size_t n = (size_t)c->B * c->T * c->W;
    memcpy(c->y, c->x, n * 4);
    rope_forward(c->y, c->cs, c->sn, c->B, c->T, c->W, c->hs);
    return dot(c->y, c->R, n);
}
static void test_rope(void **state) {
    (void)state;
    rope_ctx c = {.B = 2, .T = 5, .W = 12, .hs = 6};
    size_t n = (size_t)c.B * c.T * c.W;
    c.x = randn(n, 1.0f), c.R = randn(n, 1.0f), c.y = malloc(n * 4);
    c.cs = malloc(c.T * c.hs / 2 * 4), c.sn = malloc(c.T * c.hs / 2 * 4);
    rope_tables(c.cs, c.sn, c.T, c.hs);
    float *dx = malloc(n * 4);
    memcpy(dx, c.R, n * 4);
    rope_backward(dx, c.cs, c.sn, c.B, c.T, c.W, c.hs);
    check("rope dx", c.x, dx, n, 1, 1e-2f, rope_loss, &c);
    free(c.x), free(c.R), free(c.y), free(c.cs), free(c.sn), free(dx);
}

// ---- attention ----------------------------------------------------------------------------------
typedef struct { float *q, *k, *v, *y, *att, *R; int B, T, nh, nkv, hs; } att_ctx;
static double att_loss(void *p) {
    att_ctx *c = p;
    attention_forward(c->y, c->att, c->q, c->k, c->v, c->B, c->T, c->nh, c->nkv, c->hs, 2);
    return dot(c->y, c->R, (size_t)c->B * c->T * c->nh * c->hs);
}
static void attention_case(int hs, int nh, int nkv) {
    att_ctx c = {.B = 2, .T = 6, .nh = nh, .nkv = nkv, .hs = hs};
    size_t nq = (size_t)c.B * c.T * nh * hs, nk = (size_t)c.B * c.T * nkv * hs;
    c.q = randn(nq, 1.0f), c.k = randn(nk, 1.0f), c.v = randn(nk, 1.0f), c.R = randn(nq, 1.0f);
    c.y = malloc(nq * 4), c.att = malloc((size_t)c.B * nh * c.T * ((c.T + 7) & ~7) * 4);
    float *dq = malloc(nq * 4), *dk = malloc(nk * 4), *dv = malloc(nk * 4);
    att_loss(&c);
    attention_backward(dq, dk, dv, c.R, c.att, c.q, c.k, c.v, c.B, c.T, nh, nkv, hs, 2);
    char name[64];
    snprintf(name, sizeof name, "attention hs%d %d/%d dq", hs, nh, nkv);
    check(name, c.q, dq, nq, 1, 1e-2f, att_loss, &c);
    snprintf(name, sizeof name, "attention hs%d %d/%d dk", hs, nh, nkv);
    check(name, c.k, dk, nk, 1, 1e-2f, att_loss, &c);
    snprintf(name, sizeof name, "attention hs%d %d/%d dv", hs, nh, nkv);
    check(name, c.v, dv, nk, 1, 1e-2f, att_loss, &c);
    // Causality: y at position t does not depend on k, v after t.
    float *y0 = malloc(nq * 4);
    attention_forward(y0, c.att, c.q, c.k, c.v, c.B, c.T, nh, nkv, hs, 1);
    for (int i = 0; i < nkv * hs; i++) c.k[(size_t)(c.T - 1) * nkv * hs + i] += 5.0f, c.v[(size_t)(c.T - 1) * nkv * hs + i] -= 3.0f;
    attention_forward(c.y, c.att, c.q, c.k, c.v, c.B, c.T, nh, nkv, hs, 1);
    assert_memory_equal(c.y, y0, (size_t)(c.T - 1) * nh * hs * 4);  // batch 0, positions < T-1
    free(y0);
    free(c.q), free(c.k), free(c.v), free(c.R), free(c.y), free(c.att), free(dq), free(dk), free(dv);
}
static void test_attention(void **state) {
    (void)state;
    attention_case(8, 4, 2);  // the specialised head size, grouped queries
    attention_case(4, 4, 1);  // generic head size, one kv head for all
    attention_case(6, 2, 2);  // plain multi-head
}

// ---- SwiGLU -------------------------------------------------------------------------------------
typedef struct { float *a, *b, *g, *R; size_t n; } sw_ctx;
static double sw_loss(void *p) {
    sw_ctx *c = p;
    swiglu_forward(c->g, c->a, c->b, c->n);
    return dot(c->g, c->R, c->n);
}
static void test_swiglu(void **state) {
    (void)state;
    sw_ctx c = {.n = 40};
    c.a = randn(c.n, 2.0f), c.b = randn(c.n, 1.0f), c.R = randn(c.n, 1.0f), c.g = malloc(c.n * 4);
    float *da = malloc(c.n * 4), *db = malloc(c.n * 4);
    swiglu_backward(da, db, c.R, c.a, c.b, c.n);
    check("swiglu da", c.a, da, c.n, 1, 1e-3f, sw_loss, &c);
    check("swiglu db", c.b, db, c.n, 1, 1e-3f, sw_loss, &c);
    free(c.a), free(c.b), free(c.R), free(c.g), free(da), free(db);
}

// ---- cross-entropy ---------------------------------------------------------------------------------
typedef struct { float *logits, *probs, *losses; int *targets; int N, V; } ce_ctx;
static double ce_loss(void *p) {
    ce_ctx *c = p;
    memcpy(c->probs, c->logits, (size_t)c->N * c->V * 4);
    return crossentropy_forward(c->probs, c->losses, c->targets, c->N, c->V);
}
static void test_crossentropy(void **state) {
    (void)state;
    ce_ctx c = {.N = 4, .V = 11};
    size_t n = (size_t)c.N * c.V;
    c.logits = randn(n, 2.0f), c.probs = malloc(n * 4), c.losses = malloc(c.N * 4);
    int t[4] = {0, 10, 3, 3};
    c.targets = t;
    double l = ce_loss(&c);
    // The mean loss equals the definition computed in double.
    double want = 0;
    for (int i = 0; i < c.N; i++) {
        double s = 0;
        for (int v = 0; v < c.V; v++) s += exp(c.logits[i * c.V + v]);
        want += log(s) - c.logits[i * c.V + t[i]];
    }
    assert_float_equal(l, want / c.N, 1e-5);
    float *d = malloc(n * 4);
    crossentropy_backward(d, c.probs, t, c.N, c.V, 1.0f / c.N);
    check("crossentropy dlogits", c.logits, d, n, 1, 1e-3f, ce_loss, &c);
    free(c.logits), free(c.probs), free(c.losses), free(d);
}

// ---- the whole model ----------------------------------------------------------------------------------
typedef struct { llama_model m; llama_train s; int *in, *tg; int T; } model_ctx;
static double model_loss(void *p) {
    model_ctx *c = p;
    return llama_train_forward(&c->s, &c->m, c->in, c->tg, c->T);
}
static void model_case(int shared) {
    llama_config cfg = {.dim = 16, .hidden_dim = 20, .n_layers = 2, .n_heads = 2, .n_kv_heads = 1,
                        .vocab_size = 13, .seq_len = 8, .shared_classifier = shared};
    model_ctx c = {.T = 7};
    assert_int_equal(llama_build(&c.m, &cfg), 0);
    llama_init_random(&c.m, 11 + shared);
    // Larger weights than the init so every path carries signal; norms away from 1.
    for (size_t i = 0; i < c.m.n_params; i++) c.m.params[i] = c.m.params[i] * 10.0f;
    for (int i = 0; i < cfg.n_layers * cfg.dim; i++) c.m.w.rms_att[i] = 1.0f + 0.3f * pcg32_normal(&rng), c.m.w.rms_ffn[i] = 1.0f + 0.3f * pcg32_normal(&rng);
    for (int i = 0; i < cfg.dim; i++) c.m.w.rms_final[i] = 1.0f + 0.3f * pcg32_normal(&rng);
    int B = 2;
    llama_train_build(&c.s, &cfg, B, c.T, 2);
    c.in = malloc(B * c.T * sizeof(int));
    c.tg = malloc(B * c.T * sizeof(int));
    for (int i = 0; i < B * c.T; i++) c.in[i] = (int)pcg32_bounded(&rng, 13), c.tg[i] = (int)pcg32_bounded(&rng, 13);
    c.in[0] = c.in[3] = 5;  // a repeated token: its embedding gradient sums two rows
    float *gmem = calloc(c.m.n_params, 4);
    llama_weights g;
    llama_point_weights(&g, &cfg, gmem);
    model_loss(&c);
    llama_train_backward(&c.s, &c.m, &g);
    const char *name = shared ? "model (tied) " : "model (untied) ";
    char buf[64];
    struct { const char *n; float *p; float *gp; size_t count; } t[] = {
        {"token_embedding", c.m.w.token_embedding, g.token_embedding, (size_t)13 * 16},
        {"rms_att", c.m.w.rms_att, g.rms_att, 2 * 16},
        {"wq", c.m.w.wq, g.wq, 2 * 16 * 16},
        {"wk", c.m.w.wk, g.wk, 2 * 8 * 16},
        {"wv", c.m.w.wv, g.wv, 2 * 8 * 16},
        {"wo", c.m.w.wo, g.wo, 2 * 16 * 16},
        {"rms_ffn", c.m.w.rms_ffn, g.rms_ffn, 2 * 16},
        {"w1", c.m.w.w1, g.w1, 2 * 20 * 16},
        {"w2", c.m.w.w2, g.w2, 2 * 16 * 20},
        {"w3", c.m.w.w3, g.w3, 2 * 20 * 16},
        {"rms_final", c.m.w.rms_final, g.rms_final, 16},
        {"wcls", c.m.w.wcls, g.wcls, shared ? 0 : (size_t)13 * 16},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (!t[i].count) continue;
        snprintf(buf, sizeof buf, "%s%s", name, t[i].n);
        check_floor(buf, t[i].p, t[i].gp, t[i].count, 3, 1e-2f, 1e-2, model_loss, &c);
    }
    free(gmem), free(c.in), free(c.tg);
    llama_train_free(&c.s);
    llama_free(&c.m);
}
static void test_whole_model(void **state) {
    (void)state;
    model_case(1);
    model_case(0);
}

// ---- activation fake quantisation (llama_actq): STE and LSQ ----------------------------------------
// The whole model with every quantisation point fake-quantised on a coarse grid (qmax 7; Q and K,
// quantised before and after RoPE, qmax 31) at steps that clip the top of each point's range. The
// backward's gradients (STE for the weights, LSQ for the steps) are checked by central differences
// on the frozen forward (llama_train.h), which equals the real forward where it froze and whose
// exact gradients the STE/LSQ rules are.
typedef struct { model_ctx *c; llama_actq *aq; } actq_ctx;
static double actq_loss(void *p) {
    actq_ctx *a = p;
    return llama_train_forward(&a->c->s, &a->c->m, a->c->in, a->c->tg, a->c->T);
}
static void test_actq_lsq(void **state) {
    (void)state;
    llama_config cfg = {.dim = 16, .hidden_dim = 20, .n_layers = 2, .n_heads = 2, .n_kv_heads = 1,
                        .vocab_size = 13, .seq_len = 8, .shared_classifier = 1};
    model_ctx c = {.T = 7};
    assert_int_equal(llama_build(&c.m, &cfg), 0);
    llama_init_random(&c.m, 21);
    for (size_t i = 0; i < c.m.n_params; i++) c.m.params[i] = c.m.params[i] * 3.0f;
    int B = 2, NS = cfg.n_layers * LLAMA_PT_NLAYER + 1;
    llama_train_build(&c.s, &cfg, B, c.T, 2);
    c.in = malloc(B * c.T * sizeof(int));
    c.tg = malloc(B * c.T * sizeof(int));
    for (int i = 0; i < B * c.T; i++) c.in[i] = (int)pcg32_bounded(&rng, 13), c.tg[i] = (int)pcg32_bounded(&rng, 13);
    // the range of every point: a forward on a grid too fine to matter, reading the kept values
    float *step = malloc(NS * sizeof(float));
    double *dstep = calloc(NS, sizeof(double));
    llama_actq aq = {.step = step, .dstep = dstep};
    for (int i = 0; i < NS; i++) step[i] = 1e-6f;
    for (int p = 0; p <= LLAMA_PT_NLAYER; p++) aq.qmax[p] = 1 << 30;
    c.s.aq = &aq;
    float plain = (float)model_loss(&c);
    const llama_actq_pre *P = &c.s.pre;
    int BT = B * c.T, C = cfg.dim, H = cfg.hidden_dim, K = llama_kv_dim(&cfg);
    size_t LBT = (size_t)BT;
    for (int i = 0; i < NS; i++) {
        int l = i / LLAMA_PT_NLAYER, p = i % LLAMA_PT_NLAYER;
        const float *v[LLAMA_PT_NLAYER] = {P->ln1, P->q1, P->k1, P->v, P->atty, P->ln2, P->h1, P->h3, P->g};
        int n[LLAMA_PT_NLAYER] = {C, C, K, K, C, C, H, H, H};
        const float *x = i == NS - 1 ? P->lnf : v[p] + l * LBT * n[p];
        size_t cnt = (size_t)BT * (i == NS - 1 ? C : n[p]);
        float mx = 0;
        for (size_t j = 0; j < cnt; j++) mx = fmaxf(mx, fabsf(x[j]));
        int qm = i < NS - 1 && (p == LLAMA_PT_Q || p == LLAMA_PT_K) ? 31 : 7;
        step[i] = 0.7f * mx / qm;  // the top 30% of the range clips
    }
    for (int p = 0; p <= LLAMA_PT_NLAYER; p++) aq.qmax[p] = p == LLAMA_PT_Q || p == LLAMA_PT_K ? 31 : 7;
    float *gmem = calloc(c.m.n_params, 4);
    llama_weights g;
    llama_point_weights(&g, &cfg, gmem);
    double base = model_loss(&c);
    printf("  loss unquantised %.4f, fake-quantised %.4f\n", plain, base);
    assert_true(fabs(base - plain) > 1e-2);  // the grid is coarse enough to matter
    llama_train_backward(&c.s, &c.m, &g);
    aq.frozen = 1;
    actq_ctx a = {&c, &aq};
    assert_float_equal(actq_loss(&a), base, 1e-5);  // the frozen forward is the real one where it froze
    float *ds = malloc(NS * sizeof(float));
    for (int i = 0; i < NS; i++) ds[i] = (float)dstep[i];
    // steps: relative perturbations (the step sizes differ by orders of magnitude)
    double worst = 0, biggest = 0;
    double *num = malloc(NS * sizeof(double));
    for (int i = 0; i < NS; i++) {
        float keep = step[i], h = 1e-2f * keep;
        step[i] = keep + h;
        double up = actq_loss(&a);
        step[i] = keep - h;
        double down = actq_loss(&a);
        step[i] = keep;
        num[i] = (up - down) / (2.0 * h) * keep;  // d/dlog h
        biggest = fmax(biggest, fabs(num[i]));
    }
    for (int i = 0; i < NS; i++) {
        double err = fabs(ds[i] * step[i] - num[i]) / fmax(fabs(num[i]), 0.05 * biggest);
        worst = fmax(worst, err);
        if (err > 1e-2) fail_msg("step %d (layer %d point %d): analytic %.6g numeric %.6g (d/dlog h)", i, i / LLAMA_PT_NLAYER,
                                 i % LLAMA_PT_NLAYER, ds[i] * step[i], num[i]);
    }
    assert_true(biggest > 1e-3);
    printf("  %-32s max rel error %.2e (max |grad| %.3g)\n", "actq steps (d/dlog h)", worst, biggest);
    struct { const char *n; float *p; float *gp; size_t count; float h; } t[] = {
        {"actq rms_att", c.m.w.rms_att, g.rms_att, 2 * 16, 1e-2f},
        {"actq wq", c.m.w.wq, g.wq, 2 * 16 * 16, 1e-2f},
        {"actq wk", c.m.w.wk, g.wk, 2 * 8 * 16, 1e-2f},
        {"actq wv", c.m.w.wv, g.wv, 2 * 8 * 16, 1e-2f},
        {"actq wo", c.m.w.wo, g.wo, 2 * 16 * 16, 1e-2f},
        {"actq w1", c.m.w.w1, g.w1, 2 * 20 * 16, 1e-2f},
        {"actq w2", c.m.w.w2, g.w2, 2 * 16 * 20, 1e-2f},
        {"actq w3", c.m.w.w3, g.w3, 2 * 20 * 16, 1e-2f},
        {"actq rms_final", c.m.w.rms_final, g.rms_final, 16, 1e-2f},
        {"actq token_embedding", c.m.w.token_embedding, g.token_embedding, (size_t)13 * 16, 1e-3f},  // small values: a small h
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) check_floor(t[i].n, t[i].p, t[i].gp, t[i].count, 3, t[i].h, 1e-2, actq_loss, &a);
    free(num), free(ds), free(step), free(dstep), free(gmem), free(c.in), free(c.tg);
    llama_train_free(&c.s);
    llama_free(&c.m);
}

// The thread count changes only who computes what: every reduction has a fixed order, so the
// loss and gradients are bitwise identical with 1, 2 and 3 threads (stories260K-like shape).
static void test_threads_bitwise_identical(void **state) {
    (void)state;
    llama_config cfg = {.dim = 64, .hidden_dim = 172, .n_layers = 2, .n_heads = 8, .n_kv_heads = 4,
                        .vocab_size = 512, .seq_len = 64, .shared_classifier = 1};
    llama_model m;
    assert_int_equal(llama_build(&m, &cfg), 0);
    llama_init_random(&m, 3);
    int B = 4, T = 61;  // T not a multiple of 8: padded attention rows
    int *in = malloc(B * T * sizeof(int)), *tg = malloc(B * T * sizeof(int));
    for (int i = 0; i < B * T; i++) in[i] = (int)pcg32_bounded(&rng, 512), tg[i] = (int)pcg32_bounded(&rng, 512);
    float *ref = NULL, ref_loss = 0;
    for (int threads = 1; threads <= 3; threads++) {
        float *g = calloc(m.n_params, 4);
        llama_weights gw;
        llama_point_weights(&gw, &cfg, g);
        llama_train s;
        llama_train_build(&s, &cfg, B, 64, threads);
        float loss = llama_train_forward(&s, &m, in, tg, T);
        llama_train_backward(&s, &m, &gw);
        llama_train_free(&s);
        if (!ref) {
            ref = g, ref_loss = loss;
            continue;
        }
        assert_true(loss == ref_loss);
        assert_memory_equal(g, ref, m.n_params * sizeof(float));
        free(g);
    }
    free(ref), free(in), free(tg);
    llama_free(&m);
}

int main(void) {
    pcg32_seed(&rng, 2024, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_crossentropy),
        cmocka_unit_test(test_whole_model),
        cmocka_unit_test(test_actq_lsq),
        cmocka_unit_test(test_threads_bitwise_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
