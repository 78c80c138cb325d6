// target_verbs.c: `export`, `run` and `targets` over the target registry (export/target.h).
// Nothing here names a target: the flags every target shares are parsed here, each target's own
// flags come from its rq_target table.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "base/args.h"
#include "cli/verbs.h"
#include "export/target.h"

#define MAX_TFLAGS 32

static const char *flag_value(int argc, char **argv, const char *name) {
    size_t n = strlen(name);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], name) == 0 && i + 1 < argc) return argv[i + 1];
        if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') return argv[i] + n + 1;
    }
    return NULL;
}

static int is_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    return 0;
}

static void list_names(FILE *f, int family) {
    for (int i = 0, k = 0; rq_targets[i]; i++)
        if (!family || (rq_targets[i]->families & family)) fprintf(f, "%s%s", k++ ? ", " : "", rq_targets[i]->name);
}

static const rq_target *find_target(const char *name, const char *verb) {
    const rq_target *t = rq_target_find(name);
    if (!t) {
        fprintf(stderr, "retroqat: unknown %s target '%s' (known: ", verb, name);
        list_names(stderr, 0);
        fprintf(stderr, "; `retroqat targets` lists them)\n");
    }
    return t;
}

// The target's own flags appended to a verb's flag table; values land in vals (booleans as "1").
typedef struct {
    const char *vals[MAX_TFLAGS];
    int bools[MAX_TFLAGS];
} tflag_values;

static int add_tflags(rq_arg *opts, int n, const rq_tflag *f, tflag_values *v) {
    for (int i = 0; f && f[i].name && i < MAX_TFLAGS; i++)
        opts[n++] = f[i].value ? (rq_arg){f[i].name, NULL, ARG_STR, &v->vals[i], NULL}
                               : (rq_arg){f[i].name, NULL, ARG_FLAG, &v->bools[i], NULL};
    opts[n] = (rq_arg){NULL, NULL, 0, NULL, NULL};
    return n;
}

static void finish_tflags(const rq_tflag *f, tflag_values *v) {
    for (int i = 0; f && f[i].name && i < MAX_TFLAGS; i++)
        if (!f[i].value) v->vals[i] = v->bools[i] ? "1" : NULL;
}

static void usage_tflags(char *buf, size_t cap, const rq_tflag *f) {
    size_t n = strlen(buf);
    for (int i = 0; f && f[i].name; i++) {
        char lhs[64];
        snprintf(lhs, sizeof lhs, "%s%s%s", f[i].name, f[i].value ? " " : "", f[i].value ? f[i].value : "");
        n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "  %-20s %s\n", lhs, f[i].help);
    }
}

// ---- export ------------------------------------------------------------------------------------

// The RQ_LMW_* bits' names, in bit order (`targets`).
static const char *const LMW_NAMES[] = {"int8", "int4", "2-bit", "mixed", "midrise"};

static const char EXPORT_HEAD[] =
    "usage: retroqat export MODEL --target TARGET -o OUT [-z TOKENIZER] [--json] [--wbits 8|4|2]\n"
    "                       [--midrise] [--calib TEXT] [TARGET FLAGS]\n"
    "Write MODEL's files for TARGET (`retroqat targets` lists them). MODEL is any model retroqat\n"
    "reads: a chat checkpoint or image, a llama QAT checkpoint, an integer image (.rqm), or a float\n"
    "llama2.c .bin / llama checkpoint, post-training quantised here (calibration on the model's own\n"
    "sampled text, 16 x 256 tokens, seed 1, or on the first 4096 tokens of TEXT).\n"
    "  --target T          the target\n"
    "  -o, --out PATH      the file or folder to write (the target says which)\n"
    "  -z, --tokenizer P   llama2.c tokenizer .bin (targets that print text; --calib)\n"
    "  --wbits N           PTQ of a float model: 8 (default), 4 or 2 layer weight bits\n"
    "  --midrise           PTQ at 4 or 2 bits: the midrise grids (odd values, no zero; image version 4)\n"
    "  --calib TEXT        PTQ: calibrate on this text file (needs -z)\n"
    "  --json              print the export summary as JSON\n";

