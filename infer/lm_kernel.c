// lm_kernel.c: the integer forward of the transformer (see lm_kernel.h, docs/lm-contract.md).
#include "infer/lm_kernel.h"

static size_t al4(size_t n) { return (n + 3) & ~(size_t)3; }
static int imax(int a, int b) { return a > b ? a : b; }

size_t lm_state_bytes(const lm_config *c) {
    size_t kv = (size_t)c->n_layers * c->seq_len * lm_kv_dim(c);
    int wide = imax(c->dim, c->hidden_dim);
    return al4(4 * (size_t)c->dim) + al4(4 * (size_t)imax(wide, c->vocab_size)) + al4((size_t)wide) +
           al4(2 * (size_t)c->dim) + al4(2 * (size_t)c->dim) + 2 * al4((size_t)c->hidden_dim) +
           al4(4 * (size_t)c->seq_len) + al4(2 * (size_t)c->seq_len) + al4(2 * kv) + al4(kv) + al4(4 * (size_t)c->vocab_size);
}

void lm_state_init(lm_state *s, const lm_config *c, void *mem) {
    uint8_t *p = mem;
    size_t kv = (size_t)c->n_layers * c->seq_len * lm_kv_dim(c);
    int wide = imax(c->dim, c->hidden_dim);
#define TAKE(field, type, n) (s->field = (type *)(void *)p, p += al4(sizeof(type) * (size_t)(n)))
    TAKE(x, int32_t, c->dim);
    TAKE(acc, int32_t, imax(wide, c->vocab_size));
    TAKE(xq, int8_t, wide);
    TAKE(qk16, int16_t, c->dim);
    TAKE(q, int16_t, c->dim);
    TAKE(h1, int8_t, c->hidden_dim);
    TAKE(h3, int8_t, c->hidden_dim);
    TAKE(att, int32_t, c->seq_len);
    TAKE(p, uint16_t, c->seq_len);
    TAKE(kcache, int16_t, kv);
    TAKE(vcache, int8_t, kv);
    TAKE(logits, int32_t, c->vocab_size);
#undef TAKE
}

// acc[0..rows) = W x for `rows` packed rows of wbits-bit weights at w (8, 4 or 2 bits).
static void mat_kernel(int wbits, int32_t *acc, const void *w, const int8_t *x, int rows, int cols) {
    lm_matvec(wbits, acc, w, x, rows, cols);
}

// A resident matrix in one call; a streamed one (w NULL) block by block through m->src.
static void matvec_bits(const lm_model *m, int wbits, int32_t *acc, const lm_mat *w, const int8_t *x, int rows, int cols) {
    if (w->w) {
        mat_kernel(wbits, acc, w->w, x, rows, cols);
        return;
    }
    const lm_wsource *src = m->src;
    uint32_t rb = lm_row_bytes(wbits, cols);
    int block = (int)lm_udiv(src->buf_bytes, rb);
    for (int r = 0; r < rows; r += block) {
        int n = rows - r < block ? rows - r : block;
        src->read(src->ctx, w->off + (uint32_t)r * rb, src->buf, (uint32_t)n * rb);
        mat_kernel(wbits, acc + r, src->buf, x, n, cols);
    }
}

// Layer matrix `which` (LM_WQ ... LM_W3) at its weight bits.
// On the midrise grid the stored codes s stand for the weights 2s + 1: acc = 2 sum s x + sum x
// (|acc| <= 15 * 127 * cols).
static void matvec(const lm_model *m, int which, int32_t *acc, const lm_mat *w, const int8_t *x, int rows, int cols) {
    matvec_bits(m, m->c.mbits[which], acc, w, x, rows, cols);
    if (!m->c.mrise[which]) return;
    int32_t sx = 0;
    for (int j = 0; j < cols; j++) sx += x[j];
    for (int r = 0; r < rows; r++) acc[r] = 2 * acc[r] + sx;
}

// One query head over positions 0..pos: scores (int32 dot products of int16 q and int16 k,
// |score| <= 2047 * 2047 * hs < 2^31 for hs <= 512), integer softmax (Q15), then o_i = sum_t p_t v_t,i exactly in int32
// (|o| < 2^23), requantised to int8. kh, vh: this head's slice of the layer's key/value cache
// (row stride kvd).
static inline void attend_head(lm_state *s, const lm_layer *L, const int16_t *q, const int16_t *kh, const int8_t *vh,
                               int8_t *out, int pos, int kvd, int hs) {
    int32_t qh[LM_MAX_HEAD], o[LM_MAX_HEAD];
    for (int i = 0; i < hs; i++) qh[i] = q[i], o[i] = 0;
    for (int t = 0; t <= pos; t++) {
        const int16_t *kt = kh + (long)t * kvd;
        int32_t a = 0;
        for (int i = 0; i < hs; i++) a += qh[i] * kt[i];
        s->att[t] = a;
    }
    lm_softmax_q15(s->p, s->att, pos + 1, L->att_cm, L->att_ck, L->att_dlim);
    for (int t = 0; t <= pos; t++) {
        const int8_t *vt = vh + (long)t * kvd;
        int32_t pt = s->p[t];
        for (int i = 0; i < hs; i++) o[i] += pt * vt[i];
    }
    for (int i = 0; i < hs; i++) out[i] = lm_sat8(lm_requant(o[i], L->att_out));
}

