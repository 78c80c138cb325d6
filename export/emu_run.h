// emu_run.h: what the runners of the bundled machine models (the CP/M emulator, the ZX Spectrum
// model) share: the terminal in raw mode, runs in slices under a wall-clock limit, the T-state
// regions of the probes as JSON and text, and --stats-file.
#ifndef RQ_EXPORT_EMU_RUN_H
#define RQ_EXPORT_EMU_RUN_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

// Keys arrive one at a time without the terminal's echo (the program echoes what it takes); ^C
// still interrupts. Nothing when stdin is not a terminal. rq_tty_restore undoes it (also at exit
// and on SIGINT/SIGTERM/SIGHUP).
void rq_tty_raw(void);
void rq_tty_restore(void);

// Run a machine in slices of T-states so that a wall-clock limit (seconds > 0) can stop it:
// run(m, limit) runs up to the absolute T-state limit and returns its status, with *at_limit = 1
// when it stopped there. Returns the last status; past the limit RQ_ERUNTIME with *timed_out.
typedef int (*rq_emu_run_fn)(void *m, uint64_t limit, int *at_limit);
int rq_emu_run_timed(rq_emu_run_fn run, void *m, uint64_t now_tstates, uint64_t max_tstates, double seconds, int *timed_out);

// The probe regions 0..15 (tstates[r], count[r]; regions never run are left out) as the array
// "regions" of o, and as text lines "NAME: region R: T T-states in N runs (P per run)".
void rq_regions_json(cJSON *o, const uint64_t *tstates, const uint64_t *count);
void rq_regions_text(const char *name, const cJSON *stats, FILE *f);
double rq_json_num(const cJSON *o, const char *key);  // 0 when missing

// Flag values: a T-state count ("20e9", >= 1) and an address ("E406h", "0xE406" or decimal).
// 1 when s is one.
int rq_parse_count(const char *s, uint64_t *v);
int rq_parse_addr(const char *s, uint16_t *v);

// --stats-file FILE: stats as indented JSON. RQ_ERUNTIME (reported on stderr) when it fails.
int rq_stats_file(const char *path, const cJSON *stats);

#endif
