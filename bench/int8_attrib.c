// int8_attrib.c: where the integer transformer's top-1 disagreement with float comes from.
//
// The integer kernel (docs/lm-contract.md) rounds a llama2.c model at many places at once. Here
// the float forward (llama_forward_hooked) runs with fake quantisation at the contract's points:
// its hook rounds an activation to its integer grid and turns it back into float; weights are
// replaced by their per-row integers times the row scale (lmq_fake_quant_weights). One point
// at a time gives each point's cost in top-1 agreement with the unquantised forward; all of them
// together are set next to the kernel itself (lm_forward on the same windows), so the
// simulation's faithfulness is measured, not assumed.
//
// Grids (the scales lmq_quantize folds into the kernel; c = lmq_calibrate_default's clip):
//   int8 point   s = c/127,      v -> clamp(round(v/s), 127) s     XATT V O XFFN H1 H3 G FIN
//   q, k         s = c/127/16,   clamp 2047 (int16 in units s_q/16), before and after RoPE
//   int16 range  s = amax/32767, clamp 32767 (every point; clips only above the calibration max)
//   weights      lmq_fake_quant_weights: qmax 127, or 7 for the layer matrices at int4;
//                the embedding / classifier always 127
// Not simulated (the kernel row shows what they add): Q16 residual, integer RMSNorm and its
// int16 gains, Q15 RoPE tables, Q15 softmax, the SiLU table, the (m, p, k) requantisations,
// Q10 logits.
//
// Quadrature: if each point flips the argmax independently and rarely, by pushing the top-two
// logit gap through zero with small noise, the noise variances add, so the disagreements
// d_i = 1 - agree_i add as d^2 = sum d_i^2. The table prints 1 - sqrt(sum d_i^2) next to the
// measured combinations.
//
// Usage: int8_attrib MODEL.bin TOKENIZER.bin TEXT [--tokens N] [--window W] [--threads T]
//                    [--int16-points] [--json]
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "base/args.h"
#include "data/textdata.h"
#include "data/tokenizer.h"
#include "infer/lm_kernel.h"
#include "model/llama.h"
#include "model/llama_generate.h"
#include "qat/lm_eval.h"
#include "qat/lm_quant.h"

#define NPT (LMQ_NPOINT + 1)  // the per-layer points, then FIN (final RMSNorm output)
static const char *PT_NAME[NPT] = {"XATT", "Q", "K", "V", "O", "XFFN", "H1", "H3", "G", "FIN"};
static const char *PT_WHAT[NPT] = {
    "attention RMSNorm out (wq/wk/wv input)", "q int16 (+-2047, units s/16)", "k int16 (+-2047, units s/16)",
    "v (the cache)", "attention out (wo input)", "FFN RMSNorm out (w1/w3 input)", "h1 (SiLU input)", "h3",
    "SwiGLU product (w2 input)", "final RMSNorm out (classifier input)"};

enum { A_FLOAT, A_INT8, A_WIDE };                 // an activation point: float, contract grid, int16 range
enum { W_NONE, W_ALL8, W_ALL4, W_LAYERS8, W_EMB8, W_N };  // weight sets (fake-quantised float models)
enum { R_SIM, R_KERNEL, R_QUAD };
#define MAX_ROWS 48

typedef struct {
    const char *id, *label;
    int kind;
    int act[NPT];  // R_SIM: A_* per point
    int w;         // R_SIM: W_*; R_KERNEL: weight bits
    int qw;        // R_QUAD: the weight row added to the activation points (-1: none)
} row_def;

// ---- fake quantisation ----------------------------------------------------------------------

typedef struct {
    const int *act;  // A_* per point
    const lmq_stats *st;
} fake_ctx;

