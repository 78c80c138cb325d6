// c64_kernels.h: the 6502 routines of the C64 program (c64_*.s), each bit-identical to the
// operation of infer/lm_ops.c it replaces (tested on random inputs by test_kernels.c).
#ifndef C64_KERNELS_H
#define C64_KERNELS_H

#include <stdint.h>

#include "infer/lm_ops.h"

// c64_mul.s: the square tables (3 KB, page-aligned), filled once; until then c64_main.c uses the
// pages for the start-up's CRC table and the prompt encoder's scratch.
#define C64_PAGES_BYTES 3072
extern uint8_t c64_pages[C64_PAGES_BYTES];
void c64_mul_init(void);

// c64_rq.s: what a requantisation y = rshr((v >> p) * m, k) becomes (lm_requant_i8, _i16 with
// the limit 2047, _add, plain int32), and the raw accumulator of the matrix kernel (tests).
enum { C64_RQ_I8, C64_RQ_I16, C64_RQ_ADD, C64_RQ_I32, C64_RQ_ACC };
// y[i] by mode from acc[i] and rq[i], i < n; |acc[i]| < 2^23 (the C64's requantised values).
void c64_requant(uint8_t mode, void *y, const int32_t *acc, const lm_rq *rq, uint16_t n);

// c64_matvec.s: matrix times vector, each row requantised into out (the mode, with the row's
// record: c64_rec.h). Load the input once (int8 x of cols <= 255 entries, for the kernel of
// `bits` 8 or 4), then run any number of matrices of that width over it.
typedef struct {
    void *out;          // [rows] of the mode's type
    uint32_t w_off;     // weight-source offset of row 0's packed weights
    uint32_t rec_off;   // weight-source offset of row 0's record
    uint16_t rows;
    uint8_t mode;       // C64_RQ_*
} c64_mv_args;
extern c64_mv_args c64_mv;
void c64_mv_input(const int8_t *x, uint8_t cols, uint8_t bits);
void c64_mv_run(void);

// c64_norm.s: lm_rmsnorm_q8 for n <= 255.
void c64_rmsnorm(int8_t *out, const int32_t *x, const int16_t *g, uint8_t gk, uint8_t n, uint32_t eps_ss);

// c64_attn.s (c64_attn.s's comment has the arithmetic): RoPE with the (cos, sin) of every
// frequency given (cs[2i], cs[2i+1]); one head's attention over the KV cache, whose key and value
// records (c64_kvrec: C64_KREC(hs) and hs bytes, c64_ws.h) come through the weight source's KV
// stream (kv_k_begin / kv_v_begin first): the scores q.k_t of n positions into att (their max into
// c64_att_max); lm_softmax_q15 over them in place with the constants of the last c64_att_layer and
// the max in c64_att_max: p_t in the low half of s[t]; the sums o_i = sum_t p_t v_t,i from those
// halves. c64_exp2s: the softmax's e_t alone (not normalised, each a uint32) and their sum: the
// sampler's (c64_sample_weights). hs = C64_HS (the assembly is built for it: even, 2..16), |q|,
// |k| <= 2047, |v| <= 127. Their RAM is the program's c64_arena: the kernels' workspace (C64_KWB
// bytes at its start) and the 768 bytes after it (the multiples of a softmax's cm; the sampler's
// too, so they must be free between forwards). c64_rq.s: SwiGLU (n <= 255).
extern int32_t c64_att_max;
void c64_rope(int16_t *out, const int16_t *v, uint8_t n, uint8_t hs, const int16_t *cs);
void c64_kvrec(uint8_t *krec, const int16_t *k, int8_t *v);
void c64_scores(int32_t *att, const int16_t *q, uint16_t n);
void c64_att_layer(const int32_t *cm_ck_dlim);
void c64_softmax(int32_t *s, uint16_t n);
uint32_t c64_exp2s(uint32_t *e, const int32_t *s, uint16_t n);
void c64_pv(int32_t *o, const int32_t *p, uint16_t n);
void c64_glu(int8_t *out, const int8_t *h1, const int8_t *h3, const int16_t *silu, const lm_rq *rq, uint8_t n);
void c64_requant1(uint8_t mode, void *y, const int32_t *acc, const lm_rq *rq, uint16_t n);
// lm_sample_weights (the sampler's e_t: the softmax's exponentials with the sampler's tm, tk,
// dlim, c64_exp2s); the C64 program's lm_sample calls it (-DLM_SAMPLE_WEIGHTS, c64_build.c;
// c64_forward.c).
uint32_t c64_sample_weights(const lm_sampler *s, const int32_t *logits, int n, uint32_t *e);

#endif
