// lm_qat.h: quantisation-aware fine-tuning of a llama2.c model for the integer contract.
//
// The loss is computed on the integer model (docs/lm-contract.md): each step quantises the
// current float weights with the run's static activation clips, runs infer/lm_kernel.c over the
// batch, and substitutes the integer model's probabilities for the float ones before the float
// backward pass (model/llama_train.h). The float forward that the backward differentiates runs on
// the quantised weights themselves (fake_quant_weights, lmq_fake_quant_weights), so only the
// activation rounding separates it from the integer forward; the gradient flows straight through
// the weight rounding into the float master weights. What the optimiser sees is exactly what
// `retroqat run` executes.
//
// The target is the training text, or with "distill" d > 0 a mix with the frozen init model's
// distribution, (1 - d) onehot + d p_teacher (knowledge distillation): d = 1 trains the integer
// model to reproduce the float model it started from, rather than to fit the text better.
//
// Config (JSON, "model": "llama-int8"):
//   {
//     "model": "llama-int8",
//     "init": "stories260K.bin",            the float checkpoint to start from (required)
//     "tokenizer": "tok512.bin",
//     "data": {"train": "train.txt", "valid": "valid.txt", "valid_tokens": 0 (all)},
//     "train": {"steps", "batch", "seq_len", "lr", "min_lr_frac", "warmup", "weight_decay",
//               "grad_clip", "beta1", "beta2", "eval_every", "seed"},
//     "qat": {"wbits": 8, "calib_tokens": 0, "recalibrate": true, "distill": 0,
//             "fake_quant_weights": true},
//     "out": "runs/stories-int8"
//   }
// In metrics.jsonl a step's "loss" is the integer model's cross-entropy on the batch, "float_loss"
// that of the float forward the backward used (on the quantised weights with fake_quant_weights),
// "kd" the mean KL(p_teacher || p_int) when distilling.
// calib_tokens: 0 calibrates the static clips as `retroqat export` does (sequences sampled from
// the model itself, qat/lm_quant.h), so step 0 is exactly the post-training-quantised model; n > 0
// uses the first n training tokens instead. recalibrate: refresh the clips on the current weights
// at every evaluation.
// Flags --init, --data, --valid, --out, --steps override the config. Outputs in "out":
// metrics.jsonl, last.ckpt / best.ckpt (RQF kind "llamaq": the trainer's sections, LCFG and LQAT
// with the weight bits and the activation clips), train.tok / valid.tok, and model.rqm: the integer
// image of the best checkpoint (selection: lowest integer validation loss).
#ifndef RQ_LM_QAT_H
#define RQ_LM_QAT_H

#include "infer/lm_kernel.h"
#include "model/llama.h"
#include "qat/lm_quant.h"

// retroqat train CONFIG.json for "model": "llama-int8".
int lm_qat_train_main(int argc, char **argv);

// Load a QAT checkpoint (kind "llamaq"): the float master weights, the activation clips and the
// weight bits, and quantise them into the integer model it trained (lmq_free(q) after use).
int lm_qat_load(const char *path, lm_model *q);
// The float master weights of a QAT checkpoint (llama_free after use).
int lm_qat_load_float(const char *path, llama_model *m);

#endif
