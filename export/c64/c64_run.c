// c64_run.c: `retroqat run --target c64 DIR`: an export's program in one of three machines.
//   --machine sim65   (default) cc65's sim65 runs the sim6502 build (c64.sim: files on the host)
//   --machine m6502   the same program on retroqat's 6502 with sim65's rules (emu/sim65.h): the
//                     same output and cycle count, no sim65 needed
//   --machine c64     retroqat's C64 with an REU (emu/c64.h) runs the .prg itself: the REU image
//                     in the REU, arguments after RUN:REM, files from DIR on drive 8
// The program's diagnostics ("#logits STEP CRC" per forward, "#dma BYTES TRANSFERS FORWARDS" at
// the end of a transformer run) are taken out of its error stream into the result.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/binio.h"
#include "base/err.h"
#include "export/c64/c64_build.h"
#include "export/c64/c64_machine.h"
#include "export/c64/c64_run.h"
#include "export/proc.h"
#include "export/target.h"

const rq_tflag c64_run_flags[] = {
    {"--machine", "M", "sim65 (default: cc65's sim65 runs c64.sim), m6502 (c64.sim on retroqat's 6502, sim65's cycles) or c64 (retroqat's C64 + REU runs the .prg)"},
    {"--prg", "FILE", "run this program instead of the folder's (.prg for c64, sim6502 for the others)"},
    {"--reu", "FILE", "(--machine c64) this REU image instead of the folder's"},
    {NULL, NULL, NULL},
};

// target.txt: what the exporter wrote (family, file names); an older folder has none: a transformer.
int c64_read_manifest(const char *dir, c64_manifest *mf) {
    char path[4200], line[256];
    snprintf(path, sizeof path, "%s/target.txt", dir);
    *mf = (c64_manifest){"lm", "retroqat.prg", "c64.sim", "model.reu"};
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        char key[32], val[64];
        lineno++;
        if (sscanf(line, "%31s %63s", key, val) != 2 || strchr(val, '/')) rc = rq_fail_line(RQ_EINPUT, path, lineno, 1, "expected 'KEY NAME'");
        else if (!strcmp(key, "family")) snprintf(mf->family, sizeof mf->family, "%.15s", val);
        else if (!strcmp(key, "prg")) snprintf(mf->prg, sizeof mf->prg, "%s", val);
        else if (!strcmp(key, "sim")) snprintf(mf->sim, sizeof mf->sim, "%s", val);
        else if (!strcmp(key, "reu")) snprintf(mf->reu, sizeof mf->reu, "%s", val);
        else if (!strcmp(key, "target") && strcmp(val, "c64")) rc = rq_fail_line(RQ_EINPUT, path, lineno, 1, "exported for target '%s', not c64", val);
    }
    fclose(f);
    if (!rc && strcmp(mf->family, "lm") && strcmp(mf->family, "chat")) rc = rq_fail(RQ_EINPUT, "%s: unknown family '%s'", path, mf->family);
    return rc;
}

// The last line "N cycles" sim65 -c adds to stdout: removed, its count returned.
static uint64_t strip_cycles(char *out, size_t *len) {
    if (*len && out[*len - 1] == '\n') {
        char *p = out + *len - 1;
        while (p > out && p[-1] != '\n') p--;
        unsigned long long n;
        char word[16];
        if (sscanf(p, "%llu %15s", &n, word) == 2 && strcmp(word, "cycles") == 0) {
            *len = (size_t)(p - out);
            out[*len] = 0;
            return n;
        }
    }
    return 0;
}

typedef struct {
    unsigned long dma, xfers, forwards;
    int have_dma;
} diag;

// stderr of the program: the diagnostics into r and d, every other line to our stderr.
static void take_diag(char *err, rq_run_result *r, diag *d) {
    int cap = 0;
    for (char *line = err; line && *line;) {
        char *end = strchr(line, '\n');
        if (end) *end = 0;
        unsigned step, crc;
        if (sscanf(line, "#logits %u %x", &step, &crc) == 2) {
            if (r->n_crc == cap) cap = cap ? 2 * cap : 64, r->logit_crc = rq_realloc(r->logit_crc, (size_t)cap * sizeof(uint32_t));
            r->logit_crc[r->n_crc++] = crc;
        } else if (sscanf(line, "#dma %lu %lu %lu", &d->dma, &d->xfers, &d->forwards) == 3) {
            d->have_dma = 1;
        } else if (*line) {
            fprintf(stderr, "%s\n", line);
        }
        line = end ? end + 1 : NULL;
    }
}

// Characters a chat program answered: its output without line ends and "> " prompts.
static uint64_t chat_chars(const char *s, size_t n) {
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if ((i == 0 || s[i - 1] == '\n') && i + 1 < n && s[i] == '>' && s[i + 1] == ' ') {
            i++;
            continue;
        }
        k += s[i] != '\n';
    }
    return k;
}

static int copy_file(const char *from, const char *dir, const char *name) {
    uint8_t *d;
    size_t n;
    char to[4200];
    int rc = rq_read_file(from, &d, &n);
    if (rc) return rc;
    snprintf(to, sizeof to, "%s/%s", dir, name);
    rc = rq_write_atomic(to, d, n);
    free(d);
    return rc;
}

