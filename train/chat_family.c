// chat_family.c: the trigram chat model plugged into the shared trainer (see chat_family.h).
#define _GNU_SOURCE  // qsort_r
#include "train/chat_family.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/config.h"
#include "base/err.h"
#include "qat/image_open.h"
#include "base/rng.h"
#include "qat/chat_z80_cost.h"
#include "qat/quant.h"

#define CHAT_CKPT_VERSION 3  // 2 adds the dead zones, 3 the query columns' own; version 1 files load with none
#define EVAL_BATCH 256

// --- config --------------------------------------------------------------------------------------

void chat_config_default(chat_config *c) {
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->enc = (chat_enc_cfg){.q_buckets = 128, .k_buckets = 128, .context = 8, .max_query = 64};
    c->max_answer = 48;
    c->hidden[0] = 256, c->hidden[1] = 192, c->hidden[2] = 128, c->n_hidden = 3;
    snprintf(c->weights, sizeof c->weights, "2bit");
    chat_data_opts_default(&c->dopt);
    c->held_out = 0.1;
    c->epochs = 20, c->batch = 128, c->evals = 10;
    c->lr = 0.04f, c->weight_decay = 0.0f, c->grad_clip = 1.0f, c->warmup = 0.03f, c->min_lr_frac = 0.05f;
    c->blend_start = 0.1f, c->blend_end = 0.6f, c->grid_loss = 0.0f, c->overflow_mu = 1.0f, c->margin = 0.25f;
    c->init_std = 0.7f;
    c->query_zero_frac = -1.0f;
    c->max_in_shift = CHAT_MAX_IN_SHIFT;
    c->calib_examples = 2048, c->eval_examples = 2048, c->eval_queries = 128;
}

int chat_config_load(const char *path, chat_config *c) {
    char model[16] = "chat";
    int fq = c->dopt.fold_query, fr = c->dopt.fold_response, len = c->dopt.lenient;
    const cfg_field net[] = {
        {.key = "q_buckets", .type = CFG_INT, .dst = &c->enc.q_buckets, .min = 1, .max = 4096},
        {.key = "k_buckets", .type = CFG_INT, .dst = &c->enc.k_buckets, .min = 1, .max = 4096},
        {.key = "context", .type = CFG_INT, .dst = &c->enc.context, .min = 3, .max = CHAT_MAX_CONTEXT},
        {.key = "max_query", .type = CFG_INT, .dst = &c->enc.max_query, .min = 1, .max = CHAT_MAX_QUERY},
        {.key = "max_answer", .type = CFG_INT, .dst = &c->max_answer, .min = 1, .max = 255},
        {.key = "hidden", .type = CFG_INT_ARRAY, .dst = c->hidden, .min = 1, .max = CHAT_MAX_WIDTH, .cap = CHAT_MAX_LAYERS - 1, .count = &c->n_hidden},
        {.key = "weights", .type = CFG_STR, .dst = c->weights, .min = 0, .max = 0, .cap = sizeof c->weights},
        {0}};
    const cfg_field data[] = {
        {.key = "held_out", .type = CFG_NUM, .dst = &c->held_out, .min = 0, .max = 0.9},
        {.key = "charset", .type = CFG_STR, .dst = c->dopt.charset, .min = 0, .max = 0, .cap = sizeof c->dopt.charset},
        {.key = "fold_query", .type = CFG_BOOL, .dst = &fq},
        {.key = "fold_response", .type = CFG_BOOL, .dst = &fr},
        {.key = "lenient", .type = CFG_BOOL, .dst = &len},
        {0}};
    const cfg_field train[] = {
        {.key = "epochs", .type = CFG_INT, .dst = &c->epochs, .min = 1, .max = 100000},
        {.key = "batch", .type = CFG_INT, .dst = &c->batch, .min = 1, .max = 65536},
        {.key = "evals", .type = CFG_INT, .dst = &c->evals, .min = 1, .max = 10000},
        {.key = "lr", .type = CFG_FLOAT, .dst = &c->lr, .min = 0, .max = 10},
        {.key = "weight_decay", .type = CFG_FLOAT, .dst = &c->weight_decay, .min = 0, .max = 10},
        {.key = "grad_clip", .type = CFG_FLOAT, .dst = &c->grad_clip, .min = 0, .max = 1e6},
        {.key = "warmup", .type = CFG_FLOAT, .dst = &c->warmup, .min = 0, .max = 1},
        {.key = "min_lr_frac", .type = CFG_FLOAT, .dst = &c->min_lr_frac, .min = 0, .max = 1},
        {.key = "query_dropout", .type = CFG_FLOAT, .dst = &c->query_dropout, .min = 0, .max = 0.9},
        {.key = "eval_examples", .type = CFG_INT, .dst = &c->eval_examples, .min = 1, .max = 100000000},
        {.key = "eval_queries", .type = CFG_INT, .dst = &c->eval_queries, .min = 1, .max = 100000000},
        {0}};
    const cfg_field qat[] = {
        {.key = "blend_start", .type = CFG_FLOAT, .dst = &c->blend_start, .min = 0, .max = 1},
        {.key = "blend_end", .type = CFG_FLOAT, .dst = &c->blend_end, .min = 0, .max = 1},
        {.key = "grid_loss", .type = CFG_FLOAT, .dst = &c->grid_loss, .min = 0, .max = 1e6},
        {.key = "overflow_penalty", .type = CFG_FLOAT, .dst = &c->overflow_mu, .min = 0, .max = 1e9},
        {.key = "margin", .type = CFG_FLOAT, .dst = &c->margin, .min = 0, .max = 0.95},
        {.key = "init_std", .type = CFG_FLOAT, .dst = &c->init_std, .min = 0.01, .max = 10},
        {.key = "calib_examples", .type = CFG_INT, .dst = &c->calib_examples, .min = 1, .max = 100000000},
        {.key = "max_in_shift", .type = CFG_INT, .dst = &c->max_in_shift, .min = 0, .max = CHAT_MAX_IN_SHIFT},
        {.key = "zero_frac", .type = CFG_FLOAT_LIST, .dst = c->zero_frac, .min = 0, .max = 0.99, .cap = CHAT_MAX_LAYERS, .count = &c->n_zero_frac},
        {.key = "query_zero_frac", .type = CFG_FLOAT, .dst = &c->query_zero_frac, .min = 0, .max = 0.99},
        {.key = "act_l1", .type = CFG_FLOAT, .dst = &c->act_l1, .min = 0, .max = 1e6},
        {.key = "zero_decay", .type = CFG_FLOAT, .dst = &c->zero_decay, .min = 0, .max = 0.5},
        {.key = "cost", .type = CFG_FLOAT, .dst = &c->cost, .min = 0, .max = 1e6},
        {.key = "distill", .type = CFG_FLOAT, .dst = &c->distill, .min = 0, .max = 1},
        {.key = "teacher", .type = CFG_STR, .dst = c->teacher, .min = 0, .max = 0, .cap = sizeof c->teacher},
        {0}};
    const cfg_field root[] = {
        {.key = "model", .type = CFG_STR, .dst = model, .min = 0, .max = 0, .cap = sizeof model},
        {.key = "comment", .type = CFG_IGNORE},
        {.key = "data", .type = CFG_STR, .dst = c->data, .min = 0, .max = 0, .cap = sizeof c->data},
        {.key = "seed", .type = CFG_INT, .dst = &c->seed, .min = 0, .max = 2147483647},
        {.key = "net", .type = CFG_OBJ, .dst = NULL, .min = 0, .max = 0, .cap = 0, .count = NULL, .sub = net},
        {.key = "data_opts", .type = CFG_OBJ, .dst = NULL, .min = 0, .max = 0, .cap = 0, .count = NULL, .sub = data},
        {.key = "train", .type = CFG_OBJ, .dst = NULL, .min = 0, .max = 0, .cap = 0, .count = NULL, .sub = train},
        {.key = "qat", .type = CFG_OBJ, .dst = NULL, .min = 0, .max = 0, .cap = 0, .count = NULL, .sub = qat},
        {0}};
    int rc = cfg_load(path, root);
    if (rc) return rc;
    c->dopt.fold_query = fq, c->dopt.fold_response = fr, c->dopt.lenient = len;
    c->dopt.max_answer = c->max_answer;
    if (strcmp(model, "chat") != 0) return rq_fail(RQ_EINPUT, "%s: $.model: expected \"chat\", got \"%s\"", path, model);
    if (strcmp(c->weights, "2bit") != 0 && strcmp(c->weights, "ternary") != 0)
        return rq_fail(RQ_EINPUT, "%s: $.net.weights: expected \"2bit\" or \"ternary\", got \"%s\"", path, c->weights);
    if (chat_enc_check(&c->enc))
        return rq_fail(RQ_EINPUT, "%s: $.net: q_buckets and k_buckets must be powers of two (got %d, %d)", path, c->enc.q_buckets, c->enc.k_buckets);
    if (c->blend_end < c->blend_start) return rq_fail(RQ_EINPUT, "%s: $.qat.blend_end: must be >= blend_start", path);
    if (c->n_zero_frac > 1 && c->n_zero_frac != c->n_hidden + 1)
        return rq_fail(RQ_EINPUT, "%s: $.qat.zero_frac: one number, or one per layer (%d), got %d", path, c->n_hidden + 1, c->n_zero_frac);
    if (c->distill > 0.0f && !c->teacher[0]) return rq_fail(RQ_EINPUT, "%s: $.qat.distill: needs $.qat.teacher (a chat checkpoint)", path);
    // A relative data or teacher path is relative to the config file's folder (base/config.h).
    if (c->teacher[0] && (rc = cfg_resolve_path(path, c->teacher, sizeof c->teacher))) return rc;
    return cfg_resolve_path(path, c->data, sizeof c->data);
}

