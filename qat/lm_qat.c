// lm_qat.c: quantisation-aware fine-tuning with the integer forward in the loss (lm_qat.h).
#include "qat/lm_qat.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/progress.h"
#include "model/llama_ckpt.h"
#include "qat/model_open.h"
#include "qat/quant.h"

struct lm_qat {
    lm_qat_cfg cfg;
    const llama_model *m;  // float master weights (the caller's)
    llama_model mq;        // their quantised values (fake_quant_weights): the forward's weights
    lmq_stats stats;       // the static activation clips
    llama_model teacher;   // m as it was at the start, frozen (when distill > 0)
    llama_train tst;       // its activations
    const uint16_t *calib; // calibration tokens (calib_tokens > 0)
    size_t n_calib;
    int B, T, threads;
    float *probs;          // [B * T * vocab]: the integer pass's output in evaluations
    lmq_wspec ws;          // the layer matrices' bits and grid; ws.scale = scale with "lsq"
    float *scale, *am, *av;  // [n_scale] learned per-row steps and their Adam moments (lsq)
    size_t n_scale;
    uint32_t t;            // Adam updates so far
    // learned activation clips (learn_clips): the float forward fake-quantises every point
    llama_actq aq;
    float *hstep;          // [n_clips] the grid steps of the clips (aq.step)
    double *dstep;         // [n_clips] their LSQ gradient over the step's micro-batches
    float *cm, *cv;        // [n_clips] Adam moments of log clip
    uint32_t tc;           // Adam updates of the clips
    float lambda;          // blend of the weights toward the grid (1: the quantised weights)
};

// The weight spec of a config: every matrix at wbits unless matrix_bits says otherwise.
static lmq_wspec cfg_wspec(const lm_qat_cfg *c) {
    lmq_wspec ws = lmq_wspec_uniform(c->wbits);
    for (int k = 0; k < LM_NMAT; k++)
        if (c->mbits[k]) ws.mbits[k] = c->mbits[k];
    ws.ternary = c->ternary;
    ws.midrise = c->midrise;
    return ws;
}

// LQAT's weight-bits field: 8 or 4 for one such width (what checkpoints before mixed precision
// hold), else a nibble per matrix kind, 3 for a ternary 2-bit matrix, and bit 31 for the midrise
// grids.
static uint32_t bits_code(const lmq_wspec *ws) {
    int uni = 1;
    for (int k = 1; k < LM_NMAT; k++) uni &= ws->mbits[k] == ws->mbits[0];
    if (uni && !ws->midrise && (ws->mbits[0] == 8 || ws->mbits[0] == 4)) return ws->mbits[0];
    uint32_t w = ws->midrise ? 0x80000000u : 0;
    for (int k = 0; k < LM_NMAT; k++) w |= (uint32_t)(ws->mbits[k] == 2 && ws->ternary ? 3 : ws->mbits[k]) << (4 * k);
    return w;
}

static int bits_decode(uint32_t code, lmq_wspec *ws) {
    if (code == 8 || code == 4) {
        *ws = lmq_wspec_uniform((int)code);
        return 0;
    }
    memset(ws, 0, sizeof *ws);
    ws->midrise = (int)(code >> 31);
    code &= 0x7FFFFFFFu;
    int two = 0, three = 0;
    for (int k = 0; k < LM_NMAT; k++) {
        int b = (code >> (4 * k)) & 15;
        if (b != 8 && b != 4 && b != 2 && b != 3) return -1;
        two |= b == 2, three |= b == 3;
        ws->mbits[k] = (uint8_t)(b == 3 ? 2 : b);
    }
    ws->ternary = three;
    return code >> (4 * LM_NMAT) || (two && three) || (three && ws->midrise) ? -1 : 0;
}

// Integer logits of B sequences of T tokens (positions 0..T-1 each), turned into probabilities in
// place of the float ones; per-token cross-entropy of the integer model into losses (if targets).
typedef struct {
    const lm_model *q;
    const int *in, *tg;
    float *probs;
    double *loss;      // [B]
    int B, T, next;
    pthread_mutex_t mu;
} int_job;