int32_t *lm_forward(const lm_model *m, lm_state *s, int token, int pos) {
    const lm_config *c = &m->c;
    int dim = c->dim, hid = c->hidden_dim, hs = lm_head_size(c), kvd = lm_kv_dim(c);
    int group = c->n_heads / c->n_kv_heads;

    // embedding row -> residual Q16
    const int8_t *e = m->emb + (long)token * dim;
    for (int i = 0; i < dim; i++) s->x[i] = lm_requant(e[i], m->emb_rq[token]);

    for (int l = 0; l < c->n_layers; l++) {
        const lm_layer *L = &m->layers[l];
        int16_t *kc = s->kcache + ((long)l * c->seq_len + pos) * kvd;
        int8_t *vc = s->vcache + ((long)l * c->seq_len + pos) * kvd;

        // attention block: xq = int8(rmsnorm(x)); q, k rotated in int16 (k into the cache); v int8 into the cache
        lm_rmsnorm_q8(s->xq, s->x, L->att_norm.g, L->att_norm.k, dim, c->eps_ss);
        matvec(m, LM_WQ, s->acc, &L->wq, s->xq, dim, dim);
        lm_requant_i16(s->qk16, s->acc, L->wq.rq, dim, 2047);
        lm_rope_q12(s->q, s->qk16, dim, hs, pos, m->rope_theta);
        matvec(m, LM_WK, s->acc, &L->wk, s->xq, kvd, dim);
        lm_requant_i16(s->qk16, s->acc, L->wk.rq, kvd, 2047);
        lm_rope_q12(kc, s->qk16, kvd, hs, pos, m->rope_theta);
        matvec(m, LM_WV, s->acc, &L->wv, s->xq, kvd, dim);
        lm_requant_i8(vc, s->acc, L->wv.rq, kvd);

        const int16_t *kbase = s->kcache + (long)l * c->seq_len * kvd;
        const int8_t *vbase = s->vcache + (long)l * c->seq_len * kvd;
        for (int h = 0; h < c->n_heads; h++) {
            const int16_t *kh = kbase + (h / group) * hs;
            const int8_t *vh = vbase + (h / group) * hs;
            if (hs == 8) attend_head(s, L, s->q + h * hs, kh, vh, s->xq + h * hs, pos, kvd, 8);  // constant: unrolled
            else attend_head(s, L, s->q + h * hs, kh, vh, s->xq + h * hs, pos, kvd, hs);
        }
        matvec(m, LM_WO, s->acc, &L->wo, s->xq, dim, dim);
        lm_requant_add(s->x, s->acc, L->wo.rq, dim);

        // feed-forward block: h = silu(w1 xq) * (w3 xq), both int8, product requantised to int8
        lm_rmsnorm_q8(s->xq, s->x, L->ffn_norm.g, L->ffn_norm.k, dim, c->eps_ss);
        matvec(m, LM_W1, s->acc, &L->w1, s->xq, hid, dim);
        lm_requant_i8(s->h1, s->acc, L->w1.rq, hid);
        matvec(m, LM_W3, s->acc, &L->w3, s->xq, hid, dim);
        lm_requant_i8(s->h3, s->acc, L->w3.rq, hid);
        for (int i = 0; i < hid; i++) s->xq[i] = lm_sat8(lm_requant((int32_t)L->silu[s->h1[i] + 128] * s->h3[i], L->glu));
        matvec(m, LM_W2, s->acc, &L->w2, s->xq, dim, hid);
        lm_requant_add(s->x, s->acc, L->w2.rq, dim);
    }

    lm_rmsnorm_q8(s->xq, s->x, m->final_norm.g, m->final_norm.k, dim, c->eps_ss);
    matvec_bits(m, 8, s->acc, &m->cls, s->xq, c->vocab_size, dim);
    for (int i = 0; i < c->vocab_size; i++) s->logits[i] = lm_requant(s->acc[i], m->cls.rq[i]);
    return s->logits;
}

void lm_count_ops(const lm_config *c, int pos, lm_opcount *o) {
    long dim = c->dim, hid = c->hidden_dim, kvd = lm_kv_dim(c), T = pos + 1;
    long per_layer = dim * dim * 2 + 2 * kvd * dim + 3 * hid * dim  // wq wo, wk wv, w1 w2 w3
                     + 2 * c->n_heads * T * lm_head_size(c);          // scores and weighted values
    o->macs = c->n_layers * per_layer + (long)c->vocab_size * dim;
    // per layer: 2 sin/cos per rotated pair (q and k), one exp2 per score, one silu per hidden unit
    o->lookups = c->n_layers * ((dim + kvd) + c->n_heads * T + hid);
}
