// llama_family.c: training and fine-tuning llama2.c models through the shared trainer, in float
// or, with a "qat" section, quantisation-aware for the integer contract (qat/lm_qat.h).
#include "train/llama_family.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/err.h"
#include "base/rqfile.h"
#include "base/args.h"
#include "data/textdata.h"
#include "data/tokenizer.h"
#include "export/lm_image_write.h"
#include "model/llama_ckpt.h"
#include "model/llama_train.h"
#include "qat/lm_qat.h"
#include "qat/model_open.h"
#include "train/trainer.h"

// ---- configuration ---------------------------------------------------------------------------

typedef struct {
    char init[1024], tokenizer[1100], train_path[1024], valid_path[1024], out[1024];
    llama_config arch;
    int have_arch;
    int valid_tokens, valid_spread;
    int steps, batch, seq_len, grad_accum, warmup, eval_every, seed;
    float lr, min_lr_frac, weight_decay, grad_clip, beta1, beta2;
    int qat;  // a "qat" section: quantisation-aware training with q
    lm_qat_cfg q;
} llama_train_cfg;

// Parse and apply the config; the defaults depend on whether it is QAT (lm_qat.h). The required
// keys are checked by check_cfg, after the command line's overrides.
static int load_cfg(const char *path, llama_train_cfg *c) {
    cJSON *json;
    int rc = cfg_parse_file(path, &json);
    if (rc) return rc;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(json, "model");
    memset(c, 0, sizeof *c);
    c->have_arch = cJSON_GetObjectItemCaseSensitive(json, "arch") != NULL;
    c->qat = cJSON_GetObjectItemCaseSensitive(json, "qat") != NULL;
    if (!c->qat && cJSON_IsString(model) && strcmp(model->valuestring, "llama-int8") == 0) {
        cJSON_Delete(json);
        return rq_fail(RQ_EINPUT, "%s: $.qat: missing (\"model\": \"llama-int8\" is QAT; {} for the defaults)", path);
    }
    c->steps = 1000, c->batch = 32, c->seq_len = 256, c->grad_accum = 1, c->warmup = 100, c->eval_every = 100, c->seed = 1337;
    c->lr = 1e-3f, c->min_lr_frac = 0.1f, c->weight_decay = 0.1f, c->grad_clip = 1.0f, c->beta1 = 0.9f, c->beta2 = 0.95f;
    c->arch.shared_classifier = 1;
    c->q = (lm_qat_cfg){.wbits = 8, .calib_tokens = 0, .recalibrate = 1, .fake_quant_weights = 1, .distill = 0, .scale_lr = 1e-3f, .clip_lr = 1e-3f, .synthetic_frac = 0.5f};
    int mb[LM_NMAT] = {0};
    if (c->qat) {
        c->steps = 200, c->batch = 8, c->warmup = 10, c->eval_every = 50, c->lr = 1e-4f, c->weight_decay = 0.0f;
        c->valid_tokens = 16384;
    }
    c->out[0] = 0;  // the default (below) is relative to the current directory, a configured one is not
    const cfg_field arch[] = {
        {"dim", CFG_INT, &c->arch.dim, 1, 65536, 0, NULL, NULL},
        {"hidden_dim", CFG_INT, &c->arch.hidden_dim, 1, 1 << 20, 0, NULL, NULL},
        {"n_layers", CFG_INT, &c->arch.n_layers, 1, 1024, 0, NULL, NULL},
        {"n_heads", CFG_INT, &c->arch.n_heads, 1, 4096, 0, NULL, NULL},
        {"n_kv_heads", CFG_INT, &c->arch.n_kv_heads, 1, 4096, 0, NULL, NULL},
        {"vocab_size", CFG_INT, &c->arch.vocab_size, 1, 65536, 0, NULL, NULL},
        {"seq_len", CFG_INT, &c->arch.seq_len, 1, 1 << 20, 0, NULL, NULL},
        {"shared_classifier", CFG_BOOL, &c->arch.shared_classifier, 0, 0, 0, NULL, NULL},
        {0},
    };
    const cfg_field data[] = {
        {"train", CFG_STR, c->train_path, 0, 0, sizeof c->train_path, NULL, NULL},
        {"valid", CFG_STR, c->valid_path, 0, 0, sizeof c->valid_path, NULL, NULL},
        {"valid_tokens", CFG_INT, &c->valid_tokens, 0, 1e9, 0, NULL, NULL},
        {"valid_spread", CFG_BOOL, &c->valid_spread, 0, 0, 0, NULL, NULL},
        {0},
    };
    const cfg_field train[] = {
        {"steps", CFG_INT, &c->steps, 1, 1e9, 0, NULL, NULL},
        {"batch", CFG_INT, &c->batch, 1, 4096, 0, NULL, NULL},
        {"seq_len", CFG_INT, &c->seq_len, 2, 1 << 20, 0, NULL, NULL},
        {"grad_accum", CFG_INT, &c->grad_accum, 1, 4096, 0, NULL, NULL},
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
    const cfg_field mbits[] = {
        {"wq", CFG_INT, &mb[LM_WQ], 2, 8, 0, NULL, NULL},
        {"wk", CFG_INT, &mb[LM_WK], 2, 8, 0, NULL, NULL},
        {"wv", CFG_INT, &mb[LM_WV], 2, 8, 0, NULL, NULL},
        {"wo", CFG_INT, &mb[LM_WO], 2, 8, 0, NULL, NULL},
        {"w1", CFG_INT, &mb[LM_W1], 2, 8, 0, NULL, NULL},
        {"w2", CFG_INT, &mb[LM_W2], 2, 8, 0, NULL, NULL},
        {"w3", CFG_INT, &mb[LM_W3], 2, 8, 0, NULL, NULL},
        {0},
    };
    const cfg_field qat[] = {
        {"wbits", CFG_INT, &c->q.wbits, 2, 8, 0, NULL, NULL},
        {"matrix_bits", CFG_OBJ, NULL, 0, 0, 0, NULL, mbits},
        {"ternary", CFG_BOOL, &c->q.ternary, 0, 0, 0, NULL, NULL},
        {"midrise", CFG_BOOL, &c->q.midrise, 0, 0, 0, NULL, NULL},
        {"lsq", CFG_BOOL, &c->q.lsq, 0, 0, 0, NULL, NULL},
        {"scale_lr", CFG_FLOAT, &c->q.scale_lr, 0, 1, 0, NULL, NULL},
        {"calib_tokens", CFG_INT, &c->q.calib_tokens, 0, 1 << 24, 0, NULL, NULL},
        {"recalibrate", CFG_BOOL, &c->q.recalibrate, 0, 0, 0, NULL, NULL},
        {"calib_quantized", CFG_BOOL, &c->q.calib_quantized, 0, 0, 0, NULL, NULL},
        {"synthetic_tokens", CFG_INT, &c->q.synthetic_tokens, 0, 1 << 28, 0, NULL, NULL},
        {"synthetic_frac", CFG_FLOAT, &c->q.synthetic_frac, 0, 1, 0, NULL, NULL},
        {"distill", CFG_FLOAT, &c->q.distill, 0, 1, 0, NULL, NULL},
        {"fake_quant_weights", CFG_BOOL, &c->q.fake_quant_weights, 0, 0, 0, NULL, NULL},
        {"teacher", CFG_STR, c->q.teacher, 0, 0, sizeof c->q.teacher, NULL, NULL},
        {"learn_clips", CFG_BOOL, &c->q.learn_clips, 0, 0, 0, NULL, NULL},
        {"clip_lr", CFG_FLOAT, &c->q.clip_lr, 0, 1, 0, NULL, NULL},
        {"blend_start", CFG_FLOAT, &c->q.blend_start, 0, 1, 0, NULL, NULL},
        {"blend_end", CFG_FLOAT, &c->q.blend_end, 0, 1, 0, NULL, NULL},
        {0},
    };
    char model_name[16] = "";
    const cfg_field root[] = {
        {"model", CFG_STR, model_name, 0, 0, sizeof model_name, NULL, NULL},
        {"comment", CFG_IGNORE, NULL, 0, 0, 0, NULL, NULL},
        {"init", CFG_STR, c->init, 0, 0, sizeof c->init, NULL, NULL},
        {"tokenizer", CFG_STR, c->tokenizer, 0, 0, sizeof c->tokenizer, NULL, NULL},
        {"arch", CFG_OBJ, NULL, 0, 0, 0, NULL, arch},
        {"data", CFG_OBJ, NULL, 0, 0, 0, NULL, data},
        {"train", CFG_OBJ, NULL, 0, 0, 0, NULL, train},
        {"qat", CFG_OBJ, NULL, 0, 0, 0, NULL, qat},
        {"out", CFG_STR, c->out, 0, 0, sizeof c->out, NULL, NULL},
        {0},
    };
    rc = cfg_apply(json, path, root);
    cJSON_Delete(json);
    if (rc) return rc;
    // Paths in the config are relative to the config file's folder (base/config.h); the
    // command line's --init/--data/--valid/--out, applied later, to the current directory.
    char *paths[6] = {c->init, c->tokenizer, c->train_path, c->valid_path, c->out, c->q.teacher};
    size_t caps[6] = {sizeof c->init, sizeof c->tokenizer, sizeof c->train_path, sizeof c->valid_path, sizeof c->out, sizeof c->q.teacher};
    for (int i = 0; i < 6; i++)
        if ((rc = cfg_resolve_path(path, paths[i], caps[i]))) return rc;
    if (!c->out[0]) snprintf(c->out, sizeof c->out, c->qat ? "runs/llama-int8" : "runs/llama");
    if (c->qat && c->q.wbits != 8 && c->q.wbits != 4 && c->q.wbits != 2) return rq_fail(RQ_EINPUT, "%s: $.qat.wbits: 8, 4 or 2, not %d", path, c->q.wbits);
    if (c->qat && c->q.ternary && c->q.midrise) return rq_fail(RQ_EINPUT, "%s: $.qat: \"ternary\" and \"midrise\" are two different 2-bit grids: pick one", path);
    static const char *mname[LM_NMAT] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};
    for (int k = 0; k < LM_NMAT; k++) {
        if (mb[k] && mb[k] != 8 && mb[k] != 4 && mb[k] != 2)
            return rq_fail(RQ_EINPUT, "%s: $.qat.matrix_bits.%s: 8, 4 or 2, not %d", path, mname[k], mb[k]);
        c->q.mbits[k] = (uint8_t)mb[k];
    }
    return 0;
}

