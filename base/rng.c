#include "base/rng.h"

#include <math.h>

#define PCG32_MULT 6364136223846793005ULL

uint32_t pcg32_next(pcg32 *r) {
    uint64_t old = r->state;
    r->state = old * PCG32_MULT + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

void pcg32_seed(pcg32 *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1) | 1u;
    pcg32_next(r);
    r->state += seed;
    pcg32_next(r);
}

uint32_t pcg32_bounded(pcg32 *r, uint32_t bound) {
    uint32_t threshold = (0u - bound) % bound;  // 2^32 mod bound
    for (;;) {
        uint32_t x = pcg32_next(r);
        if (x >= threshold) return x % bound;
    }
}

float pcg32_float(pcg32 *r) { return (float)(pcg32_next(r) >> 8) * (1.0f / 16777216.0f); }

float pcg32_normal(pcg32 *r) {
    float u1 = ((float)(pcg32_next(r) >> 8) + 0.5f) * (1.0f / 16777216.0f);  // (0,1): log is finite
    float u2 = pcg32_float(r);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530718f * u2);
}

void pcg32_shuffle(pcg32 *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)pcg32_bounded(r, (uint32_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
