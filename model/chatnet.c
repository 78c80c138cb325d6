// chatnet.c: float forward/backward of the trigram chat network with fake quantisation (chatnet.h).
#include "model/chatnet.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "model/chat_quant.h"

size_t chatnet_param_count(int L, const int *dims) {
    size_t n = 1;
    for (int l = 0; l < L; l++) n += (size_t)dims[l + 1] * dims[l] + dims[l + 1];
    return n;
}

void chatnet_point(const chatnet *n, float *params, chatnet_params *p) {
    float *w = params, *b = params + n->n_weights;
    for (int l = 0; l < n->L; l++) {
        p->w[l] = w, p->b[l] = b;
        w += (size_t)n->dims[l + 1] * n->dims[l];
        b += n->dims[l + 1];
    }
    p->logtau = b;
}

void build_chatnet(chatnet *n, int L, const int *dims, int max_batch) {
    memset(n, 0, sizeof *n);
    n->L = L, n->max_batch = max_batch;
    int wmax = 0, nb = 0;
    for (int l = 0; l <= L; l++) {
        n->dims[l] = dims[l];
        if (dims[l] > wmax) wmax = dims[l];
    }
    for (int l = 0; l < L; l++) n->n_weights += (size_t)dims[l + 1] * dims[l], nb += dims[l + 1];
    n->n_params = chatnet_param_count(L, dims);
    n->weff = rq_malloc(sizeof(float) * n->n_weights);
    n->beff = rq_malloc(sizeof(float) * (size_t)nb);
    size_t B = (size_t)max_batch;
    for (int l = 0; l <= L; l++) n->x[l] = rq_malloc(sizeof(float) * B * dims[l]);
    for (int l = 0; l < L; l++) n->acc[l] = rq_malloc(sizeof(float) * B * dims[l + 1]);
    n->probs = rq_malloc(sizeof(float) * B * dims[L]);
    for (int i = 0; i < 2; i++) n->dx[i] = rq_malloc(sizeof(float) * B * wmax);
    n->dacc = rq_malloc(sizeof(float) * B * wmax);
}

void free_chatnet(chatnet *n) {
    free(n->weff), free(n->beff), free(n->probs), free(n->dx[0]), free(n->dx[1]), free(n->dacc);
    for (int l = 0; l <= n->L; l++) free(n->x[l]);
    for (int l = 0; l < n->L; l++) free(n->acc[l]);
    memset(n, 0, sizeof *n);
}

// W_eff and b_eff for this lambda (exactly q(W), q(B) at lambda >= 1).
void chatnet_prepare(chatnet *n, const float *params, const chatnet_quant *q, float lambda) {
    chatnet_params p;
    chatnet_point(n, (float *)params, &p);
    size_t i = 0;
    for (int l = 0; l < n->L; l++) {
        size_t end = i + (size_t)n->dims[l + 1] * n->dims[l];
        for (int c = 0; i < end; i++, c = c + 1 == n->dims[l] ? 0 : c + 1) {
            float w = params[i], wq = qat_wquant_dz(w, q->ternary, chatnet_dz(q, l, c));
            n->weff[i] = lambda >= 1.0f ? wq : w + lambda * (wq - w);
        }
    }
    float *be = n->beff;
    for (int l = 0; l < n->L; l++) {
        float scale = ldexpf(1.0f, q->bexp[l]);
        for (int j = 0; j < n->dims[l + 1]; j++) {
            float b = p.b[l][j] * scale, bq = qat_bquant(b);
            *be++ = lambda >= 1.0f ? bq : b + lambda * (bq - b);
        }
    }
}

float chatnet_forward(chatnet *n, const float *params, const chatnet_quant *q, float lambda, const uint8_t *counts,
                      int B, const uint8_t *targets) {
    chatnet_prepare(n, params, q, lambda);
    return chatnet_forward_prepared(n, params, q, lambda, counts, B, targets);
}

