// svg.c: the SVG chart writer (svg.h).
//
// Layout of a chart (user units of its viewBox): title on top, plot area with the y axis on the
// left and the x axis below it, the axis labels, then the legend in rows under the plot.
#include "report/svg.h"

#include <math.h>
#include <string.h>

#define ML 70.0   // left margin: y tick labels and the y label
#define MR 18.0
#define MT 34.0   // title
#define MB 46.0   // x tick labels and the x label
#define LEG_ROW 18.0

void svg_escape(FILE *o, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        default: fputc((unsigned char)*s < 32 && *s != '\n' && *s != '\t' ? '?' : *s, o);  // no control characters in XML
        }
    }
}

// A "nice" tick step (1, 2 or 5 times a power of ten) for about n ticks over [lo, hi].
static double nice_step(double lo, double hi, int n) {
    double raw = (hi - lo) / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

// Tick label: thousands as k / M for big numbers, otherwise just enough decimals for the step.
static void fmt_tick(char *buf, size_t n, double v, double step) {
    double a = fabs(v);
    if (fabs(v) < step * 1e-6) v = 0, a = 0;
    if (a >= 1e6 && step >= 1e5) snprintf(buf, n, "%gM", round(v / 1e5) / 10);
    else if (a >= 1e4 && step >= 1e3) snprintf(buf, n, "%gk", round(v / 1e2) / 10);
    else if (step < 1e-3 && a < 100 * step) snprintf(buf, n, "%.2g", v);  // 5e-06, not 0.000005
    else {
        int d = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, n, "%.*f", d, v);
    }
}

typedef struct {
    double x0, x1, y0, y1;  // data range
    double px0, px1, py0, py1;  // plot area (py0 is the bottom)
} frame;

static double fx(const frame *f, double x) { return f->px0 + (x - f->x0) / (f->x1 - f->x0) * (f->px1 - f->px0); }
static double fy(const frame *f, double y) { return f->py0 - (y - f->y0) / (f->y1 - f->y0) * (f->py0 - f->py1); }

static void pad_range(double *lo, double *hi) {
    if (!(*hi > *lo)) {
        double d = *lo != 0 ? fabs(*lo) * 0.1 : 1;
        *lo -= d, *hi += d;
    }
}

// Legend rows: items flow left to right; returns the number of rows.
static int legend_rows(const svg_series *s, int ns, double width) {
    double x = ML;
    int rows = ns > 0;
    for (int i = 0; i < ns; i++) {
        double w = 30 + 6.6 * (double)strlen(s[i].label ? s[i].label : "");
        if (x + w > width - MR && x > ML) rows++, x = ML;
        x += w;
    }
    return rows;
}

static const char *DASH[3] = {"", " stroke-dasharray=\"7 4\"", " stroke-dasharray=\"2 3\""};

static void legend(FILE *o, const svg_series *s, int ns, double width, double y0, int bars) {
    double x = ML, y = y0;
    fprintf(o, "<g class=\"legend\">");
    for (int i = 0; i < ns; i++) {
        const char *lab = s[i].label ? s[i].label : "";
        double w = 30 + 6.6 * (double)strlen(lab);
        if (x + w > width - MR && x > ML) x = ML, y += LEG_ROW;
        if (bars) fprintf(o, "<rect class=\"f%d\" x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"10\"/>", s[i].color, x, y - 9);
        else
            fprintf(o, "<line class=\"c%d\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke-width=\"2.5\"%s/>", s[i].color, x,
                    y - 4, x + 20, y - 4, DASH[s[i].dash % 3]);
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">", x + 24, y);
        svg_escape(o, lab);
        fprintf(o, "</text>");
        x += w;
    }
    fprintf(o, "</g>\n");
}

static void open_svg(FILE *o, const char *title, double w, double h) {
    fprintf(o, "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\">\n", w, h, w, h);
    fprintf(o, "<title>");
    svg_escape(o, title ? title : "chart");
    fprintf(o, "</title>\n<text class=\"ctitle\" x=\"%.1f\" y=\"20\">", ML);
    svg_escape(o, title ? title : "");
    fprintf(o, "</text>\n");
}

