// trainer.h: one training loop for every model family.
//
// A family (trigram chat, llama transformer) fills an rq_family: its flat parameter and gradient
// arrays, and callbacks for one optimisation step, an evaluation, and its own checkpoint sections.
// The trainer owns everything else: AdamW + schedule + clipping, the step loop, periodic
// evaluation, metrics.jsonl, last.ckpt / best.ckpt (atomic), run.json (what reproduces the run:
// train/run_info.h), the progress line with ETA on a terminal (base/progress.h), Ctrl-C (save
// last.ckpt; the CLI then exits 130), --resume, and the lock that keeps a second training out of
// the same folder (base/dirlock.h). Every evaluation line also gets "wall_s" (seconds since
// this process started training) and "<unit>_per_s" (the steps' throughput, evaluations
// excluded): timing, never part of a checkpoint.
//
// Determinism contract: a family must draw everything random for step s from the rng the trainer
// passes (whose state is checkpointed) or derive it from (seed, s) — never from hidden state —
// so that resume continues bit-identically to an uninterrupted run.
#ifndef RQ_TRAINER_H
#define RQ_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/rng.h"
#include "base/rqfile.h"
#include "train/optim.h"

typedef struct rq_family {
    const char *kind;       // checkpoint kind ("chat", "llama")
    void *self;             // the family's own state
    float *params;          // n_params floats, the trainable parameters (one allocation)
    float *grads;           // n_params floats; step() overwrites them
    size_t n_params;
    const uint8_t *decay_mask;  // n_params bytes (1 = apply weight decay) or NULL for all

    // Forward + backward on the batch for `step`: write the gradient of the mean loss into grads
    // and return the loss. May add entries to `stats` (train accuracy, ...) for the progress line
    // and metrics; the trainer owns and frees `stats`.
    float (*step)(struct rq_family *f, long step, pcg32 *rng, cJSON *stats);
    // Called after every optimizer update (e.g. to re-derive quantised weights, clamp scales).
    void (*after_update)(struct rq_family *f, long step);
    // Evaluate (train subset and held-out); add metrics to `out`; return the selection score
    // (higher is better) that picks best.ckpt.
    double (*evaluate)(struct rq_family *f, long step, cJSON *out);
    // Fill the progress line's family part (e.g. "acc 0.91 int 0.90") from the last stats.
    void (*progress)(struct rq_family *f, const cJSON *stats, char *buf, size_t n);
    // Checkpoint I/O of the family's own sections (config, model structure, quantiser state, ...).
    // The trainer stores params, optimizer state and rng itself.
    void (*save)(struct rq_family *f, rqf_writer *w);
    int (*load)(struct rq_family *f, const rqf_file *file);
} rq_family;

typedef struct {
    long steps;            // total optimizer steps
    long eval_every;       // evaluate every N steps (and at the end)
    long log_every;        // metrics.jsonl train line every N steps (default 1/20 of eval_every, >= 1)
    adamw_cfg opt;
    uint64_t seed;
    const char *out_dir;   // receives metrics.jsonl, last.ckpt, best.ckpt
    int resume;            // continue from out_dir/last.ckpt
    int quiet;             // no progress line even on a terminal
    const char *unit;      // what a step processes, for the rate shown ("ex", "tok"); NULL = steps
    long units_per_step;
    const char *config_path;  // the run's JSON config, copied into out_dir/run.json (or NULL)
} trainer_cfg;

void trainer_cfg_defaults(trainer_cfg *c);
// Run the loop. Returns 0 (also after Ctrl-C, with last.ckpt saved: check rq_interrupted), or an
// error code (RQ_ERUNTIME when another training holds out_dir's lock).
int trainer_run(rq_family *f, const trainer_cfg *c);

// Copy the parameters stored by trainer_run (section "PARM") into f->params; the family must
// already be built with the checkpoint's shapes (read from its own sections first). For
// eval/chat/export of a trained model: rqf_open(file, kind) -> build family -> this -> f->load.
int trainer_load_params(rq_family *f, const rqf_file *file);

// Set by SIGINT while trainer_run is active; families with long evaluations may poll it.
extern volatile int rq_interrupted;

#endif
