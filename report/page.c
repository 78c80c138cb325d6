// page.c: the report page: loading, the HTML skeleton with its CSS, the run headers (report.h).
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/binio.h"
#include "base/err.h"
#include "base/progress.h"
#include "report/report.h"
#include "report/report_int.h"

// Palette: Okabe-Ito-like colours that stay apart for colour-blind readers, and brighter
// variants of the same hues on a dark background.
static const char CSS[] =
    ":root{--bg:#ffffff;--fg:#1d2330;--mut:#5b6475;--grid:#e3e7ee;--axis:#6b7385;--card:#f6f8fb;--line:#d5dae3;"
    "--c0:#0072b2;--c1:#e69f00;--c2:#009e73;--c3:#cc79a7;--c4:#56b4e9;--c5:#d55e00;--c6:#8a8f99;--c7:#7b52ae;"
    "--c8:#8c564b;--c9:#17a3b8}\n"
    "@media (prefers-color-scheme: dark){:root{--bg:#14171c;--fg:#e4e8ef;--mut:#9aa3b2;--grid:#2a303a;--axis:#8a93a3;"
    "--card:#1b2027;--line:#333b47;--c0:#4ea8ff;--c1:#ffb84d;--c2:#3ddc97;--c3:#ec9bd3;--c4:#8fd3ff;--c5:#ff7f3f;"
    "--c6:#a9aeb8;--c7:#b59ae8;--c8:#c99a8a;--c9:#4fd8e8}}\n"
    "html{background:var(--bg);color:var(--fg)}\n"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0 auto;max-width:1280px;"
    "padding:16px 24px 40px}\n"
    "h1{font-size:22px;margin:8px 0 2px}h2{font-size:18px;margin:26px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}\n"
    "h3{font-size:15px;margin:14px 0 6px}.sub{color:var(--mut);margin:0 0 8px}\n"
    ".run{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px;margin:10px 0}\n"
    "table{border-collapse:collapse;margin:4px 0}td,th{padding:2px 12px 2px 0;text-align:left;vertical-align:top}\n"
    "th{color:var(--mut);font-weight:500}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:8px;overflow:auto;max-height:320px;font-size:12px}\n"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:14px}\n"
    ".grid.small{grid-template-columns:repeat(auto-fill,minmax(300px,1fr))}\n"
    "figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:6px}\n"
    "figcaption{color:var(--mut);font-size:12.5px;padding:0 6px 4px}\n"
    "svg.chart{width:100%;height:auto;display:block}\n"
    "svg text{fill:var(--fg);font-size:12px}svg .ctitle{font-size:14px;font-weight:600}svg .tick{fill:var(--mut);font-size:11px}\n"
    "svg .alabel{fill:var(--mut)}svg .axis line{stroke:var(--axis);stroke-width:1}svg line.grid{stroke:var(--grid)}\n"
    "svg .ref line{stroke:var(--c5);stroke-width:1.2;stroke-dasharray:5 3}svg .ref text{fill:var(--c5);font-size:11px}\n"
    ".c0{stroke:var(--c0)}.c1{stroke:var(--c1)}.c2{stroke:var(--c2)}.c3{stroke:var(--c3)}.c4{stroke:var(--c4)}"
    ".c5{stroke:var(--c5)}.c6{stroke:var(--c6)}.c7{stroke:var(--c7)}.c8{stroke:var(--c8)}.c9{stroke:var(--c9)}\n"
    ".f0{fill:var(--c0)}.f1{fill:var(--c1)}.f2{fill:var(--c2)}.f3{fill:var(--c3)}.f4{fill:var(--c4)}"
    ".f5{fill:var(--c5)}.f6{fill:var(--c6)}.f7{fill:var(--c7)}.f8{fill:var(--c8)}.f9{fill:var(--c9)}\n"
    "footer{color:var(--mut);font-size:12px;margin-top:28px}\n";

void rep_attrs(char *buf, size_t n, const char *src, const char *key, double step, double v) {
    // src and key are file paths and JSON paths: quote-free by construction, escaped anyway
    char s[1200], k[256];
    size_t j = 0;
    for (const char *p = src; *p && j + 1 < sizeof s; p++) s[j++] = *p == '"' || *p == '<' || *p == '&' ? '_' : *p;
    s[j] = 0;
    snprintf(k, sizeof k, "%s", key);
    if (step >= 0) snprintf(buf, n, "data-src=\"%s\" data-k=\"%s\" data-step=\"%.0f\" data-v=\"%.17g\"", s, k, step, v);
    else snprintf(buf, n, "data-src=\"%s\" data-k=\"%s\" data-v=\"%.17g\"", s, k, v);
}

