// llama_generate.c: the generation loop of run.c and the windowed cross-entropy used by eval.
#include "model/llama_generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/progress.h"
#include "data/sampler.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int lm_generate(lm_step_fn step, void *ctx, int vocab_size, int seq_len, const tokenizer *tok, const lm_gen_cfg *cfg,
                FILE *out, lm_gen_stats *stats) {
    int steps = cfg->steps <= 0 || cfg->steps > seq_len ? seq_len : cfg->steps;
    const char *prompt = cfg->prompt ? cfg->prompt : "";
    int *ptoks = rq_malloc((strlen(prompt) + 3) * sizeof(int));
    int np = tokenizer_encode(tok, prompt, 1, 0, ptoks);
    sampler smp;
    sampler_build(&smp, vocab_size, cfg->temperature, cfg->topp, cfg->seed);

    int token = ptoks[0], pos = 0, printed = 0;
    double start = 0;
    while (pos < steps) {
        float *logits = step(ctx, token, pos);
        int next = pos < np - 1 ? ptoks[pos + 1] : sampler_sample(&smp, logits);
        pos++;
        if (next == TOK_BOS) break;  // BOS delimits sequences
        tokenizer_print_piece(out, tokenizer_decode(tok, token, next));
        fflush(out);
        printed++;
        token = next;
        if (start == 0) start = now_seconds();
    }
    fprintf(out, "\n");
    fflush(out);
    if (stats) {
        stats->positions = pos;
        stats->generated = printed;
        stats->seconds = start ? now_seconds() - start : 0;
    }
    sampler_free(&smp);
    free(ptoks);
    return 0;
}

double lm_row_ce(const float *logits, int vocab_size, int target) {
    double max = logits[0];
    for (int i = 1; i < vocab_size; i++)
        if (logits[i] > max) max = logits[i];
    double sum = 0;
    for (int i = 0; i < vocab_size; i++) sum += exp(logits[i] - max);
    return log(sum) + max - logits[target];
}

double lm_mean_ce(lm_window_fn fn, void *ctx, int vocab_size, const uint16_t *tokens, size_t n, int window,
                  size_t *n_targets, int progress) {
    float *logits = rq_malloc((size_t)window * vocab_size * sizeof(float));
    rq_progress pg;
    rq_progress_start(&pg, "eval: window", n > 1 ? (long)((n - 2) / window + 1) : 0, !progress);
    double total = 0;
    size_t count = 0;
    for (size_t start = 0; start + 1 < n; start += window) {
        int len = (int)(n - 1 - start < (size_t)window ? n - 1 - start : (size_t)window);
        if (fn(ctx, tokens + start, len, logits)) {
            count = 0;
            total = NAN;
            break;
        }
        for (int i = 0; i < len; i++) total += lm_row_ce(logits + (size_t)i * vocab_size, vocab_size, tokens[start + i + 1]);
        count += len;
        rq_progress_draw(&pg, (long)(start / window + 1), -1, "float model");
    }
    rq_progress_end(&pg);
    free(logits);
    if (n_targets) *n_targets = count;
    return count ? total / count : NAN;
}
