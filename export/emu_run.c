// emu_run.c: the shared parts of the bundled machines' runners (emu_run.h).
#include "export/emu_run.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"

static struct termios saved_tty;
static int tty_raw, tty_hooked;

void rq_tty_restore(void) {
    if (tty_raw) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
    tty_raw = 0;
}

static void on_signal(int sig) {
    rq_tty_restore();
    signal(sig, SIG_DFL);
    raise(sig);
}

void rq_tty_raw(void) {
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) != 0) return;
    struct termios t = saved_tty;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) != 0) return;
    tty_raw = 1;
    if (!tty_hooked) {
        tty_hooked = 1;
        atexit(rq_tty_restore);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define SLICE_TSTATES 20000000ull
int rq_emu_run_timed(rq_emu_run_fn run, void *m, uint64_t t, uint64_t max_tstates, double seconds, int *timed_out) {
    *timed_out = 0;
    int at_limit;
    if (seconds <= 0) return run(m, max_tstates, &at_limit);
    double t0 = now();
    for (;;) {
        uint64_t next = t + SLICE_TSTATES < max_tstates ? t + SLICE_TSTATES : max_tstates;
        int rc = run(m, next, &at_limit);
        if (!at_limit || next >= max_tstates) return rc;
        t = next;
        if (now() - t0 > seconds) {
            *timed_out = 1;
            return rq_fail(RQ_ERUNTIME, "wall-clock timeout of %g s: the program still ran (--timeout)", seconds);
        }
    }
}

void rq_regions_json(cJSON *o, const uint64_t *tstates, const uint64_t *count) {
    cJSON *r = cJSON_AddArrayToObject(o, "regions");
    for (int i = 0; i < 16; i++) {
        if (!count[i]) continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "id", i);
        cJSON_AddNumberToObject(e, "tstates", (double)tstates[i]);
        cJSON_AddNumberToObject(e, "count", (double)count[i]);
        cJSON_AddItemToArray(r, e);
    }
}

double rq_json_num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

void rq_regions_text(const char *name, const cJSON *stats, FILE *f) {
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(stats, "regions")) {
        double rt = rq_json_num(e, "tstates"), n = rq_json_num(e, "count");
        fprintf(f, "%s: region %d: %.0f T-states in %.0f runs (%.1f per run)\n", name, (int)rq_json_num(e, "id"), rt, n, rt / n);
    }
}

int rq_stats_file(const char *path, const cJSON *stats) {
    char *txt = cJSON_Print(stats);
    FILE *f = fopen(path, "w");
    int bad = !f || fprintf(f, "%s\n", txt) < 0;
    if (f && fclose(f) != 0) bad = 1;
    free(txt);
    if (!bad) return RQ_OK;
    rq_fail(RQ_ERUNTIME, "%s: cannot write the statistics", path);
    return rq_report(RQ_ERUNTIME);
}

int rq_parse_count(const char *s, uint64_t *v) {
    char *end;
    double d = strtod(s, &end);
    if (*s == 0 || *end || !(d >= 1) || d > 1.8e19) return 0;
    *v = (uint64_t)d;
    return 1;
}

int rq_parse_addr(const char *s, uint16_t *v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%s", s);
    size_t n = strlen(buf);
    int base = 10;
    char *p = buf;
    if (n > 1 && (buf[n - 1] == 'h' || buf[n - 1] == 'H')) buf[--n] = 0, base = 16;
    else if (n > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) p += 2, base = 16;
    char *end;
    unsigned long x = strtoul(p, &end, base);
    if (*p == 0 || *end || x > 0xFFFF) return 0;
    *v = (uint16_t)x;
    return 1;
}
