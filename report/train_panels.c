// train_panels.c: the training charts of the report (report.h), from metrics.jsonl.
//
// A panel is a table entry: which lines ("train" / "eval") and JSON paths make its series, with
// each metric's colour; "%d" in a path makes one series per layer (colour = layer). Overlaid runs
// draw the same series dashed / dotted. Long runs are thinned for drawing (min and max of each
// of MAX_DRAW / 2 buckets), never for the numbers printed.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "report/report_int.h"

#define MAX_DRAW 1600

// palette roles (the CSS classes c0..c9): each metric keeps its colour in every chart
enum { C_FLOAT = 0, C_INT = 1, C_EXACT = 2, C_TR_INT = 3, C_TR_FLOAT = 4, C_TR_EXACT = 5, C_BATCH = 6, C_SCHED = 7, C_LR = 8, C_RATE = 9 };

typedef struct {
    const char *type, *path, *label;
    int color, markers;
} sspec;

typedef struct {
    int family;
    const char *title, *ylabel, *caption;
    double ylo, yhi;
    double ref;            // NAN: none; else reference lines at +ref (and the label)
    const char *ref_label;
    const char *note_path; // a number of the last evaluation shown in the caption (or NULL)
    const char *note_label;
    sspec s[8];
} pspec;

#define NO NAN
static const pspec PANELS[] = {
    {REP_CHAT, "Loss", "nats per character", "fake-quant = integer: the integer kernel's function (fq_int_mismatch counts rows where they differ)",
     0, NO, NO, NULL, "held_out.fq_int_mismatch", "fake-quant/kernel mismatches at the last evaluation: ",
     {{"train", "ce", "batch (at the blend)", C_BATCH, 0},
      {"eval", "train.float_loss", "train subset, float", C_TR_FLOAT, 1},
      {"eval", "train.loss", "train subset, fake-quant = integer", C_TR_INT, 1},
      {"eval", "held_out.float_loss", "held-out, float", C_FLOAT, 1},
      {"eval", "held_out.loss", "held-out, fake-quant = integer", C_INT, 1}}},
    {REP_CHAT, "Accuracy", "share", "per character (next-character argmax) and exact answers (greedy generation through the integer kernel)",
     0, 1, NO, NULL, NULL, NULL,
     {{"eval", "held_out.float_acc", "held-out per char, float", C_FLOAT, 1},
      {"eval", "held_out.int_acc", "held-out per char, integer", C_INT, 1},
      {"eval", "held_out.int_exact", "held-out exact answers", C_EXACT, 1},
      {"eval", "train.int_acc", "train per char, integer", C_TR_INT, 1},
      {"eval", "train.int_exact", "train exact answers", C_TR_EXACT, 1}}},
    {REP_CHAT, "Blend schedule: float (0) to grid (1)", "lambda", "the weights the forward sees: (1 - lambda) w + lambda q(w)",
     0, 1.05, NO, NULL, NULL, NULL, {{"train", "lambda", "lambda", C_SCHED, 0}}},
    {REP_CHAT, "Learning rate", "lr", NULL, 0, NO, NO, NULL, NULL, NULL, {{"train", "lr", "learning rate", C_LR, 0}}},
    {REP_CHAT, "Accumulator headroom: max |acc| per layer (held-out)", "max |accumulator|",
     "the integer kernel's int16 accumulators; the trainer calibrates the shifts for a margin below the limit",
     0, NO, 32767, "int16 limit 32767", "held_out.overflows", "overflows at the last evaluation: ",
     {{"eval", "held_out.max_abs_acc.%d", "layer %d", 0, 1}}},
    {REP_CHAT, "Non-zero weight share per layer", "share of codes != 0", "what the Z80 kernel's cost follows", 0, 1,
     NO, NULL, "nonzero", "all layers at the last evaluation: ",
     {{"eval", "nonzero_share.%d", "layer %d", 0, 1}, {"eval", "nonzero", "all layers", C_RATE, 1}}},
    {REP_CHAT, "Active hidden units per example (held-out)", "units with output > 0", "the inputs the kernel's next layer visits",
     0, NO, NO, NULL, NULL, NULL, {{"eval", "held_out.active_units.%d", "hidden layer %d", 0, 1}}},
    {REP_CHAT, "Z80 T-states per generation step (cost model)", "T-states",
     "qat/chat_z80_cost.h on the held-out activations: the columns' part of a step, in the layout export picks", 0, NO, NO,
     NULL, "held_out.z80_tstates_step", "at the last evaluation: ", {{"eval", "held_out.z80_tstates_step", "estimated T-states per step", C_EXACT, 1}}},
    {REP_LLAMA, "Loss", "nats per token", "with QAT the step loss is the integer model's; its float forward's is float_loss",
     0, NO, NO, NULL, NULL, NULL,
     {{"train", "loss", "train batch (integer with QAT)", C_BATCH, 0},
      {"train", "float_loss", "train batch, float forward", C_TR_FLOAT, 0},
      {"eval", "valid_loss", "valid", C_FLOAT, 1},
      {"eval", "valid_float_loss", "valid, float master weights", C_FLOAT, 1},
      {"eval", "valid_int_loss", "valid, integer model", C_INT, 1}}},
    {REP_LLAMA, "Top-1 agreement: integer vs float argmax (valid)", "share of tokens", NULL, NO, NO, NO, NULL, "valid_top1_agree",
     "at the last evaluation: ", {{"eval", "valid_top1_agree", "top-1 agreement", C_EXACT, 1}}},
    {REP_LLAMA | REP_CHAT, "Training throughput", "per second", "training steps only (evaluations excluded)", 0, NO, NO, NULL, NULL, NULL,
     {{"eval", "tok_per_s", "tokens per second", C_RATE, 1}, {"eval", "ex_per_s", "examples per second", C_RATE, 1}}},
    {REP_LLAMA | REP_OTHER, "Learning rate", "lr", NULL, 0, NO, NO, NULL, NULL, NULL, {{"train", "lr", "learning rate", C_LR, 0}}},
};
#define N_PANELS (int)(sizeof PANELS / sizeof PANELS[0])

