// llama_train.c: batched forward/backward of the llama transformer (see llama_train.h).
#include "model/llama_train.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// ---- a tiny parallel-for: tasks [0, n) in contiguous chunks, one chunk per thread ------------

typedef void (*range_fn)(void *ctx, int lo, int hi);
typedef struct {
    range_fn fn;
    void *ctx;
    int lo, hi;
} range_job;

static void *range_thread(void *p) {
    range_job *j = p;
    j->fn(j->ctx, j->lo, j->hi);
    return NULL;
}

static void parallel_for(int n, int threads, range_fn fn, void *ctx) {
    if (threads > n) threads = n;
    if (threads <= 1) {
        if (n > 0) fn(ctx, 0, n);
        return;
    }
    pthread_t tid[16];
    range_job job[16];
    if (threads > 16) threads = 16;
    for (int i = 0; i < threads; i++) job[i] = (range_job){fn, ctx, (int)((long)n * i / threads), (int)((long)n * (i + 1) / threads)};
    int started[16] = {0};
    for (int i = 1; i < threads; i++) started[i] = pthread_create(&tid[i], NULL, range_thread, &job[i]) == 0;
    for (int i = 1; i < threads; i++)
        if (!started[i]) range_thread(&job[i]);  // could not start a thread: do its share here
    range_thread(&job[0]);
    for (int i = 1; i < threads; i++)
        if (started[i]) pthread_join(tid[i], NULL);
}

// ---- exp for the softmaxes and SiLU ----------------------------------------------------------
// exp(x) = 2^n * e^r with n = round(x / ln 2) and |r| <= ln2/2, e^r by its Taylor polynomial to
// degree 6 (relative error < 2e-7). Branch-free, so loops over it vectorise.
static inline __attribute__((always_inline)) float exp_fast(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    float r = x - n * 0.693145751953125f - n * 1.428606765330187045e-06f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    int32_t ti, mi;
    memcpy(&ti, &t, 4);
    memcpy(&mi, &magic, 4);
    int32_t e = (ti - mi + 127) << 23;
    float scale;
    memcpy(&scale, &e, 4);
    return p * scale;
}

// ---- GEMM wrappers (row-major), timed ---------------------------------------------------------
// OpenBLAS runs single-threaded here (llama_train_build sets it): its idle threads spin in
// sched_yield and would steal the cores from our attention threads. Instead each product is split
// into row blocks of its output, one per thread, each an independent single-threaded SGEMM over
// the full inner dimension.

#ifndef GEMM_BLOCKS
#define GEMM_BLOCKS 64
#endif

typedef struct {
    int kind;  // 0: out = inp W^T + beta out; 1: dinp = dout W + beta dinp; 2: dW += dout^T inp
    float *out;
    const float *a, *w;
    int N, IN, OUT;
    float beta;
} gemm_job;

// Blocks of at least 128 rows (16 output rows of a weight gradient), at most 64 blocks: a
// function of the shape only, never of the thread count.
static int gemm_blocks(const gemm_job *j) {
    int b = j->kind == 2 ? j->OUT / 16 : j->N / 128;
    return b < 1 ? 1 : b > GEMM_BLOCKS ? GEMM_BLOCKS : b;
}

// Block b of nb: one SGEMM per block, never one over a thread's whole range of blocks. OpenBLAS's
// kernels may sum an element in a different order depending on where the block's rows fall in
// its micro-tiles (its AVX-512 kernels do, for the M tail of a transposed product), so the blocks
// must be the same calls whatever the thread count for the results to be.
static void gemm_block(const gemm_job *j, int b, int nb) {
    int rows = j->kind == 2 ? j->OUT : j->N;
    int r0 = (int)((long)rows * b / nb), r1 = (int)((long)rows * (b + 1) / nb);
    if (r1 <= r0) return;
    if (j->kind == 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, j->OUT, j->IN, 1.0f, j->a + (size_t)r0 * j->IN, j->IN, j->w, j->IN,
                    j->beta, j->out + (size_t)r0 * j->OUT, j->OUT);
    else if (j->kind == 1)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, j->IN, j->OUT, 1.0f, j->a + (size_t)r0 * j->OUT, j->OUT, j->w, j->IN,
                    j->beta, j->out + (size_t)r0 * j->IN, j->IN);
    else  // dW rows r0..r1: dout columns r0..r1
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, j->IN, j->N, 1.0f, j->a + r0, j->OUT, j->w, j->IN, 1.0f,
                    j->out + (size_t)r0 * j->IN, j->IN);
}

static void gemm_rows(void *ctx, int lo, int hi) {
    const gemm_job *j = ctx;
    int nb = gemm_blocks(j);
    for (int b = lo; b < hi; b++) gemm_block(j, b, nb);
}

static void gemm_run(llama_train *s, gemm_job *j) {
    double t = now_s();
    // Row blocks dealt out in contiguous ranges: the blocks (and so the results) do not depend on
    // the thread count.
    parallel_for(gemm_blocks(j), s->threads, gemm_rows, j);
    s->t_gemm += now_s() - t;
    s->gemm_flops += 2.0 * j->N * j->IN * j->OUT;
}

// out[N, OUT] = inp[N, IN] W[OUT, IN]^T + beta out
static void gemm_nt(llama_train *s, float *out, const float *inp, const float *w, int N, int IN, int OUT, float beta) {
    gemm_job j = {0, out, inp, w, N, IN, OUT, beta};
    gemm_run(s, &j);
}

// dinp[N, IN] = dout[N, OUT] W[OUT, IN] + beta dinp
static void gemm_nn(llama_train *s, float *dinp, const float *dout, const float *w, int N, int IN, int OUT, float beta) {
    gemm_job j = {1, dinp, dout, w, N, IN, OUT, beta};
    gemm_run(s, &j);
}

// dW[OUT, IN] += dout[N, OUT]^T inp[N, IN]
static void gemm_tn(llama_train *s, float *dw, const float *dout, const float *inp, int N, int IN, int OUT) {
    gemm_job j = {2, dw, dout, inp, N, IN, OUT, 1.0f};
    gemm_run(s, &j);
}

// ---- RMSNorm ---------------------------------------------------------------------------------

void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int C) {
    for (int i = 0; i < N; i++) {
        const float *xi = x + (size_t)i * C;
        float *o = out + (size_t)i * C;
        float ss = 0.0f;
        for (int j = 0; j < C; j++) ss += xi[j] * xi[j];
        float r = 1.0f / sqrtf(ss / C + 1e-5f);
        for (int j = 0; j < C; j++) o[j] = w[j] * (r * xi[j]);
        rstd[i] = r;
    }
}

