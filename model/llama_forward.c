// llama_forward.c: float inference one position at a time with a KV cache.
//
// The arithmetic follows llama2.c run.c operation for operation (same summation order in
// rmsnorm, softmax and attention; RoPE angles from powf/cosf/sinf per position), so greedy
// generation reproduces run.c's text byte for byte (tests/test_llama_generate.c). The hooked
// variant is the same forward with a callback at each quantisation point of the integer contract
// (calibration reads the activations there, bench/int8_attrib.c rounds them in place); without
// a hook it is llama_forward.
#include "model/llama.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "data/sampler.h"

void llama_state_build(llama_state *s, const llama_config *c) {
    size_t d = c->dim, h = c->hidden_dim, kv = llama_kv_dim(c), T = c->seq_len, L = c->n_layers;
    size_t n = 3 * d + 2 * h + d + (size_t)c->n_heads * T + c->vocab_size + 2 * L * T * kv;
    float *p = s->mem = rq_calloc(n, sizeof(float));
    s->x = p, p += d;
    s->xb = p, p += d;
    s->xb2 = p, p += d;
    s->hb = p, p += h;
    s->hb2 = p, p += h;
    s->q = p, p += d;
    s->att = p, p += (size_t)c->n_heads * T;
    s->logits = p, p += c->vocab_size;
    s->key_cache = p, p += L * T * kv;
    s->value_cache = p;
}

void llama_state_free(llama_state *s) {
    free(s->mem);
    memset(s, 0, sizeof *s);
}

// o = weight * x / sqrt(mean(x^2) + 1e-5)
static void rmsnorm(float *o, const float *x, const float *weight, int n) {
    float ss = 0.0f;
    for (int j = 0; j < n; j++) ss += x[j] * x[j];
    ss /= n;
    ss += 1e-5f;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < n; j++) o[j] = weight[j] * (ss * x[j]);
}

// Four rows' running sums, one per lane (GNU C vectors; gcc lowers them on any target).
typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));