// Thin (x, y) to at most MAX_DRAW points: per bucket its first point, min and max, in x order.
static int thin(double *x, double *y, int n) {
    if (n <= MAX_DRAW) return n;
    int buckets = MAX_DRAW / 3, m = 0;
    for (int b = 0; b < buckets; b++) {
        int lo = (int)((long)b * n / buckets), hi = (int)((long)(b + 1) * n / buckets);
        int imin = lo, imax = lo;
        for (int i = lo; i < hi; i++) {
            if (y[i] < y[imin]) imin = i;
            if (y[i] > y[imax]) imax = i;
        }
        int idx[3] = {lo, imin < imax ? imin : imax, imin < imax ? imax : imin}, last = -1;
        for (int k = 0; k < 3; k++)
            if (idx[k] != last) x[m] = x[idx[k]], y[m] = y[idx[k]], m++, last = idx[k];
    }
    return m;
}

typedef struct {
    svg_series s[64];
    double *mem[128];
    char labels[64][160], attrs[64][1400];
    int n, nmem;
} series_set;

static void add_series(series_set *ss, const rep_ctx *c, int run, const sspec *sp, const char *path, const char *label, int color) {
    if (ss->n >= 64) return;
    double *x, *y;
    int n = rep_series(&c->runs[run], sp->type, path, &x, &y);
    if (n == 0) return;
    svg_series *s = &ss->s[ss->n];
    if (c->n_runs > 1) snprintf(ss->labels[ss->n], sizeof ss->labels[0], "%s (run %d)", label, run + 1);
    else snprintf(ss->labels[ss->n], sizeof ss->labels[0], "%s", label);
    snprintf(ss->attrs[ss->n], sizeof ss->attrs[0], "data-src=\"%s\" data-type=\"%s\" data-k=\"%s\" data-n=\"%d\"",
             c->runs[run].metrics_path, sp->type, path, n);
    int m = thin(x, y, n);
    *s = (svg_series){.label = ss->labels[ss->n], .x = x, .y = y, .n = m, .color = color % SVG_NCOLORS, .dash = run % 3,
                      .markers = sp->markers && m <= 80, .attrs = ss->attrs[ss->n]};
    ss->mem[ss->nmem++] = x, ss->mem[ss->nmem++] = y;
    ss->n++;
}