// dx += ..., dw += ...
void rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w, const float *rstd, int N, int C) {
    for (int i = 0; i < N; i++) {
        const float *xi = x + (size_t)i * C, *dy = dout + (size_t)i * C;
        float *dxi = dx + (size_t)i * C;
        float r = rstd[i], dot = 0.0f;
        for (int j = 0; j < C; j++) dot += w[j] * dy[j] * xi[j];
        float k = dot * r * r * r / C;
        for (int j = 0; j < C; j++) {
            dw[j] += dy[j] * xi[j] * r;
            dxi[j] += r * w[j] * dy[j] - k * xi[j];
        }
    }
}

// ---- RoPE --------------------------------------------------------------------------------------

void rope_tables(float *cosv, float *sinv, int T, int hs) {
    for (int p = 0; p < T; p++)
        for (int i = 0; i < hs; i += 2) {
            float freq = 1.0f / powf(10000.0f, i / (float)hs);
            float a = p * freq;
            cosv[p * (hs / 2) + i / 2] = cosf(a);
            sinv[p * (hs / 2) + i / 2] = sinf(a);
        }
}

// Rows r0..r1-1 of x [rows, width] (row r at position r mod T): rotate every pair of every head,
// by +angle (dir 1, forward) or -angle (dir -1, the backward pass's transpose).
static void rope_rows(float *x, const float *cosv, const float *sinv, int r0, int r1, int T, int width, int hs, int dir) {
    int half = hs / 2;
    for (int bt = r0; bt < r1; bt++) {
        const float *c = cosv + (bt % T) * half, *s = sinv + (bt % T) * half;
        float *row = x + (size_t)bt * width;
        for (int h0 = 0; h0 < width; h0 += hs)
            for (int i = 0; i < half; i++) {
                float a = row[h0 + 2 * i], b = row[h0 + 2 * i + 1], sn = dir * s[i];
                row[h0 + 2 * i] = a * c[i] - b * sn;
                row[h0 + 2 * i + 1] = a * sn + b * c[i];
            }
    }
}

// x: [B, T, width] with width a multiple of hs.
void rope_forward(float *x, const float *cosv, const float *sinv, int B, int T, int width, int hs) {
    rope_rows(x, cosv, sinv, 0, B * T, T, width, hs, 1);
}

void rope_backward(float *dx, const float *cosv, const float *sinv, int B, int T, int width, int hs) {
    rope_rows(dx, cosv, sinv, 0, B * T, T, width, hs, -1);
}

// ---- SwiGLU ------------------------------------------------------------------------------------

void swiglu_forward(float *g, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float sig = 1.0f / (1.0f + exp_fast(-a[i]));
        g[i] = a[i] * sig * b[i];
    }
}

void swiglu_backward(float *da, float *db, const float *dg, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float sig = 1.0f / (1.0f + exp_fast(-a[i]));
        float silu = a[i] * sig;
        da[i] = dg[i] * b[i] * sig * (1.0f + a[i] * (1.0f - sig));
        db[i] = dg[i] * silu;
    }
}

// Attention probability rows are stored with stride ATT_STRIDE(T) = T rounded up to 8.
#define ATT_STRIDE(T) (((T) + 7) & ~7)

// ---- causal grouped-query attention ---------------------------------------------------------------
// q, y: [B, T, nh*hs]; k, v: [B, T, nkv*hs]; att: [B, nh, T, T]. Task = (b, kv group), so the
// gradients of k and v of a group are written by one thread only. Each task first copies its
// keys and values into transposed scratch (Kt, Vt: [hs, T]), so that every inner loop runs over
// key positions u with unit stride: scores and gradients become axpys over u, the sums over u
// dot products with 8 interleaved partial sums (fixed order; both vectorise).

// sum_u a[u] b[u] in 8 lanes (lane u mod 8), lanes added pairwise, then the tail.
static inline __attribute__((always_inline)) float dot_lanes(const float *a, const float *b, int n) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, tail = 0.0f;
    int u = 0;
    for (; u + 8 <= n; u += 8)
        for (int l = 0; l < 8; l++) s[l] += a[u + l] * b[u + l];
    for (; u < n; u++) tail += a[u] * b[u];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
}

static inline __attribute__((always_inline)) float sum_lanes(const float *a, int n) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, tail = 0.0f;
    int u = 0;
    for (; u + 8 <= n; u += 8)
        for (int l = 0; l < 8; l++) s[l] += a[u + l];
    for (; u < n; u++) tail += a[u];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
}

static inline __attribute__((always_inline)) float max_of(const float *a, int n) {
    float m[8], r = a[0];
    for (int l = 0; l < 8; l++) m[l] = a[0];
    int u = 0;
    for (; u + 8 <= n; u += 8)
        for (int l = 0; l < 8; l++) m[l] = a[u + l] > m[l] ? a[u + l] : m[l];
    for (; u < n; u++) r = a[u] > r ? a[u] : r;
    for (int l = 0; l < 8; l++) r = m[l] > r ? m[l] : r;
    return r;
}

// out[u] = scale * sum_i x[i] Mt[i][u] for u < n (Mt: [hs, T]); one pass over u, the head size
// unrolled when it is 8 (stories260K).
static inline __attribute__((always_inline)) void scores(float *out, const float *x, const float *Mt, float scale, int hs, int T, int n) {
    if (hs == 8) {
        float x0 = x[0] * scale, x1 = x[1] * scale, x2 = x[2] * scale, x3 = x[3] * scale;
        float x4 = x[4] * scale, x5 = x[5] * scale, x6 = x[6] * scale, x7 = x[7] * scale;
        const float *m0 = Mt, *m1 = Mt + T, *m2 = Mt + 2 * T, *m3 = Mt + 3 * T;
        const float *m4 = Mt + 4 * T, *m5 = Mt + 5 * T, *m6 = Mt + 6 * T, *m7 = Mt + 7 * T;
        for (int u = 0; u < n; u++)
            out[u] = ((x0 * m0[u] + x1 * m1[u]) + (x2 * m2[u] + x3 * m3[u])) + ((x4 * m4[u] + x5 * m5[u]) + (x6 * m6[u] + x7 * m7[u]));
        return;
    }
    for (int u = 0; u < n; u++) out[u] = 0.0f;
    for (int i = 0; i < hs; i++) {
        float xi = x[i] * scale;
        const float *mr = Mt + (size_t)i * T;
        for (int u = 0; u < n; u++) out[u] += xi * mr[u];
    }
}