static inline v4f load4(const float *p) {
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

// Lane k of acc += r[k n + j + c] x[j + c] for c = 0, 1, 2, 3 in turn. The 4x4 block of rows
// r[0..3] is loaded row by row (contiguous) and transposed so that each add brings one column.
static inline v4f block4(v4f acc, const float *r, int n, int j, const float *x) {
    v4f a0 = load4(r + j), a1 = load4(r + n + j), a2 = load4(r + 2 * n + j), a3 = load4(r + 3 * n + j);
    v4f t0 = __builtin_shuffle(a0, a1, (v4i){0, 4, 1, 5}), t1 = __builtin_shuffle(a2, a3, (v4i){0, 4, 1, 5});
    v4f t2 = __builtin_shuffle(a0, a1, (v4i){2, 6, 3, 7}), t3 = __builtin_shuffle(a2, a3, (v4i){2, 6, 3, 7});
    acc += __builtin_shuffle(t0, t1, (v4i){0, 1, 4, 5}) * x[j];
    acc += __builtin_shuffle(t0, t1, (v4i){2, 3, 6, 7}) * x[j + 1];
    acc += __builtin_shuffle(t2, t3, (v4i){0, 1, 4, 5}) * x[j + 2];
    acc += __builtin_shuffle(t2, t3, (v4i){2, 3, 6, 7}) * x[j + 3];
    return acc;
}

// Lane k of acc += r[k n + j] x[j].
static inline v4f col4(v4f acc, const float *r, int n, int j, const float *x) {
    v4f c = {r[j], r[n + j], r[2 * n + j], r[3 * n + j]};
    return acc + c * x[j];
}

// y[d] = W[d, n] x[n]. Each row is summed in order j = 0..n-1 exactly as run.c does (one row per
// lane, a multiply then an add per term), eight rows at a time in two vectors so that their
// chains of adds overlap in the pipeline.
static void matvec(float *y, const float *x, const float *w, int n, int d) {
    int i = 0;
    for (; i + 8 <= d; i += 8) {
        const float *r = w + (size_t)i * n, *r4 = r + 4 * (size_t)n;
        v4f a = {0}, b = {0};
        int j = 0;
        for (; j + 4 <= n; j += 4) a = block4(a, r, n, j, x), b = block4(b, r4, n, j, x);
        for (; j < n; j++) a = col4(a, r, n, j, x), b = col4(b, r4, n, j, x);
        memcpy(y + i, &a, sizeof a);
        memcpy(y + i + 4, &b, sizeof b);
    }
    for (; i < d; i++) {
        const float *row = w + (size_t)i * n;
        float val = 0.0f;
        for (int j = 0; j < n; j++) val += row[j] * x[j];
        y[i] = val;
    }
}

float *llama_forward(const llama_model *m, llama_state *s, int token, int pos) {
    return llama_forward_hooked(m, s, token, pos, NULL, NULL);
}

// The hook, when there is one, at point pt of layer l on v[n] (the points: model/llama.h).
#define HOOK(l, pt, v, n) (hook ? hook(ctx, l, pt, v, n) : (void)0)

float *llama_forward_hooked(const llama_model *m, llama_state *s, int token, int pos, llama_hook hook, void *ctx) {
    const llama_config *c = &m->config;
    const llama_weights *w = &m->w;
    int dim = c->dim, hidden = c->hidden_dim, hs = llama_head_size(c), kv_dim = llama_kv_dim(c);
    int kv_mul = c->n_heads / c->n_kv_heads;
    float *x = s->x;
    memcpy(x, w->token_embedding + (size_t)token * dim, dim * sizeof(float));

    for (int l = 0; l < c->n_layers; l++) {
        rmsnorm(s->xb, x, w->rms_att + (size_t)l * dim, dim);
        HOOK(l, LLAMA_PT_XATT, s->xb, dim);
        size_t loff = (size_t)l * c->seq_len * kv_dim;
        float *k = s->key_cache + loff + (size_t)pos * kv_dim;
        float *v = s->value_cache + loff + (size_t)pos * kv_dim;
        matvec(s->q, s->xb, w->wq + (size_t)l * dim * dim, dim, dim);
        matvec(k, s->xb, w->wk + (size_t)l * kv_dim * dim, dim, kv_dim);
        matvec(v, s->xb, w->wv + (size_t)l * kv_dim * dim, dim, kv_dim);
        HOOK(l, LLAMA_PT_Q, s->q, dim);
        HOOK(l, LLAMA_PT_K, k, kv_dim);
        HOOK(l, LLAMA_PT_V, v, kv_dim);

        // RoPE: rotate pair (i, i+1) by pos * 10000^(-(i mod hs)/hs), in q and (first kv_dim) k.
        for (int i = 0; i < dim; i += 2) {
            int head_dim = i % hs;
            float freq = 1.0f / powf(10000.0f, head_dim / (float)hs);
            float val = pos * freq;
            float fcr = cosf(val), fci = sinf(val);
            for (int r = 0; r < (i < kv_dim ? 2 : 1); r++) {
                float *vec = r == 0 ? s->q : k;
                float v0 = vec[i], v1 = vec[i + 1];
                vec[i] = v0 * fcr - v1 * fci;
                vec[i + 1] = v0 * fci + v1 * fcr;
            }
        }
        HOOK(l, LLAMA_PT_Q, s->q, dim);
        HOOK(l, LLAMA_PT_K, k, kv_dim);

        // Causal attention over positions 0..pos; query head h reads kv head h / kv_mul.
        for (int h = 0; h < c->n_heads; h++) {
            const float *q = s->q + h * hs;
            float *att = s->att + (size_t)h * c->seq_len;
            int kvo = (h / kv_mul) * hs;
            for (int t = 0; t <= pos; t++) {
                const float *kt = s->key_cache + loff + (size_t)t * kv_dim + kvo;
                float score = 0.0f;
                for (int i = 0; i < hs; i++) score += q[i] * kt[i];
                att[t] = score / sqrtf((float)hs);
            }
            run_softmax(att, pos + 1);
            float *xb = s->xb + h * hs;
            memset(xb, 0, hs * sizeof(float));
            for (int t = 0; t <= pos; t++) {
                const float *vt = s->value_cache + loff + (size_t)t * kv_dim + kvo;
                float a = att[t];
                for (int i = 0; i < hs; i++) xb[i] += a * vt[i];
            }
        }
        HOOK(l, LLAMA_PT_O, s->xb, dim);
        matvec(s->xb2, s->xb, w->wo + (size_t)l * dim * dim, dim, dim);
        for (int i = 0; i < dim; i++) x[i] += s->xb2[i];

        // SwiGLU feed-forward: w2 (silu(w1 x) * (w3 x))
        rmsnorm(s->xb, x, w->rms_ffn + (size_t)l * dim, dim);
        HOOK(l, LLAMA_PT_XFFN, s->xb, dim);
        matvec(s->hb, s->xb, w->w1 + (size_t)l * hidden * dim, dim, hidden);
        matvec(s->hb2, s->xb, w->w3 + (size_t)l * hidden * dim, dim, hidden);
        HOOK(l, LLAMA_PT_H1, s->hb, hidden);
        HOOK(l, LLAMA_PT_H3, s->hb2, hidden);
        for (int i = 0; i < hidden; i++) {
            float val = s->hb[i];
            val *= 1.0f / (1.0f + expf(-val));
            s->hb[i] = val * s->hb2[i];
        }
        HOOK(l, LLAMA_PT_G, s->hb, hidden);
        matvec(s->xb, s->hb, w->w2 + (size_t)l * dim * hidden, hidden, dim);
        for (int i = 0; i < dim; i++) x[i] += s->xb[i];
    }
    rmsnorm(x, x, w->rms_final, dim);
    HOOK(c->n_layers, LLAMA_PT_FIN, x, dim);
    matvec(s->logits, x, w->wcls, dim, c->vocab_size);
    return s->logits;
}
