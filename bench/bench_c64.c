// bench_c64.c: the Commodore 64 target's speed (export/c64/), stories260K int8 and int4 under
// sim65: 6502 cycles per generated token after start-up (`sim65 -c`), the REU DMA bytes per token
// (one cycle per byte on a REC 8726), seconds per token at 0.985 MHz (PAL), the MACs per token
// (lm_count_ops), cycles per MAC, and the ratios against the published float port (about 500 M
// cycles, 540 s per token) and against the --c-kernels build (infer/'s C loops for every
// operation, same forward) measured in the same run.
//
//   bench_c64 STORIES.bin TOK.bin [OUTDIR]
//
// The C64 model's row runs the .prg itself (retroqat's 6502 with the REU device, --machine c64):
// its CPU cycles and the device's DMA bytes, so the REU back end's own costs instead of sim65's
// file reads.
//
// "Per token" over positions a..b-1 = (cycles of an n = b run - cycles of an n = a run) / (b - a):
// the start-up (image, sidecar and tokenizer checks, prompt encoding, tables) cancels. Greedy,
// prompt "Once upon a time" (5 forced tokens, then generated ones); one row samples (T 1, top-p
// 0.9) to include the sampler. Attention grows with the position, so short and long contexts get
// rows of their own, and the average over whole generations (3 prompts x 128 positions, as
// bench-targets) one too.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "export/target.h"
#include "infer/lm_kernel.h"

#define PAL_HZ 985248.0
#define FLOAT_PORT_CYCLES 500e6  // llama2.c64's float stories260K: about 8-9 minutes a token
#define AIM 20e6                 // issue 13: int8, cycles + DMA cycles per token

typedef struct {
    double cycles, dma, forwards;
} run_t;

static int export_quiet(const rq_target *t, const rq_model *m, const char *dir, const char *tok, int c_kernels) {
    const char *flags[4] = {c_kernels ? "1" : NULL, NULL};
    rq_export_opts eo = {.out = dir, .tokenizer = tok, .flag = flags};
    FILE *save = stdout;
    stdout = fopen("/dev/null", "w");
    int rc = t->export_fn(m, &eo);
    fclose(stdout);
    stdout = save;
    return rc;
}

static const char *machine;  // the c64 target's --machine (NULL: sim65)

static int run1(const rq_target *t, const char *dir, const char *prompt, int steps, double temp, run_t *out) {
    const char *flags[8] = {machine};
    rq_run_opts ro = {.prompt = prompt, .steps = steps, .temp = temp, .topp = 0.9, .seed = 1, .timeout = 7200, .flag = flags};
    ro.out = fopen("/dev/null", "w");
    rq_run_result r = {0};
    int rc = t->run_fn(dir, &ro, &r);
    fclose(ro.out);
    if (!rc && r.exit_code) rc = rq_fail(RQ_ERUNTIME, "c64: the program exited with %d", r.exit_code);
    if (!rc) {
        cJSON *cpu = cJSON_GetObjectItem(r.stats, "cpu_cycles");  // (the C64 model counts the DMA cycles in r.count)
        out->cycles = cpu ? cpu->valuedouble : (double)r.count;
        out->dma = cJSON_GetObjectItem(r.stats, "reu_dma_bytes")->valuedouble;
        out->forwards = (double)r.tokens;
    }
    rq_run_result_free(&r);
    return rc;
}

typedef struct {
    const char *name;
    double per, dma, macs;  // per token over the row's positions
} row_t;