// The keys a run needs, once --init/--data/--valid have had their say.
static int check_cfg(const char *path, const llama_train_cfg *c) {
    if (!c->tokenizer[0]) return rq_fail(RQ_EINPUT, "%s: $.tokenizer: missing (a llama2.c tokenizer .bin)", path);
    if (!c->train_path[0]) return rq_fail(RQ_EINPUT, "%s: $.data.train: missing (or pass --data)", path);
    if (!c->valid_path[0]) return rq_fail(RQ_EINPUT, "%s: $.data.valid: missing (or pass --valid)", path);
    if (c->qat && !c->init[0]) return rq_fail(RQ_EINPUT, "%s: $.init: QAT starts from a float checkpoint (or pass --init)", path);
    if (c->qat && c->q.blend_end < c->q.blend_start) return rq_fail(RQ_EINPUT, "%s: $.qat.blend_end: must be >= blend_start", path);
    if (c->qat && c->q.synthetic_tokens > 0 && !(c->q.distill > 0))
        return rq_fail(RQ_EINPUT, "%s: $.qat.synthetic_tokens: the text is sampled from the teacher: needs $.qat.distill > 0", path);
    if (c->qat && c->q.teacher[0] && !(c->q.distill > 0))
        return rq_fail(RQ_EINPUT, "%s: $.qat.teacher: a teacher needs $.qat.distill > 0", path);
    if (!c->init[0] && !c->have_arch) return rq_fail(RQ_EINPUT, "%s: $.arch: needed when there is no $.init model (or pass --init)", path);
    return c->have_arch ? llama_config_check(&c->arch, path) : 0;
}