#define PROMPT_MAX 256

int c64_target_run(const char *dir, const rq_run_opts *o, rq_run_result *r) {
    const char *machine = rq_tflag_get(c64_run_flags, o->flag, "--machine");
    const char *prg_flag = rq_tflag_get(c64_run_flags, o->flag, "--prg"), *reu_flag = rq_tflag_get(c64_run_flags, o->flag, "--reu");
    machine = machine ? machine : "sim65";
    if (strcmp(machine, "sim65") && strcmp(machine, "m6502") && strcmp(machine, "c64"))
        return rq_fail(RQ_EINPUT, "--machine: expected sim65, m6502 or c64, got '%s'", machine);
    int on_c64 = !strcmp(machine, "c64");
    c64_manifest mf;
    int rc = c64_read_manifest(dir, &mf);
    if (rc) return rc;
    int chat = !strcmp(mf.family, "chat");
    char prog[4200], reu[4200], tok[4200];
    snprintf(prog, sizeof prog, "%s/%s", dir, on_c64 ? mf.prg : mf.sim);
    if (prg_flag) snprintf(prog, sizeof prog, "%s", prg_flag);
    snprintf(reu, sizeof reu, "%s/%s", dir, mf.reu);
    if (reu_flag) snprintf(reu, sizeof reu, "%s", reu_flag);
    snprintf(tok, sizeof tok, "%s/tok.tok", dir);
    // sim65 may take a failed open for a success: check the files here
    int has_reu = access(reu, R_OK) == 0 || reu_flag;
    const char *need[] = {prog, chat ? NULL : reu, chat ? NULL : tok};
    for (int i = 0; i < 3; i++)
        if (need[i] && access(need[i], R_OK) != 0) return rq_fail(RQ_EINPUT, "%s: cannot read (%s): not a c64 export folder?", need[i], strerror(errno));
    if (!chat && o->prompt && strlen(o->prompt) > PROMPT_MAX) return rq_fail(RQ_EINPUT, "target c64: the prompt is %zu bytes, at most %d", strlen(o->prompt), PROMPT_MAX);

    // the program's arguments (argv[0] its name, as sim65 passes it)
    const char *argv[300];
    char n[32], tq[32], pq[32], sd[32], ci[PROMPT_MAX + 8];
    int argc = 0;
    argv[argc++] = on_c64 ? "retroqat" : "c64.sim";
    if (!chat) {
        uint32_t temp_q8 = (uint32_t)(o->temp * 256 + 0.5), topp_q15 = o->topp <= 0 || o->topp >= 1 ? 32768 : (uint32_t)(o->topp * 32768 + 0.5);
        if (o->temp > 0 && temp_q8 == 0) temp_q8 = 1;
        const char *prompt = o->prompt ? o->prompt : "";
        if (on_c64) {  // at most 9 arguments after RUN:REM: only what differs from the defaults, values attached
            snprintf(n, sizeof n, "-n%d", o->steps), snprintf(tq, sizeof tq, "-T%u", temp_q8), snprintf(pq, sizeof pq, "-P%u", topp_q15);
            snprintf(sd, sizeof sd, "-s%ld", o->seed), snprintf(ci, sizeof ci, "-i%s", prompt);
            if (*prompt) argv[argc++] = ci;
            argv[argc++] = n;
            if (temp_q8) argv[argc++] = tq;
            if (topp_q15 != 32768) argv[argc++] = pq;
            if (o->seed) argv[argc++] = sd;
        } else {
            snprintf(n, sizeof n, "%d", o->steps), snprintf(tq, sizeof tq, "%u", temp_q8), snprintf(pq, sizeof pq, "%u", topp_q15);
            snprintf(sd, sizeof sd, "%ld", o->seed);
            const char *a[] = {"-m", "model.reu", "-k", "tok.tok", "-i", prompt, "-n", n, "-T", tq, "-P", pq, "-s", sd};
            for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) argv[argc++] = a[i];
        }
        if (o->debug_logits) argv[argc++] = "-d";
    } else {
        if (o->nargs > 280) return rq_fail(RQ_EINPUT, "run: at most 280 queries");
        if (o->debug_logits) argv[argc++] = "-d";
        if (o->nargs && !on_c64) argv[argc++] = "--";
        for (int i = 0; i < o->nargs; i++) argv[argc++] = o->args[i];
    }
    argv[argc] = NULL;
    char *in = NULL;
    size_t in_len = 0;
    if (chat && o->nargs == 0) in = rq_read_all_stdin(&in_len);  // the "> " loop reads the queries

    char *out = NULL, *err = NULL;
    size_t out_len = 0;
    c64m_result mr = {0};
    if (!strcmp(machine, "sim65") || !strcmp(machine, "m6502")) {
        // a scratch folder: the program's files (and the KV cache files it writes), by their
        // plain names, so sim65 and m6502 see the same arguments and count the same cycles
        char scratch[] = "/tmp/rq-c64-XXXXXX";
        if (!mkdtemp(scratch)) {
            free(in);
            return rq_fail(RQ_ERUNTIME, "target c64: cannot make a scratch folder: %s", strerror(errno));
        }
        char src[4200];
        rc = copy_file(prog, scratch, "c64.sim");
        if (!rc && !chat) rc = copy_file(reu, scratch, "model.reu");
        if (!rc && !chat) rc = copy_file(tok, scratch, "tok.tok");
        if (!rc && chat) snprintf(src, sizeof src, "%s/model.rqi", dir), rc = copy_file(src, scratch, "MODEL.RQI");
        if (!rc && !strcmp(machine, "sim65")) {
            const char *sargv[304] = {"sim65", "-c"};
            for (int i = 0; i <= argc; i++) sargv[2 + i] = argv[i];
            rq_proc p = {.argv = sargv, .cwd = scratch, .in = in, .in_len = in_len, .timeout = o->timeout > 0 ? o->timeout : 3600};
            rq_proc_result pr;
            if (!(rc = rq_proc_run(&p, &pr))) {
                r->exit_code = pr.exit_code;
                r->count = strip_cycles(pr.out, &pr.out_len);
                out = pr.out, out_len = pr.out_len, err = pr.err;
            }
        } else if (!rc) {
            char sp[4200];
            snprintf(sp, sizeof sp, "%s/c64.sim", scratch);
            c64m_run p = {.machine = "m6502", .prog = sp, .dir = scratch, .argc = argc, .argv = argv, .in = (const uint8_t *)in,
                          .in_len = in_len, .timeout = o->timeout > 0 ? o->timeout : 3600};
            if (!(rc = c64m_run_program(&p, &mr)) || mr.out) {
                r->exit_code = mr.exit_code, r->count = mr.cycles;
                out = mr.out, out_len = mr.out_len, err = mr.err, mr.out = mr.err = NULL;
            }
        }
        char rmcmd[64];
        snprintf(rmcmd, sizeof rmcmd, "rm -rf '%s'", scratch);
        if (system(rmcmd) != 0) fprintf(stderr, "retroqat: could not remove %s\n", scratch);
    } else {
        c64m_run p = {.machine = "c64", .prog = prog, .reu = has_reu ? reu : NULL, .dir = dir, .argc = argc, .argv = argv,
                      .in = (const uint8_t *)in, .in_len = in_len, .timeout = o->timeout > 0 ? o->timeout : 3600};
        if (!(rc = c64m_run_program(&p, &mr)) || mr.out) {
            r->exit_code = mr.exit_code, r->count = mr.cycles;
            out = mr.out, out_len = mr.out_len, err = mr.err, mr.out = mr.err = NULL;
        }
    }
    free(in);
    if (out) fwrite(out, 1, out_len, o->out), fflush(o->out);
    diag d = {0};
    take_diag(err, r, &d);
    if (!rc) {
        r->unit = "cycles";
        r->tokens = chat ? chat_chars(out, out_len) : d.forwards;
        r->stats = cJSON_CreateObject();
        cJSON_AddStringToObject(r->stats, "machine", machine);
        if (!chat) cJSON_AddNumberToObject(r->stats, "forwards", (double)d.forwards);
        cJSON_AddNumberToObject(r->stats, chat ? "cycles_per_char" : "cycles_per_token", r->tokens ? (double)r->count / (double)r->tokens : 0);
        cJSON_AddNumberToObject(r->stats, chat ? "seconds_per_char_pal" : "seconds_per_token_pal",
                                r->tokens ? (double)r->count / (double)r->tokens / C64_HZ : 0);
        if (on_c64) {
            // the REU device's own counts (the program's "#dma" agrees: a test checks)
            cJSON_AddNumberToObject(r->stats, "cpu_cycles", (double)mr.cpu_cycles);
            cJSON_AddNumberToObject(r->stats, "reu_dma_bytes", (double)mr.dma_bytes);
            if (!chat) cJSON_AddNumberToObject(r->stats, "program_dma_bytes", (double)d.dma);  // the program's own count
            cJSON_AddNumberToObject(r->stats, "reu_dma_transfers", (double)mr.dma_transfers);
            cJSON_AddNumberToObject(r->stats, "reu_dma_cycles", (double)mr.dma_cycles);
            cJSON_AddNumberToObject(r->stats, "kernal_calls", (double)mr.kernal_calls);
            cJSON_AddNumberToObject(r->stats, "rom_reads", (double)mr.rom_reads);
        } else if (!chat) {
            cJSON_AddNumberToObject(r->stats, "reu_dma_bytes", (double)d.dma);
            cJSON_AddNumberToObject(r->stats, "reu_dma_transfers", (double)d.xfers);
            cJSON_AddNumberToObject(r->stats, "reu_dma_cycles", (double)d.dma);  // one cycle per byte on a REC 8726
        }
    }
    if (!strcmp(machine, "sim65")) {
        rq_proc_result pr = {.out = out, .err = err};
        rq_proc_result_free(&pr);
    } else {
        free(out), free(err);
    }
    c64m_result_free(&mr);
    return rc;
}