static void *int_worker(void *arg) {
    int_job *j = arg;
    const lm_config *c = &j->q->c;
    int V = c->vocab_size;
    void *mem = rq_calloc(1, lm_state_bytes(c));
    lm_state s;
    lm_state_init(&s, c, mem);
    double sc = ldexp(1, -c->logit_frac);
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int b = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (b >= j->B) break;
        double loss = 0;
        for (int t = 0; t < j->T; t++) {
            int32_t *l = lm_forward(j->q, &s, j->in[b * j->T + t], t);
            float *p = j->probs + ((size_t)b * j->T + t) * V;
            double mx = l[lm_argmax(l, V)] * sc, z = 0;
            for (int v = 0; v < V; v++) z += exp(l[v] * sc - mx);
            for (int v = 0; v < V; v++) p[v] = (float)(exp(l[v] * sc - mx) / z);
            if (j->tg) loss += mx + log(z) - l[j->tg[b * j->T + t]] * sc;
        }
        j->loss[b] = loss;
    }
    free(mem);
    return NULL;
}

static double int_pass(const lm_qat *s, const lm_model *q, const int *in, const int *tg, int B, float *probs) {
    double *loss = rq_calloc(B, sizeof(double));
    int_job j = {.q = q, .in = in, .tg = tg, .probs = probs, .loss = loss, .B = B, .T = s->T};
    pthread_mutex_init(&j.mu, NULL);
    pthread_t th[8];
    int nt = s->threads < 1 ? 1 : s->threads > 8 ? 8 : s->threads;
    for (int t = 1; t < nt; t++) pthread_create(&th[t], NULL, int_worker, &j);
    int_worker(&j);
    for (int t = 1; t < nt; t++) pthread_join(th[t], NULL);
    pthread_mutex_destroy(&j.mu);
    double tot = 0;
    for (int b = 0; b < B; b++) tot += loss[b];  // fixed order: independent of the thread count
    free(loss);
    return tot / ((double)B * s->T);
}

// The static activation clips for the current weights: the exporter's default calibration
// (sequences sampled from the model itself, qat/lm_quant.h), so that QAT starts from exactly the
// model `retroqat export` would give; or, with calib_tokens > 0, that many training tokens.
static int calibrate(const lm_qat *s, lmq_stats *st) {
    return lmq_calibrate_default(s->m, s->n_calib ? s->calib : NULL, s->n_calib, st);
}

// Recalibration with "calib_quantized": on the model the kernel runs (the fake-quantised weights),
// whose activations can differ much from the float masters' at 2 bits.
static int recalibrate(lm_qat *s, lmq_stats *st) {
    if (!s->cfg.calib_quantized || !s->cfg.fake_quant_weights) return calibrate(s, st);
    lmq_fake_quant_spec(s->m, &s->mq, &s->ws);
    return lmq_calibrate_default(&s->mq, s->n_calib ? s->calib : NULL, s->n_calib, st);
}

// The integer model of the current weights, its low-bit matrices unpacked to int8 codes for the
// host's integer pass (lmq_unpack_i8: the same logits bit for bit; export packs them).
static int quantize_now(const lm_qat *s, lm_model *q) {
    lmq_opts o = {0, 10, &s->ws};
    int rc = lmq_quantize(s->m, &s->stats, &o, q);
    if (!rc) lmq_unpack_i8(q);
    return rc;
}

// LSQ's starting steps: the search's, so that step 0 is the PTQ model.
static void init_scales(lm_qat *s) {
    const llama_config *c = &s->m->config;
    for (int k = 0; k < LM_NMAT; k++) {
        int rows, cols, lo, hi;
        lmq_mat_shape(c, k, &rows, &cols);
        int odd = lmq_grid(s->ws.mbits[k], s->ws.ternary, s->ws.midrise, &lo, &hi);
        int8_t *q = rq_malloc((size_t)c->n_layers * rows * cols);
        lmq_quantize_rows_grid(lmq_mat_weights(&s->m->w, k), c->n_layers * rows, cols, lo, hi, odd, q, s->scale + lmq_scale_offset(c, k));
        free(q);
    }
}

// The frozen distillation teacher: c->teacher, or a copy of the init weights.
static int load_teacher(lm_qat *s) {
    const llama_model *m = s->m;
    int rc;
    if (!s->cfg.teacher[0]) {
        if ((rc = llama_build(&s->teacher, &m->config))) return rc;
        memcpy(s->teacher.params, m->params, m->n_params * sizeof(float));
    } else if ((rc = rq_llama_float_open(s->cfg.teacher, &s->teacher))) {
        return rc;
    } else if (s->teacher.config.vocab_size != m->config.vocab_size || s->teacher.config.seq_len < s->T) {
        return rq_fail(RQ_EINPUT, "%s: the teacher needs the model's vocabulary (%d, has %d) and seq_len >= %d (has %d)", s->cfg.teacher,
                       m->config.vocab_size, s->teacher.config.vocab_size, s->T, s->teacher.config.seq_len);
    }
    llama_train_build(&s->tst, &s->teacher.config, s->B, s->T, 0);
    return 0;
}

