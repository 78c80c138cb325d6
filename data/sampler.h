// sampler.h: choosing the next token from logits the way llama2.c run.c does, so that the same
// seed gives the same text.
//
//   temperature 0   argmax (the first maximum)
//   otherwise       softmax(logits / temperature), then one draw coin = random_f32():
//     topp <= 0 or >= 1: the first i whose cumulative probability exceeds coin (else the last)
//     else (nucleus): keep tokens with p >= (1 - topp) / (vocab - 1), sort them by descending p
//       (stable: equal p keep index order), cut after the first prefix whose mass exceeds topp,
//       and pick in that prefix with coin scaled by its mass.
// RNG (xorshift64*): s ^= s >> 12; s ^= s << 25; s ^= s >> 27; u32 = (s * 0x2545F4914F6CDD1D) >> 32;
//   random_f32 = (u32 >> 8) / 2^24.
#ifndef RQ_SAMPLER_H
#define RQ_SAMPLER_H

#include <stdint.h>

typedef struct {
    int vocab_size;
    float temperature;
    float topp;
    uint64_t rng_state;
    struct sampler_pi { float prob; int index; } *probindex, *scratch;  // nucleus buffers
} sampler;

// run.c's softmax in place: x = exp(x - max) / sum, in float, in run.c's order of operations
// (the float forward's attention uses it too, so greedy output stays byte-identical to run.c).
void run_softmax(float *x, int n);

uint32_t sampler_random_u32(uint64_t *state);
float sampler_random_f32(uint64_t *state);

void sampler_build(sampler *s, int vocab_size, float temperature, float topp, uint64_t seed);
void sampler_free(sampler *s);
// Pick a token; logits are overwritten (scaled and turned into probabilities) unless greedy.
int sampler_sample(sampler *s, float *logits);

#endif
