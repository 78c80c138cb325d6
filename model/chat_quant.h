// chat_quant.h: the chat model's rounding rules: how a trained float weight or bias becomes the
// integer the kernel (infer/chat_kernel.h) computes with. The trainer's float graph and the image
// writer (model/chatnet.c) both use them, so the model the loss sees is the image's. They are float
// code on the host side of the contract, so they live here and not in the integer-only infer/.
//
// Weights: a float shadow w (in grid units) quantises to q(w) = clamp(floor(w + 1/2), -2, +1)
// (ternary: clamp to [-1, +1]); the dead-zone variant q_t(w) is 0 for |w| < t. Biases: a float b
// quantises to clamp(floor(b + 1/2), -32768, 32767). Accumulators wrap as int16 (qat_wrap16f).
// Float arithmetic only (no libm, no headers).
#ifndef RQ_MODEL_CHAT_QUANT_H
#define RQ_MODEL_CHAT_QUANT_H

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

#endif