// Both axes with grid lines and tick labels; cats != NULL: category labels on x instead of ticks.
static void axes(FILE *o, const frame *f, const svg_axes *a, const char *const *cats, int ncat) {
    double step = nice_step(f->y0, f->y1, 5);
    char buf[64];
    fprintf(o, "<g class=\"axis y\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", f->px0, f->py0, f->px0, f->py1);
    for (double v = ceil(f->y0 / step - 1e-9) * step; v <= f->y1 + step * 1e-9; v += step) {
        double y = fy(f, v);
        fmt_tick(buf, sizeof buf, v, step);
        fprintf(o, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", f->px0, y, f->px1, y);
        fprintf(o, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", f->px0 - 6, y + 4, buf);
    }
    if (a->ylabel) {
        fprintf(o, "<text class=\"alabel\" transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">", (f->py0 + f->py1) / 2);
        svg_escape(o, a->ylabel);
        fprintf(o, "</text>");
    }
    fprintf(o, "</g>\n<g class=\"axis x\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", f->px0, f->py0, f->px1, f->py0);
    if (cats) {
        double bw = (f->px1 - f->px0) / ncat;
        for (int c = 0; c < ncat; c++) {
            fprintf(o, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", f->px0 + bw * (c + 0.5), f->py0 + 16);
            svg_escape(o, cats[c]);
            fprintf(o, "</text>");
        }
    } else {
        double xs = fmax(nice_step(f->x0, f->x1, 6), 1);  // x is the step: whole numbers
        for (double v = ceil(f->x0 / xs - 1e-9) * xs; v <= f->x1 + xs * 1e-9; v += xs) {
            double x = fx(f, v);
            fmt_tick(buf, sizeof buf, v, xs);
            fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, f->py0, x, f->py0 + 4);
            fprintf(o, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x, f->py0 + 16, buf);
        }
    }
    if (a->xlabel) {
        fprintf(o, "<text class=\"alabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (f->px0 + f->px1) / 2, f->py0 + 34);
        svg_escape(o, a->xlabel);
        fprintf(o, "</text>");
    }
    fprintf(o, "</g>\n");
    for (int r = 0; r < a->n_ref; r++) {
        if (!(a->ref[r] >= f->y0 && a->ref[r] <= f->y1)) continue;
        double y = fy(f, a->ref[r]);
        fprintf(o, "<g class=\"ref\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", f->px0, y, f->px1, y);
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", f->px1 - 4, y - 4);
        svg_escape(o, a->ref_label[r] ? a->ref_label[r] : "");
        fprintf(o, "</text></g>\n");
    }
}

static void size_of(const svg_axes *a, double *w, double *h) {
    *w = a->width > 0 ? a->width : 600;
    *h = a->height > 0 ? a->height : 300;
}

int svg_line_chart(FILE *o, const svg_axes *a, const svg_series *s, int ns) {
    frame f = {INFINITY, -INFINITY, INFINITY, -INFINITY, 0, 0, 0, 0};
    for (int i = 0; i < ns; i++)
        for (int k = 0; k < s[i].n; k++) {
            if (!isfinite(s[i].y[k]) || !isfinite(s[i].x[k])) continue;
            f.x0 = fmin(f.x0, s[i].x[k]), f.x1 = fmax(f.x1, s[i].x[k]);
            f.y0 = fmin(f.y0, s[i].y[k]), f.y1 = fmax(f.y1, s[i].y[k]);
        }
    if (!isfinite(f.x0)) return -1;
    for (int r = 0; r < a->n_ref; r++)
        if (isfinite(a->ref[r])) f.y0 = fmin(f.y0, a->ref[r]), f.y1 = fmax(f.y1, a->ref[r]);
    double pad = (f.y1 - f.y0) * 0.05;
    f.y0 -= pad, f.y1 += pad;
    if (isfinite(a->y_lo)) f.y0 = a->y_lo;
    if (isfinite(a->y_hi)) f.y1 = a->y_hi;
    if (f.x0 > 0) f.x0 = 0;  // steps: every chart starts at step 0
    pad_range(&f.x0, &f.x1);
    pad_range(&f.y0, &f.y1);
    double w, h;
    size_of(a, &w, &h);
    int rows = legend_rows(s, ns, w);
    double H = h + rows * LEG_ROW;
    f.px0 = ML, f.px1 = w - MR, f.py1 = MT, f.py0 = h - MB;
    open_svg(o, a->title, w, H);
    axes(o, &f, a, NULL, 0);
    fprintf(o, "<g class=\"plot\">\n");
    for (int i = 0; i < ns; i++) {
        fprintf(o, "<path class=\"series c%d\"%s fill=\"none\" stroke-width=\"%s\"", s[i].color, DASH[s[i].dash % 3],
                s[i].markers ? "2" : "1.6");
        if (s[i].attrs) fprintf(o, " %s", s[i].attrs);
        fprintf(o, " d=\"");
        int pen = 0;
        for (int k = 0; k < s[i].n; k++) {
            if (!isfinite(s[i].y[k])) {
                pen = 0;
                continue;
            }
            fprintf(o, "%s%.1f %.1f", pen ? " L" : (k ? " M" : "M"), fx(&f, s[i].x[k]), fy(&f, s[i].y[k]));
            pen = 1;
        }
        fprintf(o, "\"/>\n");
        if (s[i].markers)
            for (int k = 0; k < s[i].n; k++)
                if (isfinite(s[i].y[k]))
                    fprintf(o, "<circle class=\"f%d\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\"/>", s[i].color, fx(&f, s[i].x[k]), fy(&f, s[i].y[k]));
    }
    fprintf(o, "</g>\n");
    legend(o, s, ns, w, h - 4 + LEG_ROW * 0.5, 0);
    fprintf(o, "</svg>\n");
    return 0;
}

int svg_bar_chart(FILE *o, const svg_axes *a, const char *const *cats, int ncat, const svg_series *s, int ns, int stacked) {
    frame f = {0, 1, 0, 0, 0, 0, 0, 0};
    int any = 0;
    for (int c = 0; c < ncat; c++) {
        double sum = 0;
        for (int i = 0; i < ns; i++) {
            if (c >= s[i].n || !isfinite(s[i].y[c])) continue;
            any = 1;
            if (stacked) sum += s[i].y[c];
            else f.y1 = fmax(f.y1, s[i].y[c]), f.y0 = fmin(f.y0, s[i].y[c]);
        }
        if (stacked) f.y1 = fmax(f.y1, sum);
    }
    if (!any || ncat <= 0) return -1;
    f.y1 *= 1.08;
    if (isfinite(a->y_hi)) f.y1 = a->y_hi;
    pad_range(&f.y0, &f.y1);
    double w, h;
    size_of(a, &w, &h);
    int rows = legend_rows(s, ns, w);
    f.px0 = ML, f.px1 = w - MR, f.py1 = MT, f.py0 = h - MB;
    open_svg(o, a->title, w, h + rows * LEG_ROW);
    axes(o, &f, a, cats, ncat);
    fprintf(o, "<g class=\"plot\">\n");
    double bw = (f.px1 - f.px0) / ncat, inner = bw * 0.8, one = stacked ? inner : inner / ns;
    for (int c = 0; c < ncat; c++) {
        double base = 0;
        for (int i = 0; i < ns; i++) {
            if (c >= s[i].n || !isfinite(s[i].y[c])) continue;
            double v = s[i].y[c], x = f.px0 + bw * c + (bw - inner) / 2 + (stacked ? 0 : one * i);
            double y_top = fy(&f, base + v), y_bot = fy(&f, base);
            fprintf(o, "<rect class=\"series f%d\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"", s[i].color, x,
                    fmin(y_top, y_bot), fmax(one - 1, 1), fabs(y_bot - y_top));
            if (s[i].attrs) fprintf(o, " %s", s[i].attrs);
            fprintf(o, "><title>");
            svg_escape(o, s[i].label);
            fprintf(o, ", ");
            svg_escape(o, cats[c]);
            fprintf(o, ": %.6g</title></rect>\n", v);
            if (stacked) base += v;
        }
    }
    fprintf(o, "</g>\n");
    legend(o, s, ns, w, h - 4 + LEG_ROW * 0.5, 1);
    fprintf(o, "</svg>\n");
    return 0;
}

int svg_stack_bar(FILE *o, const char *title, const char *unit, const char *const *label, const double *value,
                  const char *const *attrs, int n) {
    double total = 0;
    for (int i = 0; i < n; i++)
        if (value[i] > 0) total += value[i];
    if (!(total > 0)) return -1;
    double w = 600, h = 120;
    // legend: one row per 3 segments, with the values
    int rows = (n + 2) / 3;
    frame f = {0, total, 0, 1, ML, w - MR, 0, 0};
    f.py1 = MT, f.py0 = MT + 40;
    open_svg(o, title, w, h + rows * LEG_ROW);
    svg_axes a = {.xlabel = unit, .ylabel = NULL};
    // a y axis that is only a line (one bar), then the x axis in the unit
    fprintf(o, "<g class=\"axis y\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>\n", f.px0, f.py0, f.px0, f.py1);
    double xs = nice_step(0, total, 6);
    char buf[64];
    fprintf(o, "<g class=\"axis x\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", f.px0, f.py0, f.px1, f.py0);
    for (double v = 0; v <= total + xs * 1e-9; v += xs) {
        double x = fx(&f, v);
        fmt_tick(buf, sizeof buf, v, xs);
        fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, f.py0, x, f.py0 + 4);
        fprintf(o, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x, f.py0 + 16, buf);
    }
    fprintf(o, "<text class=\"alabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (f.px0 + f.px1) / 2, f.py0 + 32);
    svg_escape(o, a.xlabel ? a.xlabel : "");
    fprintf(o, "</text></g>\n<g class=\"plot\">\n");
    double x = f.px0;
    for (int i = 0; i < n; i++) {
        if (!(value[i] > 0)) continue;
        double bw = value[i] / total * (f.px1 - f.px0);
        fprintf(o, "<rect class=\"series f%d\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>", i % SVG_NCOLORS, x,
                f.py1 + 4, bw, f.py0 - f.py1 - 4);
        svg_escape(o, label[i]);
        fprintf(o, ": %.0f</title></rect>\n", value[i]);
        x += bw;
    }
    fprintf(o, "</g>\n<g class=\"legend\">");
    for (int i = 0; i < n; i++) {
        double lx = ML + (i % 3) * 175.0, ly = h - 4 + LEG_ROW * (i / 3 + 0.5);
        fprintf(o, "<rect class=\"f%d\" x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"10\"/>", i % SVG_NCOLORS, lx, ly - 9);
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">", lx + 22, ly);
        svg_escape(o, label[i]);
        fprintf(o, ": <tspan");
        if (attrs && attrs[i]) fprintf(o, " %s", attrs[i]);
        fprintf(o, ">%.0f</tspan></text>", value[i]);
    }
    fprintf(o, "</g>\n</svg>\n");
    return 0;
}