static size_t n_clips(int n_layers) { return (size_t)n_layers * LMQ_NPOINT + 1; }

// The activation grids of the contract as llama_actq sees them: an int8 point's clip c is the
// scale c / 127 with codes in [-127, 127]; q and k are int16 in units of that scale / 16, clamped
// to +-2047 (before and after RoPE). A point whose clip is 0 (never seen non-zero in calibration)
// has the exporter's scale 1 / 127 (act_scale, lm_quant.c).
static void clip_steps(lm_qat *s) {
    int L = s->m->config.n_layers;
    for (size_t k = 0; k < n_clips(L); k++) {
        int p = (int)(k % LMQ_NPOINT), div = k < (size_t)L * LMQ_NPOINT && (p == LMQ_Q || p == LMQ_K) ? 16 : 1;
        float c = s->stats.clip[k];
        s->hstep[k] = (c > 0 ? c : 1.0f) / (127.0f * div);
    }
}

int lm_qat_new(lm_qat **out, const lm_qat_cfg *c, const llama_model *m, const uint16_t *calib, size_t n, int batch, int seq_len) {
    lm_qat *s = rq_calloc(1, sizeof *s);
    s->cfg = *c;
    s->m = m;
    s->calib = calib;
    s->n_calib = n < (size_t)c->calib_tokens ? n : (size_t)c->calib_tokens;
    s->B = batch, s->T = seq_len;
    const char *th = getenv("RQ_THREADS");
    s->threads = th ? atoi(th) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    s->probs = rq_malloc((size_t)batch * seq_len * m->config.vocab_size * sizeof(float));
    s->ws = cfg_wspec(c);
    s->lambda = 1.0f;
    if (c->lsq) {
        s->n_scale = lmq_scale_count(&m->config);
        s->scale = rq_calloc(s->n_scale, sizeof(float));
        s->am = rq_calloc(s->n_scale, sizeof(float));
        s->av = rq_calloc(s->n_scale, sizeof(float));
        init_scales(s);
        s->ws.scale = s->scale;
    }
    int rc = calibrate(s, &s->stats);
    if (!rc && c->learn_clips) {
        size_t nc = n_clips(m->config.n_layers);
        s->hstep = rq_calloc(nc, sizeof(float));
        s->dstep = rq_calloc(nc, sizeof(double));
        s->cm = rq_calloc(nc, sizeof(float));
        s->cv = rq_calloc(nc, sizeof(float));
        s->aq.step = s->hstep, s->aq.dstep = s->dstep;
        for (int p = 0; p <= LMQ_NPOINT; p++) s->aq.qmax[p] = p == LMQ_Q || p == LMQ_K ? 2047 : 127;
    }
    if (!rc && c->fake_quant_weights) rc = llama_build(&s->mq, &m->config);
    if (!rc && c->distill > 0) rc = load_teacher(s);
    if (rc) {
        lm_qat_free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

void lm_qat_free(lm_qat *s) {
    if (!s) return;
    llama_train_free(&s->tst);
    llama_free(&s->teacher);
    llama_free(&s->mq);
    lmq_stats_free(&s->stats);
    free(s->probs);
    free(s->scale), free(s->am), free(s->av);
    free(s->hstep), free(s->dstep), free(s->cm), free(s->cv);
    free(s);
}

// Knowledge distillation from the frozen float teacher: the target distribution becomes
//   y = (1 - d) onehot(target) + d p_teacher,
// so the backward's (probs - onehot) must see probs = p_int - d (p_teacher - onehot). The loss this
// is the gradient of: (1 - d) CE(target, p_int) + d CE(p_teacher, p_int) (the second term is
// KL(p_teacher || p_int) plus the teacher's entropy, which does not depend on the weights).
// Returns the mean KL(p_teacher || p_int) over the batch's positions.
static double distill(lm_qat *s, llama_train *st, const int *in, const int *tg) {
    int V = s->m->config.vocab_size, N = s->B * s->T;
    float d = s->cfg.distill;
    llama_train_forward(&s->tst, &s->teacher, in, tg, s->T);
    double kl = 0;
    for (int i = 0; i < N; i++) {
        float *p = st->a.probs + (size_t)i * V;
        const float *pt = s->tst.a.probs + (size_t)i * V;
        for (int v = 0; v < V; v++) {
            if (pt[v] > 0) kl += pt[v] * (log(pt[v]) - log(p[v] > 1e-30f ? p[v] : 1e-30f));
            p[v] -= d * pt[v];
        }
        p[tg[i]] += d;
    }
    return kl / N;
}

typedef struct {
    const llama_model *f;
    int len, chunk_seqs, next, end;
    uint64_t seed;
    uint16_t **tok;  // [end] per chunk
    int **lens;
    pthread_mutex_t mu;
} synth_job;

static void *synth_worker(void *arg) {
    synth_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int c = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (c >= j->end) return NULL;
        j->tok[c] = rq_malloc((size_t)j->chunk_seqs * j->len * sizeof(uint16_t));
        j->lens[c] = rq_malloc(j->chunk_seqs * sizeof(int));
        lmq_self_generate(j->f, j->chunk_seqs, j->len, j->seed * 0x9E3779B97F4A7C15ull + (uint64_t)c, j->tok[c], j->lens[c]);
    }
}

int lm_qat_synthesize(lm_qat *s, size_t n, int max_len, uint64_t seed, int show, token_stream *out) {
    if (!(s->cfg.distill > 0)) return rq_fail(RQ_EINPUT, "synthetic text is sampled from the distillation teacher: needs distill > 0");
    memset(out, 0, sizeof *out);
    int nt = s->threads < 1 ? 1 : s->threads > 8 ? 8 : s->threads, cap = 0;
    synth_job j = {.f = &s->teacher, .len = max_len, .chunk_seqs = 32, .seed = seed};
    pthread_mutex_init(&j.mu, NULL);
    rq_progress pg;
    rq_progress_start(&pg, "synthetic text: tokens", (long)n, !show);
    size_t have = 0;
    int done = 0;
    while (have < n) {  // rounds of nt chunks
        if (done + nt > cap) {
            cap = 2 * (done + nt);
            j.tok = rq_realloc(j.tok, cap * sizeof *j.tok);
            j.lens = rq_realloc(j.lens, cap * sizeof *j.lens);
        }
        j.next = done, j.end = done + nt;
        pthread_t th[8];
        for (int t = 1; t < nt; t++) pthread_create(&th[t], NULL, synth_worker, &j);
        synth_worker(&j);
        for (int t = 1; t < nt; t++) pthread_join(th[t], NULL);
        for (int c = done; c < done + nt; c++)
            for (int q = 0; q < j.chunk_seqs; q++) have += j.lens[c][q];
        done += nt;
        rq_progress_draw(&pg, (long)(have < n ? have : n), -1, NULL);
    }
    rq_progress_end(&pg);
    // chunks in order up to the first that reaches n (the last round may have made more)
    out->tokens = rq_malloc(have * sizeof(uint16_t));
    for (int c = 0; c < done; c++) {
        size_t k = 0;
        for (int q = 0; q < j.chunk_seqs; q++) k += j.lens[c][q];
        if (out->n < n) {
            memcpy(out->tokens + out->n, j.tok[c], k * sizeof(uint16_t));  // lmq_self_generate packs them
            out->n += k, out->n_docs += j.chunk_seqs;
        }
        free(j.tok[c]), free(j.lens[c]);
    }
    free(j.tok), free(j.lens);
    pthread_mutex_destroy(&j.mu);
    return 0;
}

void lm_qat_schedule(lm_qat *s, long step, long total) {
    qat_blend b = {s->cfg.blend_start, s->cfg.blend_end};
    s->lambda = qat_lambda(&b, step, total);
}

double lm_qat_step(lm_qat *s, llama_train *st, const int *in, const int *tg, llama_weights *g, double *float_loss, double *kd) {
    // float forward (activations for the backward), then the integer forward replaces the output
    const llama_model *fm = s->m;
    if (s->cfg.fake_quant_weights) {
        lmq_fake_quant_spec(s->m, &s->mq, &s->ws), fm = &s->mq;
        if (s->lambda < 1)  // blend: w + lambda (q(w) - w), the layer matrices (embedding and classifier stay int8)
            for (int k = 0; k < LM_NMAT; k++) {
                int rows, cols;
                lmq_mat_shape(&s->m->config, k, &rows, &cols);
                const float *w = lmq_mat_weights(&s->m->w, k);
                float *wb = lmq_mat_weights(&s->mq.w, k);
                for (size_t i = 0; i < (size_t)s->m->config.n_layers * rows * cols; i++) wb[i] = w[i] + s->lambda * (wb[i] - w[i]);
            }
    }
    if (s->cfg.learn_clips) clip_steps(s), st->aq = &s->aq;  // this forward and backward only
    *float_loss = llama_train_forward(st, fm, in, tg, s->T);
    lm_model q;
    double il = NAN;
    if (quantize_now(s, &q) == 0) {  // during a blend the backward keeps the float probabilities
        il = int_pass(s, &q, in, tg, s->B, s->lambda < 1 ? s->probs : st->a.probs);
        lmq_free(&q);
    }
    *kd = s->cfg.distill > 0 && !isnan(il) ? distill(s, st, in, tg) : NAN;
    llama_train_backward(st, fm, g);
    st->aq = NULL;
    return il;
}

// One Adam step on log|x| (b 0.9/0.999) from the gradient gl = d/dlog|x| = x dL/dx: x *= exp(-lr m^/sqrt(v^)).
static float adam_log(float x, float gl, float *m, float *v, uint32_t t, float lr) {
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-12f;
    *m = b1 * *m + (1 - b1) * gl;
    *v = b2 * *v + (1 - b2) * gl * gl;
    double upd = lr * (*m / (1 - pow(b1, t))) / (sqrt(*v / (1 - pow(b2, t))) + eps);
    return (float)(x * exp(-upd));
}

// Learned clips: Adam on log clip from the LSQ gradient of the grid steps (d/dlog c = d/dlog h).
static void update_clips(lm_qat *s) {
    s->tc++;
    for (size_t k = 0; k < n_clips(s->m->config.n_layers); k++) {
        if (s->stats.clip[k] > 0) s->stats.clip[k] = adam_log(s->stats.clip[k], (float)(s->dstep[k] * s->hstep[k]), s->cm + k, s->cv + k, s->tc, s->cfg.clip_lr);
        s->dstep[k] = 0;
    }
}

void lm_qat_update_scales(lm_qat *s, llama_weights *g) {
    if (s->cfg.learn_clips) update_clips(s);
    if (!s->cfg.lsq) return;
    const llama_config *c = &s->m->config;
    s->t++;
    for (int k = 0; k < LM_NMAT; k++) {
        int rows, cols, lo, hi;
        lmq_mat_shape(c, k, &rows, &cols);
        int odd = lmq_grid(s->ws.mbits[k], s->ws.ternary, s->ws.midrise, &lo, &hi);
        const float *w = lmq_mat_weights(&s->m->w, k);
        float *gw = lmq_mat_weights(g, k);
        size_t off = lmq_scale_offset(c, k);
        for (long r = 0; r < (long)c->n_layers * rows; r++) {
            float sc = s->scale[off + r];
            const float *wr = w + (size_t)r * cols;
            float *gr = gw + (size_t)r * cols;
            double ds = lmq_lsq_row_grad(wr, gr, cols, sc, lo, hi, odd, s->lambda);
            s->scale[off + r] = adam_log(sc, (float)(ds * sc), s->am + off + r, s->av + off + r, s->t, s->cfg.scale_lr);
        }
    }
}

int lm_qat_int_model(lm_qat *s, lm_model *qm) {
    // Re-calibrate on the current weights (same calibration tokens), so the ranges follow the
    // fine-tuned model.
    if (s->cfg.recalibrate && !s->cfg.learn_clips) {
        lmq_stats fresh;
        if (recalibrate(s, &fresh) == 0) {
            memcpy(s->stats.clip, fresh.clip, n_clips(s->m->config.n_layers) * sizeof(float));
            lmq_stats_free(&fresh);
        }
    }
    return quantize_now(s, qm);
}

double lm_qat_int_loss(lm_qat *s, const lm_model *qm, const int *in, const int *tg, int rows) {
    return int_pass(s, qm, in, tg, rows, s->probs);
}

static int argmax_f(const float *p, int n) {
    int k = 0;
    for (int i = 1; i < n; i++)
        if (p[i] > p[k]) k = i;
    return k;
}

long lm_qat_top1_agree(const lm_qat *s, const float *probs, int rows) {
    int V = s->m->config.vocab_size;
    long agree = 0;
    for (size_t i = 0; i < (size_t)rows * s->T; i++) agree += argmax_f(s->probs + i * V, V) == argmax_f(probs + i * V, V);
    return agree;
}

const float *lm_qat_clips(const lm_qat *s, int *n) {
    *n = (int)n_clips(s->stats.n_layers);
    return s->stats.clip;
}

static int has_section(const rqf_file *f, const char *tag) {
    for (int i = 0; i < f->n; i++)
        if (memcmp(f->sec[i].tag, tag, 4) == 0) return 1;
    return 0;
}

void lm_qat_save(const lm_qat *s, rqf_writer *w) {
    rq_buf *b = rqf_section_begin(w, "LQAT");
    int np = (int)n_clips(s->stats.n_layers);
    rq_buf_u32(b, bits_code(&s->ws));
    rq_buf_u32(b, (uint32_t)np);
    rq_buf_f32s(b, s->stats.clip, np);
    if (s->cfg.lsq) {
        b = rqf_section_begin(w, "LQSC");
        rq_buf_u32(b, (uint32_t)s->n_scale);
        rq_buf_f32s(b, s->scale, s->n_scale);
        rq_buf_f32s(b, s->am, s->n_scale);
        rq_buf_f32s(b, s->av, s->n_scale);
        rq_buf_u32(b, s->t);
    }
    if (s->cfg.learn_clips) {  // the clips themselves are LQAT's
        b = rqf_section_begin(w, "LQAC");
        rq_buf_u32(b, (uint32_t)np);
        rq_buf_f32s(b, s->cm, np);
        rq_buf_f32s(b, s->cv, np);
        rq_buf_u32(b, s->tc);
    }
}

// Read LQAC (the learned clips' Adam state) into s.
static int get_lqac(lm_qat *s, const rqf_file *file) {
    if (!has_section(file, "LQAC")) return rq_fail(RQ_EINPUT, "%s: no LQAC section: the checkpoint was not trained with $.qat.learn_clips", file->path);
    rq_reader r;
    int rc = rqf_section(file, "LQAC", &r);
    if (rc) return rc;
    uint32_t np = rq_rd_u32(&r, "clip count");
    if (r.err) return r.err;
    if (np != n_clips(s->m->config.n_layers)) return rq_fail(RQ_EINPUT, "%s: LQAC: %u clips for %d layers", file->path, np, s->m->config.n_layers);
    if ((rc = rq_rd_f32s(&r, s->cm, np, "Adam m")) || (rc = rq_rd_f32s(&r, s->cv, np, "Adam v"))) return rc;
    s->tc = rq_rd_u32(&r, "updates");
    return r.err;
}

// Read LQAT for a model of n_layers: weight spec and clips (st initialised here).
static int get_lqat(const rqf_file *file, int n_layers, lmq_stats *st, lmq_wspec *ws) {
    rq_reader r;
    int rc = rqf_section(file, "LQAT", &r);
    if (rc) return rc;
    uint32_t code = rq_rd_u32(&r, "weight bits");
    uint32_t np = rq_rd_u32(&r, "clip count");
    if (r.err) return r.err;
    if (bits_decode(code, ws)) return rq_fail(RQ_EINPUT, "%s: LQAT: weight bits %#x (8, 4, or a nibble 8/4/2/3 per matrix)", file->path, code);
    if (np != n_clips(n_layers)) return rq_fail(RQ_EINPUT, "%s: LQAT: %u clips for %d layers", file->path, np, n_layers);
    lmq_stats_init(st, n_layers);
    if ((rc = rq_rd_f32s(&r, st->clip, np, "clips"))) {
        lmq_stats_free(st);
        return rc;
    }
    for (uint32_t i = 0; i < np; i++)
        if (!(st->clip[i] >= 0) || !isfinite(st->clip[i])) {
            double bad = st->clip[i];  // read before the stats are freed
            lmq_stats_free(st);
            return rq_fail(RQ_EINPUT, "%s: LQAT: clip %u is %g (a clip is finite and >= 0)", file->path, i, bad);
        }
    return 0;
}

// Read LQSC (learned steps) when the checkpoint has it: scale[n] (and the Adam state when am is
// not NULL). Returns 1 when read, 0 when absent, < 0... an error code when malformed.
static int get_lqsc(const rqf_file *file, size_t n, float *scale, float *am, float *av, uint32_t *t) {
    if (!has_section(file, "LQSC")) return 0;
    rq_reader r;
    int rc = rqf_section(file, "LQSC", &r);
    if (rc) return -rc;
    uint32_t cnt = rq_rd_u32(&r, "step count");
    if (r.err) return -r.err;
    if (cnt != n) return -rq_fail(RQ_EINPUT, "%s: LQSC: %u steps, the model has %zu weight rows", file->path, cnt, n);
    float *tmp = am ? NULL : rq_malloc(2 * n * sizeof(float));
    if ((rc = rq_rd_f32s(&r, scale, n, "steps")) || (rc = rq_rd_f32s(&r, am ? am : tmp, n, "Adam m")) ||
        (rc = rq_rd_f32s(&r, av ? av : tmp + n, n, "Adam v"))) {
        free(tmp);
        return -rc;
    }
    free(tmp);
    uint32_t tt = rq_rd_u32(&r, "updates");
    if (r.err) return -r.err;
    if (t) *t = tt;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(scale[i]) || scale[i] == 0) return -rq_fail(RQ_EINPUT, "%s: LQSC: step %zu is %g", file->path, i, scale[i]);
    return 1;
}