float chat_config_zero_frac(const chat_config *c, int l) {
    return c->n_zero_frac <= 0 ? 0.0f : c->zero_frac[c->n_zero_frac == 1 ? 0 : l];
}

// Whether any dead zone is asked for.
static int any_zero_frac(const chat_config *c) {
    for (int l = 0; l <= c->n_hidden; l++)
        if (chat_config_zero_frac(c, l) > 0.0f) return 1;
    return c->query_zero_frac > 0.0f;
}

// --- query sets ----------------------------------------------------------------------------------

static int cmp_pair_q(const void *a, const void *b, void *ctx) {
    const chat_dataset *d = ctx;
    int x = *(const int *)a, y = *(const int *)b;
    int c = strcmp(d->pairs[x].q, d->pairs[y].q);
    return c ? c : x - y;
}

void chat_qset_build(const chat_dataset *d, const int *idx, int n, int max_queries, chat_qset *qs) {
    memset(qs, 0, sizeof *qs);
    int *ix = rq_malloc(sizeof(int) * (size_t)(n + 1));
    memcpy(ix, idx, sizeof(int) * (size_t)n);
    qsort_r(ix, (size_t)n, sizeof(int), cmp_pair_q, (void *)d);
    int ng = 0;
    for (int i = 0; i < n; i++) ng += i == 0 || strcmp(d->pairs[ix[i]].q, d->pairs[ix[i - 1]].q) != 0;
    // keep at most max_queries, evenly spaced over the sorted distinct queries
    int keep = ng < max_queries ? ng : max_queries;
    qs->q = rq_malloc(sizeof(char *) * (size_t)(keep + 1));
    qs->start = rq_malloc(sizeof(int) * (size_t)(keep + 1));
    qs->count = rq_malloc(sizeof(int) * (size_t)(keep + 1));
    qs->ans = rq_malloc(sizeof(char *) * (size_t)(n + 1));
    int g = -1, na = 0;
    for (int i = 0; i < n; i++) {
        if (i == 0 || strcmp(d->pairs[ix[i]].q, d->pairs[ix[i - 1]].q) != 0) g++;
        // group g is kept when it is the first group of its slot
        long slot = (long)g * keep / ng, prev = g ? (long)(g - 1) * keep / ng : -1;
        if (slot == prev) continue;
        if (qs->n == 0 || strcmp(qs->q[qs->n - 1], d->pairs[ix[i]].q) != 0) {
            qs->q[qs->n] = d->pairs[ix[i]].q, qs->start[qs->n] = na, qs->count[qs->n] = 0;
            qs->n++;
        }
        qs->ans[na++] = d->pairs[ix[i]].r;
        qs->count[qs->n - 1]++;
    }
    free(ix);
}

void chat_qset_free(chat_qset *qs) {
    free(qs->q), free(qs->start), free(qs->count), free(qs->ans);
    memset(qs, 0, sizeof *qs);
}

// --- building ------------------------------------------------------------------------------------

static void build_model(chat_family *cf, int max_batch) {
    build_chatnet(&cf->net, cf->L, cf->dims, max_batch);
    build_chatnet(&cf->evnet, cf->L, cf->dims, EVAL_BATCH);
    size_t np = cf->net.n_params;
    cf->params = rq_calloc(np, sizeof(float));
    cf->grads = rq_calloc(np, sizeof(float));
    cf->decay_mask = rq_calloc(np, 1);
    memset(cf->decay_mask, 1, cf->net.n_weights);
    for (int l = 0; l < cf->L; l++) cf->pen[l] = rq_malloc(sizeof(float) * (size_t)max_batch * cf->dims[l + 1]);
    cf->img = rq_malloc(chat_image_size(cf->L, cf->dims));
    cf->dz_scratch = rq_malloc(sizeof(float) * 2 * cf->net.n_weights);
    // Defaults before the first calibration: a = 0, s = 0, bias unit 2^11 (1/16 of the int16 range).
    for (int l = 0; l < cf->L; l++) cf->q.bexp[l] = 11;
}

static void init_params(chat_family *cf, uint64_t seed) {
    pcg32 r;
    pcg32_seed(&r, seed, 0x696e6974 /* "init" */);
    for (size_t i = 0; i < cf->net.n_weights; i++) cf->params[i] = cf->cfg.init_std * pcg32_normal(&r);
}

static float lambda_at(const chat_family *cf, long step) {
    qat_blend b = {cf->cfg.blend_start, cf->cfg.blend_end};
    return qat_lambda(&b, step, cf->total_steps);
}

// rq_family callbacks (defined below)
static float fam_step(rq_family *f, long step, pcg32 *rng, cJSON *stats);
static void fam_after_update(rq_family *f, long step);
static double fam_evaluate(rq_family *f, long step, cJSON *out);
static void fam_progress(rq_family *f, const cJSON *stats, char *buf, size_t n);
static void fam_save(rq_family *f, rqf_writer *w);
static int fam_load(rq_family *f, const rqf_file *file);