float chatnet_forward_prepared(chatnet *n, const float *params, const chatnet_quant *q, float lambda, const uint8_t *counts,
                               int B, const uint8_t *targets) {
    int L = n->L, d0 = n->dims[0];
    float in_scale = ldexpf(1.0f, q->in_shift);
    for (size_t i = 0; i < (size_t)B * d0; i++) n->x[0][i] = (float)counts[i] * in_scale;
    const float *w = n->weff, *be = n->beff;
    for (int l = 0; l < L; l++) {
        int din = n->dims[l], dout = n->dims[l + 1];
        float *acc = n->acc[l], *y = n->x[l + 1];
        // acc (B x dout) = bias rows + x (B x din) . W_eff^T (din x dout)
        for (int r = 0; r < B; r++) memcpy(acc + (size_t)r * dout, be, sizeof(float) * dout);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, dout, din, 1.0f, n->x[l], din, w, din, 1.0f, acc, dout);
        float inv = ldexpf(1.0f, -q->shift[l]);
        int hidden = l < L - 1;
        for (size_t i = 0; i < (size_t)B * dout; i++) {
            // int16 wrap only in the exact (lambda = 1) graph; before that the overflow penalty
            // and the calibration keep the integer accumulators in range.
            float u = (lambda >= 1.0f ? qat_wrap16f(acc[i]) : acc[i]) * inv, f = qat_floor(u);
            float h = lambda >= 1.0f ? f : u + lambda * (f - u);
            y[i] = hidden && h < 0.0f ? 0.0f : h;
        }
        w += (size_t)dout * din, be += dout;
    }
    // softmax of exp(logtau) * h
    int C = n->dims[L];
    float tau = expf(params[n->n_params - 1]);
    double loss = 0.0;
    for (int r = 0; r < B; r++) {
        const float *h = n->x[L] + (size_t)r * C;
        float *p = n->probs + (size_t)r * C, mx = -INFINITY, s = 0.0f;
        for (int k = 0; k < C; k++) mx = fmaxf(mx, tau * h[k]);
        for (int k = 0; k < C; k++) s += p[k] = expf(tau * h[k] - mx);
        for (int k = 0; k < C; k++) p[k] /= s;
        if (!targets) continue;
        if (n->soft) {
            const float *t = n->soft + (size_t)r * C;
            double sl = 0.0;
            for (int k = 0; k < C; k++) sl -= (double)t[k] * log(fmax(p[k], 1e-30));
            loss += (1.0 - n->soft_w) * -log(fmax(p[targets[r]], 1e-30)) + n->soft_w * sl;
        } else {
            loss -= log(fmax(p[targets[r]], 1e-30));
        }
    }
    return targets ? (float)(loss / B) : 0.0f;
}

void chatnet_backward(chatnet *n, const float *params, const chatnet_quant *q, float lambda, int B,
                      const uint8_t *targets, float *const *dacc_extra, float *grads) {
    int L = n->L, C = n->dims[L];
    chatnet_params g;
    chatnet_point(n, grads, &g);
    float tau = expf(params[n->n_params - 1]);
    // d loss / d h_L = tau * (p - onehot) / B ;  d loss / d logtau = sum (p - onehot)/B * tau * h
    float *dh = n->dx[0];
    double dlt = 0.0;
    for (int r = 0; r < B; r++)
        for (int k = 0; k < C; k++) {
            size_t i = (size_t)r * C + k;
            float t = k == targets[r] ? 1.0f : 0.0f;
            if (n->soft) t = (1.0f - n->soft_w) * t + n->soft_w * n->soft[i];
            float d = (n->probs[i] - t) / (float)B;
            dlt += (double)d * tau * n->x[L][i];
            dh[i] = d * tau;
        }
    *g.logtau += (float)dlt;
    // weights of layer l start at woff[l] inside weff
    size_t woff[CHAT_MAX_LAYERS], o = 0;
    for (int l = 0; l < L; l++) woff[l] = o, o += (size_t)n->dims[l + 1] * n->dims[l];
    for (int l = L - 1; l >= 0; l--) {
        int din = n->dims[l], dout = n->dims[l + 1];
        float inv = ldexpf(1.0f, -q->shift[l]), bscale = ldexpf(1.0f, q->bexp[l]);
        const float *acc = n->acc[l];
        float *dacc = n->dacc;
        for (size_t i = 0; i < (size_t)B * dout; i++) {
            // ReLU gate (hidden layers) where u = wrap16(acc)/2^s > 0; floor and wrap pass through.
            float d = dh[i];
            if (l < L - 1 && !((lambda >= 1.0f ? qat_wrap16f(acc[i]) : acc[i]) > 0.0f)) d = 0.0f;
            dacc[i] = d * inv;
        }
        if (dacc_extra && dacc_extra[l])
            for (size_t i = 0; i < (size_t)B * dout; i++) dacc[i] += dacc_extra[l][i];
        // dW (dout x din) += dacc^T (dout x B) . x (B x din)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dout, din, B, 1.0f, dacc, dout, n->x[l], din, 1.0f, g.w[l], din);
        for (int j = 0; j < dout; j++) {
            float s = 0.0f;
            for (int r = 0; r < B; r++) s += dacc[(size_t)r * dout + j];
            g.b[l][j] += s * bscale;
        }
        if (l > 0) {
            // dx (B x din) = dacc (B x dout) . W_eff (dout x din)
            float *dxn = n->dx[1];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, din, dout, 1.0f, dacc, dout, n->weff + woff[l], din, 0.0f, dxn, din);
            n->dx[1] = n->dx[0], n->dx[0] = dxn;
            dh = dxn;
        }
    }
}

