// chat_family.h: the trigram chat model as an rq_family of the shared trainer (train/trainer.h).
//
// One step: gather a minibatch (a pure function of (seed, step): epoch e = step / steps_per_epoch
// shuffles the training examples with pcg32(seed, stream 100 + e)), run the fake-quant float graph
// at the scheduled blend lambda (model/chatnet.h), measure the overflow penalty on the exact
// integer accumulators of the fully quantised model (the lambda = 1 pass, which equals the
// infer/ kernel bit for bit), add the grid loss, and backpropagate.
//
// Sparsity (qat.zero_frac = z > 0): every few steps the dead zone t_l of each layer is set to the
// quantile of |w| that makes a share z * lambda(step) of its weights quantise to zero, so the zero
// share ramps in with the blend and holds at z afterwards (z per layer, and qat.query_zero_frac for
// layer 1's query columns, which run once per query and not per generated character). The dead
// zone is part of q() in the float graph and in the image alike. qat.act_l1 adds an L1 penalty on
// the hidden ReLU outputs (fewer active units: the Z80 kernel skips zero inputs); qat.cost the Z80
// cost penalty (model/chatnet.h: each unit pays for its column, each weight for how often its
// input is active). qat.distill mixes a teacher model's soft targets (its integer logits through
// its trained temperature, computed once for every training example) into the loss.
//
// Calibration (the trainer's choice of input shift a and layer shifts s): at step 0 and at every
// evaluation boundary until the blend is complete, measure max |acc| per layer on a fixed sample of
// training examples and pick, layer by layer, the finest scale whose accumulators stay within
// (1 - margin) * 32767. Bias exponents move with the scales, so the float function is unchanged.
#ifndef RQ_CHAT_FAMILY_H
#define RQ_CHAT_FAMILY_H

#include <cjson/cJSON.h>

#include "data/chat_data.h"
#include "model/chatnet.h"
#include "train/trainer.h"

typedef struct {
    char data[1024];  // dataset path (relative paths are relative to the config file)
    int seed;
    chat_enc_cfg enc;
    int max_answer;
    int hidden[CHAT_MAX_LAYERS - 1], n_hidden;
    char weights[16];  // "2bit" or "ternary"
    chat_data_opts dopt;
    double held_out;
    int epochs, batch, evals;
    float lr, weight_decay, grad_clip, warmup, min_lr_frac, query_dropout;
    float blend_start, blend_end, grid_loss, overflow_mu, margin, init_std;
    float zero_frac[CHAT_MAX_LAYERS];  // qat.zero_frac: target share of zero weight codes (dead zone),
    int n_zero_frac;                   //   one value for every layer (n = 1) or one per layer (n = L)
    float query_zero_frac;  // qat.query_zero_frac: the same for layer 1's query columns (< 0: not
                            //   separate, layer 1's dead zone covers all its columns)
    float act_l1;     // qat.act_l1: weight of the hidden-activation L1 penalty
    float zero_decay; // qat.zero_decay: per-step shrink of shadows inside the dead zone
    float cost;       // qat.cost: nats per million Z80 T-states per step (chatnet_cost_forward)
    float distill;    // qat.distill: weight of the teacher's soft targets in the loss (0..1)
    char teacher[1024];  // qat.teacher: the teacher checkpoint (its integer logits are the soft targets)
    int calib_examples, eval_examples, eval_queries;
    int max_in_shift;  // qat.max_in_shift: the calibration's largest input shift a (inputs count << a;
                       //   small a keeps the Z80's layer-1 addends below 256: its short loops)
} chat_config;

void chat_config_default(chat_config *c);
// The zero share qat.zero_frac asks of layer l (0 when not set).
float chat_config_zero_frac(const chat_config *c, int l);
// Load a JSON config over the defaults (schema errors name the key path).
int chat_config_load(const char *path, chat_config *c);

// Distinct queries of a set of pairs with their reference answers (for the exact-answer rate).
typedef struct {
    int n;
    const char **q;      // distinct query
    int *start, *count;  // its answers: ans[start .. start+count)
    const char **ans;
} chat_qset;

typedef struct {
    chat_config cfg;
    chat_enc_cfg enc;
    int max_answer, L, dims[CHAT_MAX_LAYERS + 1];
    char chars[256];
    int n_chars;
    chatnet_quant q;
    int calibrated;
    uint64_t split_seed;
    double split_frac;

    chatnet net, evnet;  // training batch, evaluation batch
    float *params, *grads;
    uint8_t *decay_mask;
    float *pen[CHAT_MAX_LAYERS];  // penalty gradients on the accumulators (overflow and act_l1)
    float *dz_scratch;            // 2 * n_weights floats for the dead-zone quantile
    float *soft;                  // distillation: train.n x n_out teacher probabilities (NULL: none)
    uint8_t *img;                 // the integer image of the current parameters
    chat_imodel im;

    // data (training runs only)
    int have_data;
    chat_dataset data;
    int *train_idx, n_train_pairs, *held_idx, n_held_pairs;
    chat_examples train, held;
    chat_qset train_q, held_q;
    int *eval_sub, n_eval_sub;  // train examples used at evaluations
    long steps_per_epoch, total_steps, eval_every;
    int *perm;
    long perm_epoch;
    uint8_t *bx, *by;  // gathered batch
    float *bsoft;      // the batch's teacher probabilities (distillation)
    double t_start, train_s, train_cpu_s, eval_s;  // wall-clock seconds (reported, never checkpointed)
    long seen;                        // examples processed by this process
} chat_family;

// Build for training from a config: load and split the data, size the network.
int chat_family_build(chat_family *cf, const chat_config *c, rq_family *f);
// Build from a checkpoint (kind "chat"): shapes from its image, parameters and quant state loaded.
int chat_family_open(chat_family *cf, const char *path, rq_family *f);
void chat_family_free(chat_family *cf);
// The trainer settings the family implies (steps, eval cadence, AdamW).
void chat_family_trainer_cfg(const chat_family *cf, trainer_cfg *t);

void chat_qset_build(const chat_dataset *d, const int *idx, int n, int max_queries, chat_qset *qs);
void chat_qset_free(chat_qset *qs);

// Measure the current model on examples ex (rows sub[0..n_sub), or all when sub is NULL) and the
// queries qs: float / fake-quant / integer loss and accuracy, integer exact-answer rate,
// overflow count and max |acc| per layer. Adds the numbers to out.
void chat_measure(chat_family *cf, const chat_examples *ex, const int *sub, int n_sub, const chat_qset *qs, cJSON *out);
// Rebuild cf->img / cf->im from the current parameters (fully quantised).
void chat_family_image(chat_family *cf);

#endif