typedef struct {
    float *y, *att, *dq, *dk, *dv;
    const float *q, *k, *v, *dy, *catt;
    int B, T, nh, nkv, hs;
} attn_job;

// Copy the hs columns of group g of rows b*T..b*T+T-1 of x [.., width] into xt [hs, Tp], or back.
static void gather_t(float *xt, const float *x, int b, int T, int Tp, int width, int off, int hs) {
    for (int u = 0; u < T; u++)
        for (int i = 0; i < hs; i++) xt[(size_t)i * Tp + u] = x[((size_t)b * T + u) * width + off + i];
}
static void scatter_t(float *x, const float *xt, int b, int T, int Tp, int width, int off, int hs) {
    for (int u = 0; u < T; u++)
        for (int i = 0; i < hs; i++) x[((size_t)b * T + u) * width + off + i] = xt[(size_t)i * Tp + u];
}

// The task functions are built twice (AVX2 and baseline x86-64), chosen at load time by the CPU.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SIMD_CLONES
#endif

// The head-size-8 kernels (stories260K), written with GNU C vectors of 8 floats (one AVX
// register in the AVX2 clone, two SSE registers in the baseline one): key positions in blocks of
// 8 lanes, the eight head components unrolled, rows padded with zero probabilities to a multiple
// of 8 so no loop has a tail. Kt/Vt/dKt/dVt have row stride Tp = T rounded up to 8 (zero padded).
typedef float v8f __attribute__((vector_size(32)));
typedef float v8f_u __attribute__((vector_size(32), aligned(4)));  // for unaligned loads/stores
// (macros, not functions: passing 32-byte vectors by value would depend on the clone's ABI)
#define ld8(p) (*(const v8f_u *)(p))
#define st8(p, v) (*(v8f_u *)(p) = (v))
#define hsum8(v) ((((v)[0] + (v)[1]) + ((v)[2] + (v)[3])) + (((v)[4] + (v)[5]) + ((v)[6] + (v)[7])))

// One query row: pr[0..n8) <- softmax(scores) (zeros from n on), y[0..8) <- P V.
static inline __attribute__((always_inline)) void attn_row_fwd8(float *pr, float *y, const float *qt, const float *Kt, const float *Vt, float scale, int Tp, int n) {
    int n8 = (n + 7) & ~7;
    v8f x[8];
    for (int i = 0; i < 8; i++) x[i] = (v8f){0} + qt[i] * scale;
    for (int u0 = 0; u0 < n8; u0 += 8) {
        v8f sc = (v8f){0};
        for (int i = 0; i < 8; i++) sc += x[i] * ld8(Kt + (size_t)i * Tp + u0);
        st8(pr + u0, sc);
    }
    float max = max_of(pr, n);
    for (int u = 0; u < n; u++) pr[u] = exp_fast(pr[u] - max);
    for (int u = n; u < n8; u++) pr[u] = 0.0f;
    v8f vs = (v8f){0};
    for (int u0 = 0; u0 < n8; u0 += 8) vs += ld8(pr + u0);
    float inv = 1.0f / hsum8(vs);
    v8f acc[8];
    for (int i = 0; i < 8; i++) acc[i] = (v8f){0};
    for (int u0 = 0; u0 < n8; u0 += 8) {
        v8f p = ld8(pr + u0) * inv;
        st8(pr + u0, p);
        for (int i = 0; i < 8; i++) acc[i] += p * ld8(Vt + (size_t)i * Tp + u0);
    }
    for (int i = 0; i < 8; i++) y[i] = hsum8(acc[i]);
}

// One query row of the backward pass (pr: its probabilities, zero padded to n8).
static inline __attribute__((always_inline)) void attn_row_bwd8(float *dq, float *dp, const float *pr, const float *qt, const float *dyt, const float *Kt, const float *Vt,
                                 float *dKt, float *dVt, float scale, int Tp, int n) {
    int n8 = (n + 7) & ~7;
    // dP[u] = dy . v_u;  dv_u += P[u] dy;  D = sum_u P[u] dP[u]
    v8f Dl = (v8f){0};
    for (int u0 = 0; u0 < n8; u0 += 8) {
        v8f p = ld8(pr + u0), d = (v8f){0};
        for (int i = 0; i < 8; i++) {
            size_t o = (size_t)i * Tp + u0;
            d += dyt[i] * ld8(Vt + o);
            st8(dVt + o, ld8(dVt + o) + dyt[i] * p);
        }
        st8(dp + u0, d);
        Dl += p * d;
    }
    float D = hsum8(Dl);
    // dS = P (dP - D) / sqrt(hs);  dq = dS K;  dk_u += dS[u] q
    v8f acc[8];
    for (int i = 0; i < 8; i++) acc[i] = (v8f){0};
    for (int u0 = 0; u0 < n8; u0 += 8) {
        v8f sv = ld8(pr + u0) * (ld8(dp + u0) - D) * scale;
        for (int i = 0; i < 8; i++) {
            size_t o = (size_t)i * Tp + u0;
            acc[i] += sv * ld8(Kt + o);
            st8(dKt + o, ld8(dKt + o) + sv * qt[i]);
        }
    }
    for (int i = 0; i < 8; i++) dq[i] = hsum8(acc[i]);
}

SIMD_CLONES static void attn_fwd_task(void *ctx, int lo, int hi) {
    attn_job *j = ctx;
    int T = j->T, Tp = ATT_STRIDE(T), hs = j->hs, C = j->nh * hs, kvd = j->nkv * hs, mul = j->nh / j->nkv;
    float scale = 1.0f / sqrtf((float)hs);
    float *Kt = rq_calloc(2 * (size_t)hs * Tp, sizeof(float)), *Vt = Kt + (size_t)hs * Tp;
    for (int task = lo; task < hi; task++) {
        int b = task / j->nkv, g = task % j->nkv;
        gather_t(Kt, j->k, b, T, Tp, kvd, g * hs, hs);
        gather_t(Vt, j->v, b, T, Tp, kvd, g * hs, hs);
        for (int h = g * mul; h < (g + 1) * mul; h++)
            for (int t = 0; t < T; t++) {
                const float *qt = j->q + ((size_t)b * T + t) * C + h * hs;
                float *row = j->att + (((size_t)b * j->nh + h) * T + t) * Tp;
                float *yt = j->y + ((size_t)b * T + t) * C + h * hs;
                int n = t + 1;
                if (hs == 8) {
                    attn_row_fwd8(row, yt, qt, Kt, Vt, scale, Tp, n);
                    continue;
                }
                scores(row, qt, Kt, scale, hs, Tp, n);
                float max = max_of(row, n);
                for (int u = 0; u < n; u++) row[u] = exp_fast(row[u] - max);
                float inv = 1.0f / sum_lanes(row, n);
                for (int u = 0; u < n; u++) row[u] *= inv;
                for (int i = 0; i < hs; i++) yt[i] = dot_lanes(row, Vt + (size_t)i * Tp, n);
            }
    }
    free(Kt);
}

