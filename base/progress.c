// progress.c: the progress line with ETA (progress.h).
#include "base/progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double rq_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double rq_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void rq_fmt_duration(double s, char *buf, size_t n) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

void rq_progress_start(rq_progress *p, const char *what, long total, int quiet) {
    memset(p, 0, sizeof *p);
    p->tty = !quiet && isatty(2);
    p->t_start = rq_now_s();
    p->total = total;
    p->what = what;
}

void rq_progress_draw(rq_progress *p, long done, double sec_per_item, const char *extra) {
    if (!p->tty) return;
    double now = rq_now_s();
    if (now - p->t_last < 0.1 && done < p->total) return;
    p->t_last = now;
    if (sec_per_item < 0) sec_per_item = done > 0 ? (now - p->t_start) / (double)done : 0.0;
    char eta[32];
    rq_fmt_duration(sec_per_item * (double)(p->total - done), eta, sizeof eta);
    fprintf(stderr, "\r\033[K%s %ld/%ld | %s%sETA %s", p->what, done, p->total, extra ? extra : "", extra && extra[0] ? " | " : "", eta);
    fflush(stderr);
    p->drawn = 1;
}

void rq_progress_clear(rq_progress *p) {
    if (!p->drawn) return;
    fprintf(stderr, "\r\033[K");
    p->drawn = 0;
    p->t_last = 0;
}

void rq_progress_end(rq_progress *p) {
    if (p->drawn) fprintf(stderr, "\n");
    p->drawn = 0;
}
