// lm_verbs.c: CLI verbs of the transformer family: generate, train (llama configs), eval.
// (export --target host and run of an integer image are in cli/int_verbs.c.)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "cli/args.h"
#include "cli/verbs.h"
#include "data/textdata.h"
#include "data/tokenizer.h"
#include "model/llama.h"
#include "model/llama_generate.h"
#include "model/llama_train.h"
#include "base/rqfile.h"
#include "qat/lm_eval.h"
#include "qat/model_open.h"
#include "train/llama_family.h"

// ---- generate --------------------------------------------------------------------------------

typedef struct {
    const llama_model *m;
    llama_state s;
} float_stepper;

static float *float_step(void *ctx, int token, int pos) {
    float_stepper *f = ctx;
    return llama_forward(f->m, &f->s, token, pos);
}

static const char GENERATE_USAGE[] =
    "usage: retroqat generate MODEL -z TOKENIZER [-i PROMPT] [-n STEPS] [-t TEMP] [-p TOPP] [-s SEED]\n"
    "Generate text like llama2.c run.c. MODEL is a llama2.c .bin (version 0 or 1) or a llama\n"
    "checkpoint from 'retroqat train'.\n"
    "  -z, --tokenizer PATH  llama2.c tokenizer .bin (e.g. tok512.bin)\n"
    "  -i, --prompt TEXT     prompt (default empty)\n"
    "  -n, --steps N         positions to run including the prompt (0 = seq_len; default 256)\n"
    "  -t, --temperature T   0 = greedy (default 1.0)\n"
    "  -p, --topp P          nucleus sampling mass (default 0.9; 0 or 1: none)\n"
    "  -s, --seed N          xorshift seed; 0 = time (default 0)\n"
    "The text goes to stdout; 'achieved tok/s' to stderr.\n";

