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
// The target is the training text, or with "distill" d > 0 a mix with a frozen float teacher's
// distribution, (1 - d) onehot + d p_teacher (knowledge distillation). The teacher is the init
// model as it was at the start (d = 1 then trains the integer model to reproduce the float model
// it started from, rather than to fit the text better), or "teacher": any float model file of the
// same vocabulary (rq_llama_float_open: a llama2.c .bin, a llama checkpoint, or a QAT
// checkpoint's float master weights), e.g. a model already fine-tuned on the text.
//
// QAT is a mode of the llama family (train/llama_family.h: its config, flags, data, trainer and
// outputs): a config is QAT when it has a "qat" object ("model": "llama-int8" is a synonym of
// "llama" that requires one). The section, with its defaults:
//     "qat": {"wbits": 8, "calib_tokens": 0, "recalibrate": true, "distill": 0,
//             "fake_quant_weights": true}
// wbits: 8, 4 or 2 bits per layer weight (the embedding and classifier stay int8); "matrix_bits":
// {"wq": 8, "wk": 8, "wv": 8, "wo": 8, "w1": 2, "w2": 2, "w3": 2} overrides it per matrix kind
// (mixed precision, image version 3). "ternary": true puts 2-bit matrices on {-1, 0, +1}
// instead of {-2, -1, 0, +1}; "midrise": true puts int4 and 2-bit matrices on the midrise grids,
// the odd values in [-15, 15] and {-3, -1, +1, +3} (16 and 4 levels, symmetric, no zero; image
// version 4): w_hat = s_r (2 round((w / s_r - 1) / 2) + 1) clamped, the LSQ gradient as below.
// "lsq": true learns every layer matrix's per-row step s_r (learned step size quantisation,
// Esser et al. 2019): the steps start from the search (so step 0 is still the PTQ model), the
// forward uses w_hat = s_r clamp(round(w / s_r), lo, hi), the weight gradient passes straight
// through inside the grid and is zero where w / s_r rounds outside it, and
//     dL/ds_r = sum_j dL/dw_hat_j (q_j - w_j / s_r)   inside,   dL/ds_r += dL/dw_hat_j q_j   clipped;
// Adam (step "scale_lr", default 1e-3) updates log|s_r| once per step. The steps are folded into
// the row requantisations at export exactly like searched ones (checkpoint section LQSC).
// calib_tokens: 0 calibrates the static clips as `retroqat export` does (sequences sampled from
// the model itself, qat/lm_quant.h), so step 0 is exactly the post-training-quantised model; n > 0
// uses the first n training tokens instead. recalibrate: refresh the clips on the current weights
// at every evaluation (on the float masters, or with "calib_quantized": true on the fake-quantised
// weights the kernel runs).
// "learn_clips": true learns the clips instead (LSQ on activations): the float forward
// fake-quantises every contract point (model/llama_train.h llama_actq: int8 points on the grid
// clip/127, q and k on the int16 grid clip/(127*16) within +-2047, before and after RoPE), the
// backward passes straight through inside the grid and adds the LSQ gradient of each point's
// step; Adam ("clip_lr", default 1e-3) moves log clip once per optimiser step (checkpoint section
// LQAC: u32 count, count x f32 Adam m, count x f32 Adam v, u32 updates), and there is no
// recalibration. Export folds the learned clips into the (m, p, k) requantisations as it folds
// calibrated ones.
// "blend_start", "blend_end" (fractions of the run, default 0, 0: off): progressive quantisation,
// see lm_qat_schedule.
// QAT needs "init" (the float model to start from: a llama2.c .bin, a llama checkpoint, or a QAT
// checkpoint's float master weights), and its defaults of the other sections differ from float
// training's: train {steps 200, batch 8, lr 1e-4, warmup 10,
// weight_decay 0, eval_every 50}, data.valid_tokens 16384, out "runs/llama-int8".
// In metrics.jsonl a step's "loss" is the integer model's cross-entropy on the batch, "float_loss"
// that of the float forward the backward used (on the quantised weights with fake_quant_weights),
// "kd" the mean KL(p_teacher || p_int) when distilling; an evaluation has "valid_float_loss" (the
// float master weights), "valid_int_loss", "valid_top1_agree" (share of positions whose integer
// argmax is the float master's), "clips" (the activation clips in use: per point name an array
// over layers, and "final_norm") and the selection score -valid_int_loss.
// Outputs in "out": last.ckpt / best.ckpt of RQF kind "llamaq" (the trainer's sections, LCFG
// (model/llama_ckpt.h) and LQAT = u32 weight bits, u32 count, count x f32 activation clips; the
// weight bits are 8 or 4 for one such width, else a nibble per matrix kind as in the image's bits
// word with 3 for a ternary 2-bit matrix and bit 31 for "midrise"; with "lsq" also LQSC = u32 count, count x f32 steps,
// count x f32 Adam m, count x f32 Adam v, u32 updates), and model.rqm: the integer image of
// best.ckpt.
//
// The family drives the state below: lm_qat_new once the float model and the training text are
// loaded, lm_qat_step on every batch, lm_qat_int_model + lm_qat_int_loss in evaluations,
// lm_qat_save / lm_qat_resume for LQAT, lm_qat_write_image at the end.
#ifndef RQ_LM_QAT_H
#define RQ_LM_QAT_H

#include <stddef.h>
#include <stdint.h>

#include "base/rqfile.h"
#include "data/textdata.h"
#include "infer/lm_kernel.h"
#include "model/llama.h"
#include "model/llama_train.h"
#include "qat/lm_quant.h"