// ---- the family ------------------------------------------------------------------------------

typedef struct {
    llama_train_cfg cfg;
    llama_model m;        // with QAT: the float master weights
    float *grad_mem;
    llama_weights g;
    uint8_t *decay;
    llama_train st;
    token_stream train, valid, synth;  // synth: text sampled from the QAT teacher (synthetic_tokens)
    int *in, *tg;
    lm_qat *qat;          // NULL: float training
} llama_family;

// A step: grad_accum micro-batches of batch windows of seq_len+1 tokens at uniform random
// offsets of the training stream, gradients averaged. With QAT the loss is the integer model's,
// the float forward's goes to the stats ("float_loss", and "kd" when distilling).
static float lf_step(rq_family *f, long step, pcg32 *rng, cJSON *stats) {
    llama_family *s = f->self;
    int B = s->cfg.batch, T = s->cfg.seq_len, A = s->cfg.grad_accum;
    memset(f->grads, 0, f->n_params * sizeof(float));
    double loss = 0, float_loss = 0, kd = 0;
    if (s->qat) lm_qat_schedule(s->qat, step, s->cfg.steps);
    for (int micro = 0; micro < A; micro++) {
        for (int b = 0; b < B; b++) {
            const token_stream *ts = s->synth.n && pcg32_float(rng) < s->cfg.q.synthetic_frac ? &s->synth : &s->train;
            uint32_t off = pcg32_bounded(rng, (uint32_t)(ts->n - T));
            for (int t = 0; t < T; t++) {
                s->in[b * T + t] = ts->tokens[off + t];
                s->tg[b * T + t] = ts->tokens[off + t + 1];
            }
        }
        if (s->qat) {
            double fl, k;
            loss += lm_qat_step(s->qat, &s->st, s->in, s->tg, &s->g, &fl, &k);
            float_loss += fl, kd += k;
        } else {
            loss += llama_train_forward(&s->st, &s->m, s->in, s->tg, T);
            llama_train_backward(&s->st, &s->m, &s->g);
        }
    }
    if (A > 1) {
        float k = 1.0f / A;
        for (size_t i = 0; i < f->n_params; i++) f->grads[i] *= k;
    }
    if (s->qat) {
        lm_qat_update_scales(s->qat, &s->g);  // LSQ: the learned steps move on this step's gradient
        if (!isnan(kd)) cJSON_AddNumberToObject(stats, "kd", kd / A);
        cJSON_AddNumberToObject(stats, "float_loss", float_loss / A);
    }
    return (float)(loss / A);
}

