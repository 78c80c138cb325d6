// quant.h: the quantisers and QAT schedule of the trigram chat model.
//
// Weights: a float shadow w (in grid units) quantises to q(w) = clamp(floor(w + 1/2), -2, +1)
// (ternary: clamp to [-1, +1]). Biases: a float b quantises to clamp(floor(b + 1/2), -32768, 32767).
// Progressive quantisation blends float into grid: w_eff = w + lambda*(q(w) - w), lambda going
// from 0 to 1 on the schedule below; the backward pass is the straight-through estimator
// (d w_eff / d w = 1). At lambda = 1 the forward pass sees exactly the integer model.
#ifndef RQ_QUANT_H
#define RQ_QUANT_H

#include <math.h>
#include <stddef.h>

// floor(x) without a libm call or an int conversion (the hot loops of the float graph use it):
// adding and subtracting 1.5*2^23 rounds |x| < 2^23 to the nearest integer; larger floats are
// integers already.
static inline float qat_floor(float x) {
    if (!(x > -8388608.0f && x < 8388608.0f)) return x;
    const float big = 12582912.0f;  // (x + big) - big is not x in IEEE arithmetic: never folded
    float t = (x + big) - big;
    return t > x ? t - 1.0f : t;
}
static inline float qat_round(float x) { return qat_floor(x + 0.5f); }
// For clamped w the rounding is three comparisons (floor(c + 1/2) on [-2, 1]).
static inline float qat_wquant(float w, int ternary) {
    float lo = ternary ? -1.0f : -2.0f;
    float c = w < lo ? lo : w > 1.0f ? 1.0f : w;
    return (float)((c >= 0.5f) - (c < -0.5f) - (c < -1.5f));
}
// The dead-zone quantiser (qat.zero_frac): q_t(w) = 0 for |w| < t, else q(w). With t <= 1/2 it is
// q itself. Both the float graph and the image use it, so the zeros the trainer forces are the
// zeros the kernel skips.
static inline float qat_wquant_dz(float w, int ternary, float t) {
    return (w < t && w > -t) ? 0.0f : qat_wquant(w, ternary);
}
static inline float qat_bquant(float b) {
    if (!(b < 32767.0f)) return 32767.0f;
    if (!(b > -32768.0f)) return -32768.0f;
    return qat_round(b);
}
// int16 two's-complement wrap of an integer-valued float (exact below 2^24).
static inline float qat_wrap16f(float x) {
    if (x >= -32768.0f && x <= 32767.0f) return x;
    return x - 65536.0f * qat_floor((x + 32768.0f) * (1.0f / 65536.0f));
}

// Dead-zone threshold that makes a share `frac` of the n weights w zero under q_t: the
// frac-quantile of |w| (0 when frac <= 0: no dead zone). scratch holds n floats. Weights with
// |w| equal to the threshold stay non-zero, so ties can only leave the share slightly below frac.
float qat_deadzone(const float *w, size_t n, float frac, float *scratch);
// Share of the n weights that quantise to 0 under q_t.
double qat_zero_share(const float *w, size_t n, int ternary, float t);

// Blend schedule: lambda = 0 before start, a cosine ramp from 0 to 1 between start and end
// (fractions of the total steps), 1 after.
typedef struct {
    float start, end;
} qat_blend;
float qat_lambda(const qat_blend *b, long step, long total);

// Grid loss: gamma * mean over the n weights of (w - q(w))^2; adds its gradient to g.
float qat_grid_loss(const float *w, float *g, size_t n, float gamma, int ternary);
// The same toward the dead-zone grid q_t.
float qat_grid_loss_dz(const float *w, float *g, size_t n, float gamma, int ternary, float t);

// Overflow penalty on integer accumulators acc_int (n values, exact pre-wrap sums):
//   mu * sum_k relu(|acc_k| - M)^2 / M^2 / batch
// where M = limit. Its gradient is added to dacc (the accumulator nodes of the float graph the
// loss is computed on; straight-through from the integer accumulators). Returns the penalty and
// adds the number of |acc| > 32767 (real wraps) to *wraps.
float qat_overflow_penalty(const float *acc_int, float *dacc, size_t n, float limit, float mu, int batch, long *wraps);

#endif