static void fill_family(chat_family *cf, rq_family *f) {
    memset(f, 0, sizeof *f);
    f->kind = "chat", f->self = cf;
    f->params = cf->params, f->grads = cf->grads, f->n_params = cf->net.n_params, f->decay_mask = cf->decay_mask;
    f->step = fam_step, f->after_update = fam_after_update, f->evaluate = fam_evaluate, f->progress = fam_progress;
    f->save = fam_save, f->load = fam_load;
}

// Distillation targets: the teacher checkpoint's probabilities softmax(tau_t * logits) for every
// training example, logits from the teacher's integer model (infer/chat_kernel.h), tau_t its
// trained temperature. The teacher must have been trained on the same split (the same held-out
// pairs), or its outputs would carry the held-out answers into the student; it may differ in
// anything else, including the encoding (the examples are re-encoded for it in the same order).
static int teacher_targets(chat_family *cf) {
    chat_family t;
    rq_family tf;
    int rc = chat_family_open(&t, cf->cfg.teacher, &tf);
    if (rc) return rc;
    int C = cf->dims[cf->L];
    if (t.dims[t.L] != C || memcmp(t.chars, cf->chars, (size_t)cf->n_chars) != 0)
        rc = rq_fail(RQ_EINPUT, "%s: the teacher's alphabet differs from the data's", cf->cfg.teacher);
    else if (t.split_seed != cf->split_seed || fabs(t.split_frac - cf->split_frac) > 1e-6)
        rc = rq_fail(RQ_EINPUT, "%s: the teacher was trained on another split (seed %llu, held out %.3f; this run: seed %llu, %.3f): "
                     "its outputs would carry held-out answers", cf->cfg.teacher, (unsigned long long)t.split_seed, t.split_frac,
                     (unsigned long long)cf->split_seed, cf->split_frac);
    if (rc) {
        chat_family_free(&t);
        return rc;
    }
    chat_examples ex = cf->train, own = {0};
    if (memcmp(&t.enc, &cf->enc, sizeof t.enc) != 0) {
        chat_build_examples(&cf->data, cf->train_idx, cf->n_train_pairs, &t.enc, cf->chars, cf->n_chars, &own);
        ex = own;
    }
    float tau = expf(t.params[t.net.n_params - 1]);
    cf->soft = rq_malloc(sizeof(float) * (size_t)ex.n * C);
    int16_t logits[CHAT_MAX_WIDTH];
    for (int r = 0; r < ex.n; r++) {
        chat_forward(&t.im, ex.x + (size_t)r * ex.width, logits, NULL);
        float *p = cf->soft + (size_t)r * C, mx = -INFINITY, sum = 0.0f;
        for (int k = 0; k < C; k++) mx = fmaxf(mx, tau * logits[k]);
        for (int k = 0; k < C; k++) sum += p[k] = expf(tau * logits[k] - mx);
        for (int k = 0; k < C; k++) p[k] /= sum;
    }
    if (own.x) chat_free_examples(&own);
    chat_family_free(&t);
    return 0;
}

int chat_family_build(chat_family *cf, const chat_config *c, rq_family *f) {
    memset(cf, 0, sizeof *cf);
    cf->cfg = *c;
    cf->enc = c->enc, cf->max_answer = c->max_answer, cf->q.ternary = strcmp(c->weights, "ternary") == 0;
    if (!c->data[0]) return rq_fail(RQ_EINPUT, "no dataset: give \"data\" in the config or --data");
    int rc = chat_data_load(c->data, &c->dopt, &cf->data);
    if (rc) return rc;
    cf->have_data = 1;
    if (cf->data.skipped) fprintf(stderr, "retroqat: warning: %d bad lines skipped (first: %s)\n", cf->data.skipped, cf->data.first_warning);
    cf->n_chars = chat_data_charset(&cf->data, cf->chars);
    cf->split_seed = (uint64_t)c->seed, cf->split_frac = c->held_out;
    chat_data_split(&cf->data, c->held_out, cf->split_seed, &cf->train_idx, &cf->n_train_pairs, &cf->held_idx, &cf->n_held_pairs);
    cf->L = c->n_hidden + 1;
    cf->dims[0] = c->enc.q_buckets + c->enc.k_buckets;
    for (int l = 0; l < c->n_hidden; l++) cf->dims[l + 1] = c->hidden[l];
    cf->dims[cf->L] = cf->n_chars + 1;
    if (cf->dims[0] > CHAT_MAX_WIDTH) return rq_fail(RQ_EINPUT, "q_buckets + k_buckets = %d exceeds %d", cf->dims[0], CHAT_MAX_WIDTH);
    chat_build_examples(&cf->data, cf->train_idx, cf->n_train_pairs, &cf->enc, cf->chars, cf->n_chars, &cf->train);
    chat_build_examples(&cf->data, cf->held_idx, cf->n_held_pairs, &cf->enc, cf->chars, cf->n_chars, &cf->held);
    chat_qset_build(&cf->data, cf->train_idx, cf->n_train_pairs, c->eval_queries, &cf->train_q);
    chat_qset_build(&cf->data, cf->held_idx, cf->n_held_pairs, 1 << 30, &cf->held_q);
    // evaluation subset of the training examples: evenly strided
    cf->n_eval_sub = cf->train.n < c->eval_examples ? cf->train.n : c->eval_examples;
    cf->eval_sub = rq_malloc(sizeof(int) * (size_t)(cf->n_eval_sub + 1));
    for (int i = 0; i < cf->n_eval_sub; i++) cf->eval_sub[i] = (int)((long)i * cf->train.n / cf->n_eval_sub);
    int B = c->batch < cf->train.n ? c->batch : cf->train.n;
    cf->cfg.batch = B;
    cf->steps_per_epoch = (cf->train.n + B - 1) / B;
    cf->total_steps = cf->steps_per_epoch * c->epochs;
    cf->eval_every = cf->total_steps / c->evals > 0 ? cf->total_steps / c->evals : 1;
    cf->perm = rq_malloc(sizeof(int) * (size_t)cf->train.n);
    cf->perm_epoch = -1;
    cf->bx = rq_malloc((size_t)B * cf->dims[0]);
    cf->by = rq_malloc((size_t)B);
    if (c->distill > 0.0f) cf->bsoft = rq_malloc(sizeof(float) * (size_t)B * (cf->n_chars + 1));
    build_model(cf, B);
    if (c->query_zero_frac >= 0.0f) cf->q.nq = c->enc.q_buckets;
    init_params(cf, (uint64_t)c->seed);
    fill_family(cf, f);
    if (c->distill > 0.0f) return teacher_targets(cf);
    return 0;
}

void chat_family_trainer_cfg(const chat_family *cf, trainer_cfg *t) {
    trainer_cfg_defaults(t);
    t->steps = cf->total_steps;
    t->eval_every = cf->eval_every;
    t->seed = (uint64_t)cf->cfg.seed;
    t->opt.lr = cf->cfg.lr;
    t->opt.weight_decay = cf->cfg.weight_decay;
    t->opt.grad_clip = cf->cfg.grad_clip;
    t->opt.warmup_steps = (long)(cf->cfg.warmup * (float)cf->total_steps);
    t->opt.total_steps = cf->total_steps;
    t->opt.min_lr_frac = cf->cfg.min_lr_frac;
    t->unit = "ex";
    t->units_per_step = cf->cfg.batch;
}

