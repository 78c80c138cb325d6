// report_int.h: the parts of the report writer (report.h) shared by its files.
#ifndef RQ_REPORT_INT_H
#define RQ_REPORT_INT_H

#include <stdio.h>

#include "report/runlog.h"
#include "report/svg.h"

typedef struct {
    FILE *o;
    rep_run *runs;
    int n_runs;
    int charts, numbers;  // counts for the --json summary
} rep_ctx;

// data-src / data-k / data-step / data-v attributes of one number (step < 0: none) into buf.
void rep_attrs(char *buf, size_t n, const char *src, const char *key, double step, double v);
// <span class="num" ATTRS>value</span>, value printed with fmt (one conversion of a double).
void rep_number(rep_ctx *c, const char *src, const char *key, double step, double v, const char *fmt);
// A figure around one chart: opens <figure>; rep_figure_end closes it with an optional caption
// that the caller writes in between (rep_caption_begin).
void rep_figure_begin(rep_ctx *c);
void rep_caption_begin(rep_ctx *c);
void rep_figure_end(rep_ctx *c, int captioned);

void rep_train_panels(rep_ctx *c);
// The export panels of the summaries (paths[i], docs[i]).
void rep_export_panels(rep_ctx *c, const char *const *paths, cJSON *const *docs, int n);

#endif
