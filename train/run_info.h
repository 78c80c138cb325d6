// run_info.h: out_dir/run.json, what a reader needs to reproduce a training run (and what
// `retroqat report` prints in its header):
//   {"kind": checkpoint kind, "config_path": ..., "config": the config file's JSON,
//    "seed", "steps", "lr", "weight_decay", "grad_clip", "warmup_steps" (the trainer's values after
//    the command line's overrides), "commit": `git describe` of the build, "started": UTC ISO 8601,
//    "cores": online CPUs, "host", "sessions": processes that trained it (1 + resumes),
//    "wall_s", "cpu_s": seconds over all sessions, "steps_done", "status": "running" | "finished" |
//    "interrupted" | "failed"}
// Written at the start (status "running") and rewritten at the end, atomically. On --resume the
// earlier sessions' times are added. A write failure is reported as a warning: the run itself
// (checkpoints, metrics) does not depend on it.
#ifndef RQ_RUN_INFO_H
#define RQ_RUN_INFO_H

#include "train/trainer.h"

// The commit this binary was built from (`git describe`, "unknown" outside git).
const char *rq_build_commit(void);

void run_info_begin(const trainer_cfg *c, const char *kind);
void run_info_end(const trainer_cfg *c, double wall_s, double cpu_s, long steps_done, const char *status);

#endif