static void free_set(series_set *ss) {
    for (int i = 0; i < ss->nmem; i++) free(ss->mem[i]);
    ss->n = ss->nmem = 0;
}

// One series per layer for a "%d" path (until a layer is missing everywhere), else one.
static void add_spec(series_set *ss, const rep_ctx *c, int run, const sspec *sp) {
    if (!strstr(sp->path, "%d")) {
        add_series(ss, c, run, sp, sp->path, sp->label, sp->color);
        return;
    }
    char path[160], label[160];
    for (int l = 0; l < 16; l++) {
        snprintf(path, sizeof path, sp->path, l);
        snprintf(label, sizeof label, sp->label, l + 1);
        int before = ss->n;
        add_series(ss, c, run, sp, path, label, sp->color + l);
        if (ss->n == before) break;
    }
}

static void caption_note(rep_ctx *c, const char *path, const char *label) {
    for (int r = 0; r < c->n_runs; r++) {
        const cJSON *last = rep_last(&c->runs[r], "eval", path);
        if (!last) continue;
        fprintf(c->o, "<br/>");
        if (c->n_runs > 1) fprintf(c->o, "run %d: ", r + 1);
        svg_escape(c->o, label);
        rep_number(c, c->runs[r].metrics_path, path, rep_num(last, "step"), rep_num(last, path), fabs(rep_num(last, path)) >= 100 ? "%.0f" : "%.4g");
        fprintf(c->o, " (step ");
        rep_number(c, c->runs[r].metrics_path, "step", rep_num(last, "step"), rep_num(last, "step"), "%.0f");
        fprintf(c->o, ")");
    }
}

static void line_panel(rep_ctx *c, const pspec *p) {
    series_set *ss = rq_calloc(1, sizeof *ss);
    int fam = 0;
    for (int r = 0; r < c->n_runs; r++)
        if (p->family & c->runs[r].family) {
            fam = 1;
            for (int k = 0; k < 8 && p->s[k].path; k++) add_spec(ss, c, r, &p->s[k]);
        }
    if (fam && ss->n) {
        svg_axes a = {.title = p->title, .xlabel = "step", .ylabel = p->ylabel, .y_lo = p->ylo, .y_hi = p->yhi};
        if (isfinite(p->ref)) a.n_ref = 1, a.ref[0] = p->ref, a.ref_label[0] = p->ref_label;
        rep_figure_begin(c);
        svg_line_chart(c->o, &a, ss->s, ss->n);
        int cap = p->caption || p->note_path;
        if (cap) rep_caption_begin(c);
        if (p->caption) svg_escape(c->o, p->caption);
        if (p->note_path) caption_note(c, p->note_path, p->note_label);
        rep_figure_end(c, cap);
    }
    free_set(ss);
    free(ss);
}

