// llama_train.h: batch x sequence forward and backward of the llama transformer, llm.c style.
//
// One call runs B sequences of T tokens (positions 0..T-1 in each). Every activation the
// backward pass needs lives in one allocation (llama_acts); the backward pass's scratch in
// another. Gradients go into a second llama_weights laid over a flat gradient array with the
// same layout as the parameters (llama_point_weights), so a shared classifier's gradient lands
// on the embedding automatically. Matrix products are OpenBLAS SGEMMs; attention, norms and
// activations are loops split over threads by (sequence, kv head) or by rows, so the result does
// not depend on the thread count.
//
// Ops and their backward (per row, C = width):
//   rmsnorm   y = w * x * r,  r = (mean(x^2) + 1e-5)^-1/2
//             dw += dy*x*r;   dx = r*w*dy - x * r^3/C * sum_j(w_j dy_j x_j)
//   linear    y = x W^T;      dx = dy W;  dW += dy^T x
//   rope      (a, b) -> (a c - b s, a s + b c) with angle pos*10000^(-i/hs) for pair i (even);
//             backward rotates the gradient by -angle
//   attention P = softmax(q k^T / sqrt(hs)) causal, y = P v;
//             dv += P^T dy; dP = dy v^T; dS = P * (dP - rowsum(P*dP)); dq = dS k/sqrt(hs); dk = dS^T q/sqrt(hs)
//   swiglu    g = silu(a) * b,  silu(a) = a * sigmoid(a);
//             da = dg * b * sigmoid(a) * (1 + a (1 - sigmoid(a))); db = dg * silu(a)
//   loss      mean over tokens of -log softmax(logits)[target]; dlogits = (p - onehot) / (B*T)
#ifndef RQ_LLAMA_TRAIN_H
#define RQ_LLAMA_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "model/llama.h"

typedef struct {
    float *x0;            // [BT, C] token embeddings (input of layer 0)
    float *ln1, *rstd1;   // [L, BT, C], [L, BT]
    float *q;             // [L, BT, C] after RoPE
    float *k, *v;         // [L, BT, kvd] (k after RoPE)
    float *att;           // [L, B, nh, T, Tp] softmax rows, Tp = T rounded up to 8 (entries j <= t
                          // used, zeros from t+1 to the next multiple of 8)
    float *atty;          // [L, BT, C] attention output before wo
    float *res1;          // [L, BT, C] residual after attention
    float *ln2, *rstd2;   // [L, BT, C], [L, BT]
    float *h1, *h3, *g;   // [L, BT, H] w1 x, w3 x, silu(w1 x) * w3 x
    float *res2;          // [L, BT, C] residual after the feed-forward (output of layer l)
    float *lnf, *rstdf;   // [BT, C], [BT]
    float *probs;         // [BT, V] logits; probabilities after a forward with targets
    float *losses;        // [BT]
} llama_acts;

typedef struct {
    float *dres;          // [BT, C] gradient flowing down the residual stream
    float *dln;           // [BT, C]
    float *dq, *datty;    // [BT, C]
    float *dk, *dv;       // [BT, kvd]
    float *dh1, *dh3, *dg;// [BT, H]
} llama_bwd;

// Activation fake quantisation for QAT (qat/lm_qat.c): at every quantisation point of
// model/llama.h (point p of layer l at index l * LLAMA_PT_NLAYER + p, the final norm's last; Q
// and K after their projection and again after RoPE) the forward replaces each value v by
//     v_hat = h clamp(round(v / h), -qmax, qmax)        h = step[index], qmax = qmax[p]
// and the backward passes the gradient straight through where round(v / h) lies inside the grid,
// zero where it clips, and adds the LSQ gradient of the step to dstep[index]:
//     dL/dh = sum_i dL/dv_hat_i (q_i - v_i / h) inside,   + dL/dv_hat_i q_i (= +-qmax) clipped.
// (The grids in use: int8 activations qmax 127, the int16 q/k of the contract qmax 2047.)
// With frozen set, a forward reuses the rounding of the last forward that was not frozen: with
// v0, h0 its values and step, q0 = clamp(round(v0 / h0)), it computes v_hat = v + h (q0 - v0 / h0)
// where q0 was inside the grid and h q0 where it clipped. That forward equals the real one at the
// point it froze, and is differentiable, with exactly the gradients above: the finite-difference
// checks of the backward (tests/test_llama_grad.c) run on it.
typedef struct {
    const float *step;                // [n_layers * LLAMA_PT_NLAYER + 1], all > 0
    int qmax[LLAMA_PT_NLAYER + 1];    // per point kind (FIN last)
    double *dstep;                    // gradient accumulator, same layout (NULL: not wanted)
    int frozen;
} llama_actq;

