// lm_eval.c: float and integer models scored side by side on the same windows (lm_eval.h).
#include "qat/lm_eval.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/progress.h"
#include "model/llama_generate.h"
#include "qat/lm_intgen.h"
#include "qat/lm_qat.h"
#include "qat/lm_quant.h"

enum { M_FLOAT, M_PTQ8, M_PTQ4, M_PTQ2, M_QAT, M_N, M_QATF = M_N, M_NL };  // M_QATF: the QAT float master

typedef struct {
    double loss[M_NL];
    long agree[M_N];
    long count;
} win_result;

typedef struct {
    const llama_model *f, *qf;  // qf: the QAT run's float master weights, or NULL
    const lm_model *q[M_N];
    const uint16_t *tokens;
    size_t n;
    int window, n_windows, next, done;
    rq_progress *pg;
    win_result *res;
    pthread_mutex_t mu;
} eval_job;

double lmq_int_row_ce(const int32_t *l, int V, int frac, int target) {
    double sc = ldexp(1, -frac), mx = l[lm_argmax(l, V)] * sc, z = 0;
    for (int i = 0; i < V; i++) z += exp(l[i] * sc - mx);
    return mx + log(z) - l[target] * sc;
}

static void *worker(void *arg) {
    eval_job *j = arg;
    const llama_config *c = &j->f->config;
    int V = c->vocab_size;
    llama_state fs, qfs;
    llama_state_build(&fs, c);
    if (j->qf) llama_state_build(&qfs, c);
    lm_state st[M_N];
    void *mem[M_N] = {0};
    for (int k = 1; k < M_N; k++)
        if (j->q[k]) mem[k] = rq_calloc(1, lm_state_bytes(&j->q[k]->c)), lm_state_init(&st[k], &j->q[k]->c, mem[k]);
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int w = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (w >= j->n_windows) break;
        size_t start = (size_t)w * j->window;
        int len = (int)(j->n - 1 - start < (size_t)j->window ? j->n - 1 - start : (size_t)j->window);
        win_result *r = &j->res[w];
        memset(r, 0, sizeof *r);
        for (int i = 0; i < len; i++) {
            int tok = j->tokens[start + i], tgt = j->tokens[start + i + 1];
            float *lf = llama_forward(j->f, &fs, tok, i);
            int af = 0;
            for (int v = 1; v < V; v++)
                if (lf[v] > lf[af]) af = v;
            double mx = lf[af], z = 0;
            for (int v = 0; v < V; v++) z += exp((double)lf[v] - mx);
            r->loss[M_FLOAT] += mx + log(z) - lf[tgt];
            if (j->qf) r->loss[M_QATF] += lm_row_ce(llama_forward(j->qf, &qfs, tok, i), V, tgt);
            for (int k = 1; k < M_N; k++) {
                if (!j->q[k]) continue;
                int32_t *li = lm_forward(j->q[k], &st[k], tok, i);
                r->loss[k] += lmq_int_row_ce(li, V, j->q[k]->c.logit_frac, tgt);
                r->agree[k] += lm_argmax(li, V) == af;
            }
            r->count++;
        }
        pthread_mutex_lock(&j->mu);
        j->done++;
        rq_progress_draw(j->pg, j->done, -1, "integer models");
        pthread_mutex_unlock(&j->mu);
    }
    for (int k = 1; k < M_N; k++) free(mem[k]);
    llama_state_free(&fs);
    if (j->qf) llama_state_free(&qfs);
    return NULL;
}

int lmq_eval(const llama_model *f, const lm_model *ptq8, const lm_model *ptq4, const lm_model *ptq2, const lm_model *qat,
             const llama_model *qat_float, const uint16_t *tokens, size_t n, int window, int threads, int progress, lmq_eval_result *out) {
    memset(out, 0, sizeof *out);
    if (n < 2) return rq_fail(RQ_EINPUT, "eval: fewer than 2 tokens");
    if (window < 1 || window > f->config.seq_len) window = f->config.seq_len;
    eval_job j = {.f = f, .qf = qat_float, .q = {NULL, ptq8, ptq4, ptq2, qat}, .tokens = tokens, .n = n, .window = window};
    j.n_windows = (int)((n - 2) / window + 1);
    rq_progress pg;
    rq_progress_start(&pg, "eval: window", j.n_windows, !progress);
    j.pg = &pg;
    j.res = rq_calloc(j.n_windows, sizeof(win_result));
    pthread_mutex_init(&j.mu, NULL);
    if (threads < 1) threads = 1;
    if (threads > 16) threads = 16;
    pthread_t th[16];
    for (int t = 1; t < threads; t++) pthread_create(&th[t], NULL, worker, &j);
    worker(&j);
    for (int t = 1; t < threads; t++) pthread_join(th[t], NULL);
    pthread_mutex_destroy(&j.mu);
    rq_progress_end(&pg);
    // combine in window order: the same sums whatever the thread count
    win_result tot = {0};
    for (int w = 0; w < j.n_windows; w++) {
        for (int k = 0; k < M_NL; k++) tot.loss[k] += j.res[w].loss[k];
        for (int k = 0; k < M_N; k++) tot.agree[k] += j.res[w].agree[k];
        tot.count += j.res[w].count;
    }
    free(j.res);
    double c = (double)tot.count;
    out->tokens = (size_t)tot.count;
    out->float_loss = tot.loss[M_FLOAT] / c;
    out->ptq_loss = ptq8 ? tot.loss[M_PTQ8] / c : NAN;
    out->top1_agree = ptq8 ? tot.agree[M_PTQ8] / c : NAN;
    int qk = qat ? M_QAT : M_PTQ8;
    out->int_loss = tot.loss[qk] / c;
    out->int_top1_agree = tot.agree[qk] / c;
    out->qat_float_loss = qat_float ? tot.loss[M_QATF] / c : NAN;
    out->ptq4_loss = ptq4 ? tot.loss[M_PTQ4] / c : NAN;
    out->ptq4_top1_agree = ptq4 ? tot.agree[M_PTQ4] / c : NAN;
    out->ptq2_loss = ptq2 ? tot.loss[M_PTQ2] / c : NAN;
    out->ptq2_top1_agree = ptq2 ? tot.agree[M_PTQ2] / c : NAN;
    return 0;
}

