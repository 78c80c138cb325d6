// c64_forward.c: lm_forward for a machine whose RAM holds neither the weights nor the KV cache.
//
// The same integer forward as infer/lm_kernel.c (docs/lm-contract.md), step for step and calling
// the same operations of infer/lm_ops.c, with every matrix streamed from the weight source
// (c64_ws.h) a block of rows at a time, each row block multiplied by lm_matvec_i8/_i4 (or the
// 6502 routine that is bit-identical to it, c64_mac.s), the requantisations applied to chunks of
// rows with lm_requant_*, and attention reading each head's keys and values back from the KV
// cache in chunks of positions. lm_gen (infer/lm_gen.c) drives it unchanged: the lm_model it is
// given holds the configuration and the scalars (read once by c64_model_load), no pointers.
// Tested logit for logit against infer/lm_forward (tests/test_target_c64.c).
#include "c64_forward.h"

#include "c64_ws.h"

#define MAXW C64_MAXW  // max(hidden, dim)
#define ACCN C64_ACCN  // max(hidden, dim, vocab)
#define RQN 32   // requantisations per chunk
#define TCH 16   // positions per KV chunk

static int32_t X[C64_DIM];         // residual, Q16
static int32_t ACC[ACCN];          // accumulators; the logits after the classifier (in place)
static int8_t XQ[MAXW];            // int8 matmul input
static int16_t QK16[C64_DIM], Q[C64_DIM], KC[C64_KVD];
static int8_t H1[C64_HID], H3[C64_HID], VC[C64_KVD];
uint8_t c64_scratch[C64_SCRATCH_BYTES];                  // shared with c64_main.c (c64_forward.h)
#define ATT ((int32_t *)(void *)c64_scratch)                 // [seq] one head's scores
#define P ((uint16_t *)(void *)(c64_scratch + 4 * C64_SEQ))  // [seq] its probabilities, Q15
static int16_t G[C64_DIM];         // one norm's multipliers
static int16_t SILU[256];
static lm_rq RQ[RQN];
static uint8_t BLK[C64_BLOCK_BYTES];  // a block of weight rows; also a KV chunk
static uint32_t THETA[C64_HS / 2];

int32_t *c64_logits(void) { return ACC; }

void c64_forward_init(void) {
#ifndef C64_C_KERNELS
    c64_mac_init();
#endif
    ws_read(C64_OFF_ROPE, THETA, sizeof THETA);
}

// acc[0..rows) = W x for the matrix at image offset off ([rows][cols], wbits 8 or 4).
static void matvec(int32_t *acc, uint32_t off, const int8_t *x, int rows, int cols, int bits) {
    uint16_t rb = (uint16_t)(bits == 4 ? (cols + 1) / 2 : cols);
    int per = (int)(C64_BLOCK_BYTES / rb);
    for (int r = 0; r < rows; r += per) {
        int n = rows - r < per ? rows - r : per;
        ws_read(off + (uint32_t)r * rb, BLK, (uint16_t)(n * rb));
#if C64_WBITS == 4
        if (bits == 4) C64_MATVEC_I4(acc + r, BLK, x, n, cols);
        else
#endif
            C64_MATVEC_I8(acc + r, (const int8_t *)BLK, x, n, cols);
    }
}

// The three requantisations of lm_ops.h over rows [0, n) with the rq array at image offset off.
enum { RQ_I8, RQ_I16, RQ_ADD };
static void requant(int how, void *y, const int32_t *acc, uint32_t off, int n) {
    for (int r = 0; r < n; r += RQN) {
        int k = n - r < RQN ? n - r : RQN;
        ws_read(off + 4 * (uint32_t)r, RQ, (uint16_t)(4 * k));
        if (how == RQ_I8) C64_REQUANT_I8((int8_t *)y + r, acc + r, RQ, k);
        else if (how == RQ_I16) lm_requant_i16((int16_t *)y + r, acc + r, RQ, k, 2047);
        else lm_requant_add((int32_t *)y + r, acc + r, RQ, k);
    }
}

static void rmsnorm(int8_t *out, uint32_t g_off, int32_t k) {
    ws_read(g_off, G, 2 * C64_DIM);
    lm_rmsnorm_q8(out, X, G, (int)k, C64_DIM, (uint32_t)C64_EPS_SS);
}

