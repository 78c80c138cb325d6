// runner.h: run a .TAP in the ZX Spectrum 48K model (emu/zx48.h) for the zx48 target's run_fn.
#ifndef RQ_EXPORT_ZX48_RUNNER_H
#define RQ_EXPORT_ZX48_RUNNER_H

#include <stdio.h>

#include "export/target.h"

// --max-tstates, --stats-file (the order of o->flag[]).
extern const rq_tflag zx48_run_flags[];

// Run the .TAP at path: with o->args, each one answered once through the one-shot entry (a$),
// else chat mode with the keys from stdin. r->count = the T-states not spent waiting for keys in
// HALT, r->tokens = the characters printed; r->stats = the model's figures (zx48_stats_text).
// Exit code: 0 (returned to BASIC, or the keys ran out), 124 at the T-state or time limit, 1 on
// a runtime error of the program (IY clobbered, a ROM entry not modelled, HALT with interrupts
// off, ...).
int zx48_run_artefact(const char *path, const rq_run_opts *o, rq_run_result *r);
void zx48_stats_text(const rq_run_result *r, FILE *f);

#endif