void rep_number(rep_ctx *c, const char *src, const char *key, double step, double v, const char *fmt) {
    char a[1600];
    rep_attrs(a, sizeof a, src, key, step, v);
    fprintf(c->o, "<span class=\"num\" %s>", a);
    fprintf(c->o, fmt, v);
    fprintf(c->o, "</span>");
    c->numbers++;
}

void rep_figure_begin(rep_ctx *c) {
    fprintf(c->o, "<figure>\n");
    c->charts++;
}
void rep_caption_begin(rep_ctx *c) { fprintf(c->o, "<figcaption>"); }
void rep_figure_end(rep_ctx *c, int captioned) { fprintf(c->o, "%s</figure>\n", captioned ? "</figcaption>" : ""); }

static const char *fam_name(int f) { return f == REP_CHAT ? "trigram chat" : f == REP_LLAMA ? "llama" : "run"; }

static void kv_str(FILE *o, const char *k, const char *v) {
    fprintf(o, "<tr><th>%s</th><td>", k);
    svg_escape(o, v);
    fprintf(o, "</td></tr>\n");
}

// One run's header: what reproduces it (run.json) and the last evaluation.
static void run_header(rep_ctx *c, const rep_run *r, int idx) {
    FILE *o = c->o;
    fprintf(o, "<div class=\"run\"><h3>");
    if (c->n_runs > 1) fprintf(o, "run %d (%s): ", idx + 1, idx % 3 == 0 ? "solid" : idx % 3 == 1 ? "dashed" : "dotted");
    svg_escape(o, r->name);
    fprintf(o, " <span class=\"sub\">%s", fam_name(r->family));
    const cJSON *qat = rep_path(r->info, "config.qat");
    if (r->family == REP_LLAMA) fprintf(o, qat ? ", quantisation-aware (integer loss)" : ", float");
    fprintf(o, "</span></h3>\n<table>\n");
    kv_str(o, "folder", r->dir);
    const cJSON *info = r->info;
    if (!info) {
        fprintf(o, "<tr><th>run.json</th><td>none (a run of an older build): no config, commit or timing</td></tr>\n");
    } else {
        static const char *const STR[][2] = {{"config_path", "config"}, {"commit", "commit"}, {"started", "started (UTC)"},
                                             {"host", "host"}, {"status", "status"}};
        for (size_t i = 0; i < sizeof STR / sizeof STR[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(info, STR[i][0]);
            if (cJSON_IsString(v)) kv_str(o, STR[i][1], v->valuestring);
        }
        static const char *const NUM[][3] = {{"seed", "seed", "%.0f"},           {"cores", "cores", "%.0f"},
                                             {"steps_done", "steps done", "%.0f"}, {"steps", "steps planned", "%.0f"},
                                             {"wall_s", "wall time (s)", "%.1f"},  {"cpu_s", "CPU time (s)", "%.1f"},
                                             {"sessions", "sessions (1 + resumes)", "%.0f"}};
        for (size_t i = 0; i < sizeof NUM / sizeof NUM[0]; i++) {
            double v = rep_num(info, NUM[i][0]);
            if (isnan(v)) continue;
            fprintf(o, "<tr><th>%s</th><td>", NUM[i][1]);
            rep_number(c, r->info_path, NUM[i][0], -1, v, NUM[i][2]);
            fprintf(o, "</td></tr>\n");
        }
    }
    fprintf(o, "<tr><th>metrics</th><td>");
    svg_escape(o, r->metrics_path);
    fprintf(o, ": %d train lines, %d evaluations</td></tr>\n</table>\n", r->n_train, r->n_eval);

    // the last evaluation
    static const char *const CHAT[][3] = {
        {"held_out.int_acc", "held-out per-character accuracy (integer)", "%.4f"},
        {"held_out.int_exact", "held-out exact answers (integer)", "%.4f"},
        {"train.int_acc", "train per-character accuracy (integer)", "%.4f"},
        {"train.int_exact", "train exact answers (integer)", "%.4f"},
        {"held_out.loss", "held-out loss, fake-quant = integer (nats/char)", "%.4f"},
        {"held_out.float_loss", "held-out loss, float (nats/char)", "%.4f"},
        {"held_out.overflows", "held-out accumulator overflows", "%.0f"},
        {"nonzero", "non-zero weight share", "%.4f"},
        {"held_out.z80_tstates_step", "Z80 T-states per step (cost model)", "%.0f"},
        {"ex_per_s", "examples per second (training steps)", "%.0f"},
        {"wall_s", "wall time at this evaluation (s)", "%.1f"}};
    static const char *const LLAMA[][3] = {
        {"valid_loss", "valid loss (nats/token)", "%.4f"},
        {"valid_float_loss", "valid loss, float master weights (nats/token)", "%.4f"},
        {"valid_int_loss", "valid loss, integer model (nats/token)", "%.4f"},
        {"valid_top1_agree", "top-1 agreement integer vs float", "%.4f"},
        {"valid_tokens", "valid tokens scored", "%.0f"},
        {"tok_per_s", "tokens per second (training steps)", "%.0f"},
        {"wall_s", "wall time at this evaluation (s)", "%.1f"}};
    const char *const(*rows)[3] = r->family == REP_CHAT ? CHAT : LLAMA;
    size_t nrows = r->family == REP_CHAT ? sizeof CHAT / sizeof CHAT[0] : r->family == REP_LLAMA ? sizeof LLAMA / sizeof LLAMA[0] : 0;
    const cJSON *last = rep_last(r, "eval", "step");
    if (last && nrows) {
        double step = rep_num(last, "step");
        fprintf(o, "<table><tr><th>last evaluation, step</th><td class=\"n\">");
        rep_number(c, r->metrics_path, "step", step, step, "%.0f");
        fprintf(o, "</td></tr>\n");
        for (size_t i = 0; i < nrows; i++) {
            double v = rep_num(last, rows[i][0]);
            if (isnan(v)) continue;
            fprintf(o, "<tr><th>%s</th><td class=\"n\">", rows[i][1]);
            rep_number(c, r->metrics_path, rows[i][0], step, v, rows[i][2]);
            fprintf(o, "</td></tr>\n");
        }
        fprintf(o, "</table>\n");
    }
    const cJSON *cfg = rep_path(info, "config");
    if (cfg) {
        char *s = cJSON_Print(cfg);
        fprintf(o, "<details><summary>config (JSON)</summary><pre>");
        svg_escape(o, s);
        fprintf(o, "</pre></details>\n");
        cJSON_free(s);
    }
    fprintf(o, "</div>\n");
}

// JSON summaries saved in a run folder (*.json other than run.json) that have something to draw.
static int has_panel(const cJSON *j) {
    return rep_path(j, "memory_map") || rep_path(j, "phases") || rep_path(j, "regions") || rep_path(j, "region_names");
}

static void find_summaries(const char *dir, char ***paths, int *n) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char **found = NULL;
    int k = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0 || strcmp(e->d_name, "run.json") == 0) continue;
        found = rq_realloc(found, sizeof(char *) * (size_t)(k + 1));
        size_t pl = strlen(dir) + l + 2;
        found[k] = rq_malloc(pl);
        snprintf(found[k], pl, "%s/%s", dir, e->d_name);
        k++;
    }
    closedir(d);
    // directory order is not stable: sort by name
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && strcmp(found[j - 1], found[j]) > 0; j--) {
            char *t = found[j];
            found[j] = found[j - 1], found[j - 1] = t;
        }
    *paths = rq_realloc(*paths, sizeof(char *) * (size_t)(*n + k + 1));
    for (int i = 0; i < k; i++) (*paths)[(*n)++] = found[i];
    free(found);
}