// One row: runs of a and b positions, the difference per token.
static int row(const rq_target *t, const lm_config *c, const char *dir, const char *name, int a, int b, double temp, row_t *out,
               run_t *first) {
    run_t ra, rb;
    int rc;
    if ((rc = run1(t, dir, "Once upon a time", a, temp, &ra)) || (rc = run1(t, dir, "Once upon a time", b, temp, &rb))) return rc;
    double n = rb.forwards - ra.forwards;
    if (n <= 0) return rq_fail(RQ_ERUNTIME, "c64 %s: no forwards between %d and %d positions", name, a, b);
    lm_opcount one;
    double macs = 0;
    for (int pos = (int)ra.forwards; pos < (int)rb.forwards; pos++) lm_count_ops(c, pos, &one), macs += (double)one.macs;
    out->name = name;
    out->per = (rb.cycles - ra.cycles) / n;
    out->dma = (rb.dma - ra.dma) / n;
    out->macs = macs / n;
    double tot = out->per + out->dma;
    printf("%-30s %3.0f..%-3.0f %9.2f M %9.0f %9.2f M %7.1f s %8.0f %6.1f %7.1fx\n", name, ra.forwards, rb.forwards - 1, out->per / 1e6, out->dma,
           tot / 1e6, tot / PAL_HZ, out->macs, tot / out->macs, FLOAT_PORT_CYCLES / tot);
    fflush(stdout);
    if (first) *first = ra;
    return 0;
}

