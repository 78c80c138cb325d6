#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

adamw_cfg adamw_defaults(void) {
    adamw_cfg c = {
        .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.0f,
        .grad_clip = 1.0f, .warmup_steps = 0, .total_steps = 1, .min_lr_frac = 0.1f,
    };
    return c;
}

void adamw_build(adamw_state *s, size_t n) {
    s->n = n;
    s->m = rq_calloc(2 * n, sizeof(float));
    s->v = s->m + n;
    s->t = 0;
}

void adamw_free(adamw_state *s) {
    free(s->m);
    s->m = s->v = NULL;
}

float lr_at(const adamw_cfg *c, long step) {
    if (step < c->warmup_steps) return c->lr * (float)(step + 1) / (float)c->warmup_steps;
    long span = c->total_steps - c->warmup_steps;
    double p = span > 0 ? (double)(step - c->warmup_steps) / (double)span : 1.0;
    if (p > 1.0) p = 1.0;
    double lo = (double)c->lr * c->min_lr_frac;
    return (float)(lo + 0.5 * ((double)c->lr - lo) * (1.0 + cos(M_PI * p)));
}

float grad_clip_norm(float *g, size_t n, float max_norm) {
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
    float norm = (float)sqrt(ss);
    if (max_norm > 0.0f && norm > max_norm) {
        float k = max_norm / norm;
        for (size_t i = 0; i < n; i++) g[i] *= k;
    }
    return norm;
}

void adamw_step(adamw_state *s, const adamw_cfg *c, float *params, const float *grads, const uint8_t *mask, float lr) {
    s->t++;
    float b1 = c->beta1, b2 = c->beta2;
    float bc1 = 1.0f - powf(b1, (float)s->t);
    float bc2 = 1.0f - powf(b2, (float)s->t);
    float wd = c->weight_decay;
    for (size_t i = 0; i < s->n; i++) {
        float g = grads[i];
        float m = s->m[i] = b1 * s->m[i] + (1.0f - b1) * g;
        float v = s->v[i] = b2 * s->v[i] + (1.0f - b2) * g * g;
        float upd = (m / bc1) / (sqrtf(v / bc2) + c->eps);
        if (!mask || mask[i]) upd += wd * params[i];
        params[i] -= lr * upd;
    }
}
