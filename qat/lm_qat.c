// lm_qat.c: quantisation-aware fine-tuning with the integer forward in the loss (lm_qat.h).
#include "qat/lm_qat.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/config.h"
#include "base/err.h"
#include "base/rqfile.h"
#include "cli/args.h"
#include "data/textdata.h"
#include "data/tokenizer.h"
#include "export/lm_image_write.h"
#include "model/llama_train.h"
#include "train/trainer.h"

#define QAT_KIND "llamaq"

typedef struct {
    char init[1024], tokenizer[1024], train_path[1024], valid_path[1024], out[1024];
    int valid_tokens, calib_tokens, wbits, recalibrate;
    float distill;
    int fq_weights;
    int steps, batch, seq_len, warmup, eval_every, seed;
    float lr, min_lr_frac, weight_decay, grad_clip, beta1, beta2;
} qat_cfg;

static int load_cfg(const char *path, qat_cfg *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->out, sizeof c->out, "runs/llama-int8");
    c->steps = 200, c->batch = 8, c->seq_len = 256, c->warmup = 10, c->eval_every = 50, c->seed = 1337;
    c->lr = 1e-4f, c->min_lr_frac = 0.1f, c->weight_decay = 0.0f, c->grad_clip = 1.0f, c->beta1 = 0.9f, c->beta2 = 0.95f;
    c->wbits = 8, c->calib_tokens = 0, c->valid_tokens = 16384, c->recalibrate = 1, c->fq_weights = 1;
    char model[16] = "";
    const cfg_field data[] = {
        {"train", CFG_STR, c->train_path, 0, 0, sizeof c->train_path, NULL, NULL},
        {"valid", CFG_STR, c->valid_path, 0, 0, sizeof c->valid_path, NULL, NULL},
        {"valid_tokens", CFG_INT, &c->valid_tokens, 0, 1e9, 0, NULL, NULL},
        {0},
    };
    const cfg_field train[] = {
        {"steps", CFG_INT, &c->steps, 1, 1e9, 0, NULL, NULL},
        {"batch", CFG_INT, &c->batch, 1, 4096, 0, NULL, NULL},
        {"seq_len", CFG_INT, &c->seq_len, 2, 1 << 20, 0, NULL, NULL},
        {"warmup", CFG_INT, &c->warmup, 0, 1e9, 0, NULL, NULL},
        {"eval_every", CFG_INT, &c->eval_every, 1, 1e9, 0, NULL, NULL},
        {"seed", CFG_INT, &c->seed, 0, 2147483647, 0, NULL, NULL},
        {"lr", CFG_FLOAT, &c->lr, 0, 10, 0, NULL, NULL},
        {"min_lr_frac", CFG_FLOAT, &c->min_lr_frac, 0, 1, 0, NULL, NULL},
        {"weight_decay", CFG_FLOAT, &c->weight_decay, 0, 10, 0, NULL, NULL},
        {"grad_clip", CFG_FLOAT, &c->grad_clip, 0, 1e6, 0, NULL, NULL},
        {"beta1", CFG_FLOAT, &c->beta1, 0, 0.999999, 0, NULL, NULL},
        {"beta2", CFG_FLOAT, &c->beta2, 0, 0.999999, 0, NULL, NULL},
        {0},
    };
    const cfg_field qat[] = {
        {"wbits", CFG_INT, &c->wbits, 4, 8, 0, NULL, NULL},
        {"calib_tokens", CFG_INT, &c->calib_tokens, 0, 1 << 24, 0, NULL, NULL},
        {"recalibrate", CFG_BOOL, &c->recalibrate, 0, 0, 0, NULL, NULL},
        {"distill", CFG_FLOAT, &c->distill, 0, 1, 0, NULL, NULL},
        {"fake_quant_weights", CFG_BOOL, &c->fq_weights, 0, 0, 0, NULL, NULL},
        {0},
    };
    const cfg_field root[] = {
        {"model", CFG_STR, model, 0, 0, sizeof model, NULL, NULL},
        {"comment", CFG_IGNORE, NULL, 0, 0, 0, NULL, NULL},
        {"init", CFG_STR, c->init, 0, 0, sizeof c->init, NULL, NULL},
        {"tokenizer", CFG_STR, c->tokenizer, 0, 0, sizeof c->tokenizer, NULL, NULL},
        {"data", CFG_OBJ, NULL, 0, 0, 0, NULL, data},
        {"train", CFG_OBJ, NULL, 0, 0, 0, NULL, train},
        {"qat", CFG_OBJ, NULL, 0, 0, 0, NULL, qat},
        {"out", CFG_STR, c->out, 0, 0, sizeof c->out, NULL, NULL},
        {0},
    };
    int rc = cfg_load(path, root);
    if (rc) return rc;
    if (c->wbits != 8 && c->wbits != 4) return rq_fail(RQ_EINPUT, "%s: $.qat.wbits: 8 or 4, not %d", path, c->wbits);
    return 0;
}

