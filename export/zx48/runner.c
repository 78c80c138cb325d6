// runner.c: the zx48 target's run_fn: a .TAP in the Spectrum model (emu/zx48.h). With queries,
// each is one call of the program's one-shot entry on a$ (LET a$="...": RANDOMIZE USR ORG+20, in
// the same machine, one after the other); without, the loader's RANDOMIZE USR ORG: chat at the
// '> ' prompt with the keys from stdin. Under debug_logits the logits of every generation step are
// read from the kernel's accumulator pages where its forward returns.
#include "export/zx48/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "emu/zx48.h"
#include "export/emu_run.h"
#include "export/zx48/zx48.h"

enum { RF_MAX_TSTATES, RF_STATS_FILE };
const rq_tflag zx48_run_flags[] = {
    {"--max-tstates", "N", "stop after N T-states (default 20e9) with exit code 124"},
    {"--stats-file", "FILE", "also write the JSON statistics to FILE"},
    {NULL, NULL, NULL},
};

// ---- statistics --------------------------------------------------------------------------------

static cJSON *stats_json(zx48_machine *m) {
    const zx48_stats *s = zx48_stats_get(m);
    cJSON *o = cJSON_CreateObject();
    uint64_t busy = s->tstates - s->halted_tstates;
    cJSON_AddNumberToObject(o, "tstates", (double)s->tstates);
    cJSON_AddNumberToObject(o, "halted_tstates", (double)s->halted_tstates);
    cJSON_AddNumberToObject(o, "contended_tstates", (double)s->contended_tstates);
    cJSON_AddNumberToObject(o, "chars", (double)s->chars);
    if (s->chars) cJSON_AddNumberToObject(o, "tstates_per_char", (double)busy / (double)s->chars);
    else cJSON_AddNullToObject(o, "tstates_per_char");
    cJSON_AddNumberToObject(o, "seconds_at_3_5mhz", (double)busy / 3.5e6);
    cJSON_AddNumberToObject(o, "interrupts", (double)s->interrupts);
    cJSON *rom = cJSON_AddObjectToObject(o, "rom_calls");
    cJSON_AddNumberToObject(rom, "rst10", (double)s->rst10);
    cJSON_AddNumberToObject(rom, "chan_open", (double)s->chan_open);
    cJSON_AddNumberToObject(rom, "cls", (double)s->cls);
    cJSON_AddNumberToObject(o, "rom_writes", (double)s->rom_writes);
    uint64_t rt[16], rn[16];
    for (int i = 0; i < 16; i++) zx48_region(m, i, &rt[i], &rn[i]);
    rq_regions_json(o, rt, rn);
    cJSON_AddStringToObject(o, "end", zx48_end_name(s->end));
    cJSON_AddNumberToObject(o, "exit_code", s->exit_code);
    char pc[8];
    snprintf(pc, sizeof pc, "%04X", s->end_pc);
    cJSON_AddStringToObject(o, "end_pc", pc);
    return o;
}

void zx48_stats_text(const rq_run_result *r, FILE *f) {
    const cJSON *s = r->stats;
    const cJSON *end = cJSON_GetObjectItemCaseSensitive(s, "end"), *pc = cJSON_GetObjectItemCaseSensitive(s, "end_pc");
    double t = rq_json_num(s, "tstates"), halted = rq_json_num(s, "halted_tstates"), chars = rq_json_num(s, "chars");
    fprintf(f, "zx48: end %s, exit code %d, PC %sh\n", cJSON_IsString(end) ? end->valuestring : "?", (int)rq_json_num(s, "exit_code"),
            cJSON_IsString(pc) ? pc->valuestring : "?");
    fprintf(f, "zx48: %.0f T-states (%.0f waiting for keys in HALT, %.0f contended-memory waits), %.0f chars printed", t,
            halted, rq_json_num(s, "contended_tstates"), chars);
    if (chars) fprintf(f, ", %.1f T-states per char (not waiting; %.3f s at 3.5 MHz)", (t - halted) / chars, (t - halted) / chars / 3.5e6);
    const cJSON *rom = cJSON_GetObjectItemCaseSensitive(s, "rom_calls");
    fprintf(f, "\nzx48: ROM calls: RST 10h %.0f, CHAN-OPEN %.0f, CLS %.0f; %.0f interrupts\n", rq_json_num(rom, "rst10"), rq_json_num(rom, "chan_open"),
            rq_json_num(rom, "cls"), rq_json_num(s, "interrupts"));
    rq_regions_text("zx48", s, f);
}

