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

#endif
