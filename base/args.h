// args.h: flag parsing shared by every verb.
//
// A verb declares its flags as a table; rq_args_parse fills the destinations, collects positional
// arguments, and on an unknown flag, a missing value or a malformed number prints the message and
// the verb's usage to stderr and returns RQ_EINPUT (exit 2). "--help"/"-h" prints the usage to
// stdout and returns RQ_ARGS_HELP (the verb then exits 0).
// Accepted spellings: "--name value", "--name=value", and short names like "-n 5".
#ifndef RQ_ARGS_H
#define RQ_ARGS_H

enum { RQ_ARGS_HELP = -1 };

typedef enum {
    ARG_FLAG,  // int *dst = 1 when present, takes no value
    ARG_INT,   // int *dst
    ARG_LONG,  // long *dst
    ARG_NUM,   // double *dst
    ARG_STR,   // const char **dst (points into argv)
} rq_arg_kind;

typedef struct {
    const char *name;   // "--epochs" or "-n"
    const char *alias;  // another spelling, or NULL
    rq_arg_kind kind;
    void *dst;
    int *seen;          // optional: set to 1 when the flag was given
} rq_arg;

// usage: the verb's full help text (first line "usage: retroqat VERB ...").
// pos/npos: positional arguments (at most maxpos; more is a usage error).
// opts is terminated by an entry with name NULL.
int rq_args_parse(int argc, char **argv, const rq_arg *opts, const char **pos, int maxpos, int *npos, const char *usage);

// The sampling flags of generate and run (llama2.c run.c's: -z -i -n -t -p -s) and run.c's rules
// for their values: a negative temperature is 0, a top-p outside [0, 1] is 0.9, a seed <= 0 is
// the current time. Top-p 0 or 1 means no nucleus cut (sampling from the whole distribution).
typedef struct {
    const char *tokenizer, *prompt;
    int steps;
    double temp, topp;
    long seed;
} rq_sample_args;
#define RQ_SAMPLE_NOPTS 6
// Defaults (no tokenizer, prompt "", 256 steps, temperature 1, top-p 0.9, seed 0) and the six flags
// written into opts[0 .. RQ_SAMPLE_NOPTS-1], pointing into a.
void rq_sample_args_init(rq_sample_args *a, rq_arg *opts);
// Apply run.c's rules after parsing.
void rq_sample_args_finish(rq_sample_args *a);

#endif