int verb_export(int argc, char **argv) {
    const char *tname = flag_value(argc, argv, "--target");
    if (!tname) {
        if (is_help(argc, argv)) {
            printf("%s'retroqat export --target T --help' adds T's own flags. Targets: ", EXPORT_HEAD);
            list_names(stdout, 0);
            printf("\n");
            return 0;
        }
        fprintf(stderr, "retroqat: export needs --target (");
        list_names(stderr, 0);
        fprintf(stderr, ")\n");
        return RQ_EINPUT;
    }
    const rq_target *t = find_target(tname, "export");
    if (!t) return RQ_EINPUT;
    char usage[8192];
    snprintf(usage, sizeof usage, "%s%s flags (%s: %s):\n", EXPORT_HEAD, t->name, t->name, t->artefacts);
    usage_tflags(usage, sizeof usage, t->export_flags);
    const char *target = NULL, *out = NULL, *tok = NULL, *calib = NULL, *pos[1];
    int json = 0, wbits = 0, midrise = 0, npos = 0;
    rq_arg opts[8 + MAX_TFLAGS] = {
        {"--target", NULL, ARG_STR, &target, NULL}, {"-o", "--out", ARG_STR, &out, NULL},
        {"-z", "--tokenizer", ARG_STR, &tok, NULL}, {"--json", NULL, ARG_FLAG, &json, NULL},
        {"--wbits", NULL, ARG_INT, &wbits, NULL},   {"--calib", NULL, ARG_STR, &calib, NULL},
        {"--midrise", NULL, ARG_FLAG, &midrise, NULL},
    };
    tflag_values tv = {0};
    add_tflags(opts, 7, t->export_flags, &tv);
    int rc = rq_args_parse(argc, argv, opts, pos, 1, &npos, usage);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    finish_tflags(t->export_flags, &tv);
    if (npos != 1 || !out) {
        fprintf(stderr, "retroqat: export --target %s needs a MODEL and -o OUT\n%s", t->name, usage);
        return RQ_EINPUT;
    }
    rq_open_opts oo = {.wbits = wbits, .midrise = midrise, .calib = calib, .tokenizer = tok};
    rq_model m;
    if ((rc = rq_model_open(pos[0], &oo, &m))) {
        rq_model_close(&m);
        return rq_report(rc);
    }
    if (!(t->families & m.family)) {
        rc = rq_fail(RQ_EINPUT, "%s: target %s does not take a %s model (it takes: %s%s%s)", pos[0], t->name,
                     m.family == RQ_FAM_CHAT ? "chat" : "transformer", t->families & RQ_FAM_CHAT ? "chat" : "",
                     t->families == (RQ_FAM_CHAT | RQ_FAM_LM) ? ", " : "", t->families & RQ_FAM_LM ? "transformer" : "");
    } else {
        rq_export_opts eo = {.out = out, .tokenizer = tok, .json = json, .flag = tv.vals};
        rc = t->export_fn(&m, &eo);
        if (rc == RQ_EINPUT && !strstr(rq_last_error(), pos[0])) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", rq_last_error());
            rq_fail(RQ_EINPUT, "%s: %s", pos[0], msg);
        }
    }
    rq_model_close(&m);
    return rc ? rq_report(rc) : 0;
}

// ---- run ---------------------------------------------------------------------------------------

static const char RUN_HEAD[] =
    "usage: retroqat run [--target TARGET] ARTEFACT [FLAGS] [ARGS...]\n"
    "Run what `retroqat export` wrote, in the target's emulator (default target: host, the integer\n"
    "kernel on this machine). A transformer prints like llama2.c run.c; a chat model answers each\n"
    "ARG (or chats at a '> ' prompt), like `retroqat chat`.\n"
    "  --target T            the target (default host)\n"
    "  -z, --tokenizer PATH  llama2.c tokenizer .bin (when the artefact has none)\n"
    "  -i, --prompt TEXT     prompt (default empty)\n"
    "  -n, --steps N         positions including the prompt (0 = seq_len; default 256)\n"
    "  -t, --temperature T   0 = greedy (default 1.0); used as round(256 T)\n"
    "  -p, --topp P          nucleus mass (default 0.9; 0 or 1: none); used as round(32768 P)\n"
    "  -s, --seed N          RNG seed (default 0 = time)\n"
    "  --stats               counts (instructions / cycles / T-states, per token) to stderr\n"
    "  --json                the counts as one JSON object on stderr\n"
    "  --timeout S           stop after S seconds of wall clock (exit code 124)\n"
    "  --debug-logits        print '#logits STEP CRC32' of every step's logits to stderr\n";

