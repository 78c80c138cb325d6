// test_kernels.h: the random cases of the C64 kernel test, generated the same way by the 6502
// program (test_kernels.c, which runs the assembly and infer/'s C on them) and by the host test
// (tests/test_target_c64.c, which recomputes the reference's check from its own C): assembly ==
// cc65's C == the host's C.
#ifndef C64_TEST_KERNELS_H
#define C64_TEST_KERNELS_H

#include <stdint.h>

#include <string.h>

#include "c64_rec.h"
#include "infer/lm_ops.h"

#define KT_MV_CASES 40
#define KT_MAXR 40      // rows (more than the kernel's 32 records a read) ...
#define KT_WBYTES 5100  // ... within 20 rows of 255 bytes
#define KT_RQ_N 64

// A matrix-vector case: bits, shape, weights (rows x stride bytes), input, row requantisations,
// the mode (C64_RQ_* order) and the output's initial values (for the add mode).
typedef struct {
    int bits, rows, cols, mode;
    uint8_t w[KT_WBYTES];
    int8_t x[255];
    lm_rq rq[KT_MAXR];
    int32_t init[KT_MAXR];
} kt_mv;

// Uniform in [0, n), n <= 32767 (cc65's int is 16 bits).
static int kt_below(lm_rng *r, int n) { return (int)lm_rng_below(r, (uint32_t)n); }

// The smallest pre-shift with |v >> p| < 2^15 for |v| <= bound (lm_image.c's check).
static int kt_preshift(uint32_t bound) {
    int p = 0;
    while (((bound + 1) >> p) >= 32767) p++;
    return p;
}

static void kt_rq_random(lm_rng *r, lm_rq *q, uint32_t bound) {
    q->m = (int16_t)((int32_t)lm_rng_below(r, 65535) - 32767);
    q->p = (uint8_t)(kt_preshift(bound) + kt_below(r, 3));
    q->k = (uint8_t)kt_below(r, 32);
}

static void kt_mv_case(lm_rng *r, int t, kt_mv *c) {
    int i, j, stride;
    c->bits = t % 2 ? 4 : 8;
    c->mode = t % 5;
    c->rows = 1 + kt_below(r, KT_MAXR);
    c->cols = t < 4 ? (t < 2 ? 255 - t : t - 1) : t % 6 == 4 ? 1 + kt_below(r, 100) : 1 + kt_below(r, 255);
    stride = c->bits == 4 ? (c->cols + 1) / 2 : c->cols;
    if (c->rows * stride > KT_WBYTES) c->rows = KT_WBYTES / stride;
    for (i = 0; i < c->rows * stride; i++) {
        if (c->bits == 8) c->w[i] = (uint8_t)(kt_below(r, 255) - 127);
        else {
            int lo = (kt_below(r, 15) - 7) & 15;  // (one call per statement: C leaves the order of calls in an expression open)
            c->w[i] = (uint8_t)(lo | ((kt_below(r, 15) - 7) & 15) << 4);
        }
        if (t % 7 == 3) c->w[i] = c->bits == 8 ? (uint8_t)(t % 3 ? 127 : -127) : (uint8_t)(t % 3 ? 0x77 : 0x99);
        if (t % 13 == 5) c->w[i] = 0;
    }
    if (c->bits == 4 && (c->cols & 1))  // the pad nibble: anything (-8 included); its input is 0
        for (i = 0; i < c->rows; i++) c->w[i * stride + stride - 1] = (uint8_t)((c->w[i * stride + stride - 1] & 15) | kt_below(r, 16) << 4);
    for (j = 0; j < c->cols; j++) {
        c->x[j] = (int8_t)(kt_below(r, 256) - 128);
        if (t % 7 == 3) c->x[j] = t % 4 ? -128 : 127;
        if (t % 11 == 6) c->x[j] = 0;
    }
    for (i = 0; i < c->rows; i++) {
        uint32_t s = 0;
        for (j = 0; j < c->cols; j++) {
            int v = c->bits == 4 ? lm_i4(j & 1 ? c->w[i * stride + j / 2] >> 4 : c->w[i * stride + j / 2] & 15) : (int8_t)c->w[i * stride + j];
            s += (uint32_t)(v < 0 ? -v : v);
        }
        kt_rq_random(r, &c->rq[i], 128 * s);
        c->init[i] = (int32_t)lm_rng_next(r) >> 2;
    }
}