// ---- the family ------------------------------------------------------------------------------

typedef struct {
    qat_cfg cfg;
    llama_model m;        // float master weights
    llama_model mq;       // their quantised values (fake_quant_weights): the forward's weights
    float *grad_mem;
    llama_weights g;
    uint8_t *decay;
    llama_train st;
    token_stream train, valid;
    int *in, *tg;
    lmq_stats stats;      // the static activation clips
    llama_model teacher;  // the init checkpoint, frozen (when distill > 0)
    llama_train tst;      // its activations
    int threads;
    double last_float_loss;
} qat_family;

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

static double int_pass(qat_family *s, const lm_model *q, const int *in, const int *tg, int B, int T, float *probs) {
    double *loss = rq_calloc(B, sizeof(double));
    int_job j = {.q = q, .in = in, .tg = tg, .probs = probs, .loss = loss, .B = B, .T = T};
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
    return tot / ((double)B * T);
}

// The static activation clips for the current weights: the exporter's default calibration
// (sequences sampled from the model itself, qat/lm_quant.h), so that QAT starts from exactly the
// model `retroqat export` would give; or, with calib_tokens > 0, that many training tokens.
static int calibrate(qat_family *s, lmq_stats *st) {
    size_t n = s->train.n < (size_t)s->cfg.calib_tokens ? s->train.n : (size_t)s->cfg.calib_tokens;
    return lmq_calibrate_default(&s->m, n ? s->train.tokens : NULL, n, st);
}

static int quantize_now(qat_family *s, lm_model *q) {
    lmq_opts o = {s->cfg.wbits, 10};
    return lmq_quantize(&s->m, &s->stats, &o, q);
}

// Knowledge distillation from the frozen float teacher: the target distribution becomes
//   y = (1 - d) onehot(target) + d p_teacher,
// so the backward's (probs - onehot) must see probs = p_int - d (p_teacher - onehot). The loss this
// is the gradient of: (1 - d) CE(target, p_int) + d CE(p_teacher, p_int) (the second term is
// KL(p_teacher || p_int) plus the teacher's entropy, which does not depend on the weights).
// Returns the mean KL(p_teacher || p_int) over the N positions.
static double distill(qat_family *s, int N) {
    int V = s->m.config.vocab_size, T = s->cfg.seq_len;
    float d = s->cfg.distill;
    llama_train_forward(&s->tst, &s->teacher, s->in, s->tg, T);
    double kl = 0;
    for (int i = 0; i < N; i++) {
        float *p = s->st.a.probs + (size_t)i * V;
        const float *pt = s->tst.a.probs + (size_t)i * V;
        for (int v = 0; v < V; v++) {
            if (pt[v] > 0) kl += pt[v] * (log(pt[v]) - log(p[v] > 1e-30f ? p[v] : 1e-30f));
            p[v] -= d * pt[v];
        }
        p[s->tg[i]] += d;
    }
    return kl / N;
}