void attention_forward(float *y, float *att, const float *q, const float *k, const float *v, int B, int T, int nh, int nkv, int hs, int threads) {
    attn_job j = {.y = y, .att = att, .q = q, .k = k, .v = v, .B = B, .T = T, .nh = nh, .nkv = nkv, .hs = hs};
    parallel_for(B * nkv, threads, attn_fwd_task, &j);
}

SIMD_CLONES static void attn_bwd_task(void *ctx, int lo, int hi) {
    attn_job *j = ctx;
    int T = j->T, Tp = ATT_STRIDE(T), hs = j->hs, C = j->nh * hs, kvd = j->nkv * hs, mul = j->nh / j->nkv;
    float scale = 1.0f / sqrtf((float)hs);
    size_t HT = (size_t)hs * Tp;
    float *Kt = rq_calloc(4 * HT + 2 * (size_t)Tp, sizeof(float));
    float *Vt = Kt + HT, *dKt = Vt + HT, *dVt = dKt + HT, *dp = dVt + HT, *ds = dp + Tp;
    for (int task = lo; task < hi; task++) {
        int b = task / j->nkv, g = task % j->nkv;
        gather_t(Kt, j->k, b, T, Tp, kvd, g * hs, hs);
        gather_t(Vt, j->v, b, T, Tp, kvd, g * hs, hs);
        memset(dKt, 0, 2 * HT * sizeof(float));
        for (int h = g * mul; h < (g + 1) * mul; h++)
            for (int t = 0; t < T; t++) {
                const float *qt = j->q + ((size_t)b * T + t) * C + h * hs;
                const float *dyt = j->dy + ((size_t)b * T + t) * C + h * hs;
                const float *row = j->catt + (((size_t)b * j->nh + h) * T + t) * Tp;
                float *dq = j->dq + ((size_t)b * T + t) * C + h * hs;
                int n = t + 1;
                if (hs == 8) {  // the forward pass left row zero padded to a multiple of 8
                    attn_row_bwd8(dq, dp, row, qt, dyt, Kt, Vt, dKt, dVt, scale, Tp, n);
                    continue;
                }
                // dP[u] = dy . v_u;  dv_u += P[u] dy
                scores(dp, dyt, Vt, 1.0f, hs, Tp, n);
                for (int i = 0; i < hs; i++) {
                    float di = dyt[i];
                    float *dvr = dVt + (size_t)i * Tp;
                    for (int u = 0; u < n; u++) dvr[u] += di * row[u];
                }
                // dS = P (dP - sum P dP), scaled by 1/sqrt(hs) for the score's scale
                float D = dot_lanes(row, dp, n);
                for (int u = 0; u < n; u++) ds[u] = row[u] * (dp[u] - D) * scale;
                // dq = dS K;  dk_u += dS[u] q
                for (int i = 0; i < hs; i++) {
                    const float *kr = Kt + (size_t)i * Tp;
                    float *dkr = dKt + (size_t)i * Tp;
                    float qi = qt[i];
                    dq[i] = dot_lanes(ds, kr, n);
                    for (int u = 0; u < n; u++) dkr[u] += ds[u] * qi;
                }
            }
        scatter_t(j->dk, dKt, b, T, Tp, kvd, g * hs, hs);
        scatter_t(j->dv, dVt, b, T, Tp, kvd, g * hs, hs);
    }
    free(Kt);
}

void attention_backward(float *dq, float *dk, float *dv, const float *dy, const float *att, const float *q, const float *k, const float *v,
                        int B, int T, int nh, int nkv, int hs, int threads) {
    attn_job j = {.dq = dq, .dk = dk, .dv = dv, .dy = dy, .catt = att, .q = q, .k = k, .v = v, .B = B, .T = T, .nh = nh, .nkv = nkv, .hs = hs};
    parallel_for(B * nkv, threads, attn_bwd_task, &j);
}

// ---- cross-entropy -------------------------------------------------------------------------------

float crossentropy_forward(float *probs, float *losses, const int *targets, int N, int V) {
    double total = 0;
    for (int i = 0; i < N; i++) {
        float *p = probs + (size_t)i * V;
        float max = p[0];
        for (int v = 1; v < V; v++) max = p[v] > max ? p[v] : max;
        for (int v = 0; v < V; v++) p[v] = exp_fast(p[v] - max);
        float inv = 1.0f / sum_lanes(p, V);
        for (int v = 0; v < V; v++) p[v] *= inv;
        float pt = p[targets[i]];
        losses[i] = -logf(pt > 1e-30f ? pt : 1e-30f);
        total += losses[i];
    }
    return (float)(total / N);
}

void crossentropy_backward(float *dlogits, const float *probs, const int *targets, int N, int V, float scale) {
    for (int i = 0; i < N; i++) {
        const float *p = probs + (size_t)i * V;
        float *d = dlogits + (size_t)i * V;
        for (int v = 0; v < V; v++) d[v] = p[v] * scale;
        d[targets[i]] -= scale;
    }
}

// ---- row-parallel wrappers (rows are independent) ---------------------------------------------

typedef struct {
    float *probs, *losses;
    const int *targets;
    int V;
} rows_job;

static void ce_rows(void *ctx, int lo, int hi) {
    rows_job *j = ctx;
    crossentropy_forward(j->probs + (size_t)lo * j->V, j->losses + lo, j->targets + lo, hi - lo, j->V);
}

typedef struct {
    float *g, *da, *db;
    const float *a, *b, *dg;
    size_t n;
} swiglu_job;

static void swiglu_fwd_rows(void *ctx, int lo, int hi) {
    swiglu_job *j = ctx;
    size_t a = j->n * lo / 64, b = j->n * hi / 64;
    swiglu_forward(j->g + a, j->a + a, j->b + a, b - a);
}

