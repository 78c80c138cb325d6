// llama_family.h: the llama transformer as a family of the shared trainer (train/trainer.h),
// trained in float or, with a "qat" section, quantisation-aware for the integer contract.
//
// Config (JSON, "model": "llama"; paths are relative to the config file's folder, base/config.h):
//   {
//     "model": "llama",
//     "init": "stories260K.bin",         optional: fine-tune this llama2.c .bin (else from scratch)
//     "tokenizer": "tok512.bin",         or "builtin:chars" (written to out/tokenizer.bin)
//     "arch": {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size",
//              "seq_len", "shared_classifier"},   from scratch; with "init" it must match or be absent
//     "data": {"train": "train.txt", "valid": "valid.txt", "valid_tokens": 0 (all), "valid_spread": false},
//     "train": {"steps", "batch", "seq_len", "grad_accum", "lr", "min_lr_frac", "warmup",
//               "weight_decay", "grad_clip", "beta1", "beta2", "eval_every", "seed"},
//     "qat": {"wbits", "matrix_bits", "ternary", "lsq", "scale_lr", "calib_tokens", "recalibrate",
//             "distill", "teacher", "fake_quant_weights", "learn_clips", "clip_lr", "blend_start",
//             "blend_end"},
//     "out": "runs/stories"
//   }
// "qat" (optional) makes the run quantisation-aware training for the integer kernel: its keys,
// the defaults it changes, its metrics and its outputs are in qat/lm_qat.h; it needs "init".
// "model": "llama-int8" is "llama" with a required "qat" section.
// Flags --init, --data, --valid, --teacher, --out, --steps override $.init, $.data.train,
// $.data.valid, $.qat.teacher, $.out, $.train.steps (relative to the current directory); --check
// prints the resolved paths and trains nothing.
// Outputs in "out": metrics.jsonl, last.ckpt, best.ckpt (RQF kind "llama": the trainer's sections
// plus LCFG, model/llama_ckpt.h; QAT: kind "llamaq" with LQAT as well), train.tok / valid.tok
// (token caches), and the best checkpoint exported: model.bin, a llama2.c version-0 file (QAT:
// model.rqm, the integer image).
//
// A step draws batch x grad_accum windows of seq_len+1 tokens at uniform random offsets of the
// training stream (offsets from the trainer's rng), averages the gradients of the micro-batches.
// Evaluation: mean cross-entropy over consecutive windows of the validation stream (full windows
// only, at most valid_tokens tokens; with valid_spread those windows are spread evenly over the
// whole stream instead of taken from its start, for a text whose start is not like the rest);
// the selection score is -valid_loss (QAT: -valid_int_loss).
#ifndef RQ_LLAMA_FAMILY_H
#define RQ_LLAMA_FAMILY_H

#include "model/llama.h"

// retroqat train CONFIG.json for "model": "llama" and "llama-int8".
int llama_family_train_main(int argc, char **argv);

#endif
