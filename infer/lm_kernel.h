// lm_kernel.h: the integer-only forward of a llama2.c transformer (docs/lm-contract.md).
//
// One token at a time with a KV cache (k int16, v int8), like run.c, but every number is an
// integer:
//   residual stream  int32 Q16 (real value = x / 65536)
//   matmul inputs    int8 with a static per-tensor scale (RMSNorm outputs, attention output,
//                    SwiGLU output), weights int8, int4 or 2-bit (per matrix) with one scale
//                    per output row
//   q                int16 in units s_q/16 (|q| <= 2047) before and after RoPE
//   k                int16 in units s_k/16 before and after RoPE (|k| <= 2047; the cache)
//   v                int8 (the cache); attention probabilities Q15; logits int32 Q(logit_frac) nats
// All scales are folded into the integer (m, p, k) requantisations and tables stored in the model,
// so the kernel sees no scale at all. Same code for the trainer's integer pass, the host runtime
// and every target build: integer-only portable C, no malloc (the caller provides the state
// memory, lm_state_bytes() tells how much).
#ifndef RQ_LM_KERNEL_H
#define RQ_LM_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "infer/lm_ops.h"

#ifndef LM_MAX_LAYERS
#define LM_MAX_LAYERS 64  // a target build may define it smaller (lm_model holds LM_MAX_LAYERS layers)
#endif
#define LM_RES_FRAC 16  // residual stream: Q16
#ifndef LM_MAX_HEAD
#define LM_MAX_HEAD 256  // largest head size: attention keeps one head's q and sums in local arrays
#endif               // (2 x 4 x LM_MAX_HEAD bytes of stack; a target build may define it smaller)

// The seven matrices of a layer, in the order of their weight-bit nibbles (lm_config.mbits, the
// image's bits word).
enum { LM_WQ, LM_WK, LM_WV, LM_WO, LM_W1, LM_W2, LM_W3, LM_NMAT };

typedef struct {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int32_t shared_classifier;  // 1: the classifier is the embedding matrix (and its row scales)
    int32_t wbits;              // 8, 4 or 2 when every layer matrix has that many bits, 0 when mixed
    int32_t logit_frac;         // logits are Q(logit_frac) nats
    uint32_t eps_ss;            // round(dim * 1e-5 * 2^32): RMSNorm epsilon in the Q16^2 domain
    uint8_t mbits[LM_NMAT];     // weight bits (8, 4 or 2) of wq wk wv wo w1 w2 w3, the same in every
                                // layer (embedding/classifier are always int8)
    uint8_t mrise[LM_NMAT];     // 1: that int4 / 2-bit matrix is on the midrise grid: a stored code
                                // s (int4 [-8, 7], 2-bit [-2, 1]) is the weight 2s + 1, i.e. the odd
                                // values in [-15, 15] or {-3, -1, +1, +3} (no zero); lm_forward
                                // computes sum (2s+1) x = 2 sum s x + sum x (image version 4)
} lm_config;

// One width for every layer matrix, or 0 when they differ.
static inline int32_t lm_uniform_bits(const lm_config *c) {
    int k;
    for (k = 1; k < LM_NMAT; k++)
        if (c->mbits[k] != c->mbits[0]) return 0;
    return c->mbits[0];
}
// How many layer matrix kinds are on the midrise grid (0: none, LM_NMAT: all).
static inline int lm_midrise_count(const lm_config *c) {
    int k, n = 0;
    for (k = 0; k < LM_NMAT; k++) n += c->mrise[k] != 0;
    return n;
}
static inline int lm_head_size(const lm_config *c) { return c->dim / c->n_heads; }
static inline int lm_kv_dim(const lm_config *c) { return c->dim / c->n_heads * c->n_kv_heads; }

// A weight matrix [rows][cols]: int8 row-major, int4 two per byte with rows of (cols+1)/2 bytes,
// or 2-bit four per byte with rows of (cols+3)/4 bytes (lm_row_bytes); one requantisation per row.
// w NULL: the matrix is not resident; lm_forward fetches its rows from the model's weight source
// (lm_wsource below), starting at byte off of that source.
typedef struct {
    const void *w;
    const lm_rq *rq;
#ifndef LM_NO_WSOURCE  // a target with its own streaming driver (the C64) saves the bytes
    uint32_t off;  // streamed matrices only: byte offset of row 0 in the weight source
#endif
} lm_mat;

