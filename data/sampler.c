// sampler.c: run.c's sampling rules (see sampler.h), written from the algorithm.
#include "data/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

uint32_t sampler_random_u32(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}

float sampler_random_f32(uint64_t *state) { return (sampler_random_u32(state) >> 8) / 16777216.0f; }

void sampler_build(sampler *s, int vocab_size, float temperature, float topp, uint64_t seed) {
    s->vocab_size = vocab_size;
    s->temperature = temperature;
    s->topp = topp;
    s->rng_state = seed;
    s->probindex = rq_malloc(vocab_size * sizeof *s->probindex);
    s->scratch = rq_malloc(vocab_size * sizeof *s->scratch);
}

void sampler_free(sampler *s) {
    free(s->probindex);
    free(s->scratch);
    memset(s, 0, sizeof *s);
}

static int argmax(const float *p, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (p[i] > p[best]) best = i;
    return best;
}

void run_softmax(float *x, int n) {
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max) max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

static int sample_mult(const float *p, int n, float coin) {
    float cdf = 0.0f;
    for (int i = 0; i < n; i++) {
        cdf += p[i];
        if (coin < cdf) return i;
    }
    return n - 1;
}

// Stable merge sort by descending probability (a[lo..hi) using tmp).
static void sort_desc(struct sampler_pi *a, struct sampler_pi *tmp, int lo, int hi) {
    if (hi - lo < 2) return;
    int mid = (lo + hi) / 2;
    sort_desc(a, tmp, lo, mid);
    sort_desc(a, tmp, mid, hi);
    int i = lo, j = mid, k = lo;
    while (i < mid && j < hi) tmp[k++] = a[j].prob > a[i].prob ? a[j++] : a[i++];
    while (i < mid) tmp[k++] = a[i++];
    while (j < hi) tmp[k++] = a[j++];
    memcpy(a + lo, tmp + lo, (hi - lo) * sizeof *a);
}

static int sample_topp(sampler *s, const float *p, int n, float coin) {
    // Tokens below the cutoff can never be in the nucleus: drop them before sorting.
    const float cutoff = (1.0f - s->topp) / (n - 1);
    int n0 = 0;
    for (int i = 0; i < n; i++)
        if (p[i] >= cutoff) s->probindex[n0].index = i, s->probindex[n0].prob = p[i], n0++;
    sort_desc(s->probindex, s->scratch, 0, n0);
    float cum = 0.0f;
    int last = n0 - 1;
    for (int i = 0; i < n0; i++) {
        cum += s->probindex[i].prob;
        if (cum > s->topp) {
            last = i;
            break;
        }
    }
    float r = coin * cum, cdf = 0.0f;
    for (int i = 0; i <= last; i++) {
        cdf += s->probindex[i].prob;
        if (r < cdf) return s->probindex[i].index;
    }
    return s->probindex[last].index;
}

int sampler_sample(sampler *s, float *logits) {
    int n = s->vocab_size;
    if (s->temperature == 0.0f) return argmax(logits, n);
    for (int i = 0; i < n; i++) logits[i] /= s->temperature;
    run_softmax(logits, n);
    float coin = sampler_random_f32(&s->rng_state);
    if (s->topp <= 0 || s->topp >= 1) return sample_mult(logits, n, coin);
    return sample_topp(s, logits, n, coin);
}
