// c64_forward.c: lm_forward for a machine whose RAM holds neither the weights nor the KV cache.
//
// The integer forward of infer/lm_kernel.c (docs/lm-contract.md), step for step, with every
// operation either infer/lm_ops.c's own or a 6502 routine bit-identical to it (c64_kernels.h,
// tested on random inputs by test_kernels.c), tested logit for logit against the host
// (tests/test_target_c64.c). Why the C64 has its own sequence rather than lm_kernel.c's with
// hooks: its RAM (about 49 KB for code, tokenizer and buffers) holds none of the model's arrays,
// so every matrix, requantisation table, norm and SiLU table is fetched from the REU on the way,
// and the speed comes from fusing what lm_kernel.c keeps apart: a matrix row is requantised as
// soon as its accumulator is ready (the 6502 kernels never store int32 accumulators), the input
// of a matrix is loaded into the kernel once for all the matrices that read it (wq/wk/wv, w1/w3),
// and attention reads each head's keys and values back from the KV cache in chunks of positions.
// lm_gen (infer/lm_gen.c) drives it unchanged: the lm_model it is given holds the configuration
// and the scalars (read once by c64_main.c), no pointers.
#include "c64_forward.h"

#include "c64_kernels.h"
#include "c64_ws.h"

c64_arena_t c64_arena;
#define A (c64_arena.f)
#define ATT ((int32_t *)(void *)A.scratch)  // [seq] one head's scores, then its probabilities (Q15) in their low halves
#define B (A.u.b)
static uint32_t THETA[C64_HS / 2];

void c64_forward_init(void) {
    c64_mul_init();
    ws_read(C64_OFF_ROPE, THETA, sizeof THETA);
}

// One matrix over the loaded input: rows requantised by mode into out.
static void matvec(void *out, uint32_t w_off, uint32_t rec_off, uint16_t rows, uint8_t mode) {
    c64_mv.out = out;
    c64_mv.w_off = w_off;
    c64_mv.rec_off = rec_off;
    c64_mv.rows = rows;
    c64_mv.mode = mode;
    c64_mv_run();
}

static void rmsnorm(int8_t *out, uint32_t g_off, int32_t k) {
    ws_read(g_off, B.g, 2 * C64_DIM);
    c64_rmsnorm(out, A.x, B.g, (uint8_t)k, C64_DIM, (uint32_t)C64_EPS_SS);
}

// One query head over positions 0..pos (lm_kernel.c's attend_head): scores q.k in int32,
// lm_softmax_q15 (the layer's constants: c64_att_layer), o_i = sum_t p_t v_t,i in int32,
// requantised to int8; the kernels read the keys and values from the KV cache's stream.
static void attend_head(const lm_layer *L, int l, int kvh, const int16_t *q, int8_t *out, int pos) {
    int32_t o[C64_HS];
    uint16_t n = (uint16_t)(pos + 1);
    kv_k_begin(l, kvh);
    c64_scores(ATT, q, n);
    c64_softmax(ATT, n);
    kv_v_begin(l, kvh);
    c64_pv(o, ATT, n);
    c64_requant1(C64_RQ_I8, out, o, &L->att_out, C64_HS);
}

#ifndef C64_C_KERNELS
uint32_t c64_sample_weights(const lm_sampler *s, const int32_t *logits, int n, uint32_t *e) {
    c64_att_layer(&s->tm);  // (tm, tk, dlim: a softmax's cm, ck, dlim)
    c64_att_max = logits[lm_argmax(logits, n)];
    return c64_exp2s(e, logits, (uint16_t)n);
}
#endif

int32_t *lm_forward(const lm_model *m, lm_state *s, int token, int pos) {
    const int dim = C64_DIM, hid = C64_HID, kvd = C64_KVD, hs = C64_HS, bits = C64_WBITS;
    lm_rq erq;
    int16_t cs[C64_HS];  // cos and sin of pos * theta_i (lm_rope_q12's, the same for every head)
    (void)s;
    for (int i = 0; i < C64_HS / 2; i++) {
        uint32_t phi = (uint32_t)pos * THETA[i];
        cs[2 * i] = (int16_t)lm_cos_q15(phi);
        cs[2 * i + 1] = (int16_t)lm_sin_q15(phi);
    }
    // embedding row -> residual Q16
    ws_read(C64_OFF_EMB + (uint32_t)token * dim, B.e, (uint16_t)dim);
    ws_read(C64_OFF_EMB_RQ + 4 * (uint32_t)token, &erq, 4);
    for (int i = 0; i < dim; i++) A.x[i] = B.e[i];
    c64_requant1(C64_RQ_I32, A.x, A.x, &erq, (uint16_t)dim);

    for (int l = 0; l < C64_N_LAYERS; l++) {
        const lm_layer *L = &m->layers[l];
        const c64_loff *o = &c64_layer_off[l];
        rmsnorm(A.xq, o->att_g, L->att_norm.k);
        c64_mv_input(A.xq, (uint8_t)dim, (uint8_t)bits);
        matvec(A.qk16, o->wq, o->wq_rec, (uint16_t)dim, C64_RQ_I16);
        c64_rope(A.q, A.qk16, (uint8_t)dim, (uint8_t)hs, cs);
        matvec(A.qk16, o->wk, o->wk_rec, (uint16_t)kvd, C64_RQ_I16);
        c64_rope(A.kc, A.qk16, (uint8_t)kvd, (uint8_t)hs, cs);
        matvec(A.vc, o->wv, o->wv_rec, (uint16_t)kvd, C64_RQ_I8);
        for (int h = 0; h < C64_N_KV; h++) {  // the key and value records (c64_ws.h)
            c64_kvrec(A.krec, A.kc + h * hs, A.vc + h * hs);
            kv_put(l, h, pos, A.krec, A.vc + h * hs, hs);
        }
        c64_att_layer(&L->att_cm);
        for (int h = 0; h < C64_N_HEADS; h++) attend_head(L, l, h / (C64_N_HEADS / C64_N_KV), A.q + h * hs, A.xq + h * hs, pos);
        c64_mv_input(A.xq, (uint8_t)dim, (uint8_t)bits);
        matvec(A.x, o->wo, o->wo_rec, (uint16_t)dim, C64_RQ_ADD);

        rmsnorm(A.xq, o->ffn_g, L->ffn_norm.k);
        c64_mv_input(A.xq, (uint8_t)dim, (uint8_t)bits);
        matvec(B.h1, o->w1, o->w1_rec, (uint16_t)hid, C64_RQ_I8);
        matvec(B.h3, o->w3, o->w3_rec, (uint16_t)hid, C64_RQ_I8);
        ws_read(o->silu, B.silu, sizeof B.silu);
        c64_glu(A.xq, B.h1, B.h3, B.silu, &L->glu, (uint8_t)hid);
        c64_mv_input(A.xq, (uint8_t)hid, (uint8_t)bits);
        matvec(A.x, o->w2, o->w2_rec, (uint16_t)dim, C64_RQ_ADD);
    }

    rmsnorm(A.xq, C64_OFF_FNORM_G, m->final_norm.k);
    c64_mv_input(A.xq, (uint8_t)dim, 8);
    matvec(A.logits, C64_OFF_CLS, C64_REC_CLS, (uint16_t)C64_VOCAB, C64_RQ_I32);
    return A.logits;
}
