// chatnet.h: the trigram chat network in float, mirroring the integer contract (infer/chat_kernel.h)
// with fake quantisation, llm.c style (forward/backward over a batch, one parameter allocation).
//
// Integer units throughout: the float graph computes the same numbers the kernel computes, so at
// blend lambda = 1 every value is an integer held exactly in a float and the logits equal the
// kernel's bit for bit (tests/test_chat_qat.c). For one layer l, batch row r:
//
//   x0        = counts << a                                            B x d0
//   W_eff     = W + lambda*(q(W) - W)           shadow W in grid units  d(l+1) x d(l)
//                                               (q with the layer's dead zone, quant.h)
//   b_eff     = B + lambda*(q(B) - B),   B = beta * 2^bexp_l            (beta: the parameter)
//   acc       = x W_eff^T + b_eff                                      (sgemm)
//   u         = wrap16(acc) / 2^s_l
//   h         = u + lambda*(floor(u) - u)                              (= floor(u) at lambda 1)
//   x_{l+1}   = max(0, h)   hidden layers;   logits = exp(logtau) * h   on the last layer
//   loss      = mean cross-entropy(logits, target)
//
// Backward is the straight-through estimator: d W_eff/dW = 1, d floor(u)/du = 1, d wrap16/d acc = 1,
// the ReLU gate open where u > 0. beta is stored in units of 2^bexp so that when the trainer moves
// the shifts (and bexp with them) the function does not change; exp(logtau) is a float-only
// temperature of the loss (argmax does not see it).
#ifndef RQ_CHATNET_H
#define RQ_CHATNET_H

#include <stddef.h>
#include <stdint.h>

#include "infer/chat_kernel.h"

typedef struct {
    int in_shift;                // a
    int shift[CHAT_MAX_LAYERS];  // s_l
    int bexp[CHAT_MAX_LAYERS];   // integer bias = q(beta * 2^bexp_l)
    int ternary;                 // 1: weights in {-1, 0, +1}
    float dz[CHAT_MAX_LAYERS];   // dead zone t_l: q(w) = 0 for |w| < t_l (0: the plain grid; qat.zero_frac)
    int nq;                      // the first nq inputs of layer 0 (the query buckets) have their own
    float dzq;                   // dead zone dzq (qat.query_zero_frac); nq = 0: dz[0] for all of layer 0
} chatnet_quant;

// The dead zone of the weights of input i of layer l (any row).
static inline float chatnet_dz(const chatnet_quant *q, int l, int i) { return l == 0 && i < q->nq ? q->dzq : q->dz[l]; }

typedef struct {
    float *w[CHAT_MAX_LAYERS];  // dims[l+1] x dims[l] shadow weights (grid units)
    float *b[CHAT_MAX_LAYERS];  // dims[l+1] biases (units of 2^bexp_l)
    float *logtau;              // 1: log temperature of the loss
} chatnet_params;

typedef struct {
    int L, dims[CHAT_MAX_LAYERS + 1];
    int max_batch;
    size_t n_params, n_weights;  // n_weights: the matrix entries (they come first in params)
    // per forward pass (batch rows B <= max_batch)
    float *weff;                 // effective weights, same layout as the w part of params
    float *beff;                 // effective integer-unit biases, concatenated per layer
    float *x[CHAT_MAX_LAYERS + 1];   // x[l]: B x dims[l] layer inputs; x[L]: B x n_out pre-temperature logits h
    float *acc[CHAT_MAX_LAYERS];     // B x dims[l+1] exact pre-wrap accumulators
    float *probs;                    // B x n_out softmax of the logits
    float *dx[2];                    // backward scratch, B x max width
    float *dacc;                     // B x max width
    // Distillation (qat.distill): when soft is set (B x n_out probabilities of a teacher, for the
    // rows of the next forward), the loss is (1 - soft_w) * CE(target) + soft_w * CE(soft), i.e.
    // the target distribution is (1 - soft_w) * onehot + soft_w * soft. NULL: plain CE.
    const float *soft;
    float soft_w;
} chatnet;

// Flat parameter layout: all W (layer order), then all beta, then logtau.
size_t chatnet_param_count(int L, const int *dims);
void chatnet_point(const chatnet *n, float *params, chatnet_params *p);
void build_chatnet(chatnet *n, int L, const int *dims, int max_batch);
void free_chatnet(chatnet *n);