// The reference: lm_matvec_* then the mode's lm_requant_* into out (bytes of the mode's type).
static void kt_mv_ref(const kt_mv *c, void *out, int32_t *acc) {
    int i;
    if (c->bits == 4) lm_matvec_i4(acc, c->w, c->x, c->rows, c->cols);
    else lm_matvec_i8(acc, (const int8_t *)c->w, c->x, c->rows, c->cols);
    if (c->mode == 0) lm_requant_i8((int8_t *)out, acc, c->rq, c->rows);
    else if (c->mode == 1) lm_requant_i16((int16_t *)out, acc, c->rq, c->rows, 2047);
    else if (c->mode == 2) {
        for (i = 0; i < c->rows; i++) ((int32_t *)out)[i] = c->init[i];
        lm_requant_add((int32_t *)out, acc, c->rq, c->rows);
    } else if (c->mode == 3)
        for (i = 0; i < c->rows; i++) ((int32_t *)out)[i] = lm_requant(acc[i], c->rq[i]);
    else
        for (i = 0; i < c->rows; i++) ((int32_t *)out)[i] = acc[i];
}

static int kt_mode_bytes(int mode) { return mode == 0 ? 1 : mode == 1 ? 2 : 4; }

// Requantisation cases of one mode: n accumulators over the 24-bit range (edges first) and
// their rq; init for the add mode.
static void kt_rq_case(lm_rng *r, int mode, int32_t *acc, lm_rq *rq, int32_t *init) {
    static const int32_t edge[8] = {0, 1, -1, 8388607L, -8388608L, 8388606L, -8388607L, 127};
    int i;
    for (i = 0; i < KT_RQ_N; i++) {
        int sh = 9 + kt_below(r, 20);
        int32_t a = (int32_t)(lm_rng_next(r) >> sh);
        if (lm_rng_next(r) & 1) a = -a;
        if (i < 8) a = edge[i];
        acc[i] = a;
        kt_rq_random(r, &rq[i], (uint32_t)(a < 0 ? -a : a));
        if (i % 9 == 4) rq[i].k = 0;
        if (i % 9 == 5) rq[i].m = mode ? 32767 : -32767;
        init[i] = (int32_t)lm_rng_next(r) >> 2;
    }
}

static void kt_rq_ref(int mode, const int32_t *acc, const lm_rq *rq, const int32_t *init, void *out) {
    int i;
    if (mode == 0) lm_requant_i8((int8_t *)out, acc, rq, KT_RQ_N);
    else if (mode == 1) lm_requant_i16((int16_t *)out, acc, rq, KT_RQ_N, 2047);
    else if (mode == 2) {
        for (i = 0; i < KT_RQ_N; i++) ((int32_t *)out)[i] = init[i];
        lm_requant_add((int32_t *)out, acc, rq, KT_RQ_N);
    } else
        for (i = 0; i < KT_RQ_N; i++) ((int32_t *)out)[i] = lm_requant(acc[i], rq[i]);
}

// RMSNorm cases: n inputs (residual Q16 of every magnitude: zero, tiny, huge, mixed), the
// multipliers, their shift and epsilon.
#define KT_NORM_CASES 24
#define KT_NORM_MAXN 255
typedef struct {
    int n, gk;
    uint32_t eps;
    int32_t x[KT_NORM_MAXN];
    int16_t g[KT_NORM_MAXN];
} kt_norm;

static void kt_norm_case(lm_rng *r, int t, kt_norm *c) {
    int i, kind = t % 6;
    c->n = t < 2 ? 255 : t < 4 ? 1 + (t & 1) : 1 + kt_below(r, 255);
    c->gk = kt_below(r, 31);
    c->eps = lm_rng_next(r) >> 2;  // (no ?: of mixed integer types: cc65 2.19 converts them wrongly)
    if (t % 3 == 0) c->eps = 0;
    if (t % 3 == 1) c->eps = 2748779UL;
    for (i = 0; i < c->n; i++) {
        int sh = 1 + kt_below(r, 31);
        int32_t v = (int32_t)(lm_rng_next(r) >> sh);
        if (lm_rng_next(r) & 1) v = -v;
        if (kind == 2) v = 0;
        if (kind == 3) v = v % 16;
        if (kind == 4) v = i % 3 == 0 ? 2147483647L : i % 3 == 1 ? -2147483647L - 1 : v;
        c->x[i] = v;
        c->g[i] = (int16_t)((int32_t)lm_rng_below(r, 65535) - 32767);
    }
}

