// main.c: the one retroqat binary. Verbs live in their own files (verbs.h); this file only
// names them, prints help, and routes the verbs that serve both model families.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/config.h"
#include "base/err.h"
#include "base/rqfile.h"
#include "cli/verbs.h"

#define RETROQAT_VERSION "0.1.0"

static int verb_help(int argc, char **argv);
static int verb_version(int argc, char **argv);
static int verb_train(int argc, char **argv);
static int verb_eval(int argc, char **argv);

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} verb;

static const verb VERBS[] = {
    {"train", verb_train, "train or fine-tune a model from a JSON config (chat or llama)"},
    {"eval", verb_eval, "measure a model: float and integer accuracy / loss"},
    {"chat", verb_chat, "talk to a trigram chat model through the integer kernel"},
    {"data-stats", verb_data_stats, "statistics of a query|response dataset"},
    {"generate", verb_generate, "generate text with a llama2.c-format model (like run.c)"},
    {"export", verb_export, "export a model for a target (`retroqat targets` lists them)"},
    {"run", verb_run, "run an exported model in its target's emulator (default: host)"},
    {"targets", verb_targets, "list the export targets, their CPUs and whether their tools are installed"},
    {"help", verb_help, "list verbs, or 'help VERB' for one"},
    {"version", verb_version, "print the version"},
};
#define N_VERBS (int)(sizeof VERBS / sizeof VERBS[0])

static void print_usage(FILE *f) {
    fprintf(f, "usage: retroqat VERB [ARGS...]   (retroqat VERB --help for details)\n\nverbs:\n");
    for (int i = 0; i < N_VERBS; i++) fprintf(f, "  %-11s %s\n", VERBS[i].name, VERBS[i].summary);
}

static int verb_help(int argc, char **argv) {
    if (argc >= 1) {
        for (int i = 0; i < N_VERBS; i++) {
            if (strcmp(VERBS[i].name, argv[0]) == 0) {
                char *h[] = {"--help", NULL};
                return VERBS[i].fn(1, h);
            }
        }
        fprintf(stderr, "retroqat: unknown verb '%s'\n", argv[0]);
        print_usage(stderr);
        return RQ_EINPUT;
    }
    print_usage(stdout);
    return 0;
}

static int verb_version(int argc, char **argv) {
    (void)argc, (void)argv;
    printf("retroqat %s\n", RETROQAT_VERSION);
    return 0;
}

static int is_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    return 0;
}

// The first argument that is not a flag or a flag's value (flags here all take values except
// the boolean ones each family knows; the model/config path is always given first).
static const char *first_positional(int argc, char **argv) { return argc > 0 && argv[0][0] != '-' ? argv[0] : NULL; }

// train CONFIG.json: the config's "model" key picks the family.
static int verb_train(int argc, char **argv) {
    const char *cfg = first_positional(argc, argv);
    if (!cfg || is_help(argc, argv)) {
        if (is_help(argc, argv)) {
            printf("usage: retroqat train CONFIG.json [FLAGS]\n"
                   "The config's \"model\" key selects the family: \"chat\" (trigram chat, 2-bit QAT)\n"
                   "or \"llama\" (llama2.c transformer; with a \"qat\" section, or \"llama-int8\", QAT for\n"
                   "the integer kernel). Family flags:\n\n");
            char *h[] = {"--help", NULL};
            chat_train_main(1, h);
            printf("\n");
            lm_train_main(1, h);
            return 0;
        }
        fprintf(stderr, "retroqat: train needs a CONFIG.json\nusage: retroqat train CONFIG.json [FLAGS]  (retroqat train --help)\n");
        return RQ_EINPUT;
    }
    cJSON *root;
    int rc = cfg_parse_file(cfg, &root);
    if (rc) return rq_report(rc);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
    char family[16] = "chat";
    if (m && !cJSON_IsString(m)) {
        cJSON_Delete(root);
        return rq_report(rq_fail(RQ_EINPUT, "%s: $.model: expected a string (\"chat\" or \"llama\")", cfg));
    }
    if (m) snprintf(family, sizeof family, "%s", m->valuestring);
    cJSON_Delete(root);
    if (strcmp(family, "chat") == 0) return chat_train_main(argc, argv);
    if (strcmp(family, "llama") == 0 || strcmp(family, "llama-int8") == 0) return lm_train_main(argc, argv);
    return rq_report(rq_fail(RQ_EINPUT, "%s: $.model: unknown model family '%s' (expected \"chat\", \"llama\" or \"llama-int8\")", cfg, family));
}

// eval MODEL: chat checkpoints go to the chat family, everything else (llama2.c .bin,
// llama checkpoints, integer images) to the transformer family.
static int verb_eval(int argc, char **argv) {
    const char *model = first_positional(argc, argv);
    char kind[9] = {0};
    if (model && rqf_sniff(model, kind) && strcmp(kind, "chat") == 0) return chat_eval_main(argc, argv);
    if (!model && !is_help(argc, argv)) {
        fprintf(stderr, "retroqat: eval needs a MODEL\nusage: retroqat eval MODEL [FLAGS]  (retroqat eval --help)\n");
        return RQ_EINPUT;
    }
    if (is_help(argc, argv)) {
        char *h[] = {"--help", NULL};
        chat_eval_main(1, h);
        printf("\n");
        return lm_eval_main(1, h);
    }
    return lm_eval_main(argc, argv);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return RQ_EINPUT;
    }
    const char *v = argv[1];
    if (strcmp(v, "--help") == 0 || strcmp(v, "-h") == 0) return verb_help(0, NULL);
    if (strcmp(v, "--version") == 0) return verb_version(0, NULL);
    for (int i = 0; i < N_VERBS; i++)
        if (strcmp(VERBS[i].name, v) == 0) return VERBS[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "retroqat: unknown verb '%s'\n", v);
    print_usage(stderr);
    return RQ_EINPUT;
}