static void lf_progress(rq_family *f, const cJSON *stats, char *buf, size_t n) {
    (void)f;
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(stats, "float_loss");
    snprintf(buf, n, "float %.4f", fl ? fl->valuedouble : NAN);
}

// Mean loss over full windows of seq_len tokens of the validation stream (at most valid_tokens
// tokens): the first ones, or with valid_spread as many spread evenly over the whole stream (the
// first, then every (all / windows)-th of its consecutive windows), B windows per forward: the
// float model's, and with qm also the integer model's (into *int_loss).
static double valid_loss(llama_family *s, const lm_model *qm, double *int_loss, size_t *n_targets, long *agree) {
    int B = s->cfg.batch, T = s->cfg.seq_len;
    size_t n = s->valid.n, all = n > 1 ? (n - 1) / T : 0;
    if (s->cfg.valid_tokens > 0 && (size_t)s->cfg.valid_tokens < n) n = s->cfg.valid_tokens;
    size_t windows = n > 1 ? (n - 1) / T : 0;
    double total = 0, int_total = 0;
    size_t count = 0;
    for (size_t w0 = 0; w0 < windows; w0 += B) {
        int rows = (int)(windows - w0 < (size_t)B ? windows - w0 : (size_t)B);
        for (int b = 0; b < B; b++) {
            size_t w = w0 + (b < rows ? b : 0), off = (s->cfg.valid_spread ? w * all / windows : w) * T;
            for (int t = 0; t < T; t++) {
                s->in[b * T + t] = s->valid.tokens[off + t];
                s->tg[b * T + t] = s->valid.tokens[off + t + 1];
            }
        }
        llama_train_forward(&s->st, &s->m, s->in, s->tg, T);
        for (int i = 0; i < rows * T; i++) total += s->st.a.losses[i];
        if (qm) {
            int_total += lm_qat_int_loss(s->qat, qm, s->in, s->tg, rows) * rows * T;
            *agree += lm_qat_top1_agree(s->qat, s->st.a.probs, rows);
        }
        count += (size_t)rows * T;
    }
    *n_targets = count;
    if (qm) *int_loss = count ? int_total / count : NAN;
    return count ? total / count : NAN;
}