// Bytes of one packed row of `cols` weights of `wbits` bits (the classifier is always 8).

// Streaming weights (optional): a model whose matrices do not all fit in memory. For a matrix
// with w == NULL, lm_forward asks the source for as many whole rows as fit in buf, runs the same
// matvec kernel on that block, and goes on with the next block; the kernels compute every row
// independently, so the result is bit-identical to the resident matrix for any block size.
// read copies n bytes at byte offset off of the source into buf and must not return on failure
// (a target program reports the error and exits; the host test source aborts). Requirement:
// buf_bytes >= the largest row (checked by whoever builds the model, not by lm_forward).
typedef struct {
    void (*read)(void *ctx, uint32_t off, void *buf, uint32_t n);
    void *ctx;
    void *buf;           // 4-byte aligned block buffer
    uint32_t buf_bytes;  // its size: rows per fetch = buf_bytes / row bytes
} lm_wsource;

// An RMSNorm fused with int8 quantisation: per-channel multipliers g[dim] and one shift.
typedef struct {
    const int16_t *g;
    int32_t k;
} lm_norm;

typedef struct {
    lm_norm att_norm;
    lm_mat wq, wk, wv;          // wq, wk -> int16 (units s_q/16, s_k/16), wv -> int8
    int32_t att_cm, att_ck, att_dlim;  // score (int32, units s_q/16 * s_k/16) -> Q8 log2 (lm_softmax_q15)
    lm_rq att_out;              // sum_t p_t v_t (Q15 * s_v) -> int8 input of wo
    lm_mat wo;                  // -> residual (Q16), added
    lm_norm ffn_norm;
    lm_mat w1, w3;              // -> int8 h1, h3
    const int16_t *silu;        // [256]: silu table indexed by h1 + 128
    lm_rq glu;                  // silu[h1] * h3 -> int8 input of w2
    lm_mat w2;                  // -> residual, added
} lm_layer;

typedef struct {
    lm_config c;
    const int8_t *emb;          // [vocab][dim] int8
    const lm_rq *emb_rq;        // [vocab]: embedding row -> residual Q16
    const uint32_t *rope_theta; // [head_size/2]: frequency in turns per position, Q32
    lm_layer layers[LM_MAX_LAYERS];
    lm_norm final_norm;
    lm_mat cls;                 // [vocab][dim] int8 (w == emb when shared) -> logits
#ifndef LM_NO_WSOURCE
    const lm_wsource *src;      // NULL: every matrix resident (no cost); else for w == NULL ones
#endif
} lm_model;

typedef struct {
    int32_t *x;        // [dim] residual Q16
    int32_t *acc;      // [max(dim, hidden, vocab)] accumulators
    int8_t *xq;        // [max(dim, hidden)] int8 matmul input
    int16_t *qk16;     // [dim] q or k before RoPE
    int16_t *q;        // [dim] q after RoPE (units s_q/16)
    int8_t *h1, *h3;   // [hidden]
    int32_t *att;      // [seq_len] scores of one head
    uint16_t *p;       // [seq_len] probabilities of one head, Q15
    int16_t *kcache;   // [L][seq_len][kv_dim] units s_k/16
    int8_t *vcache;    // [L][seq_len][kv_dim]
    int32_t *logits;   // [vocab], Q(logit_frac)
} lm_state;

// Bytes of state memory for c (every array 4-byte aligned inside it).
size_t lm_state_bytes(const lm_config *c);
// Carve the state arrays out of mem (lm_state_bytes(c) bytes, 4-byte aligned).
void lm_state_init(lm_state *s, const lm_config *c, void *mem);

// Logits (Q(logit_frac)) for token at pos, given positions 0..pos-1 were run before with the
// same state. 0 <= token < vocab_size, 0 <= pos < seq_len (the caller checks). Returns s->logits.
int32_t *lm_forward(const lm_model *m, lm_state *s, int token, int pos);

// Integer operations per token at position pos (for the benchmark and the docs).
typedef struct {
    long macs;     // multiply-accumulates in matmuls and attention
    long lookups;  // table lookups (sin/cos, exp2, silu)
} lm_opcount;
void lm_count_ops(const lm_config *c, int pos, lm_opcount *o);

#endif