static void swiglu_bwd_rows(void *ctx, int lo, int hi) {
    swiglu_job *j = ctx;
    size_t a = j->n * lo / 64, b = j->n * hi / 64;
    swiglu_backward(j->da + a, j->db + a, j->dg + a, j->a + a, j->b + a, b - a);
}

// Row-parallel versions of the small ops, over ROW_BLOCKS fixed blocks of rows (so that the
// results, including the order in which rmsnorm's weight gradient is summed, do not depend on
// the thread count).
#define ROW_BLOCKS 64

typedef struct {
    llama_train *s;
    float *out, *rstd, *dx, *dw;
    const float *x, *w, *dout, *rstd_in, *cosv, *sinv;
    const int *targets;
    int N, C, T, hs, dir, V;
    float scale;
} rowpar_job;

static int block_lo(int N, int b) { return (int)((long)N * b / ROW_BLOCKS); }

static void rms_fwd_blocks(void *ctx, int lo, int hi) {
    rowpar_job *j = ctx;
    int r0 = block_lo(j->N, lo), r1 = block_lo(j->N, hi);
    rmsnorm_forward(j->out + (size_t)r0 * j->C, j->rstd + r0, j->x + (size_t)r0 * j->C, j->w, r1 - r0, j->C);
}

static void rms_bwd_blocks(void *ctx, int lo, int hi) {
    rowpar_job *j = ctx;
    for (int b = lo; b < hi; b++) {
        int r0 = block_lo(j->N, b), r1 = block_lo(j->N, b + 1);
        float *part = j->s->dw_part + (size_t)b * j->C;
        memset(part, 0, j->C * sizeof(float));
        rmsnorm_backward(j->dx + (size_t)r0 * j->C, part, j->dout + (size_t)r0 * j->C, j->x + (size_t)r0 * j->C, j->w, j->rstd_in + r0, r1 - r0, j->C);
    }
}

static void rope_blocks(void *ctx, int lo, int hi) {
    rowpar_job *j = ctx;
    rope_rows(j->out, j->cosv, j->sinv, block_lo(j->N, lo), block_lo(j->N, hi), j->T, j->C, j->hs, j->dir);
}

static void ce_bwd_blocks(void *ctx, int lo, int hi) {
    rowpar_job *j = ctx;
    int r0 = block_lo(j->N, lo), r1 = block_lo(j->N, hi);
    crossentropy_backward(j->out + (size_t)r0 * j->V, j->out + (size_t)r0 * j->V, j->targets + r0, r1 - r0, j->V, j->scale);
}

static void rmsnorm_fwd_par(llama_train *s, float *out, float *rstd, const float *x, const float *w, int N, int C) {
    rowpar_job j = {.s = s, .out = out, .rstd = rstd, .x = x, .w = w, .N = N, .C = C};
    parallel_for(ROW_BLOCKS, s->threads, rms_fwd_blocks, &j);
}

// dx += ..., dw += sum over the blocks in block order
static void rmsnorm_bwd_par(llama_train *s, float *dx, float *dw, const float *dout, const float *x, const float *w, const float *rstd, int N, int C) {
    rowpar_job j = {.s = s, .dx = dx, .dout = dout, .x = x, .w = w, .rstd_in = rstd, .N = N, .C = C};
    parallel_for(ROW_BLOCKS, s->threads, rms_bwd_blocks, &j);
    for (int b = 0; b < ROW_BLOCKS; b++)
        for (int i = 0; i < C; i++) dw[i] += s->dw_part[(size_t)b * C + i];
}

static void rope_par(llama_train *s, float *x, int N, int T, int width, int hs, int dir) {
    rowpar_job j = {.s = s, .out = x, .cosv = s->rope_cos, .sinv = s->rope_sin, .N = N, .T = T, .C = width, .hs = hs, .dir = dir};
    parallel_for(ROW_BLOCKS, s->threads, rope_blocks, &j);
}

static void ce_bwd_par(llama_train *s, float *probs, const int *targets, int N, int V, float scale) {
    rowpar_job j = {.s = s, .out = probs, .targets = targets, .N = N, .V = V, .scale = scale};
    parallel_for(ROW_BLOCKS, s->threads, ce_bwd_blocks, &j);
}

// ---- activation fake quantisation (llama_actq) --------------------------------------------------

typedef struct {
    float *x, *pre;         // forward: x fake-quantised in place, its values before into pre
    float *dx;              // backward: masked in place
    const float *xpre;
    size_t n;
    float h, h0;            // h0: the frozen forward's base step (pre holds the base values)
    int qmax, frozen;
    double part[ROW_BLOCKS];  // backward: per block sum for dL/dh
} fq_job;

static void fq_fwd_blocks(void *ctx, int lo, int hi) {
    fq_job *j = ctx;
    size_t a = j->n * lo / ROW_BLOCKS, b = j->n * hi / ROW_BLOCKS;
    float inv = 1.0f / j->h, qm = (float)j->qmax;
    if (j->frozen) {  // the rounding of the base forward, as an offset
        float inv0 = 1.0f / j->h0;
        for (size_t i = a; i < b; i++) {
            float v0 = j->pre[i] * inv0, q = floorf(v0 + 0.5f);
            j->x[i] = q > qm || q < -qm ? j->h * (q > qm ? qm : -qm) : j->x[i] + j->h * (q - v0);
        }
        return;
    }
    for (size_t i = a; i < b; i++) {
        float v = j->x[i], q = floorf(v * inv + 0.5f);
        j->pre[i] = v;
        j->x[i] = j->h * (q > qm ? qm : q < -qm ? -qm : q);
    }
}

static void fq_bwd_blocks(void *ctx, int lo, int hi) {
    fq_job *j = ctx;
    float inv = 1.0f / j->h, qm = (float)j->qmax;
    for (int blk = lo; blk < hi; blk++) {
        size_t a = j->n * blk / ROW_BLOCKS, b = j->n * (blk + 1) / ROW_BLOCKS;
        double ds = 0;
        for (size_t i = a; i < b; i++) {
            float v = j->xpre[i] * inv, q = floorf(v + 0.5f);
            if (q > qm || q < -qm) ds += (double)j->dx[i] * (q > qm ? qm : -qm), j->dx[i] = 0;  // clipped
            else ds += (double)j->dx[i] * (q - v);
        }
        j->part[blk] = ds;
    }
}

static int actq_index(const llama_train *s, int l, int p) { return p == LLAMA_PT_FIN ? s->c.n_layers * LLAMA_PT_NLAYER : l * LLAMA_PT_NLAYER + p; }

