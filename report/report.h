// report.h: `retroqat report`: one self-contained HTML page with the plots of one or more
// training runs and of export / emulator-run summaries.
//
// The page is XHTML-compatible HTML5 (well-formed XML: it parses with `xmllint --noout`), with
// inline CSS and inline SVG charts (report/svg.h), no script and no URL: a Content-Security-Policy
// of default-src 'none' keeps a browser from fetching anything. Light and dark follow
// prefers-color-scheme; each metric keeps its colour in every chart, overlaid runs differ by dash.
//
// What it draws, from what the trainers log (train/trainer.h, train/run_info.h):
//   header     per run: run.json's config, seed, commit, start date, cores, wall and CPU time,
//              and the last evaluation's numbers
//   chat       loss (float / fake-quant = integer, train subset and held-out, and the batch loss),
//              per-character and exact-answer accuracy, the blend schedule and learning rate,
//              per-layer max |accumulator| against +-32767 with the overflow count, weight-code
//              shares per layer, the non-zero share and active units over time, and the Z80 cost
//              model's T-states per step
//   llama      train and valid loss; with QAT the integer loss next to the float one, top-1
//              agreement, the activation clips per quantisation point and layer; tokens per second
//   exports    any JSON summary (an `export --json` or `run --target cpm --stats --json` output,
//              passed with --export or saved as *.json in a run folder) that has
//                "memory_map": [{"name", "bytes"}, ...]        one horizontal bar of the map
//                "phases": [{"name", "tstates"[, "count"]}]    T-states per phase
//                "regions": [{"id", "tstates", "count"}]       the CP/M emulator's probe regions,
//                                                              named by a "region_names" array of
//                                                              any other summary in the report
//              so a target supplies its panel through its JSON, and no target is named here.
// Every number printed from a file is in an element with data-src (the file), data-k (its JSON
// path), data-step (the metrics line's step, for metrics.jsonl) and data-v (the exact value), and
// every series element carries data-src, data-k and data-n (its point count): the tests check
// them against the files.
#ifndef RQ_REPORT_H
#define RQ_REPORT_H

typedef struct {
    const char *out;                // the HTML file to write
    const char *const *exports;     // JSON summaries to add
    int n_exports;
    int json;                       // print a JSON summary of the report to stdout
} report_opts;

// Returns 0, RQ_EINPUT (a run folder or summary that cannot be read), or RQ_ERUNTIME.
int report_write(const char *const *dirs, int n_dirs, const report_opts *o);

#endif