// Sum and count of the positive entries of a hidden output (double sum in index order: the
// trainer's penalty depends on this order).
static double act_sum(const float *x, size_t n, long *np) {
    double s = 0.0;
    long c = 0;
    for (size_t i = 0; i < n; i++) s += x[i], c += x[i] > 0.0f;
    *np = c;
    return s;
}

void chatnet_act_l1_norm(const chatnet *n, int B, float *m) {
    for (int l = 0; l + 1 < n->L; l++) {
        long np;
        double s = act_sum(n->x[l + 1], (size_t)B * n->dims[l + 1], &np);
        m[l] = np ? (float)(s / np) : 0.0f;
    }
}

float chatnet_act_l1_forward(const chatnet *n, int B, float mu, const float *m) {
    float pen = 0.0f;
    for (int l = 0; l + 1 < n->L; l++) {
        if (m[l] == 0.0f) continue;
        size_t nx = (size_t)B * n->dims[l + 1];
        long np;
        double s = act_sum(n->x[l + 1], nx, &np);
        pen += (float)(mu * s / ((double)nx * m[l]));
    }
    return pen;
}

void chatnet_act_l1_backward(const chatnet *n, const chatnet_quant *q, int B, float mu, const float *m,
                             float *const *dacc) {
    for (int l = 0; l + 1 < n->L; l++) {
        if (m[l] == 0.0f) continue;
        size_t nx = (size_t)B * n->dims[l + 1];
        // dP/dx = mu / (nx * m_l); dx/du = 1 (straight-through floor) where open; du/dacc = 2^-s_l
        float k = mu / ((float)nx * m[l]) * ldexpf(1.0f, -q->shift[l]);
        const float *acc = n->acc[l];
        for (size_t i = 0; i < nx; i++)
            if (acc[i] > 0.0f) dacc[l][i] += k;
    }
}

// a_li of the cost penalty (chatnet.h) for the inputs of layer l: a[0..dims[l]).
static void cost_activity(const chatnet *n, int l, int B, int q_free, const float *m, float *a) {
    int din = n->dims[l];
    const float *x = n->x[l];
    for (int i = 0; i < din; i++) a[i] = 0.0f;
    if (l > 0 && m[l - 1] == 0.0f) return;
    for (int r = 0; r < B; r++)
        for (int i = 0; i < din; i++) a[i] += l == 0 ? (i >= q_free && x[(size_t)r * din + i] != 0.0f) : x[(size_t)r * din + i];
    float k = l == 0 ? 1.0f / (float)B : 1.0f / ((float)B * m[l - 1]);
    for (int i = 0; i < din; i++) a[i] *= k;
}

// S_li = sum_j |w_lji|: the column sums of |W_l| (row-major dout x din).
static void col_abs_sum(const float *w, int din, int dout, float *s) {
    for (int i = 0; i < din; i++) s[i] = 0.0f;
    for (int j = 0; j < dout; j++)
        for (int i = 0; i < din; i++) s[i] += fabsf(w[(size_t)j * din + i]);
}

