// export_panels.c: the export charts of the report (report.h), drawn from whatever a summary
// carries: "memory_map" (a bar), "phases" (T-states per phase), "regions" (the emulator's probe
// regions, named by some summary's "region_names"). No target is named here: a target's export
// JSON decides its panels.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "report/report_int.h"

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void title_of(char *buf, size_t n, const char *what, const char *path, const cJSON *doc) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "target");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(doc, "file");
    if (!cJSON_IsString(f)) f = cJSON_GetObjectItemCaseSensitive(doc, "image");
    snprintf(buf, n, "%s%s%s: %s", what, cJSON_IsString(t) ? " for target " : "", cJSON_IsString(t) ? t->valuestring : "",
             cJSON_IsString(f) ? base_name(f->valuestring) : base_name(path));
}

static void memory_panel(rep_ctx *c, const char *path, const cJSON *doc) {
    const cJSON *mm = cJSON_GetObjectItemCaseSensitive(doc, "memory_map");
    int n = cJSON_GetArraySize(mm);
    if (!cJSON_IsArray(mm) || n <= 0) return;
    const char **label = rq_calloc((size_t)n, sizeof *label);
    const char **attrs = rq_calloc((size_t)n, sizeof *attrs);
    double *value = rq_calloc((size_t)n, sizeof *value);
    char (*ab)[1400] = rq_calloc((size_t)n, sizeof *ab);
    int k = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(mm, i);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
        double b = rep_num(e, "bytes");
        if (!cJSON_IsString(nm) || !(b >= 0)) continue;
        char key[64];
        snprintf(key, sizeof key, "memory_map.%d.bytes", i);
        rep_attrs(ab[k], sizeof ab[k], path, key, -1, b);
        label[k] = nm->valuestring, value[k] = b, attrs[k] = ab[k];
        k++;
        c->numbers++;
    }
    char title[512];
    title_of(title, sizeof title, "Memory map", path, doc);
    rep_figure_begin(c);
    int drawn = svg_stack_bar(c->o, title, "bytes", label, value, attrs, k) == 0;
    rep_caption_begin(c);
    if (!drawn) fprintf(c->o, "(empty memory map) ");
    fprintf(c->o, "from ");
    svg_escape(c->o, path);
    rep_figure_end(c, 1);
    free(label), free(attrs), free(value), free(ab);
}

// Phases: name, T-states (per run of the phase when a count is given).
typedef struct {
    char name[64], key[64];
    double t, count;
} phase;

static void phase_panel(rep_ctx *c, const char *path, const cJSON *doc, const phase *ph, int n, const char *what) {
    if (n <= 0) return;
    const char **cats = rq_calloc((size_t)n, sizeof *cats);
    double *y = rq_calloc((size_t)n, sizeof *y);
    for (int i = 0; i < n; i++) cats[i] = ph[i].name, y[i] = ph[i].count > 0 ? ph[i].t / ph[i].count : ph[i].t;
    char title[512], attrs[1400];
    title_of(title, sizeof title, what, path, doc);
    snprintf(attrs, sizeof attrs, "data-src=\"%s\" data-k=\"phases\" data-n=\"%d\"", path, n);
    svg_series s = {.label = "T-states per run of the phase", .y = y, .n = n, .color = 2, .attrs = attrs};
    svg_axes a = {.title = title, .ylabel = "T-states", .y_lo = NAN, .y_hi = NAN};
    rep_figure_begin(c);
    svg_bar_chart(c->o, &a, cats, n, &s, 1, 0);
    fprintf(c->o, "<table><tr><th>phase</th><th class=\"n\">T-states</th><th class=\"n\">runs</th></tr>\n");
    for (int i = 0; i < n; i++) {
        char k[96];
        fprintf(c->o, "<tr><td>");
        svg_escape(c->o, ph[i].name);
        fprintf(c->o, "</td><td class=\"n\">");
        snprintf(k, sizeof k, "%s.tstates", ph[i].key);
        rep_number(c, path, k, -1, ph[i].t, "%.0f");
        fprintf(c->o, "</td><td class=\"n\">");
        if (ph[i].count > 0) {
            snprintf(k, sizeof k, "%s.count", ph[i].key);
            rep_number(c, path, k, -1, ph[i].count, "%.0f");
        }
        fprintf(c->o, "</td></tr>\n");
    }
    fprintf(c->o, "</table>\n");
    rep_caption_begin(c);
    double tpc = rep_num(doc, "tstates_per_char"), tot = rep_num(doc, "tstates");
    if (isfinite(tot)) {
        fprintf(c->o, "whole run: ");
        rep_number(c, path, "tstates", -1, tot, "%.0f");
        fprintf(c->o, " T-states");
        if (isfinite(tpc)) {
            fprintf(c->o, ", ");
            rep_number(c, path, "tstates_per_char", -1, tpc, "%.0f");
            fprintf(c->o, " per character printed");
        }
        fprintf(c->o, "; ");
    }
    fprintf(c->o, "bars: T-states per run of the phase; from ");
    svg_escape(c->o, path);
    rep_figure_end(c, 1);
    free(cats), free(y);
}

// The names of probe regions: the first summary with a "region_names" array.
static const cJSON *region_names(cJSON *const *docs, int n) {
    for (int i = 0; i < n; i++) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(docs[i], "region_names");
        if (cJSON_IsArray(r)) return r;
    }
    return NULL;
}

static int read_phases(const cJSON *doc, const cJSON *names, phase *ph, int cap) {
    int n = 0;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(doc, "phases");
    if (cJSON_IsArray(p)) {
        for (int i = 0; i < cJSON_GetArraySize(p) && n < cap; i++) {
            const cJSON *e = cJSON_GetArrayItem(p, i), *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
            double t = rep_num(e, "tstates");
            if (!cJSON_IsString(nm) || !isfinite(t)) continue;
            snprintf(ph[n].name, sizeof ph[n].name, "%s", nm->valuestring);
            snprintf(ph[n].key, sizeof ph[n].key, "phases.%d", i);
            ph[n].t = t, ph[n].count = rep_num(e, "count");
            n++;
        }
        return n;
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(doc, "regions");
    for (int i = 0; cJSON_IsArray(r) && i < cJSON_GetArraySize(r) && n < cap; i++) {
        const cJSON *e = cJSON_GetArrayItem(r, i);
        double id = rep_num(e, "id"), t = rep_num(e, "tstates");
        if (!isfinite(id) || !isfinite(t)) continue;
        const cJSON *nm = names ? cJSON_GetArrayItem(names, (int)id) : NULL;
        if (cJSON_IsString(nm)) snprintf(ph[n].name, sizeof ph[n].name, "%s", nm->valuestring);
        else snprintf(ph[n].name, sizeof ph[n].name, "region %.0f", id);
        snprintf(ph[n].key, sizeof ph[n].key, "regions.%d", i);
        ph[n].t = t, ph[n].count = rep_num(e, "count");
        n++;
    }
    return n;
}

void rep_export_panels(rep_ctx *c, const char *const *paths, cJSON *const *docs, int n) {
    if (n == 0) return;
    fprintf(c->o, "<h2>Export</h2>\n<div class=\"grid\">\n");
    const cJSON *names = region_names(docs, n);
    phase ph[64];
    for (int i = 0; i < n; i++) {
        memory_panel(c, paths[i], docs[i]);
        int np = read_phases(docs[i], names, ph, 64);
        phase_panel(c, paths[i], docs[i], ph, np, cJSON_GetObjectItemCaseSensitive(docs[i], "phases") ? "Phases" : "T-states per probe region");
    }
    fprintf(c->o, "</div>\n");
}
