// bench_targets.c: executed instructions per token of the qemu-user targets (ColdFire MCF5307,
// PowerPC 750), from the insn-count plugin, next to the integer operations the host counts for
// the same positions (lm_count_ops: multiply-accumulates and table lookups per token).
//
//   bench_targets STORIES.bin TOK.bin CHAT.ckpt QUERIES.txt [TARGET...]   (default: coldfire ppc)
//
// Transformer: stories260K post-training quantised to int8 and to int4, three prompts x 128
// positions, greedy, no debug CRCs. "per token" = (instructions - start-up) / forwards, where
// start-up is everything before the first lm_forward (reading and checking the image, the
// tokenizer, encoding the prompt); the whole-run figure (all instructions / printed tokens) is
// shown too. Chat: the queries of QUERIES.txt answered in one run; per printed character.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "export/target.h"
#include "infer/lm_kernel.h"

static const double AIM_INT8[] = {3.0e6, 2.5e6};  // coldfire, ppc (issue 11)

typedef struct {
    double insns, setup, forwards, tokens;
} tally;

static void add_run(tally *t, const rq_run_result *r) {
    t->insns += (double)r->count;
    t->tokens += (double)r->tokens;
    t->setup += cJSON_GetObjectItem(r->stats, "setup_insns")->valuedouble;
    t->forwards += cJSON_GetObjectItem(r->stats, "forwards")->valuedouble;
}

static int export_quiet(const rq_target *t, const rq_model *m, const char *dir, const char *tok) {
    const char *none[8] = {0};
    rq_export_opts eo = {.out = dir, .tokenizer = tok, .flag = none};
    FILE *save = stdout;
    stdout = fopen("/dev/null", "w");
    int rc = t->export_fn(m, &eo);
    fclose(stdout);
    stdout = save;
    return rc;
}

static int run_quiet(const rq_target *t, const char *dir, rq_run_opts *ro, tally *tl) {
    const char *none[8] = {0};
    ro->out = fopen("/dev/null", "w");
    ro->flag = none;
    rq_run_result r = {0};
    int rc = t->run_fn(dir, ro, &r);
    fclose(ro->out);
    if (!rc && r.exit_code) rc = rq_fail(RQ_ERUNTIME, "%s: the program exited with %d", t->name, r.exit_code);
    if (!rc) add_run(tl, &r);
    rq_run_result_free(&r);
    return rc;
}

static int bench_lm(const rq_target *t, const char *model, const char *tok, int wbits, double aim) {
    rq_open_opts oo = {.wbits = wbits};
    rq_model m;
    int rc = rq_model_open(model, &oo, &m);
    if (rc) return rc;
    char dir[256];
    snprintf(dir, sizeof dir, "build/bench-targets/%s-int%d", t->name, wbits);
    if ((rc = export_quiet(t, &m, dir, tok))) return rc;
    const char *prompts[] = {"Once upon a time", "Tim saw a big", "The little dog"};
    tally tl = {0};
    lm_opcount ops = {0}, one;
    for (int i = 0; i < 3 && !rc; i++) {
        rq_run_opts ro = {.prompt = prompts[i], .steps = 128, .temp = 0, .topp = 0.9, .seed = 1};
        double before = tl.forwards;
        rc = run_quiet(t, dir, &ro, &tl);
        for (int pos = 0; pos < (int)(tl.forwards - before); pos++) {
            lm_count_ops(&m.lm.c, pos, &one);
            ops.macs += one.macs, ops.lookups += one.lookups;
        }
    }
    if (!rc) {
        double per = (tl.insns - tl.setup) / tl.forwards;
        printf("%-9s stories260K int%d  %9.0f insns/token  (%5.2f per MAC; %.0f MACs + %.0f lookups per token on the host)"
               "  whole run %9.0f per printed token, start-up %.0f",
               t->name, wbits, per, per / ((double)ops.macs / tl.forwards), (double)ops.macs / tl.forwards,
               (double)ops.lookups / tl.forwards, tl.insns / tl.tokens, tl.setup / 3);
        if (aim > 0) printf("  [aim <= %.1f M: %s]", aim / 1e6, per <= aim ? "met" : "MISSED");
        printf("\n");
    }
    rq_model_close(&m);
    return rc;
}

static int bench_chat(const rq_target *t, const char *ckpt, const char *queries) {
    rq_model m;
    int rc = rq_model_open(ckpt, NULL, &m);
    if (rc) return rc;
    char dir[256];
    snprintf(dir, sizeof dir, "build/bench-targets/%s-chat", t->name);
    if ((rc = export_quiet(t, &m, dir, NULL))) return rc;
    FILE *f = fopen(queries, "r");
    if (!f) return rq_fail(RQ_EINPUT, "%s: cannot open", queries);
    char *args[64], line[512];
    int n = 0;
    while (n < 64 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] && line[0] != '#') args[n++] = strdup(line);
    }
    fclose(f);
    rq_run_opts ro = {.nargs = n, .args = args};
    tally tl = {0};
    rc = run_quiet(t, dir, &ro, &tl);
    if (!rc)
        printf("%-9s chat (%d-%d-...-%d)   %9.0f insns/character (%d queries, %.0f characters, %.0f forwards), start-up %.0f\n",
               t->name, m.chat.dims[0], m.chat.dims[1], m.chat.dims[m.chat.n_layers], (tl.insns - tl.setup) / tl.tokens, n,
               tl.tokens, tl.forwards, tl.setup);
    for (int i = 0; i < n; i++) free(args[i]);
    rq_model_close(&m);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: bench_targets STORIES.bin TOK.bin CHAT.ckpt QUERIES.txt [TARGET...]\n");
        return 2;
    }
    const char *def[] = {"coldfire", "ppc"};
    int nt = argc > 5 ? argc - 5 : 2;
    for (int i = 0; i < nt; i++) {
        const char *name = argc > 5 ? argv[5 + i] : def[i];
        const rq_target *t = rq_target_find(name);
        if (!t) return rq_report(rq_fail(RQ_EINPUT, "unknown target %s", name));
        double aim = strcmp(name, "coldfire") == 0 ? AIM_INT8[0] : strcmp(name, "ppc") == 0 ? AIM_INT8[1] : 0;
        int rc;
        if ((rc = bench_lm(t, argv[1], argv[2], 8, aim)) || (rc = bench_lm(t, argv[1], argv[2], 4, 0)) ||
            (rc = bench_chat(t, argv[3], argv[4])))
            return rq_report(rc);
    }
    return 0;
}
