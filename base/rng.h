// rng.h: PCG32 (O'Neill 2014, variant XSH-RR: 64-bit LCG state, 32-bit output).
//
//   state' = state * 6364136223846793005 + inc          (inc odd, chosen by the stream id)
//   out    = rotr32(((state >> 18) ^ state) >> 27, state >> 59)   computed on the old state
//
// Known answer (tests/test_base.c): seed 42, stream 54 gives
//   a15c02b7 7b47f409 ba1d3330 83d2f293 bfa4784b cbed606e, then bounded(6) x6 = 5 3 0 2 0 1.
// The whole generator is two uint64 words, so it serialises into checkpoints as is.
#ifndef RQ_RNG_H
#define RQ_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state;
    uint64_t inc;
} pcg32;

void pcg32_seed(pcg32 *r, uint64_t seed, uint64_t stream);
uint32_t pcg32_next(pcg32 *r);
// Uniform in [0, bound) without modulo bias (rejects the low 2^32 mod bound values).
uint32_t pcg32_bounded(pcg32 *r, uint32_t bound);
// Uniform float in [0, 1) with 24 random bits.
float pcg32_float(pcg32 *r);
// Standard normal (Box-Muller; consumes two draws).
float pcg32_normal(pcg32 *r);
// Fisher-Yates shuffle of n ints.
void pcg32_shuffle(pcg32 *r, int *a, int n);

#endif
