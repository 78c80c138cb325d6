// llama_forward.c: float inference one position at a time with a KV cache.
//
// The arithmetic follows llama2.c run.c operation for operation (same summation order in
// rmsnorm, softmax and attention; RoPE angles from powf/cosf/sinf per position), so greedy
// generation reproduces run.c's text byte for byte (tests/test_llama_generate.c).
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

// y[d] = W[d, n] x[n]. Each row is summed in order j = 0..n-1 exactly as run.c does; eight rows
// advance together so that their eight independent sums overlap in the pipeline.
static void matvec(float *y, const float *x, const float *w, int n, int d) {
    int i = 0;
    for (; i + 8 <= d; i += 8) {
        const float *r = w + (size_t)i * n;
        float v0 = 0.0f, v1 = 0.0f, v2 = 0.0f, v3 = 0.0f, v4 = 0.0f, v5 = 0.0f, v6 = 0.0f, v7 = 0.0f;
        for (int j = 0; j < n; j++) {
            float xj = x[j];
            v0 += r[j] * xj;
            v1 += r[n + j] * xj;
            v2 += r[2 * n + j] * xj;
            v3 += r[3 * n + j] * xj;
            v4 += r[4 * n + j] * xj;
            v5 += r[5 * n + j] * xj;
            v6 += r[6 * n + j] * xj;
            v7 += r[7 * n + j] * xj;
        }
        y[i] = v0, y[i + 1] = v1, y[i + 2] = v2, y[i + 3] = v3, y[i + 4] = v4, y[i + 5] = v5, y[i + 6] = v6, y[i + 7] = v7;
    }
    for (; i < d; i++) {
        const float *row = w + (size_t)i * n;
        float val = 0.0f;
        for (int j = 0; j < n; j++) val += row[j] * x[j];
        y[i] = val;
    }
}

float *llama_forward(const llama_model *m, llama_state *s, int token, int pos) {
    const llama_config *c = &m->config;
    const llama_weights *w = &m->w;
    int dim = c->dim, hidden = c->hidden_dim, hs = llama_head_size(c), kv_dim = llama_kv_dim(c);
    int kv_mul = c->n_heads / c->n_kv_heads;
    float *x = s->x;
    memcpy(x, w->token_embedding + (size_t)token * dim, dim * sizeof(float));

    for (int l = 0; l < c->n_layers; l++) {
        rmsnorm(s->xb, x, w->rms_att + (size_t)l * dim, dim);
        size_t loff = (size_t)l * c->seq_len * kv_dim;
        float *k = s->key_cache + loff + (size_t)pos * kv_dim;
        float *v = s->value_cache + loff + (size_t)pos * kv_dim;
        matvec(s->q, s->xb, w->wq + (size_t)l * dim * dim, dim, dim);
        matvec(k, s->xb, w->wk + (size_t)l * kv_dim * dim, dim, kv_dim);
        matvec(v, s->xb, w->wv + (size_t)l * kv_dim * dim, dim, kv_dim);

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
        matvec(s->xb2, s->xb, w->wo + (size_t)l * dim * dim, dim, dim);
        for (int i = 0; i < dim; i++) x[i] += s->xb2[i];

        // SwiGLU feed-forward: w2 (silu(w1 x) * (w3 x))
        rmsnorm(s->xb, x, w->rms_ffn + (size_t)l * dim, dim);
        matvec(s->hb, s->xb, w->w1 + (size_t)l * hidden * dim, dim, hidden);
        matvec(s->hb2, s->xb, w->w3 + (size_t)l * hidden * dim, dim, hidden);
        for (int i = 0; i < hidden; i++) {
            float val = s->hb[i];
            val *= 1.0f / (1.0f + expf(-val));
            s->hb[i] = val * s->hb2[i];
        }
        matvec(s->xb, s->hb, w->w2 + (size_t)l * dim * hidden, hidden, dim);
        for (int i = 0; i < dim; i++) x[i] += s->xb[i];
    }
    rmsnorm(x, x, w->rms_final, dim);
    matvec(s->logits, x, w->wcls, dim, c->vocab_size);
    return s->logits;
}
