#include "base/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

static int usage_error(const char *usage, const char *fmt, const char *arg) {
    fprintf(stderr, "retroqat: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return RQ_EINPUT;
}

static int parse_value(const rq_arg *o, const char *v, const char *usage) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case ARG_INT: {
        long x = strtol(v, &end, 10);
        if (*v == 0 || *end || errno || x < -2147483647L || x > 2147483647L)
            return usage_error(usage, "expected an integer, got '%s'", v);
        *(int *)o->dst = (int)x;
        break;
    }
    case ARG_LONG: {
        long x = strtol(v, &end, 10);
        if (*v == 0 || *end || errno) return usage_error(usage, "expected an integer, got '%s'", v);
        *(long *)o->dst = x;
        break;
    }
    case ARG_NUM: {
        double x = strtod(v, &end);
        if (*v == 0 || *end || errno) return usage_error(usage, "expected a number, got '%s'", v);
        *(double *)o->dst = x;
        break;
    }
    case ARG_STR:
        *(const char **)o->dst = v;
        break;
    case ARG_FLAG:
        break;
    }
    return 0;
}

int rq_args_parse(int argc, char **argv, const rq_arg *opts, const char **pos, int maxpos, int *npos, const char *usage) {
    *npos = 0;
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] != 0 && !(a[1] >= '0' && a[1] <= '9')) {
            if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
                fputs(usage, stdout);
                return RQ_ARGS_HELP;
            }
            const char *eq = strchr(a, '=');
            size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
            const rq_arg *o = opts;
            for (; o->name; o++) {
                if ((strlen(o->name) == nlen && strncmp(o->name, a, nlen) == 0) ||
                    (o->alias && strlen(o->alias) == nlen && strncmp(o->alias, a, nlen) == 0))
                    break;
            }
            if (!o->name) return usage_error(usage, "unknown option '%s'", a);
            if (o->seen) *o->seen = 1;
            if (o->kind == ARG_FLAG) {
                if (eq) return usage_error(usage, "option '%s' takes no value", a);
                *(int *)o->dst = 1;
                continue;
            }
            const char *v;
            if (eq) v = eq + 1;
            else if (i + 1 < argc) v = argv[++i];
            else return usage_error(usage, "option '%s' needs a value", a);
            int rc = parse_value(o, v, usage);
            if (rc) return rc;
            continue;
        }
        if (*npos >= maxpos) return usage_error(usage, "unexpected argument '%s'", a);
        pos[(*npos)++] = a;
    }
    return 0;
}

void rq_sample_args_init(rq_sample_args *a, rq_arg *opts) {
    *a = (rq_sample_args){.tokenizer = NULL, .prompt = "", .steps = 256, .temp = 1.0, .topp = 0.9, .seed = 0};
    const rq_arg o[RQ_SAMPLE_NOPTS] = {
        {"-z", "--tokenizer", ARG_STR, &a->tokenizer, NULL},
        {"-i", "--prompt", ARG_STR, &a->prompt, NULL},
        {"-n", "--steps", ARG_INT, &a->steps, NULL},
        {"-t", "--temperature", ARG_NUM, &a->temp, NULL},
        {"-p", "--topp", ARG_NUM, &a->topp, NULL},
        {"-s", "--seed", ARG_LONG, &a->seed, NULL},
    };
    memcpy(opts, o, sizeof o);
}

void rq_sample_args_finish(rq_sample_args *a) {
    if (a->temp < 0) a->temp = 0;
    if (a->topp < 0 || a->topp > 1) a->topp = 0.9;
    if (a->seed <= 0) a->seed = (long)time(NULL);
}
