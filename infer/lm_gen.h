// lm_gen.h: run.c's generation loop on the integer kernel, one position per call, shared by the
// host runtime (qat/lm_intgen.c) and every target program: feed the prompt, then pick the next
// token by integer argmax (temperature 0) or lm_sample, and stop at BOS or after `steps`
// positions. Freestanding; the caller owns all memory.
#ifndef RQ_INFER_LM_GEN_H
#define RQ_INFER_LM_GEN_H

#include <stdint.h>

#include "infer/lm_kernel.h"

typedef struct {
    const lm_model *m;
    lm_state *s;
    lm_sampler smp;
    uint32_t temp_q8;
    const int *prompt;   // prompt[0] is BOS
    int np, steps, pos;
    int prev, token;     // after lm_gen_next: the token that was fed and the one chosen
    uint32_t *e;         // sampler scratch: vocab_size each
    int16_t *idx;
    int32_t *logits;     // the last step's logits (s->logits)
} lm_gen;

// steps: positions including the prompt (<= 0 or > seq_len: seq_len). temp_q8 = round(256 *
// temperature) (0: greedy), topp_q15 = round(32768 * top-p) (>= 32768: no nucleus cut).
void lm_gen_init(lm_gen *g, const lm_model *m, lm_state *s, const int *prompt, int np, int steps, uint32_t temp_q8,
                 uint32_t topp_q15, uint32_t seed, uint32_t *e, int16_t *idx);
// Run one position. Returns the next token (print the piece of g->prev followed by it), or -1
// when generation is over: `steps` positions done (no forward was run), or the model chose BOS
// (the forward was run: g->logits holds its logits).
int lm_gen_next(lm_gen *g);

// CRC-32 of a logits vector serialised little-endian (int32 / int16 per value), the number every
// target's debug mode reports per step (export/target.h).
uint32_t lm_logits_crc(const int32_t *v, int n);
uint32_t chat_logits_crc(const int16_t *v, int n);

#endif