// Forward on B examples (counts: B x dims[0]); targets may be NULL (then no loss: returns 0).
// Returns the mean cross-entropy. After it, n->acc, n->x[L] (integer logits at lambda 1), n->probs
// are valid.
float chatnet_forward(chatnet *n, const float *params, const chatnet_quant *q, float lambda, const uint8_t *counts,
                      int B, const uint8_t *targets);
// The same in two parts: compute W_eff, b_eff for (params, q, lambda) once, then forward batches.
void chatnet_prepare(chatnet *n, const float *params, const chatnet_quant *q, float lambda);
float chatnet_forward_prepared(chatnet *n, const float *params, const chatnet_quant *q, float lambda, const uint8_t *counts,
                               int B, const uint8_t *targets);
// Backward of the mean cross-entropy of the last forward (same params, q, lambda), plus extra
// accumulator gradients already in dacc_extra[l] (B x dims[l+1], may be NULL). Accumulates into grads.
void chatnet_backward(chatnet *n, const float *params, const chatnet_quant *q, float lambda, int B,
                      const uint8_t *targets, float *const *dacc_extra, float *grads);

// Activation L1 (qat.act_l1) on the hidden outputs x_{l+1}, l < L-1, of the last forward:
//   P = mu * sum_l (1/(B*d_l)) * sum_{r,j} x_rj / m_l,    d_l = dims[l+1]
// m_l, the batch's mean positive output, is a normaliser the gradient holds constant (then P is
// linear in x; at the m_l it was measured on, P = mu * sum_l (share of active units of layer l)).
// m_l = 0 (no positive output) leaves layer l out of P and of its gradient.
// chatnet_act_l1_norm: m (L-1 floats) from the last forward.
void chatnet_act_l1_norm(const chatnet *n, int B, float *m);
// P of the last forward for the given (frozen) m.
float chatnet_act_l1_forward(const chatnet *n, int B, float mu, const float *m);
// dP/d acc_l at fixed m, added into dacc[l] (B x dims[l+1], l < L-1; the dacc_extra of
// chatnet_backward): mu / (B*d_l*m_l) * 2^-s_l where acc > 0 (ReLU gate; floor passes straight through).
// The gate reads acc, not wrap16(acc) as chatnet_backward does at lambda >= 1: the two differ only on
// an accumulator outside int16.
void chatnet_act_l1_backward(const chatnet *n, const chatnet_quant *q, int B, float mu, const float *m,
                             float *const *dacc);

// Z80 cost penalty (qat.cost): a differentiable stand-in for the T-states the Z80 kernel spends
// per generation step on the columns of the layers (qat/chat_z80_cost.h), on the last forward:
//   P = mu * sum_l sum_i a_li * (c_col[l] + c_nz[l] * S_li),     S_li = sum_j |w_lji|  (shadows)
// Column i of layer l runs when input i is non-zero, and costs c_col[l] plus c_nz[l] per non-zero
// weight (S_li stands for the count: |w| is about 1 for a weight off zero). a_li is how often it runs:
//   l = 0: the share of the B rows whose count i is non-zero, 0 for the first q_free inputs (the
//          query buckets: their columns run once per query, not per step) -- a constant;
//   l >= 1: (1/B) sum_r x_l,ri / m_{l-1}, m the per-layer normaliser of chatnet_act_l1_norm
//          (held constant; at the measured m, sum_i a_li is the mean number of active units).
// Gradients: dP/dw_lji = mu c_nz[l] a_li sign(w_lji) (added to grads), and dP/dx_l,ri =
// mu (c_col[l] + c_nz[l] S_li) / (B m_{l-1}) through the ReLU gate and 2^-s into dacc[l-1] (the
// dacc_extra of chatnet_backward). So a unit pays for its own column and a weight for how often its
// input runs: the trainer trades accuracy for T-states where they are cheapest.
float chatnet_cost_forward(const chatnet *n, const float *params, int B, int q_free, const float *c_col, const float *c_nz,
                           float mu, const float *m);
void chatnet_cost_backward(const chatnet *n, const float *params, const chatnet_quant *q, int B, int q_free,
                           const float *c_col, const float *c_nz, float mu, const float *m, float *const *dacc, float *grads);

// Fill a model image from the fully quantised parameters (the kernel's view of params at lambda 1).
// img must hold chat_image_size bytes; m receives the parsed model pointing into img.
void chatnet_to_image(const chatnet *n, const float *params, const chatnet_quant *q, const chat_enc_cfg *e,
                      int max_answer, const char *charset, uint8_t *img, chat_imodel *m);

#endif
