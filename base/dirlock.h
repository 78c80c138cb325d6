// dirlock.h: one writer per output folder.
//
// A training writes metrics.jsonl, last.ckpt and best.ckpt into its --out folder; two trainings
// there at once interleave metrics lines and race on the checkpoint renames. rq_dir_lock takes an
// exclusive flock(2) on DIR/train.lock (created if missing, holding the owner's pid as text) and
// refuses a second holder at once instead of waiting. The kernel drops the lock when the process
// ends, however it ends, so a killed run never leaves the folder locked.
#ifndef RQ_DIRLOCK_H
#define RQ_DIRLOCK_H

#define RQ_DIRLOCK_NAME "train.lock"

// 0 and *fd = the lock's descriptor, or RQ_ERUNTIME "DIR: another training is writing to this
// folder (pid N holds DIR/train.lock)".
int rq_dir_lock(const char *dir, int *fd);
// Release (close) a lock taken by rq_dir_lock; fd < 0 is a no-op.
void rq_dir_unlock(int fd);

#endif
