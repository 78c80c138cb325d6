// quant.h: the QAT schedule and losses of the trigram chat model; the quantisers themselves (the
// rounding rules every integer image is made with) are model/chat_quant.h.
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

#include "model/chat_quant.h"  // the rounding rules: qat_floor, qat_wquant(_dz), qat_bquant, qat_wrap16f

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
