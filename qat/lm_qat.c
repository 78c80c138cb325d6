// lm_qat.c: quantisation-aware fine-tuning with the integer forward in the loss (lm_qat.h).
#include "qat/lm_qat.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "model/llama_ckpt.h"

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
};

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

static int quantize_now(const lm_qat *s, lm_model *q) {
    lmq_opts o = {s->cfg.wbits, 10, NULL};
    return lmq_quantize(s->m, &s->stats, &o, q);
}

static size_t n_clips(int n_layers) { return (size_t)n_layers * LMQ_NPOINT + 1; }

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
    int rc = calibrate(s, &s->stats);
    if (!rc && c->fake_quant_weights) rc = llama_build(&s->mq, &m->config);
    if (!rc && c->distill > 0 && !(rc = llama_build(&s->teacher, &m->config))) {
        memcpy(s->teacher.params, m->params, m->n_params * sizeof(float));
        llama_train_build(&s->tst, &m->config, batch, seq_len, 0);
    }
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

double lm_qat_step(lm_qat *s, llama_train *st, const int *in, const int *tg, llama_weights *g, double *float_loss, double *kd) {
    // float forward (activations for the backward), then the integer forward replaces the output
    const llama_model *fm = s->m;
    if (s->cfg.fake_quant_weights) lmq_fake_quant_weights(s->m, &s->mq, s->cfg.wbits), fm = &s->mq;
    *float_loss = llama_train_forward(st, fm, in, tg, s->T);
    lm_model q;
    double il = NAN;
    if (quantize_now(s, &q) == 0) {
        il = int_pass(s, &q, in, tg, s->B, st->a.probs);
        lmq_free(&q);
    }
    *kd = s->cfg.distill > 0 && !isnan(il) ? distill(s, st, in, tg) : NAN;
    llama_train_backward(st, fm, g);
    return il;
}

int lm_qat_int_model(lm_qat *s, lm_model *qm) {
    // Re-calibrate on the current weights (same calibration tokens), so the ranges follow the
    // fine-tuned model.
    if (s->cfg.recalibrate) {
        lmq_stats fresh;
        if (calibrate(s, &fresh) == 0) {
            memcpy(s->stats.clip, fresh.clip, n_clips(s->m->config.n_layers) * sizeof(float));
            lmq_stats_free(&fresh);
        }
    }
    return quantize_now(s, qm);
}

double lm_qat_int_loss(lm_qat *s, const lm_model *qm, const int *in, const int *tg, int rows) {
    return int_pass(s, qm, in, tg, rows, s->probs);
}

void lm_qat_save(const lm_qat *s, rqf_writer *w) {
    rq_buf *b = rqf_section_begin(w, "LQAT");
    int np = (int)n_clips(s->stats.n_layers);
    rq_buf_u32(b, (uint32_t)s->cfg.wbits);
    rq_buf_u32(b, (uint32_t)np);
    rq_buf_f32s(b, s->stats.clip, np);
}

// Read LQAT for a model of n_layers: weight bits and clips (st initialised here).
static int get_lqat(const rqf_file *file, int n_layers, lmq_stats *st, int *wbits) {
    rq_reader r;
    int rc = rqf_section(file, "LQAT", &r);
    if (rc) return rc;
    *wbits = (int)rq_rd_u32(&r, "weight bits");
    uint32_t np = rq_rd_u32(&r, "clip count");
    if (r.err) return r.err;
    if (*wbits != 8 && *wbits != 4) return rq_fail(RQ_EINPUT, "%s: LQAT: weight bits %d", file->path, *wbits);
    if (np != n_clips(n_layers)) return rq_fail(RQ_EINPUT, "%s: LQAT: %u clips for %d layers", file->path, np, n_layers);
    lmq_stats_init(st, n_layers);
    if ((rc = rq_rd_f32s(&r, st->clip, np, "clips"))) {
        lmq_stats_free(st);
        return rc;
    }
    for (uint32_t i = 0; i < np; i++)
        if (!(st->clip[i] >= 0) || !isfinite(st->clip[i])) {
            lmq_stats_free(st);
            return rq_fail(RQ_EINPUT, "%s: LQAT: clip %u is %g", file->path, i, st->clip[i]);
        }
    return 0;
}

int lm_qat_resume(lm_qat *s, const rqf_file *file) {
    lmq_stats st;
    int wbits, n_layers = s->m->config.n_layers;
    int rc = get_lqat(file, n_layers, &st, &wbits);
    if (rc) return rc;
    if (wbits != s->cfg.wbits)
        rc = rq_fail(RQ_EINPUT, "%s: the checkpoint has int%d weights, this config's $.qat.wbits is %d", file->path, wbits, s->cfg.wbits);
    else memcpy(s->stats.clip, st.clip, n_clips(n_layers) * sizeof(float));  // resume with the run's clips
    lmq_stats_free(&st);
    return rc;
}

// Read a QAT checkpoint: its float master weights into m, and (when st is not NULL) the clips and
// weight bits it was trained with.
static int load_checkpoint(const char *path, llama_model *m, lmq_stats *st, int *wbits) {
    rqf_file file;
    int rc = rqf_open(&file, path, LM_QAT_KIND);
    if (rc) return rc;
    lmq_stats stats;
    int bits;
    if ((rc = llama_ckpt_read_model(&file, m)) == 0) {
        if ((rc = get_lqat(&file, m->config.n_layers, &stats, &bits))) llama_free(m);
        else if (st) *st = stats, *wbits = bits;
        else lmq_stats_free(&stats);
    }
    rqf_close(&file);
    return rc;
}

int lm_qat_load_float(const char *path, llama_model *m) { return load_checkpoint(path, m, NULL, NULL); }

int lm_qat_load(const char *path, lm_model *q) {
    llama_model m;
    lmq_stats st;
    int wbits;
    int rc = load_checkpoint(path, &m, &st, &wbits);
    if (rc) return rc;
    lmq_opts o = {wbits, 10, NULL};
    rc = lmq_quantize(&m, &st, &o, q);
    llama_free(&m);
    lmq_stats_free(&st);
    return rc;
}
