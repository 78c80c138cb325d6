// c64_machine.c: run a c64 export on emu/'s C64 model or sim65 machine (c64_machine.h).
#include "export/c64/c64_machine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/binio.h"
#include "base/err.h"
#include "emu/c64.h"
#include "emu/sim65.h"

#define SLICE 20000000ull  // cycles between wall-clock checks

typedef struct {
    rq_buf s[2];
} streams;

static void capture(void *ud, int fd, const uint8_t *p, size_t n) {
    streams *st = ud;
    rq_buf_put(&st->s[fd == 2], p, n);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// argv[1..] as typed after RUN:REM: an argument with a space (or an empty one) in quotes.
static int command_line(const c64m_run *p, char *line, size_t cap) {
    size_t n = 0;
    line[0] = 0;
    for (int i = 1; i < p->argc; i++) {
        const char *a = p->argv[i];
        if (strchr(a, '"')) return rq_fail(RQ_EINPUT, "a C64 command line cannot quote '\"' (argument %d: %s)", i, a);
        int q = !a[0] || strchr(a, ' ') != NULL;
        int k = snprintf(line + n, cap - n, "%s%s%s%s", n ? " " : "", q ? "\"" : "", a, q ? "\"" : "");
        if (k < 0 || (size_t)k >= cap - n) return rq_fail(RQ_EINPUT, "the C64 command line is too long");
        n += (size_t)k;
    }
    return 0;
}

static void finish(streams *st, c64m_result *r) {
    rq_buf_u8(&st->s[0], 0), rq_buf_u8(&st->s[1], 0);
    r->out = (char *)st->s[0].data, r->out_len = st->s[0].len - 1;
    r->err = (char *)st->s[1].data, r->err_len = st->s[1].len - 1;
}

static int run_c64(const c64m_run *p, const uint8_t *prog, size_t n, c64m_result *r) {
    uint8_t *img = NULL;
    size_t in = 0;
    int rc;
    if (p->reu && (rc = rq_read_file(p->reu, &img, &in))) return rc;
    if (p->reu && (in < REU_MIN_BYTES || in > REU_MAX_BYTES || (in & (in - 1)))) {
        free(img);
        return rq_fail(RQ_EINPUT, "%s: %zu bytes: an REU image is the REU's whole memory, 128 KB, 256 KB, ... 16 MB (as VICE's -reusize takes)",
                       p->reu, in);
    }
    c64 *m = rq_calloc(1, sizeof *m);
    uint16_t sys;
    char line[512];
    streams st = {0};
    if ((rc = c64_init(m, (uint32_t)in)) || (rc = c64_load_prg(m, prog, n, p->prog, &sys)) || (rc = command_line(p, line, sizeof line)) ||
        (rc = c64_set_command_line(m, line)))
        goto done;
    c64_reu_fill(m, img, in);
    free(img), img = NULL;
    m->dir = p->dir, m->out = capture, m->ud = &st, m->echo = p->echo;
    m->in_buf = p->in ? p->in : (const uint8_t *)"", m->in_len = p->in ? p->in_len : 0;
    c64_start(m, sys);
    double t0 = now();
    while (!m->end) {
        if ((rc = c64_run(m, c64_cycles(m) + SLICE))) break;
        if (!m->end && p->timeout > 0 && now() - t0 > p->timeout) {
            r->timed_out = 1;
            break;
        }
    }
    r->exit_code = r->timed_out ? 124 : m->exit_code;
    r->cycles = c64_cycles(m), r->cpu_cycles = m->cpu.cycles, r->dma_cycles = m->dma_cycles;
    r->dma_bytes = m->reu.bytes, r->dma_transfers = m->reu.transfers, r->kernal_calls = m->kernal_calls, r->rom_reads = m->rom_reads;
done:
    finish(&st, r);
    free(img);
    c64_free(m);
    free(m);
    return rc;
}

static int run_sim65(const c64m_run *p, const uint8_t *prog, size_t n, c64m_result *r) {
    sim65 *s = rq_calloc(1, sizeof *s);
    streams st = {0};
    int rc = sim65_load(s, prog, n, p->prog);
    if (!rc) {
        s->dir = p->dir, s->argc = p->argc, s->argv = p->argv, s->out = capture, s->ud = &st;
        s->in_fd = -1, s->in_buf = p->in ? p->in : (const uint8_t *)"", s->in_len = p->in ? p->in_len : 0;
        sim65_start(s);
        double t0 = now();
        while (!s->end) {
            if ((rc = sim65_run(s, s->cpu.cycles + SLICE))) break;
            if (!s->end && p->timeout > 0 && now() - t0 > p->timeout) {
                sim65_limit(s);
                r->timed_out = 1;
            }
        }
        r->exit_code = r->timed_out ? 124 : s->exit_code;
        r->cycles = r->cpu_cycles = s->cycles;
    }
    finish(&st, r);
    sim65_free(s);
    free(s);
    return rc;
}

int c64m_run_program(const c64m_run *p, c64m_result *r) {
    memset(r, 0, sizeof *r);
    uint8_t *prog = NULL;
    size_t n = 0;
    int rc = rq_read_file(p->prog, &prog, &n);
    if (rc) return rc;
    if (!strcmp(p->machine, "c64")) rc = run_c64(p, prog, n, r);
    else rc = run_sim65(p, prog, n, r);
    free(prog);
    return rc;
}

void c64m_result_free(c64m_result *r) {
    free(r->out), free(r->err);
    memset(r, 0, sizeof *r);
}