// Point p of layer l on x[n] (forward): keep the values in pre, fake-quantise x.
static void actq_fwd(llama_train *s, int l, int p, float *x, float *pre, size_t n) {
    if (!s->aq) return;
    int k = actq_index(s, l, p);
    fq_job j = {.x = x, .pre = pre, .n = n, .h = s->aq->step[k], .h0 = s->pre.step[k], .qmax = s->aq->qmax[p], .frozen = s->aq->frozen};
    if (!j.frozen) s->pre.step[k] = j.h;
    parallel_for(ROW_BLOCKS, s->threads, fq_fwd_blocks, &j);
}

// Its backward on the gradient dx[n] (in place), the step's gradient into dstep (blocks in order).
static void actq_bwd(llama_train *s, int l, int p, float *dx, const float *pre, size_t n) {
    if (!s->aq) return;
    int k = actq_index(s, l, p);
    fq_job j = {.dx = dx, .xpre = pre, .n = n, .h = s->aq->step[k], .qmax = s->aq->qmax[p]};
    parallel_for(ROW_BLOCKS, s->threads, fq_bwd_blocks, &j);
    if (!s->aq->dstep) return;
    double ds = 0;
    for (int b = 0; b < ROW_BLOCKS; b++) ds += j.part[b];
    s->aq->dstep[k] += ds;
}

static void actq_alloc(llama_train *s) {
    if (s->pre.mem) return;
    size_t BT = (size_t)s->B * s->T, C = s->c.dim, H = s->c.hidden_dim, L = s->c.n_layers, kvd = llama_kv_dim(&s->c);
    size_t sizes[] = {L * BT * C, L * BT * C, L * BT * kvd, L * BT * C, L * BT * kvd, L * BT * kvd, L * BT * C, L * BT * C,
                      L * BT * H, L * BT * H, L * BT * H, BT * C, L * LLAMA_PT_NLAYER + 1};
    llama_actq_pre *q = &s->pre;
    float **ptrs[] = {&q->ln1, &q->q0, &q->k0, &q->q1, &q->k1, &q->v, &q->atty, &q->ln2, &q->h1, &q->h3, &q->g, &q->lnf, &q->step};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
    float *p = q->mem = rq_calloc(total, sizeof(float));
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) *ptrs[i] = p, p += sizes[i];
}

// ---- build ---------------------------------------------------------------------------------------

void llama_train_build(llama_train *s, const llama_config *c, int B, int T, int threads) {
    memset(s, 0, sizeof *s);
    s->c = *c;
    s->B = B, s->T = T, s->Tr = T;
    if (threads <= 0) {
        const char *e = getenv("RQ_THREADS");
        threads = e && atoi(e) > 0 ? atoi(e) : (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (threads > 8) threads = 8;
        if (threads < 1) threads = 1;
    }
    s->threads = threads;
    openblas_set_num_threads(1);  // see the GEMM wrappers
    size_t BT = (size_t)B * T, C = c->dim, H = c->hidden_dim, L = c->n_layers, V = c->vocab_size, kvd = llama_kv_dim(c);
    size_t nh = c->n_heads;
    llama_acts *a = &s->a;
    size_t sizes[] = {
        BT * C,                                   // x0
        L * BT * C, L * BT,                       // ln1 rstd1
        L * BT * C, L * BT * kvd, L * BT * kvd,   // q k v
        L * B * nh * T * ATT_STRIDE(T),           // att
        L * BT * C, L * BT * C,                   // atty res1
        L * BT * C, L * BT,                       // ln2 rstd2
        L * BT * H, L * BT * H, L * BT * H,       // h1 h3 g
        L * BT * C,                               // res2
        BT * C, BT,                               // lnf rstdf
        BT * V, BT,                               // probs losses
    };
    float **ptrs[] = {&a->x0, &a->ln1, &a->rstd1, &a->q, &a->k, &a->v, &a->att, &a->atty, &a->res1, &a->ln2, &a->rstd2,
                      &a->h1, &a->h3, &a->g, &a->res2, &a->lnf, &a->rstdf, &a->probs, &a->losses};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
    float *p = s->acts_mem = rq_calloc(total, sizeof(float));
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) *ptrs[i] = p, p += sizes[i];

    llama_bwd *d = &s->d;
    size_t bsizes[] = {BT * C, BT * C, BT * C, BT * C, BT * kvd, BT * kvd, BT * H, BT * H, BT * H};
    float **bptrs[] = {&d->dres, &d->dln, &d->dq, &d->datty, &d->dk, &d->dv, &d->dh1, &d->dh3, &d->dg};
    total = 0;
    for (size_t i = 0; i < sizeof bsizes / sizeof bsizes[0]; i++) total += bsizes[i];
    p = s->bwd_mem = rq_calloc(total, sizeof(float));
    for (size_t i = 0; i < sizeof bsizes / sizeof bsizes[0]; i++) *bptrs[i] = p, p += bsizes[i];

    int hs = llama_head_size(c);
    s->rope_cos = rq_malloc((size_t)T * hs / 2 * sizeof(float));
    s->rope_sin = rq_malloc((size_t)T * hs / 2 * sizeof(float));
    rope_tables(s->rope_cos, s->rope_sin, T, hs);
    s->dw_part = rq_malloc((size_t)ROW_BLOCKS * C * sizeof(float));
    s->inputs = rq_malloc(BT * sizeof(int));
    s->targets = rq_malloc(BT * sizeof(int));
}

void llama_train_free(llama_train *s) {
    free(s->acts_mem);
    free(s->bwd_mem);
    free(s->rope_cos);
    free(s->rope_sin);
    free(s->inputs);
    free(s->targets);
    free(s->dw_part);
    free(s->pre.mem);
    memset(s, 0, sizeof *s);
}

// ---- forward ---------------------------------------------------------------------------------------

