// quant.c: blend schedule, grid loss, overflow penalty (see quant.h).
#include "qat/quant.h"

float qat_lambda(const qat_blend *b, long step, long total) {
    float t = total > 0 ? (float)step / (float)total : 1.0f;
    if (t <= b->start) return b->end <= 0.0f ? 1.0f : 0.0f;
    if (t >= b->end) return 1.0f;
    float x = (t - b->start) / (b->end - b->start);
    return 0.5f - 0.5f * cosf(3.14159265358979f * x);
}

float qat_grid_loss(const float *w, float *g, size_t n, float gamma, int ternary) {
    return qat_grid_loss_dz(w, g, n, gamma, ternary, 0.0f);
}

float qat_grid_loss_dz(const float *w, float *g, size_t n, float gamma, int ternary, float t) {
    if (gamma <= 0.0f || n == 0) return 0.0f;
    double s = 0.0;
    float k = 2.0f * gamma / (float)n;
    for (size_t i = 0; i < n; i++) {
        float d = w[i] - qat_wquant_dz(w[i], ternary, t);
        s += (double)d * d;
        g[i] += k * d;
    }
    return (float)(gamma * s / (double)n);
}

float qat_overflow_penalty(const float *acc_int, float *dacc, size_t n, float limit, float mu, int batch, long *wraps) {
    double pen = 0.0;
    float inv = 1.0f / (limit * limit), k = 2.0f * mu * inv / (float)batch;
    for (size_t i = 0; i < n; i++) {
        float a = acc_int[i], m = fabsf(a);
        if (a > 32767.0f || a < -32768.0f) (*wraps)++;
        if (m <= limit) continue;
        float e = m - limit;
        pen += (double)e * e;
        if (dacc) dacc[i] += k * e * (a > 0 ? 1.0f : -1.0f);
    }
    return (float)(mu * pen * inv / batch);
}

// k-th smallest of a[0..n) (Wirth's selection: partition around a[k] until it is in place; a is
// permuted).
static float select_kth(float *a, long n, long k) {
    long l = 0, m = n - 1;
    while (l < m) {
        float x = a[k];
        long i = l, j = m;
        do {
            while (a[i] < x) i++;
            while (x < a[j]) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j], a[j] = t;
                i++, j--;
            }
        } while (i <= j);
        if (j < k) l = i;
        if (k < i) m = j;
    }
    return a[k];
}

float qat_deadzone(const float *w, size_t n, float frac, float *scratch) {
    if (!(frac > 0.0f) || n == 0) return 0.0f;
    // q_t zeroes |w| < t: t = the k-th smallest |w| with k = round(frac * n) zeroes exactly the k
    // smaller ones (fewer on ties).
    size_t k = (size_t)((double)frac * (double)n + 0.5);
    if (k == 0) return 0.0f;
    if (k >= n) return INFINITY;
    for (size_t i = 0; i < n; i++) scratch[i] = fabsf(w[i]);
    return select_kth(scratch, (long)n, (long)k);
}

double qat_zero_share(const float *w, size_t n, int ternary, float t) {
    size_t z = 0;
    for (size_t i = 0; i < n; i++) z += qat_wquant_dz(w[i], ternary, t) == 0.0f;
    return n ? (double)z / (double)n : 0.0;
}
