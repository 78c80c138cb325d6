// runner.c: the cpm target's run_fn: a .COM in the bundled CP/M 2.2 emulator (emu/cpm.h), with
// the console on the host terminal or pipes, the emulator's statistics, and (debug_logits) the
// logits of every forward step of the chat kernel read out of the emulated memory.
#include "export/cpm/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "emu/cpm.h"
#include "export/cpm/com.h"
#include "export/emu_run.h"

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
    uint64_t rt[CPM_NREGIONS], rn[CPM_NREGIONS];
    for (int i = 0; i < CPM_NREGIONS; i++) cpm_region(m, i, &rt[i], &rn[i]);
    rq_regions_json(o, rt, rn);
    cJSON_AddStringToObject(o, "end", cpm_end_name(s->end));
    cJSON_AddNumberToObject(o, "exit_code", s->exit_code);
    char pc[8];
    snprintf(pc, sizeof pc, "%04X", s->end_pc);
    cJSON_AddStringToObject(o, "end_pc", pc);
    return o;
}

void cpm_stats_text(const rq_run_result *r, FILE *f) {
    const cJSON *s = r->stats;
    const cJSON *end = cJSON_GetObjectItemCaseSensitive(s, "end"), *pc = cJSON_GetObjectItemCaseSensitive(s, "end_pc");
    double t = rq_json_num(s, "tstates"), chars = rq_json_num(s, "chars");
    fprintf(f, "cpm: end %s, exit code %d, PC %sh\n", cJSON_IsString(end) ? end->valuestring : "?", (int)rq_json_num(s, "exit_code"),
            cJSON_IsString(pc) ? pc->valuestring : "?");
    fprintf(f, "cpm: %.0f T-states (%.3f s at 4 MHz), %.0f console chars", t, t / 4e6, chars);
    if (chars) fprintf(f, ", %.1f T-states per char", t / chars);
    fprintf(f, "\ncpm: BDOS calls (function:count):");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(s, "bdos"), *e;
    int any = 0;
    cJSON_ArrayForEach(e, b) fprintf(f, " %s:%.0f", e->string, e->valuedouble), any = 1;
    fprintf(f, "%s\n", any ? "" : " none");
    if (rq_json_num(s, "bios_calls")) fprintf(f, "cpm: direct BIOS calls: %.0f\n", rq_json_num(s, "bios_calls"));
    rq_regions_text("cpm", s, f);
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

// ---- logits of every forward step (debug_logits) -------------------------------------------------
// The exporter's .COM starts with the kernel's entry table (export/cpm/com.h); the word at
// CPM_K_PROBES points to the list of probe addresses, and probe CPM_PROBE_STEP_END sits right after
// the generation step's forward returned (a NOP NOP when the probes are off). There the logits are
// the output layer's accumulators: lo byte of class j at page ACC:off+j, hi byte at ACC+1:off+j.

static void on_step_end(cpm_machine *m, void *ud) { cpm_logit_log_step(ud, cpm_mem(m)); }

// Watch the end of every generation step of the chat kernel loaded in m.
static int watch_steps(cpm_machine *m, const char *path, cpm_logit_log *g) {
    const uint8_t *mem = cpm_mem(m);
    if (memcmp(mem + 0x100, cpm_kernel_bin, CPM_K_HEADER_BYTES) != 0)
        return rq_fail(RQ_EINPUT, "%s: not a .COM of `retroqat export --target cpm` (its logits cannot be read)", path);
    cpm_set_watch(m, cpm_step_probe(mem, 0x100, &g->desc), on_step_end, g);
    return 0;
}

// ---- run ---------------------------------------------------------------------------------------

// cpm_run up to an absolute T-state limit (rq_emu_run_fn).
static int run_to(void *vm, uint64_t limit, int *at_limit) {
    cpm_machine *m = vm;
    cpm_set_max_tstates(m, limit);
    int rc = cpm_run(m);
    *at_limit = cpm_stats_get(m)->end == CPM_END_TLIMIT;
    return rc;
}

int cpm_run_artefact(const char *path, const rq_run_opts *o, rq_run_result *r) {
    memset(r, 0, sizeof *r);
    const char *const *fl = o->flag;
    cpm_opts co = {.dir = fl[RF_DIR] ? fl[RF_DIR] : ".", .in_fd = STDIN_FILENO, .out = o->out ? o->out : stdout,
                   .no_echo = fl[RF_NO_ECHO] != NULL};
    const char *max_s = fl[RF_MAX_TSTATES], *top_s = fl[RF_TOP], *stats_file = fl[RF_STATS_FILE];
    if (max_s && !rq_parse_count(max_s, &co.max_tstates))
        return rq_fail(RQ_EINPUT, "--max-tstates: expected a positive number of T-states, got '%s'", max_s);
    if (top_s && !rq_parse_addr(top_s, &co.top))
        return rq_fail(RQ_EINPUT, "--top: expected an address like EC06h or 0xEC06, got '%s'", top_s);
    cpm_machine *m = cpm_new(&co);
    if (!m) return RQ_EINPUT;
    cpm_logit_log g = {0};
    int rc = cpm_load_com_file(m, path);
    if (!rc) rc = cpm_set_args(m, o->nargs, o->args);
    if (!rc && o->debug_logits) rc = watch_steps(m, path, &g);
    if (rc) {
        cpm_free(m);
        return rc;
    }
    rq_tty_raw();
    int timed_out;
    rc = rq_emu_run_timed(run_to, m, 0, co.max_tstates ? co.max_tstates : CPM_MAX_TSTATES_DEFAULT, o->timeout, &timed_out);
    rq_tty_restore();
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
    if (stats_file && rq_stats_file(stats_file, r->stats) && r->exit_code == 0) r->exit_code = RQ_ERUNTIME;
    cpm_free(m);
    return 0;
}