// The average over whole generations: three prompts x `steps` positions, greedy, each run's
// start-up (its n = 2 run less two tokens at the short-context rate) taken off.
static const char *const PROMPTS[] = {"Once upon a time", "Tim saw a big", "The little dog"};
static int average(const rq_target *t, const lm_config *c, const char *dir, const char *name, int steps, double short_per, row_t *out) {
    double cyc = 0, dma = 0, fw = 0, macs = 0;
    for (int k = 0; k < 3; k++) {
        run_t r2, rn;
        int rc;
        if ((rc = run1(t, dir, PROMPTS[k], 2, 0, &r2)) || (rc = run1(t, dir, PROMPTS[k], steps, 0, &rn))) return rc;
        double startup = r2.cycles + r2.dma - r2.forwards * short_per;
        cyc += rn.cycles + rn.dma - startup;
        dma += rn.dma;
        fw += rn.forwards;
        lm_opcount one;
        for (int pos = 0; pos < (int)rn.forwards; pos++) lm_count_ops(c, pos, &one), macs += (double)one.macs;
    }
    out->name = name;
    out->per = cyc / fw - dma / fw;
    out->dma = dma / fw;
    out->macs = macs / fw;
    double tot = cyc / fw;
    printf("%-30s %3.0f..%-3.0f %9.2f M %9.0f %9.2f M %7.1f s %8.0f %6.1f %7.1fx  (3 prompts, %.0f forwards)\n", name, 0.0, fw / 3 - 1, out->per / 1e6,
           out->dma, tot / 1e6, tot / PAL_HZ, out->macs, tot / out->macs, FLOAT_PORT_CYCLES / tot, fw);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_c64 STORIES.bin TOK.bin [OUTDIR]\n");
        return 2;
    }
    const char *outdir = argc > 3 ? argv[3] : "build/bench-c64";
    const rq_target *t = rq_target_find("c64");
    printf("c64: stories260K under sim65 -c, prompt \"Once upon a time\", greedy unless said; a token = 6502 cycles + REU DMA\n"
           "cycles (1 byte/cycle); s/token at 0.985 MHz (PAL); the float port needs about %.0f M cycles (540 s) a token\n\n",
           FLOAT_PORT_CYCLES / 1e6);
    printf("%-30s %-8s %11s %9s %11s %9s %8s %6s %8s\n", "build", "pos", "cycles/tok", "DMA B/tok", "total/tok", "s/tok", "MACs/tok", "cyc/MAC",
           "vs float");
    row_t r8 = {0}, r8c = {0};
    run_t s8 = {0}, s4 = {0};
    double base_per = 0, slope[2] = {0, 0};
    row_t avg[2] = {{0}, {0}};
    int rc = 0;
    for (int wbits = 8; wbits >= 4 && !rc; wbits -= 4) {
        rq_open_opts oo = {.wbits = wbits};
        rq_model m;
        if ((rc = rq_model_open(argv[1], &oo, &m))) break;
        char dir[512], name[64];
        snprintf(dir, sizeof dir, "%s/int%d", outdir, wbits);
        row_t r;
        if (!(rc = export_quiet(t, &m, dir, argv[2], 0))) {
            snprintf(name, sizeof name, "int%d", wbits);
            rc = row(t, &m.lm.c, dir, name, 2, 10, 0, wbits == 8 ? &r8 : &r, wbits == 8 ? &s8 : &s4);
            if (!rc) {
                run_t *s = wbits == 8 ? &s8 : &s4;
                double per = wbits == 8 ? r8.per + r8.dma : r.per + r.dma;
                s->cycles -= s->forwards * per;  // start-up: the n = 2 run less its two forwards
            }
            snprintf(name, sizeof name, "int%d, longer context", wbits);
            row_t rl;
            if (!rc) rc = row(t, &m.lm.c, dir, name, 10, 64, 0, &rl, NULL);
            if (!rc) {  // the growth with the position: the two rows' difference over their mean positions (5.5, 36.5)
                row_t *rs = wbits == 8 ? &r8 : &r;
                slope[wbits == 8] = (rl.per + rl.dma - rs->per - rs->dma) / 31.0;
            }
            snprintf(name, sizeof name, "int%d, average of 128 positions", wbits);
            if (!rc) rc = average(t, &m.lm.c, dir, name, 128, wbits == 8 ? r8.per + r8.dma : r.per + r.dma, &avg[wbits == 8]);
            snprintf(name, sizeof name, "int%d, sampled T 1 top-p 0.9", wbits);
            if (!rc) rc = row(t, &m.lm.c, dir, name, 6, 14, 1.0, &r, NULL);
            // the .prg on the C64 model, weights and KV cache by REU DMA (the cycles are its CPU's
            // plus one per DMA byte; the DMA column is the device's count)
            snprintf(name, sizeof name, "int%d, the .prg on the C64 model", wbits);
            machine = "c64";
            if (!rc) rc = row(t, &m.lm.c, dir, name, 2, 10, 0, &r, NULL);
            machine = NULL;
        }
        if (!rc && wbits == 8) {  // the baseline: every operation in infer/'s C (cc65)
            snprintf(dir, sizeof dir, "%s/int8-c", outdir);
            if (!(rc = export_quiet(t, &m, dir, argv[2], 1))) rc = row(t, &m.lm.c, dir, "int8, --c-kernels (baseline)", 2, 4, 0, &r8c, NULL);
            if (!rc) base_per = r8c.per + r8c.dma;
        }
        rq_model_close(&m);
    }
    if (rc) return rq_report(rc);
    double tot8 = r8.per + r8.dma;
    printf("\nstart-up (checks of the image, sidecar and tokenizer, prompt, tables): int8 %.1f M cycles (%.0f s), int4 %.1f M (%.0f s)\n",
           s8.cycles / 1e6, s8.cycles / PAL_HZ, s4.cycles / 1e6, s4.cycles / PAL_HZ);
    printf("attention's growth: int8 %.3f M cycles per position, int4 %.3f M\n", slope[1] / 1e6, slope[0] / 1e6);
    printf("int8 positions 2..9: %.1fx faster than the --c-kernels build, %.1fx faster than the float port; aim <= %.0f M cycles/token: %s\n",
           base_per / tot8, FLOAT_PORT_CYCLES / tot8, AIM / 1e6, tot8 <= AIM ? "met" : "MISSED");
    double a8 = avg[1].per + avg[1].dma;
    printf("int8 average over 128 positions: %.2f M cycles/token (%.1f s at PAL), aim <= %.0f M: %s\n", a8 / 1e6, a8 / PAL_HZ, AIM / 1e6,
           a8 <= AIM ? "met" : "MISSED");
    return 0;
}