static float qf_step(rq_family *f, long step, pcg32 *rng, cJSON *stats) {
    (void)step;
    qat_family *s = f->self;
    int B = s->cfg.batch, T = s->cfg.seq_len;
    memset(f->grads, 0, f->n_params * sizeof(float));
    for (int b = 0; b < B; b++) {
        uint32_t off = pcg32_bounded(rng, (uint32_t)(s->train.n - T));
        for (int t = 0; t < T; t++) {
            s->in[b * T + t] = s->train.tokens[off + t];
            s->tg[b * T + t] = s->train.tokens[off + t + 1];
        }
    }
    // float forward (activations for the backward), then the integer forward replaces the output
    const llama_model *fm = &s->m;
    if (s->cfg.fq_weights) lmq_fake_quant_weights(&s->m, &s->mq, s->cfg.wbits), fm = &s->mq;
    float fl = llama_train_forward(&s->st, fm, s->in, s->tg, T);
    lm_model q;
    double il = NAN;
    if (quantize_now(s, &q) == 0) {
        il = int_pass(s, &q, s->in, s->tg, B, T, s->st.a.probs);
        lmq_free(&q);
    }
    if (s->cfg.distill > 0 && !isnan(il)) cJSON_AddNumberToObject(stats, "kd", distill(s, B * T));
    llama_train_backward(&s->st, fm, &s->g);
    s->last_float_loss = fl;
    cJSON_AddNumberToObject(stats, "float_loss", fl);
    return (float)il;
}

static void qf_progress(rq_family *f, const cJSON *stats, char *buf, size_t n) {
    (void)f;
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(stats, "float_loss");
    snprintf(buf, n, "float %.4f", fl ? fl->valuedouble : NAN);
}

// Validation: consecutive windows of seq_len+1 tokens (at most valid_tokens), float and integer.
static double qf_evaluate(rq_family *f, long step, cJSON *out) {
    (void)step;
    qat_family *s = f->self;
    // Re-calibrate the static clips on the current weights (same calibration tokens), so the
    // ranges follow the fine-tuned model; training continues and checkpoints save with these.
    if (s->cfg.recalibrate) {
        lmq_stats fresh;
        if (calibrate(s, &fresh) == 0) {
            memcpy(s->stats.clip, fresh.clip, ((size_t)s->m.config.n_layers * LMQ_NPOINT + 1) * sizeof(float));
            lmq_stats_free(&fresh);
        }
    }
    int B = s->cfg.batch, T = s->cfg.seq_len;
    size_t n = s->valid.n;
    if (s->cfg.valid_tokens > 0 && (size_t)s->cfg.valid_tokens < n) n = s->cfg.valid_tokens;
    size_t windows = n > 1 ? (n - 1) / T : 0;
    lm_model q;
    if (quantize_now(s, &q)) return -INFINITY;
    double ftot = 0, itot = 0;
    size_t count = 0;
    float *probs = rq_malloc((size_t)B * T * s->m.config.vocab_size * sizeof(float));
    for (size_t w0 = 0; w0 < windows; w0 += B) {
        int rows = (int)(windows - w0 < (size_t)B ? windows - w0 : (size_t)B);
        for (int b = 0; b < B; b++) {
            size_t off = (w0 + (b < rows ? b : 0)) * T;
            for (int t = 0; t < T; t++) s->in[b * T + t] = s->valid.tokens[off + t], s->tg[b * T + t] = s->valid.tokens[off + t + 1];
        }
        llama_train_forward(&s->st, &s->m, s->in, s->tg, T);
        for (int i = 0; i < rows * T; i++) ftot += s->st.a.losses[i];
        itot += int_pass(s, &q, s->in, s->tg, rows, T, probs) * rows * T;
        count += (size_t)rows * T;
    }
    free(probs);
    lmq_free(&q);
    double fl = count ? ftot / count : NAN, il = count ? itot / count : NAN;
    cJSON_AddNumberToObject(out, "valid_float_loss", fl);
    cJSON_AddNumberToObject(out, "valid_int_loss", il);
    cJSON_AddNumberToObject(out, "valid_tokens", (double)count);
    return isnan(il) ? -INFINITY : -il;
}