// The selection score is -valid_loss, with QAT -valid_int_loss (the integer model of the
// current weights, recalibrated first with $.qat.recalibrate).
static double lf_evaluate(rq_family *f, long step, cJSON *out) {
    (void)step;
    llama_family *s = f->self;
    size_t n;
    if (!s->qat) {
        double vl = valid_loss(s, NULL, NULL, &n, NULL);
        cJSON_AddNumberToObject(out, "valid_loss", vl);
        cJSON_AddNumberToObject(out, "valid_tokens", (double)n);
        return isnan(vl) ? -INFINITY : -vl;
    }
    lm_model qm;
    if (lm_qat_int_model(s->qat, &qm)) return -INFINITY;
    long agree = 0;
    double il, fl = valid_loss(s, &qm, &il, &n, &agree);
    lmq_free(&qm);
    cJSON_AddNumberToObject(out, "valid_float_loss", fl);
    cJSON_AddNumberToObject(out, "valid_int_loss", il);
    cJSON_AddNumberToObject(out, "valid_top1_agree", n ? (double)agree / (double)n : NAN);
    cJSON_AddNumberToObject(out, "valid_tokens", (double)n);
    // the activation clips in use (after $.qat.recalibrate), per quantisation point and layer
    static const char *const POINT[LMQ_NPOINT] = {"xatt", "q", "k", "v", "o", "xffn", "h1", "h3", "g"};
    int nc, L = s->m.config.n_layers;
    const float *clip = lm_qat_clips(s->qat, &nc);
    cJSON *cl = cJSON_AddObjectToObject(out, "clips");
    for (int p = 0; p < LMQ_NPOINT; p++) {
        cJSON *a = cJSON_AddArrayToObject(cl, POINT[p]);
        for (int l = 0; l < L; l++) cJSON_AddItemToArray(a, cJSON_CreateNumber(clip[lmq_index(l, p)]));
    }
    cJSON_AddNumberToObject(cl, "final_norm", clip[lmq_index(L, LMQ_FIN)]);
    return isnan(il) ? -INFINITY : -il;
}

static void lf_save(rq_family *f, rqf_writer *w) {
    llama_family *s = f->self;
    llama_ckpt_put_config(w, &s->m.config);
    if (s->qat) lm_qat_save(s->qat, w);
}

static int lf_load(rq_family *f, const rqf_file *file) {
    llama_family *s = f->self;
    llama_config c;
    int rc = llama_ckpt_get_config(file, &c);
    if (rc) return rc;
    if (memcmp(&c, &s->m.config, sizeof c))
        return rq_fail(RQ_EINPUT, "%s: the checkpoint's model shape differs from this config's", file->path);
    return s->qat ? lm_qat_resume(s->qat, file) : 0;
}