int report_write(const char *const *dirs, int n_dirs, const report_opts *opt) {
    double t0 = rq_now_s();
    rep_run *runs = rq_calloc((size_t)(n_dirs + 1), sizeof *runs);
    char **paths = NULL;
    cJSON **docs = NULL;
    int n_docs = 0, n_paths = 0, rc = 0;
    for (int i = 0; i < n_dirs && !rc; i++) rc = rep_run_load(&runs[i], dirs[i]);
    // summaries: the ones given (errors are errors), then the ones in the run folders (skipped
    // when they do not parse or have nothing to draw)
    for (int i = 0; i < opt->n_exports; i++) {
        paths = rq_realloc(paths, sizeof(char *) * (size_t)(n_paths + 1));
        paths[n_paths++] = rq_strdup(opt->exports[i]);
    }
    int given = n_paths;
    for (int i = 0; i < n_dirs && !rc; i++) find_summaries(runs[i].dir, &paths, &n_paths);
    docs = rq_calloc((size_t)n_paths + 1, sizeof *docs);
    char **kept = rq_calloc((size_t)n_paths + 1, sizeof *kept);
    for (int i = 0; i < n_paths && !rc; i++) {
        cJSON *j;
        int e = rep_json_load(paths[i], &j);
        if (e && i < given) rc = e;
        if (e) continue;
        if (i >= given && !has_panel(j)) {
            cJSON_Delete(j);
            continue;
        }
        if (i < given && !has_panel(j)) {
            cJSON_Delete(j);
            rc = rq_fail(RQ_EINPUT, "%s: no \"memory_map\", \"phases\" or \"regions\" to draw (an export --json or run --stats --json summary?)", paths[i]);
            break;
        }
        kept[n_docs] = paths[i];
        docs[n_docs++] = j;
    }
    char *html = NULL;
    size_t html_len = 0;
    rep_ctx c = {.runs = runs, .n_runs = n_dirs};
    if (!rc) {
        c.o = open_memstream(&html, &html_len);
        FILE *o = c.o;
        fprintf(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
                   "<meta name=\"color-scheme\" content=\"light dark\"/>\n<title>retroqat report: ");
        for (int i = 0; i < n_dirs; i++) {
            if (i) fprintf(o, ", ");
            svg_escape(o, runs[i].name);
        }
        fprintf(o, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>retroqat report</h1>\n<p class=\"sub\">", CSS);
        char date[64];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm);
        fprintf(o, "written %s by <code>retroqat report</code>; %d run%s, %d export summar%s</p>\n", date, n_dirs,
                n_dirs == 1 ? "" : "s", n_docs, n_docs == 1 ? "y" : "ies");
        fprintf(o, "<h2>Runs</h2>\n");
        for (int i = 0; i < n_dirs; i++) run_header(&c, &runs[i], i);
        rep_train_panels(&c);
        rep_export_panels(&c, (const char *const *)kept, docs, n_docs);
        fprintf(o, "<footer>Charts: x is the optimizer step unless labelled; every number comes from the files named in the "
                   "header (metrics.jsonl, run.json, the export summaries).</footer>\n</body>\n</html>\n");
        if (fclose(o) != 0) rc = rq_fail(RQ_ERUNTIME, "%s: cannot build the page", opt->out);
        if (!rc) rc = rq_write_atomic(opt->out, html, html_len);
    }
    if (!rc && opt->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "report", opt->out);
        cJSON_AddNumberToObject(j, "bytes", (double)html_len);
        cJSON_AddNumberToObject(j, "charts", c.charts);
        cJSON_AddNumberToObject(j, "numbers", c.numbers);
        cJSON *rs = cJSON_AddArrayToObject(j, "runs");
        for (int i = 0; i < n_dirs; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "dir", runs[i].dir);
            cJSON_AddStringToObject(e, "family", runs[i].family == REP_CHAT ? "chat" : runs[i].family == REP_LLAMA ? "llama" : "other");
            cJSON_AddNumberToObject(e, "train_lines", runs[i].n_train);
            cJSON_AddNumberToObject(e, "eval_lines", runs[i].n_eval);
            cJSON_AddItemToArray(rs, e);
        }
        cJSON *es = cJSON_AddArrayToObject(j, "exports");
        for (int i = 0; i < n_docs; i++) cJSON_AddItemToArray(es, cJSON_CreateString(kept[i]));
        cJSON_AddNumberToObject(j, "seconds", rq_now_s() - t0);
        char *s = cJSON_PrintUnformatted(j);
        printf("%s\n", s);
        cJSON_free(s);
        cJSON_Delete(j);
    }
    free(html);
    for (int i = 0; i < n_dirs; i++) rep_run_free(&runs[i]);
    free(runs);
    for (int i = 0; i < n_docs; i++) cJSON_Delete(docs[i]);
    for (int i = 0; i < n_paths; i++) free(paths[i]);
    free(paths), free(docs), free(kept);
    return rc;
}
