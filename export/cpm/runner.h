// runner.h: run a CP/M .COM in the bundled emulator (emu/cpm.h) for the cpm target's run_fn.
#ifndef RQ_EXPORT_CPM_RUNNER_H
#define RQ_EXPORT_CPM_RUNNER_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "export/target.h"

// --dir, --max-tstates, --top, --no-echo, --stats-file (the order of o->flag[]).
extern const rq_tflag cpm_run_flags[];

// Run the .COM at path with the program's arguments o->args, console on stdin / o->out (a
// terminal is put in raw mode: CP/M programs echo themselves). r->stats gets the emulator's
// figures (cpm_stats_text prints them); with o->debug_logits, path must be a .COM written by the
// cpm exporter and r->logit_crc gets the CRC-32 of the int16 logits of every forward step,
// read from the kernel's accumulator pages when the forward returns. Exit code: the program's
// (OUT (0FEh),A; 0 on warm boot / BDOS 0 / console EOF), 124 at the T-state limit, 1 on a
// runtime error of the program (unimplemented BDOS call, HALT, ...).
int cpm_run_artefact(const char *path, const rq_run_opts *o, rq_run_result *r);

// r->stats as the text of `--stats`: end, T-states, console chars, BDOS histogram, regions.
void cpm_stats_text(const rq_run_result *r, FILE *f);

#endif