static const char TRAIN_USAGE[] =
    "usage: retroqat train CONFIG.json [--init MODEL] [--data TRAIN.txt] [--valid VALID.txt] [--teacher MODEL] [--out DIR]\n"
    "                      [--steps N] [--resume] [--quiet] [--check [--json]]\n"
    "Train (or, with \"init\", fine-tune) a llama2.c transformer (\"model\": \"llama\"); writes model.bin.\n"
    "With a \"qat\" section (\"model\": \"llama-int8\" requires one), quantisation-aware fine-tuning for\n"
    "the integer contract: the loss is the integer model's (infer/lm_kernel.c), gradients pass straight\n"
    "through to float master weights; writes model.rqm (qat/lm_qat.h). See examples/stories/*.json.\n"
    "  \"qat\": {\"wbits\": 8, 4 or 2, \"matrix_bits\": {\"wq\".. \"w3\": 8/4/2} per matrix, \"ternary\": false,\n"
    "          \"midrise\": false (int4 / 2-bit on the odd grids [-15, 15], {-3, -1, +1, +3}),\n"
    "          \"lsq\": false (learned per-row steps), \"scale_lr\": 1e-3,\n"
    "          \"calib_tokens\": 0 = sampled like export's, or N training tokens,\n"
    "          \"recalibrate\": true (clips at each eval), \"distill\": 0..1 (toward the teacher),\n"
    "          \"teacher\": a float model (default: the init model as it was),\n"
    "          \"learn_clips\": false (learned activation clips, LSQ; no recalibration), \"clip_lr\": 1e-3,\n"
    "          \"synthetic_tokens\": 0 (text sampled from the teacher), \"synthetic_frac\": 0.5 of the windows,\n"
    "          \"blend_start\", \"blend_end\": 0, 0 (weights blended from float to the grid between\n"
    "          these fractions of the run; the integer loss drives the backward after blend_end)\n"
    "          \"fake_quant_weights\": true (the float forward on the quantised weights)}\n"
    "  --init PATH     the float model to start from: llama2.c .bin, llama or QAT checkpoint (overrides $.init)\n"
    "  --data PATH     training text (overrides $.data.train)\n"
    "  --valid PATH    validation text (overrides $.data.valid)\n"
    "  --teacher PATH  distillation teacher (overrides $.qat.teacher)\n"
    "  --out DIR       output folder (overrides $.out)\n"
    "  --steps N       optimizer steps (overrides $.train.steps)\n"
    "  --resume        continue from DIR/last.ckpt\n"
    "  --quiet         no progress line\n"
    "  --check         parse the config and print its resolved paths (exit 2 when an input is\n"
    "                  missing); trains nothing. --json: as one JSON object\n";