// ---- logits of every step -----------------------------------------------------------------------

static void on_step_end(zx48_machine *m, void *ud) { cpm_logit_log_step(ud, zx48_mem(m)); }

// The program at org must start with one of the kernels' entry tables (relocated to org).
static int watch_steps(zx48_machine *m, const char *path, uint16_t org, cpm_logit_log *g) {
    const uint8_t *mem = zx48_mem(m);
    int ok = 0;
    for (int k = 0; k < ZX48_NKERNELS && !ok; k++) {
        uint8_t head[16384];
        zx48_relocate(&zx48_kernels[k], org, head);
        ok = org + (uint32_t)zx48_kernels[k].size <= 0x10000 && memcmp(mem + org, head, CPM_K_HEADER_BYTES) == 0;
    }
    if (!ok) return rq_fail(RQ_EINPUT, "%s: not a .TAP of `retroqat export --target zx48` (its logits cannot be read)", path);
    zx48_set_watch(m, cpm_step_probe(mem, org, &g->desc), on_step_end, g);
    return 0;
}

// ---- run ----------------------------------------------------------------------------------------

// zx48_run up to an absolute T-state limit (rq_emu_run_fn).
static int run_to(void *vm, uint64_t limit, int *at_limit) {
    zx48_machine *m = vm;
    zx48_set_max_tstates(m, limit);
    int rc = zx48_run(m);
    *at_limit = zx48_stats_get(m)->end == ZX48_END_TLIMIT;
    return rc;
}

int zx48_run_artefact(const char *path, const rq_run_opts *o, rq_run_result *r) {
    memset(r, 0, sizeof *r);
    uint64_t max = ZX48_MAX_TSTATES_DEFAULT;
    const char *max_s = o->flag[RF_MAX_TSTATES], *stats_file = o->flag[RF_STATS_FILE];
    if (max_s && !rq_parse_count(max_s, &max))
        return rq_fail(RQ_EINPUT, "--max-tstates: expected a positive number of T-states, got '%s'", max_s);
    zx48_opts zo = {.max_tstates = max, .in_fd = o->nargs ? -1 : STDIN_FILENO, .out = o->out ? o->out : stdout};
    zx48_machine *m = zx48_new(&zo);
    if (!m) return RQ_ERUNTIME;
    cpm_logit_log g = {0};
    int rc = zx48_load_tap(m, path);
    uint16_t org = zx48_usr(m);
    if (!rc && o->debug_logits) rc = watch_steps(m, path, org, &g);
    if (rc) {
        zx48_free(m);
        return rc;
    }
    int timed_out = 0;
    if (o->nargs) {  // each argument: LET a$="...": RANDOMIZE USR ORG+20
        for (int i = 0; i < o->nargs && !rc; i++) {
            rc = zx48_set_string(m, 'a', o->args[i], strlen(o->args[i]));
            if (rc) break;
            zx48_call_usr(m, (uint16_t)(org + ZX48_K_ONESHOT));
            rc = rq_emu_run_timed(run_to, m, zx48_stats_get(m)->tstates, max, o->timeout, &timed_out);
            if (zx48_stats_get(m)->end != ZX48_END_BASIC) break;
        }
        if (rc == RQ_EINPUT) {
            free(g.crc);
            zx48_free(m);
            return rc;
        }
    } else {
        rq_tty_raw();
        rc = rq_emu_run_timed(run_to, m, 0, max, o->timeout, &timed_out);
        rq_tty_restore();
    }
    fflush(zo.out);
    if (rc) rq_report(rc);  // the program's runtime error (or limit): the run itself happened
    const zx48_stats *s = zx48_stats_get(m);
    if (s->rom_writes)
        fprintf(stderr, "retroqat: warning: %s wrote %llu times into the ROM (ignored, as on the machine), first %04Xh from the instruction at %04Xh\n",
                path, (unsigned long long)s->rom_writes, s->rom_write_addr, s->rom_write_pc);
    r->exit_code = timed_out ? 124 : s->end == ZX48_END_ERROR ? RQ_ERUNTIME : s->exit_code;
    r->unit = "tstates";
    r->count = s->tstates - s->halted_tstates;
    r->tokens = s->chars;
    r->n_crc = g.n;
    r->logit_crc = g.crc;
    r->stats = stats_json(m);
    if (stats_file && rq_stats_file(stats_file, r->stats) && r->exit_code == 0) r->exit_code = RQ_ERUNTIME;
    zx48_free(m);
    return 0;
}