void chat_family_free(chat_family *cf) {
    free_chatnet(&cf->net), free_chatnet(&cf->evnet);
    free(cf->params), free(cf->grads), free(cf->decay_mask), free(cf->img), free(cf->dz_scratch), free(cf->soft);
    for (int l = 0; l < CHAT_MAX_LAYERS; l++) free(cf->pen[l]);
    if (cf->have_data) {
        chat_data_free(&cf->data);
        free(cf->train_idx), free(cf->held_idx);
        chat_free_examples(&cf->train), chat_free_examples(&cf->held);
        chat_qset_free(&cf->train_q), chat_qset_free(&cf->held_q);
    }
    free(cf->eval_sub), free(cf->perm), free(cf->bx), free(cf->by), free(cf->bsoft);
    memset(cf, 0, sizeof *cf);
}

void chat_family_image(chat_family *cf) {
    chatnet_to_image(&cf->net, cf->params, &cf->q, &cf->enc, cf->max_answer, cf->chars, cf->img, &cf->im);
}

// --- calibration ---------------------------------------------------------------------------------

// Max |exact accumulator| per layer of the fully quantised model on the calibration sample.
static void measure_max_acc(chat_family *cf, double *amax) {
    int n = cf->train.n < cf->cfg.calib_examples ? cf->train.n : cf->cfg.calib_examples;
    int d0 = cf->dims[0];
    uint8_t *bx = rq_malloc((size_t)EVAL_BATCH * d0);
    for (int l = 0; l < cf->L; l++) amax[l] = 0.0;
    chatnet_prepare(&cf->evnet, cf->params, &cf->q, 1.0f);
    for (int i0 = 0; i0 < n; i0 += EVAL_BATCH) {
        int B = n - i0 < EVAL_BATCH ? n - i0 : EVAL_BATCH;
        for (int r = 0; r < B; r++) {
            long k = (long)(i0 + r) * cf->train.n / n;
            memcpy(bx + (size_t)r * d0, cf->train.x + (size_t)k * d0, (size_t)d0);
        }
        chatnet_forward_prepared(&cf->evnet, cf->params, &cf->q, 1.0f, bx, B, NULL);
        for (int l = 0; l < cf->L; l++)
            for (size_t i = 0; i < (size_t)B * cf->dims[l + 1]; i++) {
                double a = fabs(cf->evnet.acc[l][i]);
                if (a > amax[l]) amax[l] = a;
            }
    }
    free(bx);
}

// The accumulator scale of layer l (and every later one) moves by 2^delta: move the bias units
// and the loss temperature with it so the float function stays the same.
static void move_scale(chat_family *cf, int l, int delta) {
    for (int k = l; k < cf->L; k++) cf->q.bexp[k] += delta;
    cf->params[cf->net.n_params - 1] -= (float)delta * 0.69314718f;
}

static void calibrate(chat_family *cf) {
    double amax[CHAT_MAX_LAYERS], T = 32767.0 * (1.0 - cf->cfg.margin);
    for (int l = 0; l < cf->L; l++) {
        measure_max_acc(cf, amax);
        // largest e with amax * 2^e <= T: the finest scale that fits
        int e = amax[l] > 0 ? (int)floor(log2(T / amax[l])) : 30;
        if (l == 0) {
            int a = cf->q.in_shift + e;
            a = a < 0 ? 0 : a > cf->cfg.max_in_shift ? cf->cfg.max_in_shift : a;
            move_scale(cf, 0, a - cf->q.in_shift);
            cf->q.in_shift = a;
        } else {
            int s = cf->q.shift[l - 1] - e;
            s = s < 0 ? 0 : s > CHAT_MAX_SHIFT ? CHAT_MAX_SHIFT : s;
            move_scale(cf, l, cf->q.shift[l - 1] - s);
            cf->q.shift[l - 1] = s;
        }
    }
    cf->q.shift[cf->L - 1] = 0;  // the output layer is not shifted: argmax reads the accumulators
    if (!cf->calibrated) {
        // first calibration: temperature so that the largest logit is about 8 nats
        measure_max_acc(cf, amax);
        double m = amax[cf->L - 1] > 1 ? amax[cf->L - 1] : 1;
        cf->params[cf->net.n_params - 1] = (float)log(8.0 / m);
        // bias unit: 1/32 of the int16 range whatever the scales (beta is still 0 here)
        for (int l = 0; l < cf->L; l++) cf->q.bexp[l] = 10;
        cf->calibrated = 1;
    }
}

// --- sparsity -----------------------------------------------------------------------------------

#define DZ_EVERY 4  // steps between dead-zone updates

// The weights of inputs [lo, hi) of layer l (row-major dout x din at w), gathered into out.
static size_t gather_cols(const float *w, int din, int dout, int lo, int hi, float *out) {
    size_t k = 0;
    for (int j = 0; j < dout; j++)
        for (int i = lo; i < hi; i++) out[k++] = w[(size_t)j * din + i];
    return k;
}

// Dead zones for the zero share z_l * lambda(step), layer by layer (layer 1's query columns apart
// when they have their own share).
static void update_deadzones(chat_family *cf, long step) {
    float lam = lambda_at(cf, step), *gat = cf->dz_scratch + cf->net.n_weights;
    const float *w = cf->params;
    for (int l = 0; l < cf->L; l++) {
        int din = cf->dims[l], dout = cf->dims[l + 1];
        size_t n = (size_t)dout * din;
        float frac = chat_config_zero_frac(&cf->cfg, l) * lam;
        if (l == 0 && cf->q.nq > 0) {
            size_t k = gather_cols(w, din, dout, 0, cf->q.nq, gat);
            cf->q.dzq = qat_deadzone(gat, k, cf->cfg.query_zero_frac * lam, cf->dz_scratch);
            k = gather_cols(w, din, dout, cf->q.nq, din, gat);
            cf->q.dz[0] = qat_deadzone(gat, k, frac, cf->dz_scratch);
        } else {
            cf->q.dz[l] = qat_deadzone(w, n, frac, cf->dz_scratch);
        }
        w += n;
    }
}

// Share of the weights of layer l that quantise to zero (each column with its dead zone).
static double layer_zero_share(const chat_family *cf, int l, const float *w) {
    int din = cf->dims[l], dout = cf->dims[l + 1];
    size_t z = 0;
    for (int j = 0; j < dout; j++)
        for (int i = 0; i < din; i++) z += qat_wquant_dz(w[(size_t)j * din + i], cf->q.ternary, chatnet_dz(&cf->q, l, i)) == 0.0f;
    return (double)z / ((double)din * dout);
}

// L1 on the hidden outputs x_{l+1} (training graph), normalised per layer by the batch's mean
// positive output (held constant) and the width (chatnet_act_l1_forward): roughly the weight times
// the share of active units. Its accumulator gradient goes into cf->pen.
static float act_l1_penalty(chat_family *cf, int B) {
    float mu = cf->cfg.act_l1, m[CHAT_MAX_LAYERS];
    if (mu <= 0.0f) return 0.0f;
    chatnet_act_l1_norm(&cf->net, B, m);
    chatnet_act_l1_backward(&cf->net, &cf->q, B, mu, m, cf->pen);
    return chatnet_act_l1_forward(&cf->net, B, mu, m);
}

