// llama.h: the llama2.c transformer (TinyStories models): configuration, weights, checkpoint
// files, and float inference with a KV cache.
//
// Architecture (Llama 2, as in llama2.c):
//   x = token_embedding[token]
//   per layer l:  h = x + wo . attn(rope(wq . rmsnorm(x)), rope(wk . rmsnorm(x)), wv . rmsnorm(x))
//                 x = h + w2 . (silu(w1 . rmsnorm(h)) * (w3 . rmsnorm(h)))
//   logits = wcls . rmsnorm(x)
// rmsnorm(x) = w * x / sqrt(mean(x^2) + 1e-5); RoPE rotates interleaved pairs (2i, 2i+1) of each
// head by pos * 10000^(-2i/head_size); attention is causal with n_kv_heads <= n_heads (grouped
// queries: query head h reads kv head h / (n_heads / n_kv_heads)).
//
// Files (docs/llama-format.md):
//   version 0 (legacy): 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
//     seq_len; vocab_size < 0 means an unshared classifier), float32 tensors in the order of
//     llama_weights below, then two unused RoPE tables of seq_len*head_size/2 floats each
//     (freq_cis real/imag), then wcls when unshared.
//   version 1: u32 magic 0x616b3432 ("ak42"), i32 version 1, the 7 int32 params, u8 shared
//     classifier, zero padding to 256 bytes, then float32 tensors in the order rms_att, rms_ffn,
//     rms_final, token_embedding, wq, wk, wv, wo, w1, w2, w3, [wcls].
#ifndef RQ_LLAMA_H
#define RQ_LLAMA_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int dim;                // transformer width
    int hidden_dim;         // SwiGLU inner width
    int n_layers;
    int n_heads;            // query heads
    int n_kv_heads;         // key/value heads (divides n_heads)
    int vocab_size;
    int seq_len;            // maximum context
    int shared_classifier;  // 1: wcls aliases token_embedding
} llama_config;

static inline int llama_head_size(const llama_config *c) { return c->dim / c->n_heads; }
static inline int llama_kv_dim(const llama_config *c) { return c->dim / c->n_heads * c->n_kv_heads; }

// Pointers into one float allocation, in llama2.c's (version 0) order. Shapes are row-major
// [out, in], so y = W x is y[i] = sum_j W[i*in + j] x[j].
typedef struct {
    float *token_embedding;  // [vocab, dim]
    float *rms_att;          // [L, dim]
    float *wq;               // [L, dim, dim]
    float *wk;               // [L, kv_dim, dim]
    float *wv;               // [L, kv_dim, dim]
    float *wo;               // [L, dim, dim]
    float *rms_ffn;          // [L, dim]
    float *w1;               // [L, hidden, dim]
    float *w2;               // [L, dim, hidden]
    float *w3;               // [L, hidden, dim]
    float *rms_final;        // [dim]
    float *wcls;             // [vocab, dim]; == token_embedding when shared
} llama_weights;

typedef struct {
    llama_config config;
    llama_weights w;
    float *params;    // the one allocation (n_params floats)
    size_t n_params;  // 260,032 for stories260K (the shared classifier counted once)
} llama_model;

// Check a configuration (positive dims, heads divide dim, kv heads divide heads, even head size).
// file names the source in the message; RQ_EINPUT on failure.
int llama_config_check(const llama_config *c, const char *file);
// Number of parameters for c (wcls counted only when unshared).
size_t llama_n_params(const llama_config *c);
// Point w at the tensors inside params (n_params floats laid out in version-0 order).
void llama_point_weights(llama_weights *w, const llama_config *c, float *params);

// Allocate a zeroed model of shape c (which must pass llama_config_check).
int llama_build(llama_model *m, const llama_config *c);
void llama_free(llama_model *m);
// Random init as llama2.c's training does: linear weights and embedding N(0, 0.02), the
// residual projections (wo, w2) N(0, 0.02/sqrt(2L)), norm weights 1.
void llama_init_random(llama_model *m, uint64_t seed);

// Read a llama2.c checkpoint (version 0 or 1, detected by the magic). Errors (RQ_EINPUT) name the
// file and the byte offset: truncated or oversized files, bad dims, unknown versions.
int llama_load(llama_model *m, const char *path);
int llama_load_mem(llama_model *m, const uint8_t *data, size_t len, const char *name);
// Write version 0 (readable by llama2.c run.c), atomically.
int llama_save_v0(const llama_model *m, const char *path);
// Same bytes into memory (caller frees data with free()).
void llama_serialise_v0(const llama_model *m, uint8_t **data, size_t *len);

// ---- float inference, one token at a time (run.c's forward) ----------------------------------
typedef struct {
    float *x, *xb, *xb2;     // [dim]
    float *hb, *hb2;         // [hidden]
    float *q;                // [dim]
    float *att;              // [n_heads, seq_len]
    float *logits;           // [vocab]
    float *key_cache;        // [L, seq_len, kv_dim]
    float *value_cache;      // [L, seq_len, kv_dim]
    float *mem;              // the one allocation behind all of the above
} llama_state;

void llama_state_build(llama_state *s, const llama_config *c);
void llama_state_free(llama_state *s);
// Logits for `token` at position pos (0 <= pos < seq_len), given that positions 0..pos-1 were
// run before with the same state. Returns s->logits.
float *llama_forward(const llama_model *m, llama_state *s, int token, int pos);

// The quantisation points of the integer contract (docs/lm-contract.md, infer/lm_kernel.c), per
// layer in forward order, then the final RMSNorm output once (LLAMA_PT_FIN, reported as layer
// n_layers):
//   XATT  attention RMSNorm out [dim]      O     attention out (wo input) [dim]
//   Q     q [dim]                          XFFN  FFN RMSNorm out [dim]
//   K     k (in the key cache) [kv_dim]    H1    w1 x (SiLU input) [hidden]
//   V     v (in the value cache) [kv_dim]  H3    w3 x [hidden]
//   FIN   final RMSNorm out [dim]          G     silu(h1) * h3 (w2 input) [hidden]
// Q and K come twice: after their projections and again after RoPE (the kernel rounds both).
enum {
    LLAMA_PT_XATT, LLAMA_PT_Q, LLAMA_PT_K, LLAMA_PT_V, LLAMA_PT_O, LLAMA_PT_XFFN, LLAMA_PT_H1, LLAMA_PT_H3, LLAMA_PT_G,
    LLAMA_PT_NLAYER,  // points per layer
    LLAMA_PT_FIN = LLAMA_PT_NLAYER
};
// Called with v[n], the activation at point of layer; it may read v or change it in place (the
// forward continues from what the hook leaves there).
typedef void (*llama_hook)(void *ctx, int layer, int point, float *v, int n);
// llama_forward with hook (NULL: none) called at every point above, in forward order.
float *llama_forward_hooked(const llama_model *m, llama_state *s, int token, int pos, llama_hook hook, void *ctx);

#endif