// Attention cases: RoPE (n values of heads of rhs, a position, frequencies), the scores and p*v
// of a head of KT_ATT_HS values over n positions, softmax over n scores (constants like the
// quantiser's, or random ones: the kernel's fast and slow paths; scores spread over the range
// that gives weights, or wider; all equal, a single one), SwiGLU over n units.
#define KT_ATT_CASES 24
#define KT_ATT_MAXN 96
#define KT_ATT_MAXHS 16
#define KT_ATT_HS 8                              // the attention kernels' head (C64_HS of the test's model)
typedef struct {
    int n, rhs, pos;
    uint32_t theta[KT_ATT_MAXHS / 2];
    int16_t cs[KT_ATT_MAXHS];                    // (cos, sin) of pos * theta_i
    int16_t v[KT_ATT_MAXN];                      // rope input
    int16_t q[KT_ATT_HS];
    int16_t k[KT_ATT_MAXN * KT_ATT_HS];          // [n][hs] keys
    int8_t val[KT_ATT_MAXN * KT_ATT_HS];         // [n][hs] values (|v| <= 127: lm_sat8's)
    int32_t s[KT_ATT_MAXN];                      // softmax scores
    int32_t cm_ck_dlim[3];
    int16_t silu[256];
    int8_t h1[KT_ATT_MAXN], h3[KT_ATT_MAXN];
    lm_rq glu;
} kt_att;

static int16_t kt_q12(lm_rng *r, int t) {
    int v = kt_below(r, 4095) - 2047;
    return (int16_t)(t % 5 == 2 ? (v < 0 ? -2047 : 2047) : v);
}

static void kt_att_case(lm_rng *r, int t, kt_att *c) {
    int i;
    uint32_t dz, spread;
    int32_t cm, ck;
    c->rhs = 2 * (1 + kt_below(r, KT_ATT_MAXHS / 2));
    c->n = t < 2 ? KT_ATT_MAXN : t == 4 ? 64 : t == 5 ? 1 : 1 + kt_below(r, KT_ATT_MAXN);
    c->pos = (int)lm_rng_below(r, 32768UL);  // (below 2^15: an int on both machines)
    for (i = 0; i < c->rhs / 2; i++) {
        c->theta[i] = lm_rng_next(r);
        c->cs[2 * i] = (int16_t)lm_cos_q15((uint32_t)c->pos * c->theta[i]);
        c->cs[2 * i + 1] = (int16_t)lm_sin_q15((uint32_t)c->pos * c->theta[i]);
    }
    for (i = 0; i < KT_ATT_HS; i++) c->q[i] = kt_q12(r, t);
    for (i = 0; i < KT_ATT_MAXN; i++) c->v[i] = kt_q12(r, t);
    for (i = 0; i < c->n * KT_ATT_HS; i++) {
        c->k[i] = kt_q12(r, t);
        c->val[i] = (int8_t)(t % 5 == 2 ? (kt_below(r, 2) ? 127 : -127) : kt_below(r, 255) - 127);
    }
    // the softmax's constants: the quantiser's kind (ck 18, cm < 2^13), cm >= 2^16, or random
    if (t % 8 == 1) {
        ck = 18, cm = 2000 + kt_below(r, 7000);
        c->cm_ck_dlim[2] = (int32_t)lm_udiv(4352UL << 18, (uint32_t)cm) + 1;
    } else if (t % 8 == 6) {  // a small cm, a large dlim: D cm by products, D >= 2^16
        cm = 2 + kt_below(r, 120), ck = 20 + kt_below(r, 5);
        c->cm_ck_dlim[2] = 1 + (int32_t)lm_rng_below(r, lm_udiv(0x7FFFFFFFUL - (1UL << ck), (uint32_t)cm) - 1);
    } else {
        cm = t % 4 == 3 ? 65536L + (int32_t)kt_below(r, 30000) : 1 + (int32_t)kt_below(r, 20000);
        ck = kt_below(r, 25);
        c->cm_ck_dlim[2] = 1 + (int32_t)lm_rng_below(r, lm_udiv(0x7FFFFFFFUL - (1UL << ck), (uint32_t)cm) - 1);
    }
    c->cm_ck_dlim[0] = cm, c->cm_ck_dlim[1] = ck;
    dz = (uint32_t)c->cm_ck_dlim[2];  // about where the weights end: the scores spread over it
    if (ck <= 19 && lm_udiv(4096UL << ck, (uint32_t)cm) < dz) dz = lm_udiv(4096UL << ck, (uint32_t)cm);
    if (dz > (1UL << 29)) dz = 1UL << 29;
    spread = t % 3 == 0 ? 2 * dz + 1 : t % 3 == 1 ? dz / 8 + 1 : 0;
    for (i = 0; i < c->n; i++) {
        if (spread) c->s[i] = (int32_t)(lm_rng_next(r) % spread) - (int32_t)(spread / 2);
        else c->s[i] = (int32_t)(lm_rng_next(r) >> (6 + t % 8)) - (int32_t)(0x3FFFFFFUL >> (t % 8));
        if (t == 4) c->s[i] = 12345;  // all equal (64 of them: R = 2^16)
        if (t == 9) c->s[i] = (int32_t)(0x80000000UL + lm_rng_next(r) % 100000UL);  // near -2^31
    }
    for (i = 0; i < 256; i++) c->silu[i] = (int16_t)((int32_t)lm_rng_below(r, 65535) - 32767);
    for (i = 0; i < c->n; i++) {
        c->h1[i] = (int8_t)(kt_below(r, 256) - 128);
        c->h3[i] = (int8_t)(kt_below(r, 256) - 128);
    }
    kt_rq_random(r, &c->glu, 127UL * 32767);
}