int llama_family_train_main(int argc, char **argv) {
    const char *out = NULL, *init = NULL, *data = NULL, *valid = NULL, *teacher = NULL;
    int resume = 0, quiet = 0, steps = 0, check = 0, json = 0;
    const rq_arg opts[] = {
        {"--init", NULL, ARG_STR, &init, NULL},
        {"--data", NULL, ARG_STR, &data, NULL},
        {"--valid", NULL, ARG_STR, &valid, NULL},
        {"--teacher", NULL, ARG_STR, &teacher, NULL},
        {"--out", NULL, ARG_STR, &out, NULL},
        {"--steps", NULL, ARG_INT, &steps, NULL},
        {"--resume", NULL, ARG_FLAG, &resume, NULL},
        {"--quiet", NULL, ARG_FLAG, &quiet, NULL},
        {"--check", NULL, ARG_FLAG, &check, NULL},
        {"--json", NULL, ARG_FLAG, &json, NULL},
        {NULL, NULL, 0, NULL, NULL},
    };
    const char *pos[1];
    int npos = 0;
    int rc = rq_args_parse(argc, argv, opts, pos, 1, &npos, TRAIN_USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (npos != 1) {
        fprintf(stderr, "retroqat: train needs a CONFIG.json\n%s", TRAIN_USAGE);
        return RQ_EINPUT;
    }
    llama_family *s = rq_calloc(1, sizeof *s);
    llama_train_cfg *c = &s->cfg;
    tokenizer tok = {0};
    if ((rc = load_cfg(pos[0], c))) goto done;
    if (init) snprintf(c->init, sizeof c->init, "%s", init);
    if (data) snprintf(c->train_path, sizeof c->train_path, "%s", data);
    if (valid) snprintf(c->valid_path, sizeof c->valid_path, "%s", valid);
    if (teacher) snprintf(c->q.teacher, sizeof c->q.teacher, "%s", teacher);
    if (out) snprintf(c->out, sizeof c->out, "%s", out);
    if (steps > 0) c->steps = steps;
    if ((rc = check_cfg(pos[0], c))) goto done;
    if (check) {
        const cfg_path_check paths[] = {{"$.init", c->init, 1},           {"$.tokenizer", c->tokenizer, 1}, {"$.data.train", c->train_path, 1},
                                        {"$.data.valid", c->valid_path, 1}, {"$.qat.teacher", c->q.teacher, 1}, {"$.out", c->out, 0}};
        rc = cfg_check_paths(pos[0], paths, 6, json);
        goto done;
    }

    // The model: fine-tune a .bin, or a fresh one of the configured shape.
    if (c->init[0]) {
        if ((rc = rq_llama_float_open(c->init, &s->m))) goto done;
        if (c->have_arch && memcmp(&c->arch, &s->m.config, sizeof c->arch)) {
            rc = rq_fail(RQ_EINPUT, "%s: $.arch differs from the shape of %s (leave $.arch out when fine-tuning)", pos[0], c->init);
            goto done;
        }
    } else {
        if ((rc = llama_build(&s->m, &c->arch))) goto done;
        llama_init_random(&s->m, (uint64_t)c->seed);
    }
    const llama_config *mc = &s->m.config;
    if (c->seq_len > mc->seq_len) {
        rc = rq_fail(RQ_EINPUT, "%s: $.train.seq_len %d exceeds the model's seq_len %d", pos[0], c->seq_len, mc->seq_len);
        goto done;
    }
    if ((rc = rq_mkdir_p(c->out))) goto done;
    if (strcmp(c->tokenizer, "builtin:chars") == 0) {
        // The character-level tokenizer, written next to the model for generate/eval.
        uint8_t *tb;
        size_t tl;
        tokenizer_build_chars(&tb, &tl);
        snprintf(c->tokenizer, sizeof c->tokenizer, "%s/tokenizer.bin", c->out);
        rc = rq_write_atomic(c->tokenizer, tb, tl);
        free(tb);
        if (rc) goto done;
    }
    if ((rc = tokenizer_load(&tok, c->tokenizer, mc->vocab_size))) goto done;
    char cache[1200];
    int cached;
    snprintf(cache, sizeof cache, "%s/train.tok", c->out);
    if ((rc = textdata_load_cached(c->train_path, &tok, cache, &s->train, &cached))) goto done;
    snprintf(cache, sizeof cache, "%s/valid.tok", c->out);
    if ((rc = textdata_load_cached(c->valid_path, &tok, cache, &s->valid, &cached))) goto done;
    if (s->train.n <= (size_t)c->seq_len + 1 || s->valid.n <= (size_t)c->seq_len + 1) {
        rc = rq_fail(RQ_EINPUT, "%s: the training and validation texts need more than seq_len+1 = %d tokens (have %zu and %zu)",
                     pos[0], c->seq_len + 1, s->train.n, s->valid.n);
        goto done;
    }
    // QAT: the static activation clips, calibrated on the initial weights.
    if (c->qat && (rc = lm_qat_new(&s->qat, &c->q, &s->m, s->train.tokens, s->train.n, c->batch, c->seq_len))) goto done;
    if (c->qat && c->q.synthetic_tokens > 0 &&
        (rc = lm_qat_synthesize(s->qat, (size_t)c->q.synthetic_tokens, mc->seq_len, (uint64_t)c->seed, !quiet, &s->synth)))
        goto done;
    if (s->synth.n && s->synth.n <= (size_t)c->seq_len + 1) {
        rc = rq_fail(RQ_EINPUT, "%s: $.qat.synthetic_tokens: %zu tokens, a window needs %d", pos[0], s->synth.n, c->seq_len + 1);
        goto done;
    }
    if (!quiet && c->qat)
        fprintf(stderr, "llama-int8 QAT: %zu parameters from %s, int%d weights%s%s; train %zu tokens, valid %zu tokens\n", s->m.n_params,
                c->init, c->q.wbits, c->q.lsq ? ", learned steps" : "", c->q.ternary ? ", ternary" : c->q.midrise ? ", midrise" : "", s->train.n, s->valid.n);
    else if (!quiet)
        fprintf(stderr, "llama: %zu parameters (dim %d, hidden %d, %d layers, %d/%d heads, vocab %d); train %zu tokens in %zu docs, valid %zu tokens\n",
                s->m.n_params, mc->dim, mc->hidden_dim, mc->n_layers, mc->n_heads, mc->n_kv_heads, mc->vocab_size, s->train.n,
                s->train.n_docs, s->valid.n);

    // Gradients in the same layout; weight decay on matrices (embedding, projections, classifier).
    s->grad_mem = rq_calloc(s->m.n_params, sizeof(float));
    llama_point_weights(&s->g, mc, s->grad_mem);
    s->decay = rq_calloc(s->m.n_params, 1);
    memset(s->decay, 1, s->m.n_params);
    size_t LC = (size_t)mc->n_layers * mc->dim;
    memset(s->decay + (s->m.w.rms_att - s->m.params), 0, LC);
    memset(s->decay + (s->m.w.rms_ffn - s->m.params), 0, LC);
    memset(s->decay + (s->m.w.rms_final - s->m.params), 0, mc->dim);
    llama_train_build(&s->st, mc, c->batch, c->seq_len, 0);
    s->in = rq_malloc((size_t)c->batch * c->seq_len * sizeof(int));
    s->tg = rq_malloc((size_t)c->batch * c->seq_len * sizeof(int));

    rq_family f = {
        .kind = c->qat ? LM_QAT_KIND : "llama", .self = s, .params = s->m.params, .grads = s->grad_mem, .n_params = s->m.n_params,
        .decay_mask = s->decay, .step = lf_step, .evaluate = lf_evaluate, .progress = c->qat ? lf_progress : NULL,
        .save = lf_save, .load = lf_load,
    };
    trainer_cfg tc;
    trainer_cfg_defaults(&tc);
    tc.steps = c->steps;
    tc.eval_every = c->eval_every;
    tc.seed = (uint64_t)c->seed;
    tc.out_dir = c->out;
    tc.config_path = pos[0];
    tc.resume = resume;
    tc.quiet = quiet;
    tc.unit = "tok";
    tc.units_per_step = (long)c->batch * c->seq_len * c->grad_accum;
    tc.opt.lr = c->lr;
    tc.opt.beta1 = c->beta1;
    tc.opt.beta2 = c->beta2;
    tc.opt.weight_decay = c->weight_decay;
    tc.opt.grad_clip = c->grad_clip;
    tc.opt.warmup_steps = c->warmup;
    tc.opt.min_lr_frac = c->min_lr_frac;
    if ((rc = trainer_run(&f, &tc))) goto done;
    if (rq_interrupted) {  // saved last.ckpt; exit 130 so a script sees the run did not finish
        rc = RQ_EINTR;
        goto done;
    }

    // Export the best checkpoint: QAT as the integer image, float as a llama2.c file.
    char best[1200], dst[1200];
    snprintf(best, sizeof best, "%s/best.ckpt", c->out);
    if (c->qat) {
        snprintf(dst, sizeof dst, "%s/model.rqm", c->out);
        lm_model q;
        if ((rc = lm_qat_load(best, &q))) goto done;
        rc = lm_image_save(&q, 0, dst);  // what `retroqat export CKPT --target host` writes
        lmq_free(&q);
        if (!rc && !quiet) fprintf(stderr, "wrote %s (integer model image of %s)\n", dst, best);
    } else {
        snprintf(dst, sizeof dst, "%s/model.bin", c->out);
        llama_model bm;
        if ((rc = rq_llama_float_open(best, &bm))) goto done;
        rc = llama_save_v0(&bm, dst);
        llama_free(&bm);
        if (!rc && !quiet) fprintf(stderr, "wrote %s (llama2.c version 0, from %s)\n", dst, best);
    }
done:
    lm_qat_free(s->qat);
    llama_train_free(&s->st);
    free(s->in);
    free(s->tg);
    free(s->grad_mem);
    free(s->decay);
    token_stream_free(&s->train);
    token_stream_free(&s->valid);
    token_stream_free(&s->synth);
    tokenizer_free(&tok);
    llama_free(&s->m);
    free(s);
    return rc ? rq_report(rc) : 0;
}
