// runlog.h: what `retroqat report` reads: a run folder (metrics.jsonl, run.json) and JSON
// summaries of exports and emulator runs, with lookups by JSON path and series over steps.
//
// A path is dot-separated object keys and array indices: "held_out.max_abs_acc.2" is
// o["held_out"]["max_abs_acc"][2].
#ifndef RQ_RUNLOG_H
#define RQ_RUNLOG_H

#include <cjson/cJSON.h>

enum { REP_OTHER = 1, REP_CHAT = 2, REP_LLAMA = 4 };

typedef struct {
    char dir[1024], name[256];
    char metrics_path[1100], info_path[1100];
    cJSON *info;     // run.json (NULL when the run has none)
    cJSON **lines;   // every line of metrics.jsonl, in order
    int n_lines, n_train, n_eval;
    int family;      // REP_CHAT, REP_LLAMA or REP_OTHER (from the evaluation lines)
} rep_run;

// Load DIR/metrics.jsonl (required) and DIR/run.json (optional). Errors name the file and line.
int rep_run_load(rep_run *r, const char *dir);
void rep_run_free(rep_run *r);

// A JSON file (an export or run summary); errors name the file and byte offset.
int rep_json_load(const char *path, cJSON **out);

const cJSON *rep_path(const cJSON *o, const char *path);
// The number at path, or NAN.
double rep_num(const cJSON *o, const char *path);
// (step, value) of every line of type `type` ("train" / "eval") that has a number at path;
// returns the count (x, y malloc'd, NULL when 0).
int rep_series(const rep_run *r, const char *type, const char *path, double **x, double **y);
// The last line of `type` with a number at path (NULL when none).
const cJSON *rep_last(const rep_run *r, const char *type, const char *path);

#endif