float llama_train_forward(llama_train *s, const llama_model *m, const int *inputs, const int *targets, int Tr) {
    double t0 = now_s(), g0 = s->t_gemm;
    const llama_config *c = &s->c;
    const llama_weights *w = &m->w;
    int B = s->B, T = Tr, C = c->dim, H = c->hidden_dim, V = c->vocab_size, kvd = llama_kv_dim(c), hs = llama_head_size(c);
    int BT = B * T;
    size_t LBT = (size_t)B * s->T;  // per-layer stride of the activations (allocated shape)
    s->Tr = T;
    llama_acts *a = &s->a;
    memcpy(s->inputs, inputs, BT * sizeof(int));
    if (s->aq) actq_alloc(s);
    const llama_actq_pre *P = &s->pre;

    for (int i = 0; i < BT; i++) memcpy(a->x0 + (size_t)i * C, w->token_embedding + (size_t)inputs[i] * C, C * sizeof(float));
    for (int l = 0; l < c->n_layers; l++) {
        const float *in = l == 0 ? a->x0 : a->res2 + (l - 1) * LBT * C;
        float *ln1 = a->ln1 + l * LBT * C, *q = a->q + l * LBT * C, *k = a->k + l * LBT * kvd, *v = a->v + l * LBT * kvd;
        float *att = a->att + l * LBT * c->n_heads * ATT_STRIDE(s->T), *atty = a->atty + l * LBT * C, *res1 = a->res1 + l * LBT * C;
        float *ln2 = a->ln2 + l * LBT * C, *h1 = a->h1 + l * LBT * H, *h3 = a->h3 + l * LBT * H, *g = a->g + l * LBT * H;
        float *res2 = a->res2 + l * LBT * C;

        size_t oc = l * LBT * C, ok = l * LBT * kvd, oh = l * LBT * H;  // this layer's offsets (actq_pre)
        rmsnorm_fwd_par(s, ln1, a->rstd1 + l * LBT, in, w->rms_att + (size_t)l * C, BT, C);
        actq_fwd(s, l, LLAMA_PT_XATT, ln1, P->ln1 + oc, (size_t)BT * C);
        gemm_nt(s, q, ln1, w->wq + (size_t)l * C * C, BT, C, C, 0.0f);
        gemm_nt(s, k, ln1, w->wk + (size_t)l * kvd * C, BT, C, kvd, 0.0f);
        gemm_nt(s, v, ln1, w->wv + (size_t)l * kvd * C, BT, C, kvd, 0.0f);
        actq_fwd(s, l, LLAMA_PT_Q, q, P->q0 + oc, (size_t)BT * C);
        actq_fwd(s, l, LLAMA_PT_K, k, P->k0 + ok, (size_t)BT * kvd);
        actq_fwd(s, l, LLAMA_PT_V, v, P->v + ok, (size_t)BT * kvd);
        rope_par(s, q, BT, T, C, hs, 1);
        rope_par(s, k, BT, T, kvd, hs, 1);
        actq_fwd(s, l, LLAMA_PT_Q, q, P->q1 + oc, (size_t)BT * C);
        actq_fwd(s, l, LLAMA_PT_K, k, P->k1 + ok, (size_t)BT * kvd);
        double ta = now_s();
        attention_forward(atty, att, q, k, v, B, T, c->n_heads, c->n_kv_heads, hs, s->threads);
        s->t_attn += now_s() - ta;
        actq_fwd(s, l, LLAMA_PT_O, atty, P->atty + oc, (size_t)BT * C);
        memcpy(res1, in, (size_t)BT * C * sizeof(float));
        gemm_nt(s, res1, atty, w->wo + (size_t)l * C * C, BT, C, C, 1.0f);

        rmsnorm_fwd_par(s, ln2, a->rstd2 + l * LBT, res1, w->rms_ffn + (size_t)l * C, BT, C);
        actq_fwd(s, l, LLAMA_PT_XFFN, ln2, P->ln2 + oc, (size_t)BT * C);
        gemm_nt(s, h1, ln2, w->w1 + (size_t)l * H * C, BT, C, H, 0.0f);
        gemm_nt(s, h3, ln2, w->w3 + (size_t)l * H * C, BT, C, H, 0.0f);
        actq_fwd(s, l, LLAMA_PT_H1, h1, P->h1 + oh, (size_t)BT * H);
        actq_fwd(s, l, LLAMA_PT_H3, h3, P->h3 + oh, (size_t)BT * H);
        swiglu_job sj = {.g = g, .a = h1, .b = h3, .n = (size_t)BT * H};
        parallel_for(64, s->threads, swiglu_fwd_rows, &sj);
        actq_fwd(s, l, LLAMA_PT_G, g, P->g + oh, (size_t)BT * H);
        memcpy(res2, res1, (size_t)BT * C * sizeof(float));
        gemm_nt(s, res2, g, w->w2 + (size_t)l * C * H, BT, H, C, 1.0f);
    }
    const float *last = a->res2 + (c->n_layers - 1) * LBT * C;
    rmsnorm_fwd_par(s, a->lnf, a->rstdf, last, w->rms_final, BT, C);
    actq_fwd(s, c->n_layers, LLAMA_PT_FIN, a->lnf, P->lnf, (size_t)BT * C);
    gemm_nt(s, a->probs, a->lnf, w->wcls, BT, C, V, 0.0f);
    float loss = 0.0f;
    s->has_targets = targets != NULL;
    if (targets) {
        memcpy(s->targets, targets, BT * sizeof(int));
        rows_job rj = {.probs = a->probs, .losses = a->losses, .targets = s->targets, .V = V};
        parallel_for(BT, s->threads, ce_rows, &rj);
        double sum = 0;
        for (int i = 0; i < BT; i++) sum += a->losses[i];
        loss = (float)(sum / BT);
    }
    s->t_other += (now_s() - t0) - (s->t_gemm - g0);
    return loss;
}

// ---- backward --------------------------------------------------------------------------------------