static void print_stats(const rq_target *t, const rq_run_result *r, int json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "target", t->name);
    cJSON_AddNumberToObject(o, "exit_code", r->exit_code);
    cJSON_AddStringToObject(o, "unit", r->unit ? r->unit : "none");
    cJSON_AddNumberToObject(o, r->unit && strcmp(r->unit, "none") ? r->unit : "count", (double)r->count);
    cJSON_AddNumberToObject(o, "tokens", (double)r->tokens);
    if (r->tokens && r->count) {
        char k[48];
        snprintf(k, sizeof k, "%s_per_token", r->unit);
        cJSON_AddNumberToObject(o, k, (double)r->count / (double)r->tokens);
    }
    if (r->stats)  // the target's figures, except those the common ones already name
        for (cJSON *c = r->stats->child; c; c = c->next)
            if (!cJSON_GetObjectItemCaseSensitive(o, c->string)) cJSON_AddItemToObject(o, c->string, cJSON_Duplicate(c, 1));
    if (json) {
        char *s = cJSON_PrintUnformatted(o);
        fprintf(stderr, "%s\n", s);
        free(s);
    } else {
        fprintf(stderr, "%s: exit code %d, %llu tokens", t->name, r->exit_code, (unsigned long long)r->tokens);
        if (r->count) fprintf(stderr, ", %llu %s", (unsigned long long)r->count, r->unit);
        if (r->count && r->tokens) fprintf(stderr, " (%.1f per token)", (double)r->count / (double)r->tokens);
        fprintf(stderr, "\n");
        if (r->stats && t->stats_text)
            t->stats_text(r, stderr);
        else if (r->stats)
            for (cJSON *c = r->stats->child; c; c = c->next) {
                char *s = cJSON_PrintUnformatted(c);
                fprintf(stderr, "%s: %s %s\n", t->name, c->string, s);
                free(s);
            }
    }
    cJSON_Delete(o);
}

int verb_run(int argc, char **argv) {
    const char *tname = flag_value(argc, argv, "--target");
    const rq_target *t = find_target(tname ? tname : "host", "run");
    if (!t) return RQ_EINPUT;
    char usage[8192];
    snprintf(usage, sizeof usage, "%s%s flags:\n", RUN_HEAD, t->name);
    usage_tflags(usage, sizeof usage, t->run_flags);
    if (t->args_after_artefact)
        snprintf(usage + strlen(usage), sizeof usage - strlen(usage), "Flags go before ARTEFACT: everything after it is the program's ARGS.\n");
    // Targets whose program takes arguments: our flags end at the artefact.
    int nflags = argc;
    if (t->args_after_artefact) {
        for (int i = 0; i < argc; i++) {
            const char *a = argv[i];
            if (strcmp(a, "--") == 0 || a[0] != '-' || a[1] == 0) {
                nflags = i;
                break;
            }
            int takes = 0;
            const char *common_val[] = {"--target", "-z", "--tokenizer", "-i", "--prompt", "-n", "--steps", "-t", "--temperature",
                                        "-p", "--topp", "-s", "--seed", "--timeout", NULL};
            for (int k = 0; common_val[k]; k++) takes |= strcmp(a, common_val[k]) == 0;
            for (int k = 0; t->run_flags && t->run_flags[k].name; k++) takes |= t->run_flags[k].value && strcmp(a, t->run_flags[k].name) == 0;
            if (takes) i++;
        }
    }
    rq_sample_args sa;
    const char *target = NULL;
    int stats = 0, json = 0, debug = 0;
    double timeout = 0;
    rq_arg opts[8 + RQ_SAMPLE_NOPTS + MAX_TFLAGS] = {{"--target", NULL, ARG_STR, &target, NULL}};
    rq_sample_args_init(&sa, opts + 1);
    int n = 1 + RQ_SAMPLE_NOPTS;
    opts[n++] = (rq_arg){"--stats", NULL, ARG_FLAG, &stats, NULL};
    opts[n++] = (rq_arg){"--json", NULL, ARG_FLAG, &json, NULL};
    opts[n++] = (rq_arg){"--timeout", NULL, ARG_NUM, &timeout, NULL};
    opts[n++] = (rq_arg){"--debug-logits", NULL, ARG_FLAG, &debug, NULL};
    tflag_values tv = {0};
    add_tflags(opts, n, t->run_flags, &tv);
    const char *pos[256];
    int npos = 0;
    int rc = rq_args_parse(nflags, argv, opts, pos, 256, &npos, usage);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    finish_tflags(t->run_flags, &tv);
    rq_sample_args_finish(&sa);
    const char *artefact = NULL;
    char **args = NULL;
    int nargs = 0;
    if (t->args_after_artefact) {
        int k = nflags < argc && strcmp(argv[nflags], "--") == 0 ? nflags + 1 : nflags;
        if (k < argc) artefact = argv[k], args = argv + k + 1, nargs = argc - k - 1;
    } else if (npos > 0) {
        artefact = pos[0], args = (char **)(pos + 1), nargs = npos - 1;
    }
    if (!artefact) {
        fprintf(stderr, "retroqat: run --target %s needs an ARTEFACT (what `retroqat export --target %s` wrote)\n%s", t->name, t->name, usage);
        return RQ_EINPUT;
    }
    if (timeout < 0) return rq_report(rq_fail(RQ_EINPUT, "--timeout: expected seconds >= 0, got %g", timeout));
    rq_run_opts ro = {.prompt = sa.prompt, .steps = sa.steps, .temp = sa.temp, .topp = sa.topp, .seed = sa.seed,
                      .tokenizer = sa.tokenizer, .nargs = nargs, .args = args, .stats = stats, .json = json,
                      .debug_logits = debug, .timeout = timeout, .out = stdout, .flag = tv.vals};
    rq_run_result r = {0};
    rc = t->run_fn(artefact, &ro, &r);
    fflush(stdout);
    if (rc) {
        rq_run_result_free(&r);
        return rq_report(rc);
    }
    if (debug)
        for (int i = 0; i < r.n_crc; i++) fprintf(stderr, "#logits %d %08x\n", i, r.logit_crc[i]);
    if (stats || json) print_stats(t, &r, json);
    int code = r.exit_code;
    rq_run_result_free(&r);
    return code;
}