int lmq_eval_ptq(const llama_model *f, const uint16_t *tokens, size_t n, int window, int progress, const char *qat_path, int no_ptq,
                 lmq_eval_result *r) {
    lm_model q8, q4, q2, qq;
    llama_model qfm;
    uint8_t *img = NULL;
    int have_q = 0, have_qf = 0;
    if (qat_path) {
        size_t L = strlen(qat_path);
        int is_img = L > 4 && strcmp(qat_path + L - 4, ".rqm") == 0;
        int rc = is_img ? lm_image_read_file(qat_path, &img, &qq) : lm_qat_load(qat_path, &qq);
        if (rc) return rc;
        if (!is_img && (rc = lm_qat_load_float(qat_path, &qfm)) != 0) {
            lmq_free(&qq);
            return rc;
        }
        have_qf = !is_img;
        if (qq.c.vocab_size != f->config.vocab_size || qq.c.seq_len < window) {
            if (img) free(img); else lmq_free(&qq);
            if (have_qf) llama_free(&qfm);
            return rq_fail(RQ_EINPUT, "%s: its vocabulary or context does not match the float model's", qat_path);
        }
        have_q = 1;
    }
    int rc = 0, ptq = !(no_ptq && have_q);  // --no-ptq: only the given model's columns
    if (ptq) {
        lmq_stats st;
        if ((rc = lmq_calibrate_default(f, NULL, 0, &st))) goto out;
        lmq_opts o8 = {8, 10, NULL}, o4 = {4, 10, NULL}, o2 = {2, 10, NULL};
        if ((rc = lmq_quantize(f, &st, &o8, &q8)) == 0 && (rc = lmq_quantize(f, &st, &o4, &q4)) != 0) lmq_free(&q8);
        if (!rc && (rc = lmq_quantize(f, &st, &o2, &q2)) != 0) lmq_free(&q8), lmq_free(&q4);
        lmq_stats_free(&st);
        if (rc) goto out;
    }
    const char *th = getenv("RQ_THREADS");
    int threads = th ? atoi(th) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    rc = lmq_eval(f, ptq ? &q8 : NULL, ptq ? &q4 : NULL, ptq ? &q2 : NULL, have_q ? &qq : NULL, have_qf ? &qfm : NULL, tokens, n, window,
                  threads, progress, r);
    r->int_from_qat = have_q;
    if (ptq) lmq_free(&q8), lmq_free(&q4), lmq_free(&q2);
out:
    if (have_qf) llama_free(&qfm);
    if (have_q) {
        if (img) free(img);
        else lmq_free(&qq);
    }
    return rc;
}

void lmq_eval_json(cJSON *o, const lmq_eval_result *r) {
    if (!isnan(r->ptq_loss)) cJSON_AddNumberToObject(o, "ptq_loss", r->ptq_loss);
    cJSON_AddNumberToObject(o, "int_loss", r->int_loss);
    if (!isnan(r->top1_agree)) cJSON_AddNumberToObject(o, "top1_agree", r->top1_agree);
    cJSON_AddStringToObject(o, "int_model", r->int_from_qat ? "qat" : "ptq");  // without --qat, int = ptq
    cJSON_AddNumberToObject(o, "int_top1_agree", r->int_top1_agree);
    cJSON_AddNumberToObject(o, "int_float_loss", r->float_loss);  // float loss on the same per-token path
    if (!isnan(r->qat_float_loss)) cJSON_AddNumberToObject(o, "qat_float_loss", r->qat_float_loss);
    if (isnan(r->ptq4_loss)) return;
    cJSON_AddNumberToObject(o, "int4_ptq_loss", r->ptq4_loss);
    cJSON_AddNumberToObject(o, "int4_top1_agree", r->ptq4_top1_agree);
    cJSON_AddNumberToObject(o, "int2_ptq_loss", r->ptq2_loss);
    cJSON_AddNumberToObject(o, "int2_top1_agree", r->ptq2_top1_agree);
}

void lmq_eval_print(FILE *f, const lmq_eval_result *r) {
    if (!isnan(r->ptq_loss))
        fprintf(f, "int8 PTQ loss %.4f (x%.4f of float), top-1 agreement with float %.4f\n", r->ptq_loss, r->ptq_loss / r->float_loss,
                r->top1_agree);
    fprintf(f, "integer %s loss %.4f (x%.4f of float), top-1 agreement with float %.4f\n", r->int_from_qat ? "QAT" : "(= int8 PTQ)", r->int_loss,
            r->int_loss / r->float_loss, r->int_top1_agree);
    if (!isnan(r->qat_float_loss))
        fprintf(f, "QAT checkpoint's float weights: loss %.4f (its integer model x%.4f)\n", r->qat_float_loss, r->int_loss / r->qat_float_loss);
    if (isnan(r->ptq4_loss)) return;
    fprintf(f, "int4 PTQ loss %.4f (x%.4f of float), top-1 agreement with float %.4f\n", r->ptq4_loss, r->ptq4_loss / r->float_loss,
            r->ptq4_top1_agree);
    fprintf(f, "2-bit PTQ loss %.4f (x%.4f of float), top-1 agreement with float %.4f\n", r->ptq2_loss, r->ptq2_loss / r->float_loss,
            r->ptq2_top1_agree);
}