// Weight codes per layer at each run's last evaluation: share of -2, -1, 0, +1 (stacked).
static void code_panel(rep_ctx *c) {
    static const char *const CODE[4] = {"-2", "-1", "0", "+1"};
    static const int COLOR[4] = {C_INT, C_TR_FLOAT, C_BATCH, C_FLOAT};  // -2 orange, -1 sky, 0 grey, +1 blue
    for (int r = 0; r < c->n_runs; r++) {
        const cJSON *last = rep_last(&c->runs[r], "eval", "code_hist.0.0");
        if (!last) continue;
        const cJSON *h = rep_path(last, "code_hist");
        int L = cJSON_GetArraySize(h);
        if (L <= 0 || L > 16) continue;
        char cats[16][24];
        const char *cp[16];
        double share[4][16];
        for (int l = 0; l < L; l++) {
            double tot = 0, cnt[4];
            for (int k = 0; k < 4; k++) {
                char path[64];
                snprintf(path, sizeof path, "code_hist.%d.%d", l, k);
                cnt[k] = rep_num(last, path);
                tot += isfinite(cnt[k]) ? cnt[k] : 0;
            }
            for (int k = 0; k < 4; k++) share[k][l] = tot > 0 ? cnt[k] / tot : NAN;
            snprintf(cats[l], sizeof cats[l], "layer %d", l + 1);
            cp[l] = cats[l];
        }
        svg_series s[4];
        char attrs[4][1400];
        for (int k = 0; k < 4; k++) {
            snprintf(attrs[k], sizeof attrs[k], "data-src=\"%s\" data-type=\"eval\" data-k=\"code_hist.*.%d\" data-n=\"%d\"",
                     c->runs[r].metrics_path, k, L);
            s[k] = (svg_series){.label = CODE[k], .y = share[k], .n = L, .color = COLOR[k], .attrs = attrs[k]};
        }
        char title[300];
        snprintf(title, sizeof title, "Weight codes per layer%s%s, step %.0f", c->n_runs > 1 ? ", " : "",
                 c->n_runs > 1 ? c->runs[r].name : "", rep_num(last, "step"));
        svg_axes a = {.title = title, .ylabel = "share of the layer's weights", .y_lo = NAN, .y_hi = 1};
        rep_figure_begin(c);
        svg_bar_chart(c->o, &a, cp, L, s, 4, 1);
        rep_caption_begin(c);
        fprintf(c->o, "2-bit codes in the integer image at the last evaluation (a ternary model has no -2)");
        rep_figure_end(c, 1);
    }
}

// QAT activation clips: one small chart per quantisation point, one series per layer.
static void clip_panels(rep_ctx *c) {
    static const char *const POINT[][2] = {{"xatt", "attention input (RMSNorm out)"}, {"q", "q"}, {"k", "k"}, {"v", "v"},
                                           {"o", "attention output"}, {"xffn", "FFN input (RMSNorm out)"}, {"h1", "w1 x"},
                                           {"h3", "w3 x"}, {"g", "SiLU(w1 x) * w3 x"}, {"final_norm", "final RMSNorm out"}};
    int any = 0;
    for (int r = 0; r < c->n_runs; r++) any |= rep_last(&c->runs[r], "eval", "clips.xatt.0") != NULL;
    if (!any) return;
    fprintf(c->o, "<h3>Activation clips per quantisation point (scale = clip / 127), by layer</h3>\n<div class=\"grid small\">\n");
    for (size_t p = 0; p < sizeof POINT / sizeof POINT[0]; p++) {
        char path[64], title[128];
        int per_layer = strcmp(POINT[p][0], "final_norm") != 0;
        snprintf(path, sizeof path, per_layer ? "clips.%s.%%d" : "clips.%s", POINT[p][0]);
        snprintf(title, sizeof title, "clip: %s", POINT[p][1]);
        series_set *ss = rq_calloc(1, sizeof *ss);
        sspec sp = {"eval", path, per_layer ? "layer %d" : "clip", per_layer ? 0 : C_SCHED, 1};
        for (int r = 0; r < c->n_runs; r++) add_spec(ss, c, r, &sp);
        if (ss->n) {
            svg_axes a = {.title = title, .xlabel = "step", .ylabel = "clip", .y_lo = NAN, .y_hi = NAN, .width = 420, .height = 260};
            rep_figure_begin(c);
            svg_line_chart(c->o, &a, ss->s, ss->n);
            rep_figure_end(c, 0);
        }
        free_set(ss);
        free(ss);
    }
    fprintf(c->o, "</div>\n");
}

void rep_train_panels(rep_ctx *c) {
    fprintf(c->o, "<h2>Training</h2>\n<div class=\"grid\">\n");
    for (int p = 0; p < N_PANELS; p++) {
        line_panel(c, &PANELS[p]);
        if (PANELS[p].family == REP_CHAT && strcmp(PANELS[p].title, "Non-zero weight share per layer") == 0) code_panel(c);
    }
    fprintf(c->o, "</div>\n");
    clip_panels(c);
}
