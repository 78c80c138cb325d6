// runner.c: the cpm target's run_fn: a .COM in the bundled CP/M 2.2 emulator (emu/cpm.h), with
// the console on the host terminal or pipes, the emulator's statistics, and (debug_logits) the
// logits of every forward step of the chat kernel read out of the emulated memory.
#include "export/cpm/runner.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "emu/cpm.h"
#include "export/cpm/com.h"
#include "infer/lm_gen.h"

// ---- the terminal: CP/M programs expect raw keys and echo them themselves ----------------------

static struct termios saved_tty;
static int tty_raw;

static void tty_restore(void) {
    if (tty_raw) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
    tty_raw = 0;
}

static void on_signal(int sig) {
    tty_restore();
    signal(sig, SIG_DFL);
    raise(sig);
}

// Keys arrive one at a time without the terminal's echo (the BDOS echoes, like CP/M); ^C still
// interrupts, ^D is end of input.
static void tty_make_raw(void) {
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) != 0) return;
    struct termios t = saved_tty;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) != 0) return;
    tty_raw = 1;
    atexit(tty_restore);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
}

// ---- statistics --------------------------------------------------------------------------------

static cJSON *stats_json(cpm_machine *m) {
    const cpm_stats *s = cpm_stats_get(m);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "tstates", (double)s->tstates);
    cJSON_AddNumberToObject(o, "chars", (double)s->chars);
    if (s->chars) cJSON_AddNumberToObject(o, "tstates_per_char", (double)s->tstates / (double)s->chars);
    else cJSON_AddNullToObject(o, "tstates_per_char");
    cJSON_AddNumberToObject(o, "seconds_at_4mhz", (double)s->tstates / 4e6);
    cJSON *b = cJSON_AddObjectToObject(o, "bdos");
    for (int f = 0; f < 256; f++) {
        if (!s->bdos[f]) continue;
        char k[8];
        snprintf(k, sizeof k, "%d", f);
        cJSON_AddNumberToObject(b, k, (double)s->bdos[f]);
    }
    cJSON_AddNumberToObject(o, "bios_calls", (double)s->bios_calls);
    cJSON *r = cJSON_AddArrayToObject(o, "regions");
    for (int i = 0; i < CPM_NREGIONS; i++) {
        uint64_t t, n;
        cpm_region(m, i, &t, &n);
        if (!n) continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "id", i);
        cJSON_AddNumberToObject(e, "tstates", (double)t);
        cJSON_AddNumberToObject(e, "count", (double)n);
        cJSON_AddItemToArray(r, e);
    }
    cJSON_AddStringToObject(o, "end", cpm_end_name(s->end));
    cJSON_AddNumberToObject(o, "exit_code", s->exit_code);
    char pc[8];
    snprintf(pc, sizeof pc, "%04X", s->end_pc);
    cJSON_AddStringToObject(o, "end_pc", pc);
    return o;
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

void cpm_stats_text(const rq_run_result *r, FILE *f) {
    const cJSON *s = r->stats;
    const cJSON *end = cJSON_GetObjectItemCaseSensitive(s, "end"), *pc = cJSON_GetObjectItemCaseSensitive(s, "end_pc");
    double t = num(s, "tstates"), chars = num(s, "chars");
    fprintf(f, "cpm: end %s, exit code %d, PC %sh\n", cJSON_IsString(end) ? end->valuestring : "?", (int)num(s, "exit_code"),
            cJSON_IsString(pc) ? pc->valuestring : "?");
    fprintf(f, "cpm: %.0f T-states (%.3f s at 4 MHz), %.0f console chars", t, t / 4e6, chars);
    if (chars) fprintf(f, ", %.1f T-states per char", t / chars);
    fprintf(f, "\ncpm: BDOS calls (function:count):");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(s, "bdos"), *e;
    int any = 0;
    cJSON_ArrayForEach(e, b) fprintf(f, " %s:%.0f", e->string, e->valuedouble), any = 1;
    fprintf(f, "%s\n", any ? "" : " none");
    if (num(s, "bios_calls")) fprintf(f, "cpm: direct BIOS calls: %.0f\n", num(s, "bios_calls"));
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(s, "regions")) {
        double rt = num(e, "tstates"), n = num(e, "count");
        fprintf(f, "cpm: region %d: %.0f T-states in %.0f runs (%.1f per run)\n", (int)num(e, "id"), rt, n, rt / n);
    }
}