// The values before fake quantisation that the backward needs (allocated on first use).
typedef struct {
    float *ln1, *q0, *k0, *q1, *k1, *v, *atty, *ln2, *h1, *h3, *g;  // per layer, shapes as llama_acts
    float *lnf;
    float *step;  // the steps of that forward
    float *mem;
} llama_actq_pre;

typedef struct {
    llama_config c;
    int B, T;             // allocated batch and sequence length
    int Tr;               // sequence length of the last forward (<= T)
    llama_acts a;
    llama_bwd d;
    float *acts_mem, *bwd_mem;
    float *rope_cos, *rope_sin;  // [T, hs/2]
    int *inputs, *targets;       // [BT] of the last forward
    float *dw_part;              // [64, C] per-block partial norm-weight gradients
    int has_targets;
    int threads;
    const llama_actq *aq; // activation fake quantisation of the next forward/backward (NULL: none)
    llama_actq_pre pre;
    // Time and work counters (seconds, floating-point operations of the SGEMMs).
    double t_gemm, t_other, t_attn;  // t_attn: attention forward + backward (part of t_other)
    double gemm_flops;
} llama_train;

// threads <= 0: $RQ_THREADS, else the number of online CPUs (at most 8).
void llama_train_build(llama_train *s, const llama_config *c, int B, int T, int threads);
void llama_train_free(llama_train *s);

// Forward B sequences of Tr <= T tokens (inputs [B*Tr], row b at b*Tr). With targets, returns
// the mean cross-entropy and keeps the probabilities for backward; without, returns 0 and
// s->a.probs holds the logits [B*Tr, V].
float llama_train_forward(llama_train *s, const llama_model *m, const int *inputs, const int *targets, int Tr);
// Add the gradient of the mean loss of the last forward (with targets) to g (laid out like m).
void llama_train_backward(llama_train *s, const llama_model *m, llama_weights *g);

// lm_window_fn for eval: ctx is a llama_window_ctx built for T >= the window.
typedef struct {
    const llama_model *m;
    llama_train s;
    int *buf;
} llama_window_ctx;
void llama_window_build(llama_window_ctx *w, const llama_model *m, int window);
void llama_window_free(llama_window_ctx *w);
int llama_window_fn(void *ctx, const uint16_t *tokens, int n, float *logits);

// Exposed for the gradient checks (tests/test_llama_grad.c): the single ops.
void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int C);
void rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w, const float *rstd, int N, int C);
void rope_forward(float *x, const float *cosv, const float *sinv, int B, int T, int width, int hs);
void rope_backward(float *dx, const float *cosv, const float *sinv, int B, int T, int width, int hs);
void rope_tables(float *cosv, float *sinv, int T, int hs);
void swiglu_forward(float *g, const float *a, const float *b, size_t n);
void swiglu_backward(float *da, float *db, const float *dg, const float *a, const float *b, size_t n);
// att: [B, nh, T, Tp] with Tp = T rounded up to a multiple of 8.
void attention_forward(float *y, float *att, const float *q, const float *k, const float *v, int B, int T, int nh, int nkv, int hs, int threads);
void attention_backward(float *dq, float *dk, float *dv, const float *dy, const float *att, const float *q, const float *k, const float *v,
                        int B, int T, int nh, int nkv, int hs, int threads);
// probs: logits in, probabilities out; returns the mean loss; losses[N].
float crossentropy_forward(float *probs, float *losses, const int *targets, int N, int V);
// dlogits = (probs - onehot(target)) * scale
void crossentropy_backward(float *dlogits, const float *probs, const int *targets, int N, int V, float scale);

#endif
