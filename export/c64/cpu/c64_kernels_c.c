// c64_kernels_c.c: the interface of the 6502 kernels (c64_kernels.h) on infer/lm_ops.c's C, for
// `--c-kernels` builds: the baseline the benchmark compares with, and the path for models whose
// rows the 24-bit assembly kernels do not take (more than 255 columns).
#include "c64_kernels.h"
#include "c64_model.h"
#include "c64_rec.h"
#include "c64_ws.h"

#define ROWS 8  // rows per block

c64_mv_args c64_mv;
uint8_t c64_pages[C64_PAGES_BYTES];
static const int8_t *in_x;
static uint8_t in_cols, in_bits;
static int32_t ACC[ROWS];
static lm_rq RQ[ROWS];
static uint8_t REC[ROWS * C64_REC_BYTES];
static uint8_t BLK[ROWS * C64_MAXW];

void c64_mul_init(void) {}

void c64_mv_input(const int8_t *x, uint8_t cols, uint8_t bits) { in_x = x, in_cols = cols, in_bits = bits; }

void c64_requant(uint8_t mode, void *y, const int32_t *acc, const lm_rq *rq, uint16_t n) {
    uint16_t i;
    if (mode == C64_RQ_I8) lm_requant_i8((int8_t *)y, acc, rq, (int)n);
    else if (mode == C64_RQ_I16) lm_requant_i16((int16_t *)y, acc, rq, (int)n, 2047);
    else if (mode == C64_RQ_ADD) lm_requant_add((int32_t *)y, acc, rq, (int)n);
    else if (mode == C64_RQ_I32)
        for (i = 0; i < n; i++) ((int32_t *)y)[i] = lm_requant(acc[i], rq[i]);
    else
        for (i = 0; i < n; i++) ((int32_t *)y)[i] = acc[i];
}

void c64_mv_run(void) {
    uint16_t stride = in_bits == 4 ? (in_cols + 1) / 2 : in_cols, r, i;
    uint32_t w_off = c64_mv.w_off, rec_off = c64_mv.rec_off;
    uint8_t *out = (uint8_t *)c64_mv.out;
    uint8_t size = c64_mv.mode == C64_RQ_I8 ? 1 : c64_mv.mode == C64_RQ_I16 ? 2 : 4;
    for (r = 0; r < c64_mv.rows; r += ROWS) {
        uint16_t n = c64_mv.rows - r < ROWS ? c64_mv.rows - r : ROWS;
        ws_read(w_off, BLK, n * stride);
        ws_read(rec_off, REC, n * C64_REC_BYTES);
        w_off += n * stride, rec_off += n * C64_REC_BYTES;
        if (in_bits == 4) lm_matvec_i4(ACC, BLK, in_x, (int)n, in_cols);
        else lm_matvec_i8(ACC, (const int8_t *)BLK, in_x, (int)n, in_cols);
        for (i = 0; i < n; i++) {
            const uint8_t *q = REC + C64_REC_BYTES * i;
            RQ[i].m = (int16_t)(q[3] | (uint16_t)q[4] << 8), RQ[i].p = q[5], RQ[i].k = q[6];
        }
        c64_requant(c64_mv.mode, out, ACC, RQ, n);
        out += n * size;
    }
}

void c64_rmsnorm(int8_t *out, const int32_t *x, const int16_t *g, uint8_t gk, uint8_t n, uint32_t eps_ss) {
    lm_rmsnorm_q8(out, x, g, gk, n, eps_ss);
}

void c64_requant1(uint8_t mode, void *y, const int32_t *acc, const lm_rq *rq, uint16_t n) {
    uint16_t i;
    for (i = 0; i < n; i++) {
        int32_t v = lm_requant(acc[i], *rq);
        if (mode == C64_RQ_I8) ((int8_t *)y)[i] = lm_sat8(v);
        else if (mode == C64_RQ_I16) ((int16_t *)y)[i] = (int16_t)lm_clamp(v, 2047);
        else if (mode == C64_RQ_ADD) ((int32_t *)y)[i] += v;
        else ((int32_t *)y)[i] = v;
    }
}

// RoPE from the (cos, sin) pairs: lm_rope_q12's arithmetic, the angles given.
void c64_rope(int16_t *out, const int16_t *v, uint8_t n, uint8_t hs, const int16_t *cs) {
    uint8_t i;
    for (i = 0; i < n; i += 2) {
        int32_t c = cs[i % hs], s = cs[i % hs + 1], a = v[i], b = v[i + 1];
        out[i] = (int16_t)lm_clamp(lm_rshr(a * c - b * s, 15), 2047);
        out[i + 1] = (int16_t)lm_clamp(lm_rshr(a * s + b * c, 15), 2047);
    }
}

// Attention over the KV cache's records (c64_ws.h), one record per read of the KV stream.
static uint8_t att_ws[C64_KREC(C64_HS)];
static int32_t att_cm, att_dlim;
static int att_ck;
int32_t c64_att_max;

void c64_kvrec(uint8_t *krec, const int16_t *k, int8_t *v) {
    uint8_t i;
    for (i = 0; i < C64_HS; i++) {
        uint16_t w = (uint16_t)(k[i] + 2048);
        krec[i] = (uint8_t)(16 * i + (w & 15));
        krec[C64_HS + i] = (uint8_t)(16 * i + (w >> 4 & 15));
        krec[2 * C64_HS + i] = (uint8_t)(16 * i + (w >> 8));
        if (v[i] < 0) v[i] = (int8_t)(uint8_t)(128 - v[i]);
    }
}

void c64_scores(int32_t *att, const int16_t *q, uint16_t n) {
    uint16_t t;
    uint8_t i;
    for (t = 0; t < n; t++) {
        int32_t a = 0;
        ws_next(C64_KV_STREAM, att_ws, C64_KREC(C64_HS));
        for (i = 0; i < C64_HS; i++) {
            int16_t k = (int16_t)(((att_ws[2 * C64_HS + i] & 15) << 8 | (att_ws[C64_HS + i] & 15) << 4 | (att_ws[i] & 15)) - 2048);
            a += (int32_t)q[i] * k;
        }
        att[t] = a;
    }
}

void c64_att_layer(const int32_t *cm_ck_dlim) { att_cm = cm_ck_dlim[0], att_ck = (int)cm_ck_dlim[1], att_dlim = cm_ck_dlim[2]; }

// p_t into the low half of s[t] (lm_softmax_q15 in place, then spread from the end)
void c64_softmax(int32_t *s, uint16_t n) {
    uint16_t *p = (uint16_t *)(void *)s, t = n;
    lm_softmax_q15(p, s, (int)n, att_cm, att_ck, att_dlim);
    while (t-- > 0) p[2 * t] = p[t];
}

void c64_pv(int32_t *o, const int32_t *p, uint16_t n) {
    uint16_t t;
    uint8_t i;
    for (i = 0; i < C64_HS; i++) o[i] = 0;
    for (t = 0; t < n; t++) {
        int32_t pt = (uint16_t)p[t];
        ws_next(C64_KV_STREAM, att_ws, C64_HS);
        for (i = 0; i < C64_HS; i++) o[i] += pt * (att_ws[i] & 128 ? -(int32_t)(att_ws[i] & 127) : (int32_t)att_ws[i]);
    }
}

void c64_glu(int8_t *out, const int8_t *h1, const int8_t *h3, const int16_t *silu, const lm_rq *rq, uint8_t n) {
    uint8_t i;
    for (i = 0; i < n; i++) out[i] = lm_sat8(lm_requant((int32_t)silu[h1[i] + 128] * h3[i], *rq));
}