// ---- flags -------------------------------------------------------------------------------------

enum { RF_DIR, RF_MAX_TSTATES, RF_TOP, RF_NO_ECHO, RF_STATS_FILE };
const rq_tflag cpm_run_flags[] = {
    {"--dir", "DIR", "host directory that holds the CP/M files (default: .)"},
    {"--max-tstates", "N", "stop after N T-states (default 20e9) with exit code 124"},
    {"--top", "ADDR",
     "BDOS entry address, i.e. the top of the TPA (default EC06h; hex as 0xE406 or E406h): the CCP sits 806h below it"},
    {"--no-echo", NULL, "do not echo console input (for clean transcripts of piped input)"},
    {"--stats-file", "FILE", "also write the JSON statistics to FILE"},
    {NULL, NULL, NULL},
};

static int parse_u64(const char *s, uint64_t *v) {
    char *end;
    double d = strtod(s, &end);
    if (*s == 0 || *end || !(d >= 1) || d > 1.8e19) return 0;
    *v = (uint64_t)d;
    return 1;
}

static int parse_addr(const char *s, uint16_t *v) {
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

// ---- logits of every forward step (debug_logits) -------------------------------------------------
// The exporter's .COM starts with the kernel's entry table (export/cpm/com.h); the word at
// CPM_K_PROBES points to the list of probe addresses, and probe CPM_PROBE_STEP_END sits right after
// the generation step's forward returned (a NOP NOP when the probes are off). There the logits are
// the output layer's accumulators: lo byte of class j at page ACC:off+j, hi byte at ACC+1:off+j.

typedef struct {
    uint16_t desc;
    int n, cap;
    uint32_t *crc;
} logit_log;

static void on_step_end(cpm_machine *m, void *ud) {
    logit_log *g = ud;
    const uint8_t *mem = cpm_mem(m);
    unsigned acc = mem[g->desc + 26] * 256u;  // D_ACCPG
    const uint8_t *rec = mem + g->desc + 48;  // D_LAYERS: 20-byte records, the last has L_LAST set
    for (int l = 1; l < CHAT_MAX_LAYERS && !rec[3]; l++) rec += 20;
    int off = rec[1], n_out = rec[10] | rec[11] << 8;
    int16_t v[CPM_MAX_ROWS];
    for (int j = 0; j < n_out && j < CPM_MAX_ROWS; j++)
        v[j] = (int16_t)(uint16_t)(mem[(acc + off + j) & 0xFFFF] | mem[(acc + 256 + off + j) & 0xFFFF] << 8);
    if (g->n == g->cap) g->crc = rq_realloc(g->crc, sizeof *g->crc * (size_t)(g->cap = g->cap ? 2 * g->cap : 64));
    g->crc[g->n++] = chat_logits_crc(v, n_out < CPM_MAX_ROWS ? n_out : CPM_MAX_ROWS);
}

// Watch the end of every generation step of the chat kernel loaded in m.
static int watch_steps(cpm_machine *m, const char *path, logit_log *g) {
    const uint8_t *mem = cpm_mem(m);
    if (memcmp(mem + 0x100, cpm_kernel_bin, CPM_K_HEADER_BYTES) != 0)
        return rq_fail(RQ_EINPUT, "%s: not a .COM of `retroqat export --target cpm` (its logits cannot be read)", path);
    unsigned list = mem[CPM_K_PROBES] | mem[CPM_K_PROBES + 1] << 8;
    unsigned at = mem[list + 2 * CPM_PROBE_STEP_END] | mem[list + 2 * CPM_PROBE_STEP_END + 1] << 8;
    g->desc = (uint16_t)(mem[CPM_K_MODEL] | mem[CPM_K_MODEL + 1] << 8);
    cpm_set_watch(m, (uint16_t)at, on_step_end, g);
    return 0;
}

// ---- run ---------------------------------------------------------------------------------------

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// cpm_run in slices of T-states, so that a wall-clock limit (seconds > 0) can stop it: 124 then.
#define SLICE_TSTATES 20000000ull
static int run_timed(cpm_machine *m, uint64_t max_tstates, double seconds, int *timed_out) {
    *timed_out = 0;
    if (seconds <= 0) return cpm_run(m);
    double t0 = now();
    for (;;) {
        uint64_t t = cpm_stats_get(m)->tstates, next = t + SLICE_TSTATES;
        cpm_set_max_tstates(m, next < max_tstates ? next : max_tstates);
        int rc = cpm_run(m);
        if (cpm_stats_get(m)->end != CPM_END_TLIMIT || next >= max_tstates) return rc;
        if (now() - t0 > seconds) {
            *timed_out = 1;
            return rq_fail(RQ_ERUNTIME, "wall-clock timeout of %g s: the program still ran (--timeout)", seconds);
        }
    }
}

int cpm_run_artefact(const char *path, const rq_run_opts *o, rq_run_result *r) {
    memset(r, 0, sizeof *r);
    const char *const *fl = o->flag;
    cpm_opts co = {.dir = fl[RF_DIR] ? fl[RF_DIR] : ".", .in_fd = STDIN_FILENO, .out = o->out ? o->out : stdout,
                   .no_echo = fl[RF_NO_ECHO] != NULL};
    const char *max_s = fl[RF_MAX_TSTATES], *top_s = fl[RF_TOP], *stats_file = fl[RF_STATS_FILE];
    if (max_s && !parse_u64(max_s, &co.max_tstates))
        return rq_fail(RQ_EINPUT, "--max-tstates: expected a positive number of T-states, got '%s'", max_s);
    if (top_s && !parse_addr(top_s, &co.top))
        return rq_fail(RQ_EINPUT, "--top: expected an address like EC06h or 0xEC06, got '%s'", top_s);
    cpm_machine *m = cpm_new(&co);
    if (!m) return RQ_EINPUT;
    logit_log g = {0};
    int rc = cpm_load_com_file(m, path);
    if (!rc) rc = cpm_set_args(m, o->nargs, o->args);
    if (!rc && o->debug_logits) rc = watch_steps(m, path, &g);
    if (rc) {
        cpm_free(m);
        return rc;
    }
    tty_make_raw();
    int timed_out;
    rc = run_timed(m, co.max_tstates ? co.max_tstates : CPM_MAX_TSTATES_DEFAULT, o->timeout, &timed_out);
    tty_restore();
    fflush(co.out);
    if (rc) rq_report(rc);  // the program's runtime error (or limit): the run itself happened
    const cpm_stats *s = cpm_stats_get(m);
    r->exit_code = timed_out ? CPM_EXIT_TLIMIT : s->end == CPM_END_ERROR ? RQ_ERUNTIME : s->exit_code;
    r->unit = "tstates";
    r->count = s->tstates;
    r->tokens = s->chars;
    r->n_crc = g.n;
    r->logit_crc = g.crc;
    r->stats = stats_json(m);
    if (stats_file) {
        char *txt = cJSON_Print(r->stats);
        FILE *f = fopen(stats_file, "w");
        if (!f || fprintf(f, "%s\n", txt) < 0 || fclose(f) != 0) {
            rq_fail(RQ_ERUNTIME, "%s: cannot write the statistics", stats_file);
            rq_report(RQ_ERUNTIME);
            if (r->exit_code == 0) r->exit_code = RQ_ERUNTIME;
        }
        free(txt);
    }
    cpm_free(m);
    return 0;
}