static void put_sections(rqf_writer *w, const llama_config *c, const lmq_stats *st, int wbits) {
    rq_buf *b = rqf_section_begin(w, "LCFG");
    int v[8] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len, c->shared_classifier};
    for (int i = 0; i < 8; i++) rq_buf_i32(b, v[i]);
    b = rqf_section_begin(w, "LQAT");
    int np = st->n_layers * LMQ_NPOINT + 1;
    rq_buf_u32(b, (uint32_t)wbits);
    rq_buf_u32(b, (uint32_t)np);
    rq_buf_f32s(b, st->clip, np);
}

static void qf_save(rq_family *f, rqf_writer *w) {
    qat_family *s = f->self;
    put_sections(w, &s->m.config, &s->stats, s->cfg.wbits);
}

// Read LCFG and LQAT: config, weight bits and clips (st initialised here).
static int get_sections(const rqf_file *file, llama_config *c, lmq_stats *st, int *wbits) {
    rq_reader r;
    int rc = rqf_section(file, "LCFG", &r);
    if (rc) return rc;
    int v[8];
    for (int i = 0; i < 8; i++) v[i] = rq_rd_i32(&r, "llama config");
    if (r.err) return r.err;
    *c = (llama_config){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
    if ((rc = llama_config_check(c, file->path))) return rc;
    if ((rc = rqf_section(file, "LQAT", &r))) return rc;
    *wbits = (int)rq_rd_u32(&r, "weight bits");
    uint32_t np = rq_rd_u32(&r, "clip count");
    if (r.err) return r.err;
    if (*wbits != 8 && *wbits != 4) return rq_fail(RQ_EINPUT, "%s: LQAT: weight bits %d", file->path, *wbits);
    if (np != (uint32_t)c->n_layers * LMQ_NPOINT + 1) return rq_fail(RQ_EINPUT, "%s: LQAT: %u clips for %d layers", file->path, np, c->n_layers);
    lmq_stats_init(st, c->n_layers);
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

static int qf_load(rq_family *f, const rqf_file *file) {
    qat_family *s = f->self;
    llama_config c;
    lmq_stats st;
    int wbits;
    int rc = get_sections(file, &c, &st, &wbits);
    if (rc) return rc;
    if (memcmp(&c, &s->m.config, sizeof c) || wbits != s->cfg.wbits) rc = rq_fail(RQ_EINPUT, "%s: the checkpoint's model shape or weight bits differ from this config's", file->path);
    else memcpy(s->stats.clip, st.clip, ((size_t)c.n_layers * LMQ_NPOINT + 1) * sizeof(float));  // resume with the run's clips
    lmq_stats_free(&st);
    return rc;
}

// Read a QAT checkpoint: its float master weights into m, and (when st is not NULL) the clips and
// weight bits it was trained with.
static int load_checkpoint(const char *path, llama_model *m, lmq_stats *st, int *wbits) {
    rqf_file file;
    int rc = rqf_open(&file, path, QAT_KIND);
    if (rc) return rc;
    llama_config c;
    lmq_stats stats;
    int bits;
    if ((rc = get_sections(&file, &c, &stats, &bits)) == 0) {
        if ((rc = llama_build(m, &c)) == 0) {
            rq_family f = {.kind = QAT_KIND, .params = m->params, .n_params = m->n_params};
            if ((rc = trainer_load_params(&f, &file))) llama_free(m);
        }
        if (rc == 0 && st) *st = stats, *wbits = bits;
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
    lmq_opts o = {wbits, 10};
    rc = lmq_quantize(&m, &st, &o, q);
    llama_free(&m);
    lmq_stats_free(&st);
    return rc;
}

static const char QAT_USAGE[] =
    "usage: retroqat train CONFIG.json [--init PATH.bin] [--data TRAIN.txt] [--valid VALID.txt] [--out DIR]\n"
    "                      [--steps N] [--resume] [--quiet]      (\"model\": \"llama-int8\")\n"
    "Quantisation-aware fine-tuning for the integer contract: the loss is the integer model's\n"
    "(infer/lm_kernel.c), gradients pass straight through to float master weights (qat/lm_qat.h).\n"
    "  --init PATH     the float llama2.c checkpoint to start from (overrides $.init)\n"
    "  --data PATH     training text (overrides $.data.train)\n"
    "  --valid PATH    validation text (overrides $.data.valid)\n"
    "  --out DIR       output folder (overrides $.out)\n"
    "  --steps N       optimizer steps (overrides $.train.steps)\n"
    "  --resume        continue from DIR/last.ckpt\n"
    "  --quiet         no progress line\n";

int lm_qat_train_main(int argc, char **argv) {
    const char *out = NULL, *init = NULL, *data = NULL, *valid = NULL;
    int resume = 0, quiet = 0, steps = 0;
    const rq_arg opts[] = {
        {"--init", NULL, ARG_STR, &init, NULL},
        {"--data", NULL, ARG_STR, &data, NULL},
        {"--valid", NULL, ARG_STR, &valid, NULL},
        {"--out", NULL, ARG_STR, &out, NULL},
        {"--steps", NULL, ARG_INT, &steps, NULL},
        {"--resume", NULL, ARG_FLAG, &resume, NULL},
        {"--quiet", NULL, ARG_FLAG, &quiet, NULL},
        {NULL, NULL, 0, NULL, NULL},
    };
    const char *pos[1];
    int npos = 0;
    int rc = rq_args_parse(argc, argv, opts, pos, 1, &npos, QAT_USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (npos != 1) {
        fprintf(stderr, "retroqat: train needs a CONFIG.json\n%s", QAT_USAGE);
        return RQ_EINPUT;
    }
    qat_family *s = rq_calloc(1, sizeof *s);
    qat_cfg *c = &s->cfg;
    tokenizer tok = {0};
    if ((rc = load_cfg(pos[0], c))) goto done;
    if (init) snprintf(c->init, sizeof c->init, "%s", init);
    if (data) snprintf(c->train_path, sizeof c->train_path, "%s", data);
    if (valid) snprintf(c->valid_path, sizeof c->valid_path, "%s", valid);
    if (out) snprintf(c->out, sizeof c->out, "%s", out);
    if (steps > 0) c->steps = steps;
    if (!c->init[0]) { rc = rq_fail(RQ_EINPUT, "%s: $.init: QAT starts from a float checkpoint (or pass --init)", pos[0]); goto done; }
    if (!c->tokenizer[0]) { rc = rq_fail(RQ_EINPUT, "%s: $.tokenizer: missing", pos[0]); goto done; }
    if (!c->train_path[0] || !c->valid_path[0]) { rc = rq_fail(RQ_EINPUT, "%s: $.data.train and $.data.valid are needed (or --data/--valid)", pos[0]); goto done; }
    if ((rc = llama_load(&s->m, c->init))) goto done;
    const llama_config *mc = &s->m.config;
    if (c->seq_len > mc->seq_len) { rc = rq_fail(RQ_EINPUT, "%s: $.train.seq_len %d exceeds the model's %d", pos[0], c->seq_len, mc->seq_len); goto done; }
    if ((rc = rq_mkdir_p(c->out))) goto done;
    if ((rc = tokenizer_load(&tok, c->tokenizer, mc->vocab_size))) goto done;
    char cache[1200];
    int cached;
    snprintf(cache, sizeof cache, "%s/train.tok", c->out);
    if ((rc = textdata_load_cached(c->train_path, &tok, cache, &s->train, &cached))) goto done;
    snprintf(cache, sizeof cache, "%s/valid.tok", c->out);
    if ((rc = textdata_load_cached(c->valid_path, &tok, cache, &s->valid, &cached))) goto done;
    if (s->train.n <= (size_t)c->seq_len + 1 || s->valid.n <= (size_t)c->seq_len + 1) {
        rc = rq_fail(RQ_EINPUT, "%s: the texts need more than seq_len+1 = %d tokens (have %zu and %zu)", pos[0], c->seq_len + 1, s->train.n, s->valid.n);
        goto done;
    }
    // Static activation clips: calibrated once on the start of the training text.
    if ((rc = calibrate(s, &s->stats))) goto done;
    const char *th = getenv("RQ_THREADS");
    s->threads = th ? atoi(th) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (!quiet)
        fprintf(stderr, "llama-int8 QAT: %zu parameters from %s, int%d weights; train %zu tokens, valid %zu tokens\n", s->m.n_params,
                c->init, c->wbits, s->train.n, s->valid.n);

    s->grad_mem = rq_calloc(s->m.n_params, sizeof(float));
    llama_point_weights(&s->g, mc, s->grad_mem);
    s->decay = rq_calloc(s->m.n_params, 1);
    memset(s->decay, 1, s->m.n_params);
    size_t LC = (size_t)mc->n_layers * mc->dim;
    memset(s->decay + (s->m.w.rms_att - s->m.params), 0, LC);
    memset(s->decay + (s->m.w.rms_ffn - s->m.params), 0, LC);
    memset(s->decay + (s->m.w.rms_final - s->m.params), 0, mc->dim);
    llama_train_build(&s->st, mc, c->batch, c->seq_len, 0);
    if (c->fq_weights && (rc = llama_build(&s->mq, mc))) goto done;
    if (c->distill > 0) {
        if ((rc = llama_load(&s->teacher, c->init))) goto done;
        llama_train_build(&s->tst, mc, c->batch, c->seq_len, 0);
    }
    s->in = rq_malloc((size_t)c->batch * c->seq_len * sizeof(int));
    s->tg = rq_malloc((size_t)c->batch * c->seq_len * sizeof(int));

    rq_family f = {
        .kind = QAT_KIND, .self = s, .params = s->m.params, .grads = s->grad_mem, .n_params = s->m.n_params,
        .decay_mask = s->decay, .step = qf_step, .evaluate = qf_evaluate, .progress = qf_progress,
        .save = qf_save, .load = qf_load,
    };
    trainer_cfg tc;
    trainer_cfg_defaults(&tc);
    tc.steps = c->steps;
    tc.eval_every = c->eval_every;
    tc.seed = (uint64_t)c->seed;
    tc.out_dir = c->out;
    tc.resume = resume;
    tc.quiet = quiet;
    tc.unit = "tok";
    tc.units_per_step = (long)c->batch * c->seq_len;
    tc.opt.lr = c->lr;
    tc.opt.beta1 = c->beta1;
    tc.opt.beta2 = c->beta2;
    tc.opt.weight_decay = c->weight_decay;
    tc.opt.grad_clip = c->grad_clip;
    tc.opt.warmup_steps = c->warmup;
    tc.opt.min_lr_frac = c->min_lr_frac;
    if ((rc = trainer_run(&f, &tc))) goto done;

    // The integer image of the best checkpoint.
    char best[1200], img[1200];
    snprintf(best, sizeof best, "%s/best.ckpt", c->out);
    snprintf(img, sizeof img, "%s/model.rqm", c->out);
    lm_model q;
    if ((rc = lm_qat_load(best, &q))) goto done;
    rc = lm_image_save(&q, 0, img);
    lmq_free(&q);
    if (!rc && !quiet) fprintf(stderr, "wrote %s (integer model image of %s)\n", img, best);
done:
    llama_train_free(&s->st);
    if (c->distill > 0) llama_train_free(&s->tst), llama_free(&s->teacher);
    free(s->in);
    free(s->tg);
    free(s->grad_mem);
    free(s->decay);
    lmq_stats_free(&s->stats);
    token_stream_free(&s->train);
    token_stream_free(&s->valid);
    tokenizer_free(&tok);
    llama_free(&s->m);
    llama_free(&s->mq);
    free(s);
    return rc ? rq_report(rc) : 0;
}
