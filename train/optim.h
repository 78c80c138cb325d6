// optim.h: AdamW, the learning-rate schedule and gradient clipping, over one flat parameter array.
//
// AdamW (Loshchilov & Hutter), bias-corrected, decoupled weight decay:
//   m = b1*m + (1-b1)*g            v = b2*v + (1-b2)*g^2
//   p -= lr * ( m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps)  +  wd*mask*p )
// mask[i] = 1 where weight decay applies (matrices), 0 elsewhere (biases, norms, scales).
// Schedule: linear warmup from 0 to lr over warmup steps, then cosine down to lr*min_lr_frac at
// total_steps (and flat after).
#ifndef RQ_OPTIM_H
#define RQ_OPTIM_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    float lr;             // peak learning rate
    float beta1, beta2, eps;
    float weight_decay;
    float grad_clip;      // max global L2 norm of the gradient; 0 = no clipping
    long warmup_steps;
    long total_steps;
    float min_lr_frac;    // final lr = lr * min_lr_frac
} adamw_cfg;

// Defaults: lr 1e-3, betas 0.9/0.999, eps 1e-8, wd 0, clip 1, no warmup, min_lr_frac 0.1.
adamw_cfg adamw_defaults(void);

typedef struct {
    size_t n;
    float *m, *v;  // one allocation of 2n floats: m then v
    long t;        // steps taken
} adamw_state;

void adamw_build(adamw_state *s, size_t n);
void adamw_free(adamw_state *s);
float lr_at(const adamw_cfg *c, long step);
// Global L2 norm of g (in double), scaling g down to max_norm when above it (max_norm > 0).
float grad_clip_norm(float *g, size_t n, float max_norm);
// One AdamW update of params with grads at learning rate lr. mask may be NULL (decay everything).
void adamw_step(adamw_state *s, const adamw_cfg *c, float *params, const float *grads, const uint8_t *mask, float lr);

#endif