float chatnet_cost_forward(const chatnet *n, const float *params, int B, int q_free, const float *c_col, const float *c_nz,
                           float mu, const float *m) {
    chatnet_params p;
    chatnet_point(n, (float *)params, &p);
    float a[CHAT_MAX_WIDTH], s[CHAT_MAX_WIDTH];
    double t = 0.0;
    for (int l = 0; l < n->L; l++) {
        cost_activity(n, l, B, q_free, m, a);
        col_abs_sum(p.w[l], n->dims[l], n->dims[l + 1], s);
        for (int i = 0; i < n->dims[l]; i++) t += (double)a[i] * (c_col[l] + c_nz[l] * s[i]);
    }
    return (float)(mu * t);
}

void chatnet_cost_backward(const chatnet *n, const float *params, const chatnet_quant *q, int B, int q_free,
                           const float *c_col, const float *c_nz, float mu, const float *m, float *const *dacc, float *grads) {
    chatnet_params p, g;
    chatnet_point(n, (float *)params, &p);
    chatnet_point(n, grads, &g);
    float a[CHAT_MAX_WIDTH], s[CHAT_MAX_WIDTH];
    for (int l = 0; l < n->L; l++) {
        int din = n->dims[l], dout = n->dims[l + 1];
        cost_activity(n, l, B, q_free, m, a);
        // dP/dw_lji = mu c_nz[l] a_li sign(w_lji)
        for (int j = 0; j < dout; j++)
            for (int i = 0; i < din; i++) {
                float w = p.w[l][(size_t)j * din + i];
                g.w[l][(size_t)j * din + i] += mu * c_nz[l] * a[i] * (float)((w > 0.0f) - (w < 0.0f));
            }
        if (l == 0 || m[l - 1] == 0.0f) continue;
        // dP/dx_l,ri = mu (c_col[l] + c_nz[l] S_li) / (B m); x_l = ReLU(floor(acc_{l-1} / 2^s)): the gate
        // is acc > 0, the floor passes straight through
        col_abs_sum(p.w[l], din, dout, s);
        float k = mu / ((float)B * m[l - 1]) * ldexpf(1.0f, -q->shift[l - 1]);
        const float *acc = n->acc[l - 1];
        for (int r = 0; r < B; r++)
            for (int i = 0; i < din; i++)
                if (acc[(size_t)r * din + i] > 0.0f) dacc[l - 1][(size_t)r * din + i] += k * (c_col[l] + c_nz[l] * s[i]);
    }
}

void chatnet_to_image(const chatnet *n, const float *params, const chatnet_quant *q, const chat_enc_cfg *e,
                      int max_answer, const char *charset, uint8_t *img, chat_imodel *m) {
    memset(m, 0, sizeof *m);
    m->enc = *e, m->max_answer = max_answer, m->mode = q->ternary ? CHAT_WTERNARY : CHAT_W2BIT;
    m->n_layers = n->L, m->in_shift = q->in_shift;
    for (int l = 0; l <= n->L; l++) m->dims[l] = n->dims[l];
    for (int l = 0; l < n->L; l++) m->shift[l] = q->shift[l];
    chat_image_layout(m, img, (const uint8_t *)charset);
    chatnet_params p;
    chatnet_point(n, (float *)params, &p);
    int8_t row[CHAT_MAX_WIDTH];
    for (int l = 0; l < n->L; l++) {
        int din = n->dims[l], dout = n->dims[l + 1], rb = chat_row_bytes(din);
        uint8_t *w = (uint8_t *)m->w[l], *b = (uint8_t *)m->b[l];
        float scale = ldexpf(1.0f, q->bexp[l]);
        for (int j = 0; j < dout; j++) {
            for (int i = 0; i < din; i++) row[i] = (int8_t)qat_wquant_dz(p.w[l][(size_t)j * din + i], q->ternary, chatnet_dz(q, l, i));
            chat_pack_row(row, din, w + (size_t)j * rb);
            int v = (int)qat_bquant(p.b[l][j] * scale);
            b[2 * j] = (uint8_t)(v & 0xFF), b[2 * j + 1] = (uint8_t)((v >> 8) & 0xFF);
        }
    }
}
