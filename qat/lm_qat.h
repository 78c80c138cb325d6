// lm_qat.h: quantisation-aware fine-tuning of a llama2.c model for the integer contract.
//
// The loss is computed on the integer model (docs/lm-contract.md): each step quantises the
// current float weights with the run's static activation clips (calibrated once on the training
// text at the start), runs infer/lm_kernel.c over the batch, and substitutes the integer model's
// probabilities for the float ones before the float backward pass (model/llama_train.h). The
// gradient of the integer loss then flows straight through the rounding and clipping into the
// float master weights (a straight-through estimator for the whole integer forward): what the
// optimiser sees is exactly what `retroqat run` executes.
//
// Config (JSON, "model": "llama-int8"):
//   {
//     "model": "llama-int8",
//     "init": "stories260K.bin",            the float checkpoint to start from (required)
//     "tokenizer": "tok512.bin",
//     "data": {"train": "train.txt", "valid": "valid.txt", "valid_tokens": 0 (all)},
//     "train": {"steps", "batch", "seq_len", "lr", "min_lr_frac", "warmup", "weight_decay",
//               "grad_clip", "beta1", "beta2", "eval_every", "seed"},
//     "qat": {"wbits": 8, "calib_tokens": 4096, "recalibrate": true},
//   (recalibrate: refresh the clips on the current weights at every evaluation)
//     "out": "runs/stories-int8"
//   }
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