// llama_hook: v[n] <- its value on the grid of point pt in the row's mode act[pt] (ctx: fake_ctx).
static void fake_hook(void *ctx, int layer, int pt, float *v, int n) {
    const fake_ctx *fc = ctx;
    const lmq_stats *st = fc->st;
    int mode = fc->act[pt], ci = lmq_index(layer, pt);
    if (mode == A_FLOAT) return;
    double s;
    float lim;
    if (mode == A_WIDE) {
        if (st->amax[ci] <= 0) return;
        s = st->amax[ci] / 32767.0, lim = 32767;
    } else {
        s = st->clip[ci] > 0 ? st->clip[ci] / 127.0 : 1.0 / 127;  // lmq_quantize's act_scale
        lim = 127;
        if (pt == LMQ_Q || pt == LMQ_K) s /= 16, lim = 2047;
    }
    float inv = (float)(1 / s), sf = (float)s;
    for (int i = 0; i < n; i++) {
        float q = floorf(v[i] * inv + 0.5f);  // rshr: a half rounds up
        v[i] = (q > lim ? lim : q < -lim ? -lim : q) * sf;
    }
}

// The float model under weight set ws: lmq_fake_quant_weights (layers at 8 or 4 bits, embedding /
// classifier at 8), with the embedding/classifier (W_LAYERS8) or the layer matrices (W_EMB8) put
// back to f's values.
static void fake_model(llama_model *d, const llama_model *f, int ws) {
    const llama_config *c = &f->config;
    size_t L = c->n_layers, dim = c->dim, hid = c->hidden_dim, kvd = llama_kv_dim(c), V = c->vocab_size;
    llama_build(d, c);
    lmq_fake_quant_weights(f, d, ws == W_ALL4 ? 4 : 8);
#define RESTORE(t, n) memcpy(d->w.t, f->w.t, (n) * sizeof(float))
    if (ws == W_LAYERS8) {
        RESTORE(token_embedding, V * dim);
        if (!c->shared_classifier) RESTORE(wcls, V * dim);
    } else if (ws == W_EMB8) {
        RESTORE(wq, L * dim * dim), RESTORE(wk, L * kvd * dim), RESTORE(wv, L * kvd * dim), RESTORE(wo, L * dim * dim);
        RESTORE(w1, L * hid * dim), RESTORE(w2, L * dim * hid), RESTORE(w3, L * hid * dim);
    }
#undef RESTORE
}

// ---- windows in parallel ----------------------------------------------------------------------

typedef struct {
    long agree, count, bitdiff;  // bitdiff: positions whose logits differ from llama_forward's
    double ce;
} tally;

typedef struct {
    const llama_model *f, *wm[W_N];  // wm: the float model under each weight set
    const lm_model *k8, *k4;
    const lmq_stats *st;
    const row_def *rows;
    int n_rows;
    const uint16_t *tokens;
    long n_pred;  // predicted tokens (targets tokens[1..n_pred])
    int window, n_windows, next;
    tally *res;        // [n_windows][n_rows]
    double *float_ce;  // [n_windows]
    pthread_mutex_t mu;
} job;

static int fargmax(const float *l, int V) {
    int b = 0;
    for (int v = 1; v < V; v++)
        if (l[v] > l[b]) b = v;
    return b;
}

static void *worker(void *arg) {
    job *j = arg;
    const llama_config *c = &j->f->config;
    int V = c->vocab_size, W = j->window;
    llama_state fs;
    llama_state ss;
    lm_state ks8, ks4;
    llama_state_build(&fs, c);
    llama_state_build(&ss, c);
    void *m8 = rq_calloc(1, lm_state_bytes(&j->k8->c)), *m4 = rq_calloc(1, lm_state_bytes(&j->k4->c));
    lm_state_init(&ks8, &j->k8->c, m8);
    lm_state_init(&ks4, &j->k4->c, m4);
    float *ref = rq_malloc((size_t)W * V * sizeof(float));  // the float logits of the window
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int w = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (w >= j->n_windows) break;
        long start = (long)w * W;
        int len = j->n_pred - start < W ? (int)(j->n_pred - start) : W;
        const uint16_t *tk = j->tokens + start;
        double fce = 0;
        for (int i = 0; i < len; i++) {
            float *lf = llama_forward(j->f, &fs, tk[i], i);
            memcpy(ref + (size_t)i * V, lf, V * sizeof(float));
            fce += lm_row_ce(lf, V, tk[i + 1]);
        }
        j->float_ce[w] = fce;
        for (int r = 0; r < j->n_rows; r++) {
            const row_def *d = &j->rows[r];
            tally *t = &j->res[(size_t)w * j->n_rows + r];
            if (d->kind == R_QUAD) continue;
            for (int i = 0; i < len; i++) {
                const float *lf = ref + (size_t)i * V;
                int af = fargmax(lf, V), aq;
                if (d->kind == R_KERNEL) {
                    const lm_model *q = d->w == 4 ? j->k4 : j->k8;
                    int32_t *li = lm_forward(q, d->w == 4 ? &ks4 : &ks8, tk[i], i);
                    aq = lm_argmax(li, V);
                    t->ce += lmq_int_row_ce(li, V, q->c.logit_frac, tk[i + 1]);
                } else {
                    fake_ctx fc = {d->act, j->st};
                    float *lq = llama_forward_hooked(j->wm[d->w], &ss, tk[i], i, fake_hook, &fc);
                    aq = fargmax(lq, V);
                    t->ce += lm_row_ce(lq, V, tk[i + 1]);
                    t->bitdiff += memcmp(lq, lf, V * sizeof(float)) != 0;
                }
                t->agree += aq == af;
                t->count++;
            }
        }
    }
    free(ref), free(m8), free(m4);
    llama_state_free(&fs), llama_state_free(&ss);
    return NULL;
}

