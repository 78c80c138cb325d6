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
    if (gamma <= 0.0f || n == 0) return 0.0f;
    double s = 0.0;
    float k = 2.0f * gamma / (float)n;
    for (size_t i = 0; i < n; i++) {
        float d = w[i] - qat_wquant(w[i], ternary);
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
