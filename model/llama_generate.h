// llama_generate.h: run.c's generation loop over any next-token function (float model here,
// the integer model image elsewhere), and the mean cross-entropy of a token stream.
#ifndef RQ_LLAMA_GENERATE_H
#define RQ_LLAMA_GENERATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "data/tokenizer.h"

// Logits (vocab floats, owned by the callee) for `token` at position pos; positions arrive in
// order 0, 1, 2, ... as with a KV cache.
typedef float *(*lm_step_fn)(void *ctx, int token, int pos);

typedef struct {
    const char *prompt;   // "" for none
    int steps;            // positions to run including the prompt; <= 0 or > seq_len: seq_len
    float temperature;    // 0: greedy
    float topp;           // nucleus mass; <= 0 or >= 1: plain sampling
    uint64_t seed;        // the xorshift state (run.c: nonzero)
} lm_gen_cfg;

typedef struct {
    int positions;        // forward passes run
    int generated;        // tokens printed (prompt tokens after the first included)
    double seconds;       // from the first printed token to the end, as run.c times it
} lm_gen_stats;

// run.c's loop: encode prompt with BOS, feed prompt tokens, then sample; stop at BOS or after
// `steps` positions; print each decoded piece safely to out, then a newline. RQ_EINPUT when the
// prompt does not fit.
int lm_generate(lm_step_fn step, void *ctx, int vocab_size, int seq_len, const tokenizer *tok, const lm_gen_cfg *cfg,
                FILE *out, lm_gen_stats *stats);

// Logits for a window: tokens[0..n) at positions 0..n-1 -> logits [n, vocab] (owned by caller).
typedef int (*lm_window_fn)(void *ctx, const uint16_t *tokens, int n, float *logits);

// Mean cross-entropy (nats) of predicting tokens[i+1] from tokens[0..i] over a stream, cut into
// windows of window+1 tokens that overlap by one (each window starts a fresh context). The last,
// shorter window counts too. *n_targets receives the number of predicted tokens.
// progress: a progress line with ETA on a terminal (base/progress.h).
double lm_mean_ce(lm_window_fn fn, void *ctx, int vocab_size, const uint16_t *tokens, size_t n, int window,
                  size_t *n_targets, int progress);
// Cross-entropy of one row of logits against target: logsumexp(logits) - logits[target] (double).
double lm_row_ce(const float *logits, int vocab_size, int target);

#endif
