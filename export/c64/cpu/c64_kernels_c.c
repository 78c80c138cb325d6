// c64_kernels_c.c: the interface of the 6502 kernels (c64_kernels.h) on infer/lm_ops.c's C, for
// `--c-kernels` builds: the baseline the benchmark compares with, and the path for models whose
// rows the 24-bit assembly kernels do not take (more than 255 columns).
#include "c64_kernels.h"
#include "c64_model.h"
#include "c64_rec.h"
#include "c64_ws.h"

#define ROWS 8  // rows per block

c64_mv_args c64_mv;
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