#define LM_QAT_KIND "llamaq"  // RQF kind of QAT checkpoints

typedef struct {
    int wbits, calib_tokens, recalibrate, fake_quant_weights;
    float distill;
    uint8_t mbits[LM_NMAT];  // per-matrix bits (wq wk wv wo w1 w2 w3); 0 entries take wbits
    int ternary;             // 2-bit matrices on {-1, 0, +1}
    int midrise;             // int4 / 2-bit matrices on the midrise grids (odd values, no zero)
    int lsq;                 // learned per-row weight steps (LSQ) instead of the per-step search
    float scale_lr;          // Adam step size of the learned steps' logarithms
    char teacher[1024];      // distillation teacher (a float model file), "" for the init model
    int learn_clips;         // learned activation clips (LSQ on the static activation scales)
    float clip_lr;           // Adam step size of their logarithms
    float blend_start, blend_end;  // progressive quantisation of the weights (fractions of the run)
    int calib_quantized;     // recalibrate on the fake-quantised weights rather than the float masters
    int synthetic_tokens;    // text sampled from the teacher to train on besides the training text
    float synthetic_frac;    // share of a batch's windows drawn from it
} lm_qat_cfg;

typedef struct lm_qat lm_qat;

// QAT of m, the float master weights (the caller's; its optimiser updates them in place), on
// batches of batch x seq_len tokens. Calibrates the static activation clips on m as it is now,
// from calib[0..n) when c->calib_tokens > 0 (calib must outlive the state: recalibration reads
// it again); with distill, loads c->teacher or keeps a frozen copy of m as the teacher. RQ_THREADS sets the integer
// pass's threads (default: all CPUs).
int lm_qat_new(lm_qat **q, const lm_qat_cfg *c, const llama_model *m, const uint16_t *calib, size_t n, int batch, int seq_len);
void lm_qat_free(lm_qat *q);

// Text sampled from the distillation teacher (temperature 1, from BOS, each story ended by the
// model's BOS as in lmq_self_generate) until at least n tokens: chunks of 32 stories of up to
// max_len tokens, chunk c from seed (seed, c), sampled on the threads and concatenated in chunk
// order (the same stream whatever the thread count), into *out (token_stream_free). With
// "synthetic_tokens" the family draws "synthetic_frac" of each batch's windows from it: more text
// for long low-bit runs than the training file has, labelled by the teacher's distribution (and
// the sampled next token). show: a progress line.
int lm_qat_synthesize(lm_qat *q, size_t n, int max_len, uint64_t seed, int show, token_stream *out);

// Progressive quantisation ("blend_start", "blend_end", qat/quant.h's cosine ramp): before the
// optimiser step `step` of `total`, set lambda. While lambda < 1 the float forward runs on the
// blended weights w + lambda (q(w) - w) and the backward uses its own probabilities (the integer
// loss is still measured and reported); the weight gradient is straight through where w is inside
// the grid and (1 - lambda) of it where w clips, the steps' LSQ gradient is lambda times theirs.
// From lambda = 1 on (the default throughout) the loss is the integer model's as above.
void lm_qat_schedule(lm_qat *q, long step, long total);

// One batch (in/tg: batch x seq_len tokens): the float forward into st (on the fake-quantised
// weights), the integer pass's probabilities in place of the float ones (distilled), the
// backward into g (added to it). Returns the integer loss (NAN when the weights do not quantise);
// *float_loss is the float forward's, *kd the mean KL(p_teacher || p_int) (NAN when not distilling).
double lm_qat_step(lm_qat *q, llama_train *st, const int *in, const int *tg, llama_weights *g, double *float_loss, double *kd);

// The integer model of the current weights for an evaluation (lmq_free after use); with
// recalibrate the clips are refreshed on those weights first, and kept (training continues and
// checkpoints save with them).
int lm_qat_int_model(lm_qat *q, lm_model *qm);
// Mean integer cross-entropy of rows (<= batch) sequences in/tg of seq_len tokens on qm.
double lm_qat_int_loss(lm_qat *q, const lm_model *qm, const int *in, const int *tg, int rows);

// After lm_qat_int_loss: positions of its rows whose integer argmax equals the argmax of probs
// (rows x seq_len x vocab, e.g. the float forward's on the same windows): top-1 agreement.
long lm_qat_top1_agree(const lm_qat *q, const float *probs, int rows);
// The current static activation clips (*n = n_layers x LMQ_NPOINT + 1, lm_quant.h's order).
const float *lm_qat_clips(const lm_qat *q, int *n);

// LSQ: turn the step's weight gradient g (at the fake-quantised weights, averaged over the
// micro-batches) into the learned steps' update, and zero g where the weights clip. No-op
// without "lsq".
void lm_qat_update_scales(lm_qat *q, llama_weights *g);

// Checkpoint section LQAT (and LQSC with "lsq"): write it; on --resume, read it back (the weight bits must match) and
// continue with the run's clips.
void lm_qat_save(const lm_qat *q, rqf_writer *w);
int lm_qat_resume(lm_qat *q, const rqf_file *file);

// Load a QAT checkpoint (kind "llamaq"): the float master weights, the activation clips and the
// weight bits, and quantise them into the integer model it trained (lmq_free(q) after use).
int lm_qat_load(const char *path, lm_model *q);
// The float master weights of a QAT checkpoint (llama_free after use).
int lm_qat_load_float(const char *path, llama_model *m);

#endif
