// progress.h: the one progress line of every long job (training, eval over a corpus, calibration).
//
// On a terminal (stderr is a tty and the job is not --quiet) rq_progress_draw redraws one line
// in place, at most every 0.1 s and always for the last item:
//     WHAT DONE/TOTAL | EXTRA | ETA m:ss
// The ETA is (TOTAL - DONE) x the seconds per item the caller passes (the trainer's excludes its
// evaluations), or, when that is negative, the mean since rq_progress_start. Off a terminal it
// prints nothing at all.
#ifndef RQ_PROGRESS_H
#define RQ_PROGRESS_H

#include <stddef.h>

typedef struct rq_progress_s {
    int tty;            // drawing at all
    int drawn;          // a line is on the screen (rq_progress_clear / _end erase or end it)
    double t_start, t_last;
    long total;
    const char *what;
} rq_progress;

// Monotonic seconds, and the CPU seconds of the whole process (all threads).
double rq_now_s(void);
double rq_cpu_s(void);
// "m:ss" or "h:mm:ss".
void rq_fmt_duration(double s, char *buf, size_t n);

void rq_progress_start(rq_progress *p, const char *what, long total, int quiet);
// extra may be NULL or ""; sec_per_item < 0: the mean since the start.
void rq_progress_draw(rq_progress *p, long done, double sec_per_item, const char *extra);
// Erase the line (before printing something else on stderr); the next draw redraws it.
void rq_progress_clear(rq_progress *p);
// End the line (a newline when one was drawn).
void rq_progress_end(rq_progress *p);

#endif
