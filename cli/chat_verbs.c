// chat_verbs.c: CLI verbs of the trigram chat family: data-stats, train, eval, chat.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/config.h"
#include "base/err.h"
#include "qat/image_open.h"
#include "base/rqfile.h"
#include "base/args.h"
#include "cli/verbs.h"
#include "data/chat_data.h"
#include "infer/chat_kernel.h"
#include "train/chat_family.h"
#include "train/trainer.h"

static void print_json(cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    printf("%s\n", s);
    cJSON_free(s);
}

// --- data-stats ----------------------------------------------------------------------------------

static const char DATA_STATS_USAGE[] =
    "usage: retroqat data-stats FILE [--json] [--context N] [--lenient] [--charset CHARS]\n"
    "Statistics of a query|response dataset (docs/chat-format.md): pairs, distinct queries and\n"
    "responses, conflicting queries, character examples, the best per-character accuracy any\n"
    "model can reach and the majority-class baseline.\n";

int verb_data_stats(int argc, char **argv) {
    int json = 0, lenient = 0, context = 8;
    const char *charset = NULL, *pos[1];
    int npos = 0;
    const rq_arg opts[] = {{"--json", NULL, ARG_FLAG, &json, NULL},
                           {"--context", NULL, ARG_INT, &context, NULL},
                           {"--lenient", NULL, ARG_FLAG, &lenient, NULL},
                           {"--charset", NULL, ARG_STR, &charset, NULL},
                           {NULL, NULL, 0, NULL, NULL}};
    int rc = rq_args_parse(argc, argv, opts, pos, 1, &npos, DATA_STATS_USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (npos != 1) {
        fprintf(stderr, "retroqat: data-stats needs a FILE\n%s", DATA_STATS_USAGE);
        return RQ_EINPUT;
    }
    if (context < 3 || context > CHAT_MAX_CONTEXT) return rq_report(rq_fail(RQ_EINPUT, "--context must be in 3..%d", CHAT_MAX_CONTEXT));
    chat_data_opts o;
    chat_data_opts_default(&o);
    o.lenient = lenient, o.max_answer = 255;
    if (charset) snprintf(o.charset, sizeof o.charset, "%s", charset);
    chat_dataset d;
    if ((rc = chat_data_load(pos[0], &o, &d))) return rq_report(rc);
    chat_stats s;
    chat_data_stats(&d, NULL, 0, context, &s);
    char maj[16];
    if (s.majority_class == 0) snprintf(maj, sizeof maj, "<end>");
    else snprintf(maj, sizeof maj, "'%c'", s.charset[s.majority_class - 1]);
    if (json) {
        cJSON *o2 = cJSON_CreateObject();
        cJSON_AddStringToObject(o2, "file", pos[0]);
        cJSON_AddNumberToObject(o2, "pairs", s.pairs);
        cJSON_AddNumberToObject(o2, "skipped_lines", d.skipped);
        cJSON_AddNumberToObject(o2, "distinct_queries", s.distinct_queries);
        cJSON_AddNumberToObject(o2, "distinct_responses", s.distinct_responses);
        cJSON_AddNumberToObject(o2, "conflicting_queries", s.conflicting_queries);
        cJSON_AddNumberToObject(o2, "examples", (double)s.examples);
        cJSON_AddStringToObject(o2, "charset", s.charset);
        cJSON_AddNumberToObject(o2, "output_symbols", s.n_chars + 1);
        cJSON_AddNumberToObject(o2, "max_query_len", s.max_query_len);
        cJSON_AddNumberToObject(o2, "max_response_len", s.max_response_len);
        cJSON_AddNumberToObject(o2, "best_acc", s.best_acc);
        cJSON_AddNumberToObject(o2, "majority_acc", s.majority_acc);
        cJSON_AddStringToObject(o2, "majority_symbol", maj);
        print_json(o2);
        cJSON_Delete(o2);
    } else {
        printf("%s\n", pos[0]);
        printf("  pairs                 %d%s\n", s.pairs, d.skipped ? " (lenient: some lines skipped)" : "");
        if (d.skipped) printf("  skipped lines         %d (first: %s)\n", d.skipped, d.first_warning);
        printf("  distinct queries      %d\n", s.distinct_queries);
        printf("  distinct responses    %d\n", s.distinct_responses);
        printf("  conflicting queries   %d\n", s.conflicting_queries);
        printf("  character examples    %ld\n", s.examples);
        printf("  output symbols        %d (end + \"%s\")\n", s.n_chars + 1, s.charset);
        printf("  longest query         %d\n", s.max_query_len);
        printf("  longest response      %d\n", s.max_response_len);
        printf("  best achievable acc   %.4f (per character, context %d)\n", s.best_acc, context);
        printf("  majority baseline     %.4f (always %s)\n", s.majority_acc, maj);
    }
    chat_data_free(&d);
    return 0;
}

// --- shared: bounds report -----------------------------------------------------------------------

// Worst case over all inputs and the measured max |acc|: adds arrays to out (when not NULL) and
// prints a warning for every layer that can wrap. Returns the number of such layers.
static int report_bounds(const chat_imodel *m, cJSON *out, int quiet) {
    int32_t lo[CHAT_MAX_LAYERS], hi[CHAT_MAX_LAYERS];
    chat_bounds(m, lo, hi);
    int can = 0;
    cJSON *wc = out ? cJSON_AddArrayToObject(out, "worst_case_acc") : NULL;
    cJSON *cw = out ? cJSON_AddArrayToObject(out, "can_wrap") : NULL;
    for (int l = 0; l < m->n_layers; l++) {
        int32_t w = -lo[l] > hi[l] ? -lo[l] : hi[l];
        int wrap = hi[l] > 32767 || lo[l] < -32768;
        can += wrap;
        if (wc) cJSON_AddItemToArray(wc, cJSON_CreateNumber(w));
        if (cw) cJSON_AddItemToArray(cw, cJSON_CreateBool(wrap));
        if (wrap && !quiet)
            fprintf(stderr, "retroqat: warning: layer %d can wrap on some input: worst case accumulator in [%d, %d] (int16 is [-32768, 32767])\n",
                    l, lo[l], hi[l]);
    }
    return can;
}

// Measure on a dataset: everything, and the held-out part under the model's own split.
static void measure_dataset(chat_family *cf, const chat_dataset *d, cJSON *out) {
    int *all = rq_malloc(sizeof(int) * (size_t)d->n), *tr, *ho, ntr, nho;
    for (int i = 0; i < d->n; i++) all[i] = i;
    chat_examples ex;
    chat_qset qs;
    chat_build_examples(d, all, d->n, &cf->enc, cf->chars, cf->n_chars, &ex);
    chat_qset_build(d, all, d->n, 1 << 30, &qs);
    chat_measure(cf, &ex, NULL, 0, &qs, out);
    chat_free_examples(&ex), chat_qset_free(&qs);
    chat_data_split(d, cf->split_frac, cf->split_seed, &tr, &ntr, &ho, &nho);
    cJSON *h = cJSON_AddObjectToObject(out, "held_out");
    chat_build_examples(d, ho, nho, &cf->enc, cf->chars, cf->n_chars, &ex);
    chat_qset_build(d, ho, nho, 1 << 30, &qs);
    chat_measure(cf, &ex, NULL, 0, &qs, h);
    chat_free_examples(&ex), chat_qset_free(&qs);
    free(all), free(tr), free(ho);
}

// Parse a dataset for a trained model: its alphabet is the charset.
static int load_for_model(const chat_family *cf, const char *path, int lenient, chat_dataset *d) {
    chat_data_opts o;
    chat_data_opts_default(&o);
    o.lenient = lenient, o.max_answer = 255;
    snprintf(o.charset, sizeof o.charset, "%.127s", cf->chars);
    int rc = chat_data_load(path, &o, d);
    if (!rc && d->skipped) fprintf(stderr, "retroqat: warning: %d bad lines skipped (first: %s)\n", d->skipped, d->first_warning);
    return rc;
}

// --- train ---------------------------------------------------------------------------------------

static const char TRAIN_USAGE[] =
    "usage: retroqat train CONFIG.json [--data F] [--epochs N] [--seed N] [--out DIR] [--resume] [--quiet]\n"
    "                      [--check [--json]]\n"
    "Trigram chat (\"model\": \"chat\"): 2-bit QAT whose loss sees the integer function the target runs.\n"
    "  --data F     dataset (query|response lines; default: the config's \"data\")\n"
    "  --epochs N   passes over the training examples (default: the config's train.epochs)\n"
    "  --seed N     seed of the split, the initialisation and the batch order\n"
    "  --out DIR    receives metrics.jsonl, last.ckpt, best.ckpt (default runs/chat)\n"
    "  --resume     continue DIR/last.ckpt bit-identically to an uninterrupted run\n"
    "  --quiet      no progress line or evaluation lines\n"
    "  --check      parse the config and print its resolved data path (exit 2 when it is missing);\n"
    "               trains nothing. --json: as one JSON object\n";

int chat_train_main(int argc, char **argv) {
    const char *data = NULL, *out = "runs/chat", *pos[1];
    int epochs = 0, seed = -1, resume = 0, quiet = 0, npos = 0, seen_epochs = 0, seen_seed = 0, check = 0, json = 0;
    const rq_arg opts[] = {{"--data", NULL, ARG_STR, &data, NULL},
                           {"--epochs", NULL, ARG_INT, &epochs, &seen_epochs},
                           {"--seed", NULL, ARG_INT, &seed, &seen_seed},
                           {"--out", "-o", ARG_STR, &out, NULL},
                           {"--resume", NULL, ARG_FLAG, &resume, NULL},
                           {"--quiet", "-q", ARG_FLAG, &quiet, NULL},
                           {"--check", NULL, ARG_FLAG, &check, NULL},
                           {"--json", NULL, ARG_FLAG, &json, NULL},
                           {NULL, NULL, 0, NULL, NULL}};
    int rc = rq_args_parse(argc, argv, opts, pos, 1, &npos, TRAIN_USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (npos != 1) {
        fprintf(stderr, "retroqat: train needs a CONFIG.json\n%s", TRAIN_USAGE);
        return RQ_EINPUT;
    }
    chat_config c;
    chat_config_default(&c);
    if ((rc = chat_config_load(pos[0], &c))) return rq_report(rc);
    if (data) snprintf(c.data, sizeof c.data, "%s", data);
    if (check) {
        const cfg_path_check paths[] = {{"$.data", c.data, 1}, {"--out", out, 0}};
        return (rc = cfg_check_paths(pos[0], paths, 2, json)) ? rq_report(rc) : 0;
    }
    if (seen_epochs) {
        if (epochs < 1) return rq_report(rq_fail(RQ_EINPUT, "--epochs must be >= 1"));
        c.epochs = epochs;
    }
    if (seen_seed) {
        if (seed < 0) return rq_report(rq_fail(RQ_EINPUT, "--seed must be >= 0"));
        c.seed = seed;
    }
    chat_family cf;
    rq_family f;
    if ((rc = chat_family_build(&cf, &c, &f))) {
        chat_family_free(&cf);
        return rq_report(rc);
    }
    trainer_cfg t;
    chat_family_trainer_cfg(&cf, &t);
    t.out_dir = out, t.resume = resume, t.quiet = quiet, t.config_path = pos[0];
    if (!quiet) {
        chat_stats s;
        chat_data_stats(&cf.data, cf.train_idx, cf.n_train_pairs, c.enc.context, &s);
        fprintf(stderr, "chat: %s: %d pairs (%d train, %d held out), %d train examples, %d symbols; majority %.3f, best %.3f\n",
                c.data, cf.data.n, cf.n_train_pairs, cf.n_held_pairs, cf.train.n, cf.n_chars + 1, s.majority_acc, s.best_acc);
        fprintf(stderr, "chat: net");
        for (int l = 0; l <= cf.L; l++) fprintf(stderr, "%s%d", l ? "->" : " ", cf.dims[l]);
        fprintf(stderr, " (%s), %ld steps of %d, eval every %ld\n", c.weights, t.steps, c.batch, t.eval_every);
    }
    rc = trainer_run(&f, &t);
    if (!rc && rq_interrupted) rc = RQ_EINTR;  // saved; exit 130 so a script sees it did not finish
    if (rc) {
        chat_family_free(&cf);
        return rq_report(rc);
    }
    // Final report on the best checkpoint: max |acc| on all data, worst case over all inputs.
    char best[4200];
    snprintf(best, sizeof best, "%s/best.ckpt", out);
    chat_family bf;
    rq_family bff;
    if (!rq_interrupted && access(best, R_OK) == 0) {
        if ((rc = chat_family_open(&bf, best, &bff))) {
            chat_family_free(&cf);
            return rq_report(rc);
        }
        cJSON *o = cJSON_CreateObject();
        measure_dataset(&bf, &cf.data, o);
        report_bounds(&bf.im, o, 0);
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "held_out"), *ma = cJSON_GetObjectItemCaseSensitive(o, "max_abs_acc"),
                    *wc = cJSON_GetObjectItemCaseSensitive(o, "worst_case_acc");
        if (!quiet) {
            fprintf(stderr, "chat: best.ckpt: all data int_acc %.4f int_exact %.4f | held out int_acc %.4f int_exact %.4f | overflows %.0f\n",
                    cJSON_GetObjectItemCaseSensitive(o, "int_acc")->valuedouble, cJSON_GetObjectItemCaseSensitive(o, "int_exact")->valuedouble,
                    cJSON_GetObjectItemCaseSensitive(h, "int_acc")->valuedouble, cJSON_GetObjectItemCaseSensitive(h, "int_exact")->valuedouble,
                    cJSON_GetObjectItemCaseSensitive(o, "overflows")->valuedouble);
            for (int l = 0; l < bf.L; l++)
                fprintf(stderr, "chat: layer %d: max |acc| %6.0f on all data, worst case %6.0f over all inputs, shift %d\n", l,
                        cJSON_GetArrayItem(ma, l)->valuedouble, cJSON_GetArrayItem(wc, l)->valuedouble, bf.q.shift[l]);
        }
        cJSON_Delete(o);
        chat_family_free(&bf);
    }
    chat_family_free(&cf);
    return 0;
}

// --- eval ----------------------------------------------------------------------------------------

static const char EVAL_USAGE[] =
    "usage: retroqat eval MODEL.ckpt [--data F] [--json] [--lenient]\n"
    "Trigram chat: float, fake-quant and integer (infer/ kernel) accuracy per character, integer\n"
    "exact-answer rate, overflows and max |accumulator| per layer, on all of F and on the model's\n"
    "held-out queries (the split stored in the checkpoint). F defaults to the training data.\n";

int chat_eval_main(int argc, char **argv) {
    const char *data = NULL, *pos[1];
    int json = 0, lenient = 0, npos = 0;
    const rq_arg opts[] = {{"--data", NULL, ARG_STR, &data, NULL},
                           {"--json", NULL, ARG_FLAG, &json, NULL},
                           {"--lenient", NULL, ARG_FLAG, &lenient, NULL},
                           {NULL, NULL, 0, NULL, NULL}};
    int rc = rq_args_parse(argc, argv, opts, pos, 1, &npos, EVAL_USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (npos != 1) {
        fprintf(stderr, "retroqat: eval needs a MODEL\n%s", EVAL_USAGE);
        return RQ_EINPUT;
    }
    chat_family cf;
    rq_family f;
    if ((rc = chat_family_open(&cf, pos[0], &f))) return rq_report(rc);
    if (!data) data = cf.cfg.data;
    if (!data[0]) {
        chat_family_free(&cf);
        return rq_report(rq_fail(RQ_EINPUT, "%s: no dataset recorded: give --data", pos[0]));
    }
    chat_dataset d;
    if ((rc = load_for_model(&cf, data, lenient, &d))) {
        chat_family_free(&cf);
        return rq_report(rc);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", pos[0]);
    cJSON_AddStringToObject(o, "data", data);
    measure_dataset(&cf, &d, o);
    report_bounds(&cf.im, o, json);
    cJSON_AddNumberToObject(o, "in_shift", cf.q.in_shift);
    cJSON *sh = cJSON_AddArrayToObject(o, "shifts");
    for (int l = 0; l < cf.L; l++) cJSON_AddItemToArray(sh, cJSON_CreateNumber(cf.q.shift[l]));
    if (json) {
        print_json(o);
    } else {
        const char *keys[] = {"examples", "float_acc", "fq_acc", "int_acc", "int_exact", "loss", "overflows", "fq_int_mismatch"};
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "held_out");
        printf("%-16s %12s %12s\n", "", "all", "held out");
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            printf("%-16s %12.4f %12.4f\n", keys[k], cJSON_GetObjectItemCaseSensitive(o, keys[k])->valuedouble,
                   cJSON_GetObjectItemCaseSensitive(h, keys[k])->valuedouble);
        const cJSON *ma = cJSON_GetObjectItemCaseSensitive(o, "max_abs_acc"), *wc = cJSON_GetObjectItemCaseSensitive(o, "worst_case_acc");
        for (int l = 0; l < cf.L; l++)
            printf("layer %d: %4d -> %4d, shift %2d, max |acc| %6.0f, worst case %6.0f\n", l, cf.dims[l], cf.dims[l + 1], cf.q.shift[l],
                   cJSON_GetArrayItem(ma, l)->valuedouble, cJSON_GetArrayItem(wc, l)->valuedouble);
    }
    cJSON_Delete(o);
    chat_data_free(&d);
    chat_family_free(&cf);
    return 0;
}

// --- chat ----------------------------------------------------------------------------------------

static const char CHAT_USAGE[] =
    "usage: retroqat chat MODEL.ckpt [QUERY...]\n"
    "Answer each QUERY (one answer per line), or read queries from stdin at a '> ' prompt.\n"
    "Only the integer kernel (infer/chat_kernel.c) runs: this is what the target computes.\n";

int verb_chat(int argc, char **argv) {
    const char *pos[256];
    int npos = 0;
    const rq_arg opts[] = {{NULL, NULL, 0, NULL, NULL}};
    int rc = rq_args_parse(argc, argv, opts, pos, 256, &npos, CHAT_USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (npos < 1) {
        fprintf(stderr, "retroqat: chat needs a MODEL\n%s", CHAT_USAGE);
        return RQ_EINPUT;
    }
    rqf_file file;
    if ((rc = rqf_open(&file, pos[0], "chat"))) return rq_report(rc);
    rq_reader r;
    chat_imodel m;
    if ((rc = rqf_section(&file, "CIMG", &r)) || (rc = chat_image_parse_at(r.data, r.len, pos[0], (long)r.origin, &m))) {
        rqf_close(&file);
        return rq_report(rc);
    }
    char ans[256];
    if (npos > 1) {
        for (int i = 1; i < npos; i++) {
            chat_generate(&m, pos[i], (int)strlen(pos[i]), ans, sizeof ans);
            printf("%s\n", ans);
        }
    } else {
        int tty = isatty(0);
        char line[1024];
        for (;;) {
            if (tty) fputs("> ", stdout), fflush(stdout);
            if (!fgets(line, sizeof line, stdin)) break;
            size_t n = strlen(line);
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
            if (!n) continue;
            chat_generate(&m, line, (int)n, ans, sizeof ans);
            printf("%s\n", ans);
            fflush(stdout);
        }
        if (tty) putchar('\n');
    }
    rqf_close(&file);
    return 0;
}