// One query head over positions 0..pos (lm_kernel.c's attend_head): scores q.k in int32,
// lm_softmax_q15, o_i = sum_t p_t v_t,i in int32, requantised to int8.
static void attend_head(const lm_layer *L, int l, int kvh, const int16_t *q, int8_t *out, int pos) {
    int32_t o[C64_HS];
    kv_k_begin(l, kvh);
    for (int t = 0; t <= pos; t += TCH) {
        int n = pos + 1 - t < TCH ? pos + 1 - t : TCH;
        const int16_t *k = (const int16_t *)(const void *)BLK;
        kv_k_next((int16_t *)(void *)BLK, n, C64_HS);
        for (int j = 0; j < n; j++, k += C64_HS) {
            int32_t a = 0;
            for (int i = 0; i < C64_HS; i++) a += (int32_t)q[i] * k[i];
            ATT[t + j] = a;
        }
    }
    lm_softmax_q15(P, ATT, pos + 1, L->att_cm, (int)L->att_ck, L->att_dlim);
    for (int i = 0; i < C64_HS; i++) o[i] = 0;
    kv_v_begin(l, kvh);
    for (int t = 0; t <= pos; t += TCH) {
        int n = pos + 1 - t < TCH ? pos + 1 - t : TCH;
        const int8_t *v = (const int8_t *)BLK;
        kv_v_next((int8_t *)BLK, n, C64_HS);
        for (int j = 0; j < n; j++, v += C64_HS) {
            int32_t pt = P[t + j];
            for (int i = 0; i < C64_HS; i++) o[i] += pt * v[i];
        }
    }
    for (int i = 0; i < C64_HS; i++) out[i] = lm_sat8(lm_requant(o[i], L->att_out));
}

int32_t *lm_forward(const lm_model *m, lm_state *s, int token, int pos) {
    const int dim = C64_DIM, hid = C64_HID, kvd = C64_KVD, hs = C64_HS, bits = C64_WBITS;
    lm_rq erq;
    (void)s;
    // embedding row -> residual Q16
    ws_read(C64_OFF_EMB + (uint32_t)token * dim, BLK, (uint16_t)dim);
    ws_read(C64_OFF_EMB_RQ + 4 * (uint32_t)token, &erq, 4);
    for (int i = 0; i < dim; i++) X[i] = lm_requant(((const int8_t *)BLK)[i], erq);

    for (int l = 0; l < C64_N_LAYERS; l++) {
        const lm_layer *L = &m->layers[l];
        const c64_loff *o = &c64_layer_off[l];
        rmsnorm(XQ, o->att_g, L->att_norm.k);
        matvec(ACC, o->wq, XQ, dim, dim, bits);
        requant(RQ_I16, QK16, ACC, o->wq_rq, dim);
        lm_rope_q12(Q, QK16, dim, hs, pos, THETA);
        matvec(ACC, o->wk, XQ, kvd, dim, bits);
        requant(RQ_I16, QK16, ACC, o->wk_rq, kvd);
        lm_rope_q12(KC, QK16, kvd, hs, pos, THETA);
        matvec(ACC, o->wv, XQ, kvd, dim, bits);
        requant(RQ_I8, VC, ACC, o->wv_rq, kvd);
        for (int h = 0; h < C64_N_KV; h++) kv_put(l, h, pos, KC + h * hs, VC + h * hs, hs);
        for (int h = 0; h < C64_N_HEADS; h++) attend_head(L, l, h / (C64_N_HEADS / C64_N_KV), Q + h * hs, XQ + h * hs, pos);
        matvec(ACC, o->wo, XQ, dim, dim, bits);
        requant(RQ_ADD, X, ACC, o->wo_rq, dim);

        rmsnorm(XQ, o->ffn_g, L->ffn_norm.k);
        matvec(ACC, o->w1, XQ, hid, dim, bits);
        requant(RQ_I8, H1, ACC, o->w1_rq, hid);
        matvec(ACC, o->w3, XQ, hid, dim, bits);
        requant(RQ_I8, H3, ACC, o->w3_rq, hid);
        ws_read(o->silu, SILU, sizeof SILU);
        for (int i = 0; i < hid; i++) XQ[i] = lm_sat8(lm_requant((int32_t)SILU[H1[i] + 128] * H3[i], L->glu));
        matvec(ACC, o->w2, XQ, dim, hid, bits);
        requant(RQ_ADD, X, ACC, o->w2_rq, dim);
    }

    rmsnorm(XQ, C64_OFF_FNORM_G, m->final_norm.k);
    matvec(ACC, C64_OFF_CLS, XQ, C64_VOCAB, dim, 8);
    for (int r = 0; r < C64_VOCAB; r += RQN) {
        int k = C64_VOCAB - r < RQN ? C64_VOCAB - r : RQN;
        ws_read(C64_OFF_CLS_RQ + 4 * (uint32_t)r, RQ, (uint16_t)(4 * k));
        for (int i = 0; i < k; i++) ACC[r + i] = lm_requant(ACC[r + i], RQ[i]);
    }
    return ACC;
}
