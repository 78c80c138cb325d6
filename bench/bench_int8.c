// bench_int8.c: host integer-only generation of a llama2.c model over 512 positions (one core),
// next to our float generation (model/llama_forward.c) in the same run, and the integer
// operations per token the retro targets will pay. Usage: bench_int8 MODEL.bin [--json]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "infer/lm_kernel.h"
#include "model/llama.h"
#include "qat/lm_quant.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// Seconds for one greedy generation from BOS over n positions (BOS re-fed as token 2 so the run
// never stops).
static double int_run(const lm_model *q, lm_state *s, int n) {
    double t = now();
    int tok = 1;
    for (int p = 0; p < n; p++) {
        tok = lm_argmax(lm_forward(q, s, tok, p), q->c.vocab_size);
        if (tok == 1) tok = 2;
    }
    return now() - t;
}

static double float_run(const llama_model *f, llama_state *s, int n) {
    double t = now();
    int tok = 1;
    for (int p = 0; p < n; p++) {
        float *l = llama_forward(f, s, tok, p);
        int b = 0;
        for (int i = 1; i < f->config.vocab_size; i++)
            if (l[i] > l[b]) b = i;
        tok = b == 1 ? 2 : b;
    }
    return now() - t;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_int8 MODEL.bin [--json]\n");
        return 2;
    }
    int json = argc > 2 && strcmp(argv[2], "--json") == 0;
    llama_model f;
    if (llama_load(&f, argv[1])) return rq_report(RQ_EINPUT);
    int n = f.config.seq_len < 512 ? f.config.seq_len : 512, reps = 9;
    lm_model q8, q4;
    lmq_stats st;
    lmq_opts o8 = {8, 10, NULL}, o4 = {4, 10, NULL};
    if (lmq_calibrate_default(&f, NULL, 0, &st) || lmq_quantize(&f, &st, &o8, &q8) || lmq_quantize(&f, &st, &o4, &q4))
        return rq_report(RQ_EINPUT);
    lmq_stats_free(&st);
    // The three are timed in interleaved rounds, best of reps each: a virtual machine's speed drifts
    // over seconds, and interleaving gives every variant the same conditions.
    void *m8 = calloc(1, lm_state_bytes(&q8.c)), *m4 = calloc(1, lm_state_bytes(&q4.c));
    lm_state s8, s4;
    lm_state_init(&s8, &q8.c, m8);
    lm_state_init(&s4, &q4.c, m4);
    llama_state sf;
    llama_state_build(&sf, &f.config);
    double t8 = 1e30, t4 = 1e30, tf = 1e30;
    for (int r = 0; r < reps; r++) {
        double a = int_run(&q8, &s8, n), b = int_run(&q4, &s4, n), c = float_run(&f, &sf, n);
        t8 = a < t8 ? a : t8, t4 = b < t4 ? b : t4, tf = c < tf ? c : tf;
    }
    free(m8), free(m4);
    llama_state_free(&sf);
    double r8 = n / t8, r4 = n / t4, rf = n / tf;
    long macs = 0, looks = 0;
    for (int p = 0; p < n; p++) {
        lm_opcount o;
        lm_count_ops(&q8.c, p, &o);
        macs += o.macs, looks += o.lookups;
    }
    if (json) {
        printf("{\"positions\":%d,\"int8_tok_s\":%.0f,\"int4_tok_s\":%.0f,\"float_tok_s\":%.0f,\"int8_vs_float\":%.3f,"
               "\"runc_float_ref_tok_s\":3700,\"runq_int8_ref_tok_s\":1550,\"macs_per_token\":%ld,\"lookups_per_token\":%ld}\n",
               n, r8, r4, rf, r8 / rf, macs / n, looks / n);
    } else {
        printf("stories model %s, %d positions, one core, best of %d interleaved runs\n", argv[1], n, reps);
        printf("  integer int8 (infer/lm_kernel)   %8.0f tok/s   (%.2fx our float, %.2fx run.c's ~3700)\n", r8, r8 / rf, r8 / 3700);
        printf("  integer int4                     %8.0f tok/s\n", r4);
        printf("  float (model/llama_forward)      %8.0f tok/s\n", rf);
        printf("  reference: llama2.c run.c float ~3700 tok/s, runq.c int8 (group 4) ~1550 tok/s\n");
        printf("  integer ops per token (mean over the %d positions): %ld MACs, %ld table lookups\n", n, macs / n, looks / n);
    }
    lmq_free(&q8);
    lmq_free(&q4);
    llama_free(&f);
    return 0;
}
