// bench_llama.c: throughput of the llama family on the stories260K shape (make bench-llama).
//
//   training   tokens/s of forward+backward (batch x seq) and the share of time in SGEMM vs the
//              rest, next to the OpenBLAS rate measured on the same GEMM shapes in the same run
//   generation tokens/s of the KV-cache forward over 512 positions on one core (greedy), next to
//              the reference figure for llama2.c run.c (~3,700 tok/s on this kind of machine)
// Usage: bench_llama MODEL.bin [--batch B] [--seq T] [--steps N]   (MODEL: stories260K.bin)
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/err.h"
#include "base/rng.h"
#include "model/llama.h"
#include "model/llama_train.h"

static double cpu_s(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// The GEMMs of one training step (forward + backward) at the model's shapes, timed alone.
static double gemm_rate(const llama_config *c, int BT, int reps) {
    int C = c->dim, H = c->hidden_dim, V = c->vocab_size, kvd = llama_kv_dim(c);
    int maxw = V > H ? V : H;
    float *a = calloc((size_t)BT * maxw, 4), *b = calloc((size_t)BT * maxw, 4), *w = calloc((size_t)maxw * maxw, 4);
    for (size_t i = 0; i < (size_t)BT * maxw; i++) a[i] = b[i] = 0.001f * (i % 97);
    int shapes[][2] = {{C, C}, {C, kvd}, {C, kvd}, {C, C}, {C, H}, {C, H}, {H, C}};  // (in, out) per layer
    double flops = 0, t0 = now_s();
    for (int r = 0; r < reps; r++) {
        for (int l = 0; l < c->n_layers; l++)
            for (int s = 0; s < 7; s++) {
                int in = shapes[s][0], out = shapes[s][1];
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BT, out, in, 1, a, in, w, in, 0, b, out);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BT, in, out, 1, b, out, w, in, 0, a, in);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, BT, 1, b, out, a, in, 1, w, in);
                flops += 3 * 2.0 * BT * in * out;
            }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BT, V, C, 1, a, C, w, C, 0, b, V);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BT, C, V, 1, b, V, w, C, 0, a, C);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, BT, 1, b, V, a, C, 1, w, C);
        flops += 3 * 2.0 * BT * C * V;
    }
    double t = now_s() - t0;
    free(a), free(b), free(w);
    return flops / t;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_llama MODEL.bin [--batch B] [--seq T] [--steps N] [--threads N]\n");
        return 2;
    }
    int B = 32, T = 256, steps = 10, threads = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seq")) T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    }
    llama_model m;
    if (llama_load(&m, argv[1])) return rq_report(RQ_EINPUT);
    const llama_config *c = &m.config;
    float *gmem = calloc(m.n_params, 4);
    llama_weights g;
    llama_point_weights(&g, c, gmem);
    llama_train s;
    llama_train_build(&s, c, B, T, threads);
    int *in = malloc((size_t)B * T * sizeof(int)), *tg = malloc((size_t)B * T * sizeof(int));
    pcg32 r;
    pcg32_seed(&r, 1, 1);
    for (int i = 0; i < B * T; i++) in[i] = (int)pcg32_bounded(&r, c->vocab_size), tg[i] = (int)pcg32_bounded(&r, c->vocab_size);

    // warm up, then time
    llama_train_forward(&s, &m, in, tg, T);
    llama_train_backward(&s, &m, &g);
    s.t_gemm = s.t_other = s.t_attn = s.gemm_flops = 0;
    double t_fwd = 0, t_bwd = 0, t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < steps; i++) {
        double a = now_s();
        llama_train_forward(&s, &m, in, tg, T);
        double b = now_s();
        llama_train_backward(&s, &m, &g);
        t_fwd += b - a, t_bwd += now_s() - b;
    }
    double total = now_s() - t0, cpu = cpu_s() - c0;
    double tok_s = (double)B * T * steps / total;
    // OpenBLAS alone on the same shapes, one call per product, 1 and 2 of its own threads.
    openblas_set_num_threads(1);
    double rate1 = gemm_rate(c, B * T, 3);
    openblas_set_num_threads(2);
    double rate2 = gemm_rate(c, B * T, 3);
    openblas_set_num_threads(1);
    printf("training  stories260K shape, batch %d x seq %d, %d threads, %d steps\n", B, T, s.threads, steps);
    printf("  %.0f tokens/s (forward %.1f ms, backward %.1f ms per step)\n", tok_s, 1e3 * t_fwd / steps, 1e3 * t_bwd / steps);
    printf("  CPU time %.2f s for %.2f s wall (%.0f tokens per CPU-second: the machine's other load shows here)\n", cpu, total,
           (double)B * T * steps / cpu);
    printf("  SGEMM %.1f%% of the time at %.1f GFLOP/s; attention %.1f%%; the rest %.1f%% (norms, RoPE, SwiGLU, softmax, loss, copies)\n",
           100 * s.t_gemm / total, s.gemm_flops / s.t_gemm * 1e-9, 100 * s.t_attn / total, 100 * (total - s.t_gemm - s.t_attn) / total);
    printf("  OpenBLAS alone on the same GEMM shapes (one call per product): %.1f GFLOP/s on 1 thread, %.1f on 2\n", rate1 * 1e-9,
           rate2 * 1e-9);

    // Generation: one core, 512 positions, greedy over the KV cache.
    llama_state st;
    llama_state_build(&st, c);
    int npos = c->seq_len < 512 ? c->seq_len : 512, reps = 5;
    double best = 1e9, best_cpu = 1e9;
    for (int rep = 0; rep < reps; rep++) {
        int tok = 1;
        double a = now_s(), ac = cpu_s();
        for (int p = 0; p < npos; p++) {
            float *l = llama_forward(&m, &st, tok, p);
            int arg = 0;
            for (int v = 1; v < c->vocab_size; v++)
                if (l[v] > l[arg]) arg = v;
            tok = arg;
        }
        double t = now_s() - a, tc = cpu_s() - ac;
        if (t < best) best = t;
        if (tc < best_cpu) best_cpu = tc;
    }
    printf("generation  %d positions on one core: %.0f tokens/s wall, %.0f per CPU-second (best of %d; llama2.c run.c reference ~3,700 tok/s)\n",
           npos, npos / best, npos / best_cpu, reps);
    llama_state_free(&st);
    llama_train_free(&s);
    free(in), free(tg), free(gmem);
    llama_free(&m);
    return 0;
}