int lm_qat_resume(lm_qat *s, const rqf_file *file) {
    lmq_stats st;
    lmq_wspec ws;
    int n_layers = s->m->config.n_layers;
    int rc = get_lqat(file, n_layers, &st, &ws);
    if (rc) return rc;
    if (bits_code(&ws) != bits_code(&s->ws)) {
        rc = rq_fail(RQ_EINPUT, "%s: the checkpoint's weight bits (%#x) differ from this config's $.qat (%#x)", file->path, bits_code(&ws),
                     bits_code(&s->ws));
    } else {
        memcpy(s->stats.clip, st.clip, n_clips(n_layers) * sizeof(float));  // resume with the run's clips
        if (s->cfg.lsq) {
            int got = get_lqsc(file, s->n_scale, s->scale, s->am, s->av, &s->t);
            if (got < 0) rc = -got;
            else if (got == 0) rc = rq_fail(RQ_EINPUT, "%s: no LQSC section: the checkpoint was not trained with $.qat.lsq", file->path);
        }
        if (!rc && s->cfg.learn_clips) rc = get_lqac(s, file);
    }
    lmq_stats_free(&st);
    return rc;
}

// Read a QAT checkpoint: its float master weights into m, and (when st is not NULL) the clips,
// the weight spec it was trained with and its learned steps (*scale, NULL when it has none; free).
static int load_checkpoint(const char *path, llama_model *m, lmq_stats *st, lmq_wspec *ws, float **scale) {
    rqf_file file;
    int rc = rqf_open(&file, path, LM_QAT_KIND);
    if (rc) return rc;
    lmq_stats stats;
    lmq_wspec spec;
    if ((rc = llama_ckpt_read_model(&file, m)) == 0) {
        if ((rc = get_lqat(&file, m->config.n_layers, &stats, &spec))) {
            llama_free(m);
        } else if (st) {
            size_t n = lmq_scale_count(&m->config);
            float *sc = rq_malloc(n * sizeof(float));
            int got = get_lqsc(&file, n, sc, NULL, NULL, NULL);
            if (got <= 0) free(sc), sc = NULL;
            if (got < 0) {
                rc = -got;
                lmq_stats_free(&stats);
                llama_free(m);
            } else {
                *st = stats, *ws = spec, *scale = sc;
            }
        } else {
            lmq_stats_free(&stats);
        }
    }
    rqf_close(&file);
    return rc;
}

int lm_qat_load_float(const char *path, llama_model *m) { return load_checkpoint(path, m, NULL, NULL, NULL); }

int lm_qat_load(const char *path, lm_model *q) {
    llama_model m;
    lmq_stats st;
    lmq_wspec ws;
    float *scale;
    int rc = load_checkpoint(path, &m, &st, &ws, &scale);
    if (rc) return rc;
    ws.scale = scale;
    lmq_opts o = {0, 10, &ws};
    rc = lmq_quantize(&m, &st, &o, q);
    free(scale);
    llama_free(&m);
    lmq_stats_free(&st);
    return rc;
}