// Long softmaxes: n = 512 equal scores (S = 2^24, R = 2^16), 600 equal (S >> 9), 300 spread;
// p*v over the last one's probabilities (counts of positions above 255).
#define KT_SMX_CASES 3
#define KT_SMX_N 600
#define KT_PVL_N 300
static int kt_smx_case(lm_rng *r, int t, int32_t *s, int32_t *cm_ck_dlim) {
    int i, n = t == 0 ? 512 : t == 1 ? KT_SMX_N : KT_PVL_N;
    cm_ck_dlim[0] = 4598, cm_ck_dlim[1] = 18, cm_ck_dlim[2] = (int32_t)lm_udiv(4352UL << 18, 4598) + 1;
    for (i = 0; i < n; i++) s[i] = t < 2 ? -777 : (int32_t)(lm_rng_next(r) % 200000UL);
    return n;
}
static int8_t kt_val(lm_rng *r) { return (int8_t)(kt_below(r, 255) - 127); }

// The references (lm_kernel.c's attend_head loops, lm_ops.c's operations).
static void kt_scores_ref(const kt_att *c, int32_t *att) {
    int t, i;
    for (t = 0; t < c->n; t++) {
        int32_t a = 0;
        for (i = 0; i < KT_ATT_HS; i++) a += (int32_t)c->q[i] * c->k[t * KT_ATT_HS + i];
        att[t] = a;
    }
}

// p*v over the case's softmax: o_i = sum_t p_t v_t,i
static void kt_pv_ref(const kt_att *c, const uint16_t *p, int32_t *o) {
    int t, i;
    for (i = 0; i < KT_ATT_HS; i++) o[i] = 0;
    for (t = 0; t < c->n; t++) {
        int32_t pt = p[t];
        for (i = 0; i < KT_ATT_HS; i++) o[i] += pt * c->val[t * KT_ATT_HS + i];
    }
}

static void kt_glu_ref(const kt_att *c, int8_t *out) {
    int i;
    for (i = 0; i < c->n; i++) out[i] = lm_sat8(lm_requant((int32_t)c->silu[c->h1[i] + 128] * c->h3[i], c->glu));
}

// The rope input's length: whole heads.
static int kt_rope_n(const kt_att *c) { return c->n < c->rhs ? c->rhs : c->n - c->n % c->rhs; }

// The references of a case one after the other (rope, scores, softmax, p*v, SwiGLU, the
// sampler's weights and their sum); the bytes (at most KT_ATT_BYTES).
#define KT_ATT_BYTES (13 * KT_ATT_MAXN + 4 * KT_ATT_HS + 4)
static unsigned kt_att_ref(const kt_att *c, uint8_t *out) {
    static int32_t r32[KT_ATT_MAXN];  // (each result in an aligned array, then bytewise into out)
    static uint16_t p[KT_ATT_MAXN];
    int16_t *r16 = (int16_t *)(void *)r32;
    int8_t *r8 = (int8_t *)r32;
    unsigned at = 0;
    int n = kt_rope_n(c);
    lm_sampler sm;
    uint32_t S;
    lm_rope_q12(r16, c->v, n, c->rhs, c->pos, c->theta);
    memcpy(out + at, r16, 2 * (unsigned)n), at += 2 * (unsigned)n;
    kt_scores_ref(c, r32);
    memcpy(out + at, r32, 4 * (unsigned)c->n), at += 4 * (unsigned)c->n;
    lm_softmax_q15(p, c->s, c->n, c->cm_ck_dlim[0], (int)c->cm_ck_dlim[1], c->cm_ck_dlim[2]);
    memcpy(out + at, p, 2 * (unsigned)c->n), at += 2 * (unsigned)c->n;
    kt_pv_ref(c, p, r32);
    memcpy(out + at, r32, 4 * KT_ATT_HS), at += 4 * KT_ATT_HS;
    kt_glu_ref(c, r8);
    memcpy(out + at, r8, (unsigned)c->n), at += (unsigned)c->n;
    // the sampler's weights over the scores, (tm, tk, dlim) = (cm, ck, dlim)
    sm.tm = c->cm_ck_dlim[0], sm.tk = c->cm_ck_dlim[1], sm.dlim = c->cm_ck_dlim[2];
    S = lm_sample_weights(&sm, c->s, c->n, (uint32_t *)(void *)r32);
    memcpy(out + at, r32, 4 * (unsigned)c->n), at += 4 * (unsigned)c->n;
    memcpy(out + at, &S, 4);
    return at + 4;
}

#endif