// The Z80 cost penalty (qat.cost, in nats per million T-states of a generation step): its
// accumulator gradient goes into cf->pen, its weight gradient into cf->grads.
static float cost_penalty(chat_family *cf, int B) {
    float mu = cf->cfg.cost * 1e-6f, m[CHAT_MAX_LAYERS];
    if (mu <= 0.0f) return 0.0f;
    chatnet_act_l1_norm(&cf->net, B, m);
    int qf = cf->enc.q_buckets;
    float c_col[CHAT_MAX_LAYERS], c_nz[CHAT_MAX_LAYERS];
    for (int l = 0; l < cf->L; l++) {
        c_col[l] = CHAT_Z80_T_COL + CHAT_Z80_T_VISIT;
        c_nz[l] = l == 0 && chat_z80_counters(cf->L, cf->enc.context) ? CHAT_Z80_T_NZ_COUNTER : CHAT_Z80_T_NZ;
    }
    chatnet_cost_backward(&cf->net, cf->params, &cf->q, B, qf, c_col, c_nz, mu, m, cf->pen, cf->grads);
    return chatnet_cost_forward(&cf->net, cf->params, B, qf, c_col, c_nz, mu, m);
}

// --- one step ------------------------------------------------------------------------------------

// Rows of the minibatch of `step`: epoch e's permutation comes from pcg32(seed, 100 + e).
static int gather(chat_family *cf, long step) {
    long e = step / cf->steps_per_epoch, i0 = (step % cf->steps_per_epoch) * cf->cfg.batch;
    int n = cf->train.n, d0 = cf->dims[0];
    if (e != cf->perm_epoch) {
        for (int i = 0; i < n; i++) cf->perm[i] = i;
        pcg32 r;
        pcg32_seed(&r, (uint64_t)cf->cfg.seed, 100 + (uint64_t)e);
        pcg32_shuffle(&r, cf->perm, n);
        cf->perm_epoch = e;
    }
    int B = n - i0 < cf->cfg.batch ? (int)(n - i0) : cf->cfg.batch;
    for (int r = 0; r < B; r++) {
        int k = cf->perm[i0 + r];
        memcpy(cf->bx + (size_t)r * d0, cf->train.x + (size_t)k * d0, (size_t)d0);
        cf->by[r] = cf->train.y[k];
        if (cf->soft) memcpy(cf->bsoft + (size_t)r * cf->dims[cf->L], cf->soft + (size_t)k * cf->dims[cf->L], sizeof(float) * cf->dims[cf->L]);
    }
    return B;
}