int verb_generate(int argc, char **argv) {
    rq_sample_args sa;
    rq_arg opts[RQ_SAMPLE_NOPTS + 1];
    rq_sample_args_init(&sa, opts);
    opts[RQ_SAMPLE_NOPTS] = (rq_arg){NULL, NULL, 0, NULL, NULL};
    const char *pos[1];
    int npos = 0;
    int rc = rq_args_parse(argc, argv, opts, pos, 1, &npos, GENERATE_USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (npos != 1 || !sa.tokenizer) {
        fprintf(stderr, "retroqat: generate needs a MODEL and -z TOKENIZER\n%s", GENERATE_USAGE);
        return RQ_EINPUT;
    }
    rq_sample_args_finish(&sa);

    llama_model m;
    if ((rc = rq_llama_float_open(pos[0], &m))) return rq_report(rc);
    tokenizer tok;
    if ((rc = tokenizer_load(&tok, sa.tokenizer, m.config.vocab_size))) {
        llama_free(&m);
        return rq_report(rc);
    }
    float_stepper fs = {.m = &m};
    llama_state_build(&fs.s, &m.config);
    lm_gen_cfg g = {.prompt = sa.prompt, .steps = sa.steps, .temperature = (float)sa.temp, .topp = (float)sa.topp, .seed = (uint64_t)sa.seed};
    lm_gen_stats st;
    rc = lm_generate(float_step, &fs, m.config.vocab_size, m.config.seq_len, &tok, &g, stdout, &st);
    if (!rc && st.positions > 1 && st.seconds > 0) fprintf(stderr, "achieved tok/s: %f\n", (st.positions - 1) / st.seconds);
    llama_state_free(&fs.s);
    tokenizer_free(&tok);
    llama_free(&m);
    return rc ? rq_report(rc) : 0;
}

// ---- eval ------------------------------------------------------------------------------------

static const char EVAL_USAGE[] =
    "usage: retroqat eval MODEL --text FILE -z TOKENIZER [--window N] [--max-tokens N] [--float-only] [--qat PATH] [--json]\n"
    "Mean cross-entropy (nats/token) of a llama2.c .bin or llama checkpoint on a text file.\n"
    "The text is split into documents (at <|endoftext|>, else at blank lines), each encoded with\n"
    "BOS; the concatenated stream is cut into windows of N+1 tokens overlapping by one (N = the\n"
    "model's seq_len by default), each evaluated from a fresh context; every token after the\n"
    "first is predicted once.\n"
    "  --text FILE        text to score\n"
    "  -z, --tokenizer P  llama2.c tokenizer .bin\n"
    "  --window N         context window (default seq_len)\n"
    "  --max-tokens N     score only the first N tokens of the stream (0 = all)\n"
    "  --float-only       skip the integer columns (qat/lm_eval.h: ptq_loss, int_loss, top1_agree\n"
    "                     and the int4 ones, from the integer kernel on the same windows)\n"
    "  --qat PATH         int_loss from this integer model (a QAT checkpoint or a .rqm image)\n"
    "  --json             print one JSON object\n";

int lm_eval_main(int argc, char **argv) {
    const char *tokpath = NULL, *text = NULL;
    int window = 0, json = 0, float_only = 0;
    const char *qat_path = NULL;
    long max_tokens = 0;
    const rq_arg opts[] = {
        {"--text", NULL, ARG_STR, &text, NULL},
        {"-z", "--tokenizer", ARG_STR, &tokpath, NULL},
        {"--window", NULL, ARG_INT, &window, NULL},
        {"--max-tokens", NULL, ARG_LONG, &max_tokens, NULL},
        {"--json", NULL, ARG_FLAG, &json, NULL},
        {"--float-only", NULL, ARG_FLAG, &float_only, NULL},
        {"--qat", NULL, ARG_STR, &qat_path, NULL},
        {NULL, NULL, 0, NULL, NULL},
    };
    const char *pos[1];
    int npos = 0;
    int rc = rq_args_parse(argc, argv, opts, pos, 1, &npos, EVAL_USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (npos != 1 || !tokpath || !text) {
        fprintf(stderr, "retroqat: eval needs a MODEL, --text FILE and -z TOKENIZER\n%s", EVAL_USAGE);
        return RQ_EINPUT;
    }
    llama_model m;
    // A QAT checkpoint scores its float master weights, and its own integer model as int_loss.
    char kind[9] = {0};
    if (!qat_path && rqf_sniff(pos[0], kind) && strcmp(kind, "llamaq") == 0) qat_path = pos[0];
    if ((rc = rq_llama_float_open(pos[0], &m))) return rq_report(rc);
    if (window <= 0 || window > m.config.seq_len) window = m.config.seq_len;
    tokenizer tok;
    token_stream ts = {0};
    if ((rc = tokenizer_load(&tok, tokpath, m.config.vocab_size)) || (rc = textdata_encode_file(text, &tok, &ts))) {
        llama_free(&m);
        tokenizer_free(&tok);
        return rq_report(rc);
    }
    size_t n = ts.n;
    if (max_tokens > 0 && (size_t)max_tokens < n) n = (size_t)max_tokens;
    size_t targets;
    llama_window_ctx wc;
    llama_window_build(&wc, &m, window);
    double loss = lm_mean_ce(llama_window_fn, &wc, m.config.vocab_size, ts.tokens, n, window, &targets);
    llama_window_free(&wc);
    lmq_eval_result ir;  // the integer columns (issue 6)
    if (!float_only && (rc = lmq_eval_ptq(&m, ts.tokens, n, window, isatty(2), qat_path, &ir))) {
        token_stream_free(&ts);
        tokenizer_free(&tok);
        llama_free(&m);
        return rq_report(rc);
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", pos[0]);
        cJSON_AddStringToObject(o, "text", text);
        cJSON_AddNumberToObject(o, "documents", (double)ts.n_docs);
        cJSON_AddNumberToObject(o, "tokens", (double)targets);
        cJSON_AddNumberToObject(o, "window", window);
        cJSON_AddNumberToObject(o, "float_loss", loss);
        if (!float_only) lmq_eval_json(o, &ir);
        char *s = cJSON_PrintUnformatted(o);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else {
        printf("%s on %s: %zu documents, %zu tokens scored, window %d\n", pos[0], text, ts.n_docs, targets, window);
        printf("float loss %.4f nats/token (perplexity %.3f)\n", loss, exp(loss));
        if (!float_only) lmq_eval_print(stdout, &ir);
    }
    token_stream_free(&ts);
    tokenizer_free(&tok);
    llama_free(&m);
    return 0;
}

// ---- train -----------------------------------------------------------------------------------

int lm_train_main(int argc, char **argv) { return llama_family_train_main(argc, argv); }

