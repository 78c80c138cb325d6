// lm_eval.h: the integer columns of `retroqat eval` for a llama model: the same windows as the
// float loss (model/llama_generate.h lm_mean_ce: windows of window+1 tokens overlapping by one,
// each from a fresh context), scored with the float model and the integer kernel side by side.
#ifndef RQ_LM_EVAL_H
#define RQ_LM_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include <stdio.h>

#include <cjson/cJSON.h>

#include "infer/lm_kernel.h"
#include "model/llama.h"

typedef struct {
    size_t tokens;        // predicted tokens
    double float_loss;    // mean cross-entropy (nats) of the float model (model/llama_forward.c)
    double ptq_loss;      // of the int8 integer model after calibration only, from its integer logits
    double top1_agree;    // fraction of positions where its argmax equals the float argmax
    double int_loss;      // of the given integer model (after QAT), or = ptq_loss when none is given
    double int_top1_agree;
    double ptq4_loss;     // int4 weights, calibration only
    double ptq4_top1_agree;
    double ptq2_loss;     // 2-bit {-2, -1, 0, +1} weights, calibration only
    double ptq2_top1_agree;
    int int_from_qat;     // 1: int_loss is from the given QAT model
    double qat_float_loss;  // the QAT checkpoint's own float weights (NAN unless a checkpoint is given)
} lmq_eval_result;

// ptq8 / ptq4 / ptq2 / qat: integer models to score (any may be NULL; without ptq8 the PTQ
// columns are NAN); qat_float: the float
// weights the QAT run ended with (or NULL). threads >= 1 splits the windows (the result does not
// depend on it). progress: print a progress line to stderr.
int lmq_eval(const llama_model *f, const lm_model *ptq8, const lm_model *ptq4, const lm_model *ptq2, const lm_model *qat,
             const llama_model *qat_float, const uint16_t *tokens, size_t n, int window, int threads, int progress, lmq_eval_result *r);

// The eval verb's integer part: PTQ of f at int8, int4 and 2-bit with the default calibration,
// then lmq_eval over the same tokens and windows as the float loss. qat_path (or NULL): the
// integer model after QAT for int_loss, a QAT checkpoint (qat/lm_qat.h) or a model image (.rqm);
// no_ptq (with a qat_path): skip the PTQ models (their columns are NAN and left out).
int lmq_eval_ptq(const llama_model *f, const uint16_t *tokens, size_t n, int window, int progress, const char *qat_path, int no_ptq,
                 lmq_eval_result *r);

// Cross-entropy of integer logits l[V] in Q(frac) against target, in double (lm_row_ce for the
// kernel's logits).
double lmq_int_row_ce(const int32_t *l, int V, int frac, int target);

// Add the integer columns to a JSON object / print them as text lines.
void lmq_eval_json(cJSON *o, const lmq_eval_result *r);
void lmq_eval_print(FILE *f, const lmq_eval_result *r);

#endif
