// svg.h: a small SVG chart writer for `retroqat report` (report/report.h): line charts, grouped or
// stacked bar charts, and a horizontal stacked bar (a memory map). The output is XML-well-formed
// inline SVG for an HTML page; colours come from the page's CSS classes (c0..c9: the palette, light
// and dark), so a chart has no colour of its own and follows prefers-color-scheme.
//
// Every chart has two axes (class "axis": a line with ticks and labels) and its data as elements
// of class "series" (paths, bars); a series can carry data-* attributes that name where its numbers
// came from (the report's tests check them against the files).
#ifndef RQ_SVG_H
#define RQ_SVG_H

#include <stdio.h>

#define SVG_NCOLORS 10

typedef struct {
    const char *label;   // legend text
    const double *x, *y; // n points (NAN y: a gap)
    int n;
    int color;           // palette index 0..SVG_NCOLORS-1
    int dash;            // 0 solid, 1 dashed, 2 dotted (overlaid runs)
    int markers;         // draw a dot at each point
    const char *attrs;   // extra attributes for the series element (or NULL)
} svg_series;

typedef struct {
    const char *title, *xlabel, *ylabel;
    double y_lo, y_hi;        // NAN: from the data
    int n_ref;                // horizontal reference lines (e.g. the int16 limit)
    double ref[4];
    const char *ref_label[4];
    int width, height;        // 0: 600 x 300
} svg_axes;

// Lines over x (the step). Returns 0, or -1 when no series has a finite point (nothing written).
int svg_line_chart(FILE *o, const svg_axes *a, const svg_series *s, int ns);

// Bars: ncat categories along x; series g gives bar heights y[0..ncat) (x unused) with its colour.
// stacked: series stack on each other, else side by side.
int svg_bar_chart(FILE *o, const svg_axes *a, const char *const *cats, int ncat, const svg_series *s, int ns, int stacked);

// One horizontal bar of n segments (value[i] wide, colour i, legend "label[i]: value unit"), with
// an x axis in `unit`; attrs[i] (or NULL) go on the element of segment i's value in the legend.
int svg_stack_bar(FILE *o, const char *title, const char *unit, const char *const *label, const double *value,
                  const char *const *attrs, int n);

// Text with &, <, >, " escaped (for element content and attribute values alike).
void svg_escape(FILE *o, const char *s);

#endif