void llama_train_backward(llama_train *s, const llama_model *m, llama_weights *gw) {
    double t0 = now_s(), g0 = s->t_gemm;
    const llama_config *c = &s->c;
    const llama_weights *w = &m->w;
    int B = s->B, T = s->Tr, C = c->dim, H = c->hidden_dim, V = c->vocab_size, kvd = llama_kv_dim(c), hs = llama_head_size(c);
    int BT = B * T;
    size_t LBT = (size_t)B * s->T;
    llama_acts *a = &s->a;
    llama_bwd *d = &s->d;

    // Loss -> logits (in place over the probabilities) -> final norm.
    ce_bwd_par(s, a->probs, s->targets, BT, V, 1.0f / BT);
    gemm_tn(s, gw->wcls, a->probs, a->lnf, BT, C, V);
    gemm_nn(s, d->dln, a->probs, w->wcls, BT, C, V, 0.0f);
    const llama_actq_pre *P = &s->pre;
    actq_bwd(s, c->n_layers, LLAMA_PT_FIN, d->dln, P->lnf, (size_t)BT * C);
    memset(d->dres, 0, (size_t)BT * C * sizeof(float));
    const float *last = a->res2 + (c->n_layers - 1) * LBT * C;
    rmsnorm_bwd_par(s, d->dres, gw->rms_final, d->dln, last, w->rms_final, a->rstdf, BT, C);

    for (int l = c->n_layers - 1; l >= 0; l--) {
        const float *in = l == 0 ? a->x0 : a->res2 + (l - 1) * LBT * C;
        float *ln1 = a->ln1 + l * LBT * C, *q = a->q + l * LBT * C, *k = a->k + l * LBT * kvd, *v = a->v + l * LBT * kvd;
        float *att = a->att + l * LBT * c->n_heads * ATT_STRIDE(s->T), *atty = a->atty + l * LBT * C, *res1 = a->res1 + l * LBT * C;
        float *ln2 = a->ln2 + l * LBT * C, *h1 = a->h1 + l * LBT * H, *h3 = a->h3 + l * LBT * H, *g = a->g + l * LBT * H;

        size_t oc = l * LBT * C, ok = l * LBT * kvd, oh = l * LBT * H;  // this layer's offsets (actq_pre)
        // res2 = res1 + g w2^T: dres passes through unchanged to res1.
        gemm_tn(s, gw->w2 + (size_t)l * C * H, d->dres, g, BT, H, C);
        gemm_nn(s, d->dg, d->dres, w->w2 + (size_t)l * C * H, BT, H, C, 0.0f);
        actq_bwd(s, l, LLAMA_PT_G, d->dg, P->g + oh, (size_t)BT * H);
        swiglu_job sj = {.da = d->dh1, .db = d->dh3, .dg = d->dg, .a = h1, .b = h3, .n = (size_t)BT * H};
        parallel_for(64, s->threads, swiglu_bwd_rows, &sj);
        actq_bwd(s, l, LLAMA_PT_H1, d->dh1, P->h1 + oh, (size_t)BT * H);
        actq_bwd(s, l, LLAMA_PT_H3, d->dh3, P->h3 + oh, (size_t)BT * H);
        gemm_tn(s, gw->w1 + (size_t)l * H * C, d->dh1, ln2, BT, C, H);
        gemm_tn(s, gw->w3 + (size_t)l * H * C, d->dh3, ln2, BT, C, H);
        gemm_nn(s, d->dln, d->dh1, w->w1 + (size_t)l * H * C, BT, C, H, 0.0f);
        gemm_nn(s, d->dln, d->dh3, w->w3 + (size_t)l * H * C, BT, C, H, 1.0f);
        actq_bwd(s, l, LLAMA_PT_XFFN, d->dln, P->ln2 + oc, (size_t)BT * C);
        rmsnorm_bwd_par(s, d->dres, gw->rms_ffn + (size_t)l * C, d->dln, res1, w->rms_ffn + (size_t)l * C, a->rstd2 + l * LBT, BT, C);

        // res1 = in + atty wo^T
        gemm_tn(s, gw->wo + (size_t)l * C * C, d->dres, atty, BT, C, C);
        gemm_nn(s, d->datty, d->dres, w->wo + (size_t)l * C * C, BT, C, C, 0.0f);
        actq_bwd(s, l, LLAMA_PT_O, d->datty, P->atty + oc, (size_t)BT * C);
        double ta = now_s();
        attention_backward(d->dq, d->dk, d->dv, d->datty, att, q, k, v, B, T, c->n_heads, c->n_kv_heads, hs, s->threads);
        s->t_attn += now_s() - ta;
        actq_bwd(s, l, LLAMA_PT_Q, d->dq, P->q1 + oc, (size_t)BT * C);
        actq_bwd(s, l, LLAMA_PT_K, d->dk, P->k1 + ok, (size_t)BT * kvd);
        actq_bwd(s, l, LLAMA_PT_V, d->dv, P->v + ok, (size_t)BT * kvd);
        rope_par(s, d->dq, BT, T, C, hs, -1);
        rope_par(s, d->dk, BT, T, kvd, hs, -1);
        actq_bwd(s, l, LLAMA_PT_Q, d->dq, P->q0 + oc, (size_t)BT * C);
        actq_bwd(s, l, LLAMA_PT_K, d->dk, P->k0 + ok, (size_t)BT * kvd);
        gemm_tn(s, gw->wq + (size_t)l * C * C, d->dq, ln1, BT, C, C);
        gemm_tn(s, gw->wk + (size_t)l * kvd * C, d->dk, ln1, BT, C, kvd);
        gemm_tn(s, gw->wv + (size_t)l * kvd * C, d->dv, ln1, BT, C, kvd);
        gemm_nn(s, d->dln, d->dq, w->wq + (size_t)l * C * C, BT, C, C, 0.0f);
        gemm_nn(s, d->dln, d->dk, w->wk + (size_t)l * kvd * C, BT, C, kvd, 1.0f);
        gemm_nn(s, d->dln, d->dv, w->wv + (size_t)l * kvd * C, BT, C, kvd, 1.0f);
        actq_bwd(s, l, LLAMA_PT_XATT, d->dln, P->ln1 + oc, (size_t)BT * C);
        rmsnorm_bwd_par(s, d->dres, gw->rms_att + (size_t)l * C, d->dln, in, w->rms_att + (size_t)l * C, a->rstd1 + l * LBT, BT, C);
    }
    for (int i = 0; i < BT; i++) {
        float *row = gw->token_embedding + (size_t)s->inputs[i] * C;
        const float *dr = d->dres + (size_t)i * C;
        for (int j = 0; j < C; j++) row[j] += dr[j];
    }
    s->has_targets = 0;  // the probabilities were consumed
    s->t_other += (now_s() - t0) - (s->t_gemm - g0);
}

// ---- logits of a window, for eval ---------------------------------------------------------------

void llama_window_build(llama_window_ctx *w, const llama_model *m, int window) {
    w->m = m;
    llama_train_build(&w->s, &m->config, 1, window, 0);
    w->buf = rq_malloc((size_t)window * sizeof(int));
}

void llama_window_free(llama_window_ctx *w) {
    llama_train_free(&w->s);
    free(w->buf);
}

int llama_window_fn(void *ctx, const uint16_t *tokens, int n, float *logits) {
    llama_window_ctx *w = ctx;
    if (n > w->s.T) return rq_fail(RQ_ERUNTIME, "window of %d tokens exceeds the %d allocated", n, w->s.T);
    for (int i = 0; i < n; i++) w->buf[i] = tokens[i];
    llama_train_forward(&w->s, w->m, w->buf, NULL, n);
    memcpy(logits, w->s.a.probs, (size_t)n * w->m->config.vocab_size * sizeof(float));
    return 0;
}