// ---- the rows ---------------------------------------------------------------------------------

static int add_sim(row_def *R, int n, const char *id, const char *label, int mode, int w) {
    R[n] = (row_def){.id = id, .label = label, .kind = R_SIM, .w = w, .qw = -1};
    for (int p = 0; p < NPT; p++) R[n].act[p] = mode;
    return n + 1;
}

static int find_row(const row_def *R, int n, const char *id) {
    for (int i = 0; i < n; i++)
        if (!strcmp(R[i].id, id)) return i;
    return -1;
}

static const char USAGE[] =
    "usage: int8_attrib MODEL.bin TOKENIZER.bin TEXT [--tokens N] [--window W] [--threads T]\n"
    "                   [--int16-points] [--json]\n"
    "  Top-1 agreement with float of a fake-quantised float forward, one quantisation point at a time,\n"
    "  and of the integer kernel on the same windows (default: 16384 tokens, windows of 256,\n"
    "  threads = online CPUs). --int16-points adds each point alone at int16 range (amax/32767).\n";

int main(int argc, char **argv) {
    long n_tok = 16384;
    int window = 256, threads = (int)sysconf(_SC_NPROCESSORS_ONLN), json = 0, wide_points = 0, npos = 0;
    const char *pos[3];
    rq_arg opts[] = {{"--tokens", NULL, ARG_LONG, &n_tok, NULL},
                     {"--window", NULL, ARG_INT, &window, NULL},
                     {"--threads", NULL, ARG_INT, &threads, NULL},
                     {"--int16-points", NULL, ARG_FLAG, &wide_points, NULL},
                     {"--json", NULL, ARG_FLAG, &json, NULL},
                     {NULL, NULL, 0, NULL, NULL}};
    int rc = rq_args_parse(argc - 1, argv + 1, opts, pos, 3, &npos, USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (npos != 3) {
        fputs(USAGE, stderr);
        return RQ_EINPUT;
    }
    llama_model f;
    tokenizer tok;
    token_stream ts = {0};
    if ((rc = llama_load(&f, pos[0]))) return rq_report(rc);
    if ((rc = tokenizer_load(&tok, pos[1], f.config.vocab_size)) || (rc = textdata_encode_file(pos[2], &tok, &ts)))
        return rq_report(rc);
    if (window < 1 || window > f.config.seq_len)
        return rq_report(rq_fail(RQ_EINPUT, "--window %d: must be in 1..%d (the model's seq_len)", window, f.config.seq_len));
    if (n_tok < 1 || ts.n < 2) return rq_report(rq_fail(RQ_EINPUT, "%s: nothing to predict (--tokens %ld)", pos[2], n_tok));
    if ((size_t)n_tok > ts.n - 1) n_tok = (long)ts.n - 1;
    if (threads < 1) threads = 1;
    if (threads > 16) threads = 16;

    // the exporter's default calibration, and the kernel models lmq_ptq builds from it
    lmq_stats st;
    lm_model k8, k4;
    lmq_opts o8 = {8, 10, NULL}, o4 = {4, 10, NULL};
    if ((rc = lmq_calibrate_default(&f, NULL, 0, &st)) || (rc = lmq_quantize(&f, &st, &o8, &k8)) ||
        (rc = lmq_quantize(&f, &st, &o4, &k4)))
        return rq_report(rc);
    llama_model wm[W_N];
    for (int w = 1; w < W_N; w++) fake_model(&wm[w], &f, w);

    row_def R[MAX_ROWS];
    int n = 0;
    n = add_sim(R, n, "float", "float, nothing quantised (self-check)", A_FLOAT, W_NONE);
    n = add_sim(R, n, "w8", "weights int8 (layers + emb/cls)", A_FLOAT, W_ALL8);
    n = add_sim(R, n, "w8_layers", "  layer matrices int8 only", A_FLOAT, W_LAYERS8);
    n = add_sim(R, n, "w8_emb", "  embedding/classifier int8 only", A_FLOAT, W_EMB8);
    n = add_sim(R, n, "w4", "weights int4 (layers; emb/cls int8)", A_FLOAT, W_ALL4);
    int first_pt = n;
    static char ids[NPT][16], labels[NPT][64];
    for (int p = 0; p < NPT; p++) {
        snprintf(ids[p], sizeof ids[p], "act_%s", PT_NAME[p]);
        snprintf(labels[p], sizeof labels[p], "%-4s %s", PT_NAME[p], PT_WHAT[p]);
        n = add_sim(R, n, ids[p], labels[p], A_FLOAT, W_NONE);
        R[n - 1].act[p] = A_INT8;
    }
    static char wids[NPT][16], wlabels[NPT][64];
    for (int p = 0; p < NPT && wide_points; p++) {
        snprintf(wids[p], sizeof wids[p], "act16_%s", PT_NAME[p]);
        snprintf(wlabels[p], sizeof wlabels[p], "%-4s at int16 range", PT_NAME[p]);
        n = add_sim(R, n, wids[p], wlabels[p], A_FLOAT, W_NONE);
        R[n - 1].act[p] = A_WIDE;
    }
    n = add_sim(R, n, "act_all", "all activations", A_INT8, W_NONE);
    n = add_sim(R, n, "act_all_w8", "all activations + int8 weights", A_INT8, W_ALL8);
    R[n++] = (row_def){.id = "kernel8", .label = "  kernel int8 (lm_forward)", .kind = R_KERNEL, .w = 8, .qw = -1};
    n = add_sim(R, n, "act_all_w4", "all activations + int4 weights", A_INT8, W_ALL4);
    R[n++] = (row_def){.id = "kernel4", .label = "  kernel int4 (lm_forward)", .kind = R_KERNEL, .w = 4, .qw = -1};
    n = add_sim(R, n, "act16_all", "all activations at int16 range", A_WIDE, W_NONE);
    n = add_sim(R, n, "act16_all_w8", "all activations int16 + int8 weights", A_WIDE, W_ALL8);
    n = add_sim(R, n, "act16_all_w4", "all activations int16 + int4 weights", A_WIDE, W_ALL4);
    R[n++] = (row_def){.id = "quad_act", .label = "quadrature: all activations", .kind = R_QUAD, .qw = -1};
    R[n++] = (row_def){.id = "quad_act_w8", .label = "quadrature: all activations + int8 weights", .kind = R_QUAD,
                       .qw = find_row(R, n, "w8")};
    R[n++] = (row_def){.id = "quad_act_w4", .label = "quadrature: all activations + int4 weights", .kind = R_QUAD,
                       .qw = find_row(R, n, "w4")};

    job j = {.f = &f,
             .wm = {[W_NONE] = &f, [W_ALL8] = &wm[W_ALL8], [W_ALL4] = &wm[W_ALL4], [W_LAYERS8] = &wm[W_LAYERS8], [W_EMB8] = &wm[W_EMB8]},
             .k8 = &k8, .k4 = &k4, .st = &st, .rows = R, .n_rows = n, .tokens = ts.tokens, .n_pred = n_tok, .window = window};
    j.n_windows = (int)((n_tok + window - 1) / window);
    j.res = rq_calloc((size_t)j.n_windows * n, sizeof(tally));
    j.float_ce = rq_calloc(j.n_windows, sizeof(double));
    pthread_mutex_init(&j.mu, NULL);
    pthread_t th[16];
    for (int t = 1; t < threads; t++) pthread_create(&th[t], NULL, worker, &j);
    worker(&j);
    for (int t = 1; t < threads; t++) pthread_join(th[t], NULL);
    pthread_mutex_destroy(&j.mu);

    // sums in window order: the same numbers whatever the thread count
    tally tot[MAX_ROWS] = {{0}};
    double fce = 0;
    for (int w = 0; w < j.n_windows; w++) {
        fce += j.float_ce[w];
        for (int r = 0; r < n; r++) {
            const tally *t = &j.res[(size_t)w * n + r];
            tot[r].agree += t->agree, tot[r].count += t->count, tot[r].bitdiff += t->bitdiff, tot[r].ce += t->ce;
        }
    }
    fce /= n_tok;
    double agree[MAX_ROWS], ce[MAX_ROWS];
    for (int r = 0; r < n; r++) {
        if (R[r].kind == R_QUAD) {
            double d2 = 0;
            for (int p = 0; p < NPT; p++) d2 += pow(1 - agree[first_pt + p], 2);
            if (R[r].qw >= 0) d2 += pow(1 - agree[R[r].qw], 2);
            agree[r] = 1 - sqrt(d2), ce[r] = NAN;
        } else {
            agree[r] = (double)tot[r].agree / tot[r].count, ce[r] = tot[r].ce / tot[r].count;
        }
    }

    if (!json) {
        printf("%s on %s: %ld tokens predicted, %d windows of %d from a fresh context; clips: lmq_calibrate_default\n",
               pos[0], pos[2], n_tok, j.n_windows, window);
        printf("float mean CE %.4f nats. top1: argmax equals the unquantised float forward's\n\n", fce);
        printf("%-48s %7s %7s %8s %8s\n", "configuration", "top1", "1-top1", "CE", "x float");
    }
    for (int r = 0; r < n; r++) {
        const row_def *d = &R[r];
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "row", d->id);
            cJSON_AddStringToObject(o, "config", d->label + strspn(d->label, " "));
            cJSON_AddStringToObject(o, "kind", d->kind == R_SIM ? "sim" : d->kind == R_KERNEL ? "kernel" : "quadrature");
            cJSON_AddNumberToObject(o, "tokens", (double)n_tok);
            cJSON_AddNumberToObject(o, "window", window);
            cJSON_AddNumberToObject(o, "top1_agree", agree[r]);
            if (d->kind != R_QUAD) {
                cJSON_AddNumberToObject(o, "ce", ce[r]);
                cJSON_AddNumberToObject(o, "ce_ratio", ce[r] / fce);
                cJSON_AddNumberToObject(o, "float_ce", fce);
            }
            if (r == 0) cJSON_AddBoolToObject(o, "logits_bit_identical", tot[0].bitdiff == 0);
            if (d->kind == R_KERNEL) cJSON_AddNumberToObject(o, "kernel_minus_sim", agree[r] - agree[r - 1]);
            char *s = cJSON_PrintUnformatted(o);
            printf("%s\n", s);
            free(s);
            cJSON_Delete(o);
            continue;
        }
        if (d->kind == R_QUAD) {
            printf("%-48s %7.4f %7.4f %8s %8s\n", d->label, agree[r], 1 - agree[r], "-", "-");
            continue;
        }
        printf("%-48s %7.4f %7.4f %8.4f %8.4f", d->label, agree[r], 1 - agree[r], ce[r], ce[r] / fce);
        if (r == 0) printf("   logits %s llama_forward's", tot[0].bitdiff ? "DIFFER from" : "bit-identical to");
        if (d->kind == R_KERNEL) printf("   kernel - simulation %+.4f", agree[r] - agree[r - 1]);
        printf("\n");
    }

    for (int w = 1; w < W_N; w++) llama_free(&wm[w]);
    free(j.res), free(j.float_ce);
    lmq_free(&k8), lmq_free(&k4), lmq_stats_free(&st);
    token_stream_free(&ts), tokenizer_free(&tok), llama_free(&f);
    // the self-check: with nothing quantised the hooked forward is the float forward
    if (tot[0].agree != tot[0].count || tot[0].bitdiff)
        return rq_report(rq_fail(RQ_ERUNTIME, "self-check failed: the unquantised hooked forward differs from llama_forward at %ld positions",
                                 tot[0].bitdiff));
    return 0;
}