// ---- targets -----------------------------------------------------------------------------------

int verb_targets(int argc, char **argv) {
    int json = 0;
    const rq_arg opts[] = {{"--json", NULL, ARG_FLAG, &json, NULL}, {NULL, NULL, 0, NULL, NULL}};
    int npos = 0;
    int rc = rq_args_parse(argc, argv, opts, NULL, 0, &npos,
                           "usage: retroqat targets [--json]\nList every export target: its CPU and machine, the model families it takes, what\n"
                           "export writes, the emulator `run` uses, and whether its toolchain and emulator are installed.\n");
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; rq_targets[i]; i++) {
        const rq_target *t = rq_targets[i];
        int te = rq_tools_present(t->export_tools), tr = rq_tools_present(t->run_tools);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", t->name);
            cJSON_AddStringToObject(o, "cpu", t->cpu);
            cJSON_AddStringToObject(o, "machine", t->machine);
            cJSON_AddNumberToObject(o, "clock_hz", (double)t->clock_hz);
            cJSON *fam = cJSON_AddArrayToObject(o, "families");
            if (t->families & RQ_FAM_CHAT) cJSON_AddItemToArray(fam, cJSON_CreateString("chat"));
            if (t->families & RQ_FAM_LM) cJSON_AddItemToArray(fam, cJSON_CreateString("transformer"));
            if (t->families & RQ_FAM_LM) {
                cJSON *w = cJSON_AddArrayToObject(o, "lm_weights");
                for (int b = 0; b < 5; b++)
                    if (t->lm_weights & (1 << b)) cJSON_AddItemToArray(w, cJSON_CreateString(LMW_NAMES[b]));
            }
            cJSON_AddStringToObject(o, "artefacts", t->artefacts);
            cJSON_AddStringToObject(o, "emulator", t->emulator);
            cJSON_AddStringToObject(o, "summary", t->summary);
            cJSON *tools = cJSON_AddArrayToObject(o, "tools");
            for (int pass = 0; pass < 2; pass++) {
                const char *const *list = pass ? t->run_tools : t->export_tools;
                for (int k = 0; list && list[k]; k++) {
                    cJSON *e = cJSON_CreateObject();
                    cJSON_AddStringToObject(e, "name", list[k]);
                    cJSON_AddStringToObject(e, "for", pass ? "run" : "export");
                    cJSON_AddBoolToObject(e, "installed", rq_tools_present((const char *const[]){list[k], NULL}));
                    cJSON_AddItemToArray(tools, e);
                }
            }
            cJSON_AddBoolToObject(o, "toolchain_installed", te);
            cJSON_AddBoolToObject(o, "emulator_installed", tr);
            cJSON_AddItemToArray(arr, o);
        } else {
            printf("%-9s %s (%s)\n", t->name, t->cpu, t->machine);
            printf("          %s\n", t->summary);
            printf("          families: %s%s%s; writes: %s\n", t->families & RQ_FAM_CHAT ? "chat" : "",
                   t->families == (RQ_FAM_CHAT | RQ_FAM_LM) ? ", " : "", t->families & RQ_FAM_LM ? "transformer" : "", t->artefacts);
            if (t->families & RQ_FAM_LM) {
                printf("          transformer weights:");
                for (int b = 0; b < 5; b++)
                    if (t->lm_weights & (1 << b)) printf(" %s", LMW_NAMES[b]);
                printf("\n");
            }
            printf("          runs in: %s; toolchain %s, emulator %s\n", t->emulator, te ? "installed" : "MISSING",
                   tr ? "installed" : "MISSING");
        }
    }
    if (json) {
        char *s = cJSON_PrintUnformatted(arr);
        printf("%s\n", s);
        free(s);
    }
    cJSON_Delete(arr);
    return 0;
}