static double batch_acc(const chatnet *n, int B, const uint8_t *y) {
    int C = n->dims[n->L], ok = 0;
    for (int r = 0; r < B; r++) {
        const float *h = n->x[n->L] + (size_t)r * C;
        int best = 0;
        for (int k = 1; k < C; k++)
            if (h[k] > h[best]) best = k;
        ok += best == y[r];
    }
    return B ? (double)ok / B : 0;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// CPU seconds of the whole process (BLAS threads included): on a shared machine this, not the
// wall clock, measures the work.
static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Query dropout (augmentation): each query trigram of the batch is dropped with probability p, as
// a typo or a rephrasing would remove it. Draws come from the trainer's checkpointed rng.
static void drop_query_trigrams(chat_family *cf, int B, pcg32 *rng) {
    float p = cf->cfg.query_dropout;
    for (int r = 0; r < B; r++) {
        uint8_t *x = cf->bx + (size_t)r * cf->dims[0];
        for (int i = 0; i < cf->enc.q_buckets; i++)
            for (int k = x[i]; k > 0; k--)
                if (pcg32_float(rng) < p) x[i]--;
    }
}

static float fam_step(rq_family *f, long step, pcg32 *rng, cJSON *stats) {
    // batches are a function of (seed, step); the augmentation draws from rng
    chat_family *cf = f->self;
    double t0 = now_s(), c0 = cpu_s();
    if (cf->t_start == 0.0) cf->t_start = t0;
    if (step % cf->eval_every == 0 && (step == 0 || lambda_at(cf, step - cf->eval_every) < 1.0f)) calibrate(cf);
    if (any_zero_frac(&cf->cfg) && step % DZ_EVERY == 0) update_deadzones(cf, step);
    float lam = lambda_at(cf, step);
    int B = gather(cf, step);
    if (cf->cfg.query_dropout > 0.0f) drop_query_trigrams(cf, B, rng);
    if (cf->soft) cf->net.soft = cf->bsoft, cf->net.soft_w = cf->cfg.distill;
    float ce = chatnet_forward(&cf->net, cf->params, &cf->q, lam, cf->bx, B, cf->by);
    double acc = batch_acc(&cf->net, B, cf->by), iacc = acc;
    // The exact integer accumulators: the lambda = 1 pass (the same numbers as infer/).
    chatnet *fq = &cf->net;
    if (lam < 1.0f) {
        fq = &cf->evnet;
        chatnet_forward(fq, cf->params, &cf->q, 1.0f, cf->bx, B, NULL);
        iacc = batch_acc(fq, B, cf->by);
    }
    float pen = 0.0f, limit = 32767.0f * (1.0f - cf->cfg.margin);  // the calibration target
    long wraps = 0;
    for (int l = 0; l < cf->L; l++) {
        size_t n = (size_t)B * cf->dims[l + 1];
        memset(cf->pen[l], 0, sizeof(float) * n);
        pen += qat_overflow_penalty(fq->acc[l], cf->pen[l], n, limit, cf->cfg.overflow_mu, B, &wraps);
    }
    memset(cf->grads, 0, sizeof(float) * cf->net.n_params);
    float apen = act_l1_penalty(cf, B), cpen = cost_penalty(cf, B);
    chatnet_backward(&cf->net, cf->params, &cf->q, lam, B, cf->by, cf->pen, cf->grads);
    cf->net.soft = NULL;
    // grid loss: gamma * mean over all weights of (w - q_t(w))^2, each layer with its dead zone
    float grid = 0.0f;
    size_t o = 0;
    for (int l = 0; l < cf->L; l++) {
        int din = cf->dims[l], dout = cf->dims[l + 1], nq = l == 0 ? cf->q.nq : 0;
        size_t n = (size_t)dout * din;
        float g = cf->cfg.grid_loss * (float)n / (float)cf->net.n_weights;
        if (nq == 0) grid += qat_grid_loss_dz(cf->params + o, cf->grads + o, n, g, cf->q.ternary, cf->q.dz[l]);
        else  // row by row: the query columns, then the context columns (the mean is over the layer)
            for (int j = 0; j < dout; j++) {
                size_t r = o + (size_t)j * din;
                grid += qat_grid_loss_dz(cf->params + r, cf->grads + r, (size_t)nq, g * (float)nq / (float)n, cf->q.ternary, cf->q.dzq);
                grid += qat_grid_loss_dz(cf->params + r + nq, cf->grads + r + nq, (size_t)(din - nq), g * (float)(din - nq) / (float)n,
                                         cf->q.ternary, cf->q.dz[0]);
            }
        o += n;
    }
    cJSON_AddNumberToObject(stats, "epoch", (double)(step / cf->steps_per_epoch + 1));
    cJSON_AddNumberToObject(stats, "ce", ce);
    cJSON_AddNumberToObject(stats, "acc", acc);
    cJSON_AddNumberToObject(stats, "int_acc", iacc);
    cJSON_AddNumberToObject(stats, "lambda", lam);
    cJSON_AddNumberToObject(stats, "overflow_pen", pen);
    cJSON_AddNumberToObject(stats, "wraps", (double)wraps);
    if (cf->cfg.act_l1 > 0.0f) cJSON_AddNumberToObject(stats, "act_l1_pen", apen);
    if (cf->cfg.cost > 0.0f) cJSON_AddNumberToObject(stats, "cost_pen", cpen);
    cf->train_s += now_s() - t0;
    cf->train_cpu_s += cpu_s() - c0;
    cf->seen += B;
    return ce + pen + apen + cpen + grid;
}

static void fam_after_update(rq_family *f, long step) {
    (void)step;
    chat_family *cf = f->self;
    // Shadows beyond half a step outside the grid only slow the way back. With a dead zone t the
    // bounds widen to t + 1/2, so that a weight can always climb out of it (t may exceed 1.5).
    size_t o = 0;
    float keep = 1.0f - cf->cfg.zero_decay;
    for (int l = 0; l < cf->L; l++)
        for (int j = 0; j < cf->dims[l + 1]; j++)
            for (int i = 0; i < cf->dims[l]; i++, o++) {
                float dz = chatnet_dz(&cf->q, l, i), lo = cf->q.ternary ? -1.5f : -2.5f, hi = 1.5f, t = dz + 0.5f;
                if (t > hi) hi = t;
                if (-t < lo) lo = -t;
                // Shadows inside the dead zone shrink by qat.zero_decay per step: the zeroed weights
                // gather near 0, so t stays near the smallest surviving |w| instead of drifting up
                // with the random walk of the zeroed ones, and a weight stays non-zero only while
                // its gradient keeps it out.
                float w = cf->params[o];
                if (w < dz && w > -dz) w *= keep;
                cf->params[o] = w < lo ? lo : w > hi ? hi : w;
            }
    float *lt = &cf->params[cf->net.n_params - 1];
    *lt = *lt < -30.0f ? -30.0f : *lt > 10.0f ? 10.0f : *lt;
}

static void fam_progress(rq_family *f, const cJSON *stats, char *buf, size_t n) {
    const chat_family *cf = f->self;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(stats, "epoch");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(stats, "acc"), *i = cJSON_GetObjectItemCaseSensitive(stats, "int_acc"),
                *l = cJSON_GetObjectItemCaseSensitive(stats, "lambda");
    snprintf(buf, n, "epoch %.0f/%d | acc %.3f | int acc %.3f | quant %.2f", e ? e->valuedouble : 0, cf->cfg.epochs,
             a ? a->valuedouble : 0, i ? i->valuedouble : 0, l ? l->valuedouble : 0);
}

// --- measuring -----------------------------------------------------------------------------------

// The integer half of a measurement, over rows [lo, hi) and queries [qlo, qhi): run by two threads
// (the kernel is reentrant; every result is a count or a maximum, so the split does not matter).
typedef struct {
    const chat_family *cf;
    const uint8_t *x, *y;  // gathered rows
    const float *fq;       // fake-quant logits of the rows
    const chat_qset *qs;
    int lo, hi, qlo, qhi;
    long ok, mismatch, overflows, exact;
    double maxabs[CHAT_MAX_LAYERS];
    long active[CHAT_MAX_LAYERS];  // hidden outputs > 0 (the inputs the kernel's next layer visits)
    long ctx_active;               // non-zero context buckets (the layer-1 columns of a step)
} int_job;

static void *int_worker(void *arg) {
    int_job *j = arg;
    const chat_family *cf = j->cf;
    int L = cf->L, C = cf->dims[L], d0 = cf->dims[0];
    int32_t accbuf[CHAT_MAX_LAYERS][CHAT_MAX_WIDTH];
    int32_t *accp[CHAT_MAX_LAYERS];
    for (int l = 0; l < L; l++) accp[l] = accbuf[l];
    int16_t logits[CHAT_MAX_WIDTH];
    for (int r = j->lo; r < j->hi; r++) {
        int k = chat_forward(&cf->im, j->x + (size_t)r * d0, logits, accp);
        for (int i = cf->enc.q_buckets; i < d0; i++) j->ctx_active += j->x[(size_t)r * d0 + i] != 0;
        j->ok += k == j->y[r];
        const float *fq = j->fq + (size_t)r * C;
        int same = 1;
        for (int c = 0; c < C; c++) same &= (float)logits[c] == fq[c];
        j->mismatch += !same;
        for (int l = 0; l < L; l++)
            for (int c = 0; c < cf->dims[l + 1]; c++) {
                int32_t a = accbuf[l][c];
                j->overflows += a > 32767 || a < -32768;
                if (fabs((double)a) > j->maxabs[l]) j->maxabs[l] = fabs((double)a);
                // ReLU(floor(wrap16(acc) / 2^s)) > 0 on hidden layers
                if (l + 1 < L) j->active[l] += (int16_t)(uint16_t)(uint32_t)a >> cf->q.shift[l] > 0;
            }
    }
    char ans[256];
    for (int q = j->qlo; q < j->qhi; q++) {
        chat_generate(&cf->im, j->qs->q[q], (int)strlen(j->qs->q[q]), ans, sizeof ans);
        for (int k = 0; k < j->qs->count[q]; k++)
            if (strcmp(ans, j->qs->ans[j->qs->start[q] + k]) == 0) {
                j->exact++;
                break;
            }
    }
    return NULL;
}

void chat_measure(chat_family *cf, const chat_examples *ex, const int *sub, int n_sub, const chat_qset *qs, cJSON *out) {
    int n = sub ? n_sub : ex->n, d0 = cf->dims[0], L = cf->L, C = cf->dims[L];
    uint8_t *x = rq_malloc((size_t)n * d0 + 1), *y = rq_malloc((size_t)n + 1);
    float *fq = rq_malloc(sizeof(float) * ((size_t)n * C + 1));
    for (int r = 0; r < n; r++) {
        int k = sub ? sub[r] : r;
        memcpy(x + (size_t)r * d0, ex->x + (size_t)k * d0, (size_t)d0);
        y[r] = ex->y[k];
    }
    // float (lambda 0) and fake-quant (lambda 1) passes, batched through BLAS
    double loss_f = 0, loss_q = 0;
    long ok_f = 0, ok_q = 0;
    for (int pass = 0; pass < 2; pass++) {
        chatnet_prepare(&cf->evnet, cf->params, &cf->q, (float)pass);
        for (int i0 = 0; i0 < n; i0 += EVAL_BATCH) {
            int B = n - i0 < EVAL_BATCH ? n - i0 : EVAL_BATCH;
            const uint8_t *bx = x + (size_t)i0 * d0, *by = y + i0;
            double loss = chatnet_forward_prepared(&cf->evnet, cf->params, &cf->q, (float)pass, bx, B, by) * B;
            long ok = lround(batch_acc(&cf->evnet, B, by) * B);
            if (pass == 0) loss_f += loss, ok_f += ok;
            else loss_q += loss, ok_q += ok, memcpy(fq + (size_t)i0 * C, cf->evnet.x[L], sizeof(float) * (size_t)B * C);
        }
    }
    // the integer kernel, two threads
    int_job jobs[2];
    memset(jobs, 0, sizeof jobs);
    for (int t = 0; t < 2; t++) {
        jobs[t] = (int_job){.cf = cf, .x = x, .y = y, .fq = fq, .qs = qs};
        jobs[t].lo = t == 0 ? 0 : n / 2, jobs[t].hi = t == 0 ? n / 2 : n;
        jobs[t].qlo = t == 0 ? 0 : qs->n / 2, jobs[t].qhi = t == 0 ? qs->n / 2 : qs->n;
    }
    pthread_t th;
    int threaded = pthread_create(&th, NULL, int_worker, &jobs[1]) == 0;
    int_worker(&jobs[0]);
    if (threaded) pthread_join(th, NULL);
    else int_worker(&jobs[1]);
    long ok_i = jobs[0].ok + jobs[1].ok, mismatch = jobs[0].mismatch + jobs[1].mismatch;
    long overflows = jobs[0].overflows + jobs[1].overflows, exact = jobs[0].exact + jobs[1].exact;
    double dn = n ? n : 1;
    cJSON_AddNumberToObject(out, "examples", n);
    cJSON_AddNumberToObject(out, "loss", loss_q / dn);
    cJSON_AddNumberToObject(out, "float_loss", loss_f / dn);
    cJSON_AddNumberToObject(out, "float_acc", ok_f / dn);
    cJSON_AddNumberToObject(out, "fq_acc", ok_q / dn);
    cJSON_AddNumberToObject(out, "int_acc", ok_i / dn);
    cJSON_AddNumberToObject(out, "queries", qs->n);
    cJSON_AddNumberToObject(out, "int_exact", qs->n ? (double)exact / qs->n : 0);
    cJSON_AddNumberToObject(out, "overflows", (double)overflows);
    cJSON_AddNumberToObject(out, "fq_int_mismatch", (double)mismatch);
    cJSON *ma = cJSON_AddArrayToObject(out, "max_abs_acc");
    for (int l = 0; l < L; l++) cJSON_AddItemToArray(ma, cJSON_CreateNumber(fmax(jobs[0].maxabs[l], jobs[1].maxabs[l])));
    cJSON *au = cJSON_AddArrayToObject(out, "active_units");  // mean per example, hidden layers
    double active[CHAT_MAX_LAYERS], ctx = (jobs[0].ctx_active + jobs[1].ctx_active) / dn;
    for (int l = 0; l + 1 < L; l++) {
        active[l] = (jobs[0].active[l] + jobs[1].active[l]) / dn;
        cJSON_AddItemToArray(au, cJSON_CreateNumber(active[l]));
    }
    cJSON_AddNumberToObject(out, "active_inputs", ctx);  // mean non-zero context buckets
    // the Z80 kernel's cost model on these activations (qat/chat_z80_cost.h)
    cJSON_AddNumberToObject(out, "z80_tstates_step", chat_z80_step_estimate(&cf->im, ctx, active));
    free(x), free(y), free(fq);
}

static void add_quant(const chat_family *cf, cJSON *out) {
    cJSON_AddNumberToObject(out, "in_shift", cf->q.in_shift);
    cJSON *s = cJSON_AddArrayToObject(out, "shifts");
    for (int l = 0; l < cf->L; l++) cJSON_AddItemToArray(s, cJSON_CreateNumber(cf->q.shift[l]));
    // share of non-zero weight codes per layer and overall (what the Z80 kernel's cost follows)
    cJSON *nz = cJSON_AddArrayToObject(out, "nonzero_share"), *dz = cJSON_AddArrayToObject(out, "dead_zone");
    const float *w = cf->params;
    double nzs = 0;
    for (int l = 0; l < cf->L; l++) {
        size_t n = (size_t)cf->dims[l + 1] * cf->dims[l];
        double z = layer_zero_share(cf, l, w);
        nzs += (1.0 - z) * (double)n;
        cJSON_AddItemToArray(nz, cJSON_CreateNumber(1.0 - z));
        cJSON_AddItemToArray(dz, cJSON_CreateNumber(cf->q.dz[l]));
        w += n;
    }
    if (cf->q.nq > 0) cJSON_AddNumberToObject(out, "query_dead_zone", cf->q.dzq);
    cJSON_AddNumberToObject(out, "nonzero", nzs / (double)cf->net.n_weights);
    // weight codes per layer in the integer image: counts of -2, -1, 0, +1
    cJSON *ch = cJSON_AddArrayToObject(out, "code_hist");
    int8_t row[CHAT_MAX_WIDTH];
    for (int l = 0; l < cf->L; l++) {
        long cnt[4] = {0, 0, 0, 0};
        int n_in = cf->dims[l], rb = chat_row_bytes(n_in);
        for (int r = 0; r < cf->dims[l + 1]; r++) {
            chat_unpack_row(cf->im.w[l] + (size_t)r * rb, n_in, row);
            for (int i = 0; i < n_in; i++) cnt[row[i] + 2]++;
        }
        cJSON *h = cJSON_CreateArray();
        for (int k = 0; k < 4; k++) cJSON_AddItemToArray(h, cJSON_CreateNumber((double)cnt[k]));
        cJSON_AddItemToArray(ch, h);
    }
}

static double fam_evaluate(rq_family *f, long step, cJSON *out) {
    chat_family *cf = f->self;
    chat_family_image(cf);
    double t0 = now_s();
    cJSON_AddNumberToObject(out, "lambda", lambda_at(cf, step));
    add_quant(cf, out);
    cJSON *tr = cJSON_AddObjectToObject(out, "train");
    chat_measure(cf, &cf->train, cf->eval_sub, cf->n_eval_sub, &cf->train_q, tr);
    cJSON *ref = tr;
    if (cf->held.n > 0) {
        cJSON *ho = cJSON_AddObjectToObject(out, "held_out");
        chat_measure(cf, &cf->held, NULL, 0, &cf->held_q, ho);
        ref = ho;
    }
    cf->eval_s += now_s() - t0;
    // timing (this process only; not part of any checkpoint)
    cJSON_AddNumberToObject(out, "train_s", cf->train_s);
    cJSON_AddNumberToObject(out, "train_cpu_s", cf->train_cpu_s);
    cJSON_AddNumberToObject(out, "examples_seen", (double)cf->seen);
    cJSON_AddNumberToObject(out, "eval_s", cf->eval_s);
    cJSON_AddNumberToObject(out, "elapsed_s", now_s() - cf->t_start);
    double ex = cJSON_GetObjectItemCaseSensitive(ref, "int_exact")->valuedouble;
    double ia = cJSON_GetObjectItemCaseSensitive(ref, "int_acc")->valuedouble;
    // With qat.zero_frac only evaluations after the blend (dead zones at their full width) can
    // be best.ckpt: an earlier, denser model would not be the sparse model asked for.
    double early = any_zero_frac(&cf->cfg) && lambda_at(cf, step) < 1.0f ? 2.0 : 0.0;
    return ex + 1e-3 * ia - early;
}

// --- checkpoint sections -------------------------------------------------------------------------
//   CQNT  u32 version; i32 a; i32 L; L x i32 shift; L x i32 bexp; i32 ternary; i32 calibrated;
//         u64 split seed; f32 held-out fraction; u32 n + n bytes dataset path;
//         (version 2) L x f32 dead zone t_l (version 1: none, the plain grid)
//         (version 3) i32 nq, f32 dzq: the first nq inputs of layer 1 have the dead zone dzq
//   CIMG  the integer model image of the parameters (docs/chat-contract.md), what an exporter reads

static void fam_save(rq_family *f, rqf_writer *w) {
    chat_family *cf = f->self;
    rq_buf *b = rqf_section_begin(w, "CQNT");
    rq_buf_u32(b, CHAT_CKPT_VERSION);
    rq_buf_i32(b, cf->q.in_shift);
    rq_buf_i32(b, cf->L);
    for (int l = 0; l < cf->L; l++) rq_buf_i32(b, cf->q.shift[l]);
    for (int l = 0; l < cf->L; l++) rq_buf_i32(b, cf->q.bexp[l]);
    rq_buf_i32(b, cf->q.ternary);
    rq_buf_i32(b, cf->calibrated);
    rq_buf_u64(b, cf->split_seed);
    rq_buf_f32(b, (float)cf->split_frac);
    uint32_t n = (uint32_t)strlen(cf->cfg.data);
    rq_buf_u32(b, n);
    rq_buf_put(b, cf->cfg.data, n);
    for (int l = 0; l < cf->L; l++) rq_buf_f32(b, cf->q.dz[l]);
    rq_buf_i32(b, cf->q.nq);
    rq_buf_f32(b, cf->q.dzq);
    chat_family_image(cf);
    b = rqf_section_begin(w, "CIMG");
    rq_buf_put(b, cf->img, chat_image_size(cf->L, cf->dims));
}

static int fam_load(rq_family *f, const rqf_file *file) {
    chat_family *cf = f->self;
    rq_reader r;
    int rc = rqf_section(file, "CQNT", &r);
    if (rc) return rc;
    uint32_t version = rq_rd_u32(&r, "version");
    if (version < 1 || version > CHAT_CKPT_VERSION) return rq_reader_fail(&r, "unsupported CQNT version %u", version);
    int a = rq_rd_i32(&r, "in_shift"), L = rq_rd_i32(&r, "layers");
    if (L != cf->L) return rq_reader_fail(&r, "checkpoint has %d layers, the model %d", L, cf->L);
    chatnet_quant q = {.in_shift = a};
    for (int l = 0; l < L; l++) q.shift[l] = rq_rd_i32(&r, "shift");
    for (int l = 0; l < L; l++) q.bexp[l] = rq_rd_i32(&r, "bexp");
    q.ternary = rq_rd_i32(&r, "ternary");
    int calibrated = rq_rd_i32(&r, "calibrated");
    uint64_t seed = rq_rd_u64(&r, "split seed");
    float frac = rq_rd_f32(&r, "held-out fraction");
    uint32_t n = rq_rd_u32(&r, "path length");
    const uint8_t *p = n < 1024 ? rq_rd_bytes(&r, n, "path") : NULL;
    if (r.err) return r.err;
    if (!p) return rq_reader_fail(&r, "bad dataset path length %u", n);
    if (version >= 2)
        for (int l = 0; l < L; l++) {
            q.dz[l] = rq_rd_f32(&r, "dead zone");
            if (r.err) return r.err;
            if (!(q.dz[l] >= 0.0f && q.dz[l] < 1e6f)) return rq_reader_fail(&r, "bad dead zone %g", (double)q.dz[l]);
        }
    if (version >= 3) {
        q.nq = rq_rd_i32(&r, "query columns");
        q.dzq = rq_rd_f32(&r, "query dead zone");
        if (r.err) return r.err;
        if (q.nq < 0 || q.nq > cf->dims[0]) return rq_reader_fail(&r, "bad number of query columns %d", q.nq);
        if (!(q.dzq >= 0.0f && q.dzq < 1e6f)) return rq_reader_fail(&r, "bad query dead zone %g", (double)q.dzq);
    }
    if (a < 0 || a > CHAT_MAX_IN_SHIFT) return rq_reader_fail(&r, "bad input shift %d", a);
    for (int l = 0; l < L; l++)
        if (q.shift[l] < 0 || q.shift[l] > CHAT_MAX_SHIFT) return rq_reader_fail(&r, "bad shift %d", q.shift[l]);
    if (q.ternary != cf->q.ternary) return rq_reader_fail(&r, "weight mode differs from the config");
    // The image must describe the same shapes and alphabet.
    rq_reader ri;
    if ((rc = rqf_section(file, "CIMG", &ri))) return rc;
    chat_imodel m;
    if ((rc = chat_image_parse_at(ri.data, ri.len, file->path, (long)ri.origin, &m))) return rc;
    for (int l = 0; l <= L; l++)
        if (m.dims[l] != cf->dims[l]) return rq_fail(RQ_EINPUT, "%s: layer %d width %d, the model has %d", file->path, l, m.dims[l], cf->dims[l]);
    if (memcmp(m.charset, cf->chars, (size_t)cf->n_chars) != 0) return rq_fail(RQ_EINPUT, "%s: the checkpoint's alphabet differs from the data's", file->path);
    cf->q = q, cf->calibrated = calibrated, cf->split_seed = seed, cf->split_frac = frac;
    if (!cf->have_data) {
        memcpy(cf->cfg.data, p, n);
        cf->cfg.data[n] = 0;
    }
    return 0;
}

int chat_family_open(chat_family *cf, const char *path, rq_family *f) {
    memset(cf, 0, sizeof *cf);
    rqf_file file;
    int rc = rqf_open(&file, path, "chat");
    if (rc) return rc;
    rq_reader ri;
    chat_imodel m;
    if ((rc = rqf_section(&file, "CIMG", &ri)) || (rc = chat_image_parse_at(ri.data, ri.len, path, (long)ri.origin, &m))) {
        rqf_close(&file);
        return rc;
    }
    chat_config_default(&cf->cfg);
    cf->enc = m.enc, cf->max_answer = m.max_answer, cf->L = m.n_layers, cf->q.ternary = m.mode == CHAT_WTERNARY;
    for (int l = 0; l <= cf->L; l++) cf->dims[l] = m.dims[l];
    cf->n_chars = m.dims[cf->L] - 1;
    memcpy(cf->chars, m.charset, (size_t)cf->n_chars);
    cf->chars[cf->n_chars] = 0;
    build_model(cf, EVAL_BATCH);
    fill_family(cf, f);
    if ((rc = trainer_load_params(f, &file)) || (rc = fam_load(f, &file))) {
        rqf_close(&file);
        chat_family_free(cf);
        return rc;
    }
    // The stored image (what `chat` and the exporters read) must be exactly the parameters'
    // integer model (what eval measures).
    chat_family_image(cf);
    size_t n = chat_image_size(cf->L, cf->dims);
    if (ri.len != n || memcmp(ri.data, cf->img, n) != 0) {
        rqf_close(&file);
        chat_family_free(cf);
        return rq_fail(RQ_EINPUT, "%s: the CIMG image does not match the checkpoint's parameters", path);
    }
    rqf_close(&file);
    return 0;
}
