// target.h: one interface for every machine a model can be exported to and run on.
//
// A target is one folder export/NAME/ (its exporter, runtime sources for that CPU, emulator
// runner, make fragment NAME.mk, README for real hardware) and one line in the registry
// (export/targets.c). Nothing above export/ names a target: `retroqat export`, `run` and
// `targets` walk the registry, and the conformance test (tests/test_targets.c) loops over it.
//
// The flow is the same everywhere:
//   rq_model_open (qat/model_open.h)   any model file -> the integer model of its family, once
//   t->export_fn(model, opts)          -> the target's files in opts->out (a folder or a file)
//   t->run_fn(artefact, opts, result)  run them in the target's emulator: the program's console
//                                      output goes to opts->out, counts and logits to result
// A target's program prints exactly what the host runtime prints for the same model and
// arguments (`retroqat run MODEL.rqm ...` for the transformer, `retroqat chat` for the chat
// model). With opts->debug_logits it also reports, for every forward step in order, the CRC-32
// (base/crc32.h) of that step's logits vector as little-endian bytes (int32 for the transformer,
// int16 for the chat model); the runner collects them in result->logit_crc, so tests compare the
// target with infer/ step by step, not only on text.
#ifndef RQ_EXPORT_TARGET_H
#define RQ_EXPORT_TARGET_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "qat/model_open.h"

// A flag of a target's own (declared by the target; cli/ parses it generically).
typedef struct {
    const char *name;   // "--layout"
    const char *value;  // placeholder of its value in the help ("L"), NULL for a boolean flag
    const char *help;   // one line
} rq_tflag;

// Options of an export. The flags every target shares are fields; the target's own flags are
// given in the order of its export_flags table: flag[i] is the value of export_flags[i] as typed
// ("1" for a boolean flag that is present), NULL when absent. rq_tflag_get finds one by name.
typedef struct {
    const char *out;         // -o: the file or folder to write (the target says which)
    const char *tokenizer;   // -z: llama2.c tokenizer .bin (transformer family; targets that
                             //     print text convert it for their byte order)
    int json;                // --json: print the summary as one JSON object on stdout
    const char *const *flag; // the target's own flags (see above); never NULL
} rq_export_opts;

// Options of a run.
typedef struct {
    // transformer family: llama2.c run.c's flags (base/args.h rq_sample_args, run.c's rules applied)
    const char *prompt;      // -i ("" for none)
    int steps;               // -n positions including the prompt (<= 0 or > seq_len: seq_len)
    double temp, topp;       // -t, -p
    long seed;               // -s
    const char *tokenizer;   // -z, when the artefact does not carry its own
    // chat family (and targets that pass arguments to their program, like CP/M): the positional
    // arguments after the artefact, untouched
    int nargs;
    char **args;
    int stats;               // --stats: counts to stderr at the end
    int json;                // --json: the counts as one JSON object on stderr
    int debug_logits;        // collect the CRC-32 of every step's logits in result->logit_crc
    double timeout;          // --timeout SECONDS of wall clock (0: the target's default); exit 124
    FILE *out;               // where the program's console output goes (stdout in the CLI)
    const char *const *flag; // the target's own run flags, as in rq_export_opts
} rq_run_opts;

// What a run measured.
typedef struct {
    int exit_code;           // the target program's exit code (124: a time or step limit hit)
    const char *unit;        // what count counts: "insns", "cycles" or "tstates"
    uint64_t count;          // executed instructions / cycles / T-states of the whole run
    uint64_t tokens;         // tokens generated (transformer) or characters printed (chat)
    int n_crc;               // with debug_logits: one CRC-32 per forward step, in order
    uint32_t *logit_crc;     // malloc'd (rq_run_result_free)
    cJSON *stats;            // the target's own figures (regions, streamed bytes, ...), owned; the
                             // CLI prints them after the common ones under --stats / --json
} rq_run_result;
void rq_run_result_free(rq_run_result *r);

enum { RQ_TARGET_ARTEFACT_DIR = 0, RQ_TARGET_ARTEFACT_FILE = 1 };

// The transformer layer weights a target's kernels take (rq_target.lm_weights).
enum {
    RQ_LMW_8 = 1 << 0,        // int8
    RQ_LMW_4 = 1 << 1,        // int4
    RQ_LMW_2 = 1 << 2,        // 2-bit
    RQ_LMW_MIXED = 1 << 3,    // different widths per matrix kind
    RQ_LMW_MIDRISE = 1 << 4,  // the midrise grids (lm_config.mrise)
    RQ_LMW_ALL = 31,          // every grid of the contract: the targets that build infer/'s C kernels
};

typedef struct {
    const char *name;        // "cpm": the --target value
    const char *cpu;         // "Zilog Z80"
    const char *machine;     // "CP/M 2.2, 64 KB"
    long clock_hz;           // the machine's clock (for seconds per token in summaries)
    int families;            // RQ_FAM_CHAT | RQ_FAM_LM: the model families it accepts
    int lm_weights;          // RQ_LMW_*: the transformer weight grids its kernels take (export
                             // refuses the others with rq_target_lm_check's message)
    int artefact;            // RQ_TARGET_ARTEFACT_*: -o names a folder or a single file
    const char *artefacts;   // what export writes, for `retroqat targets` ("CHAT.COM [+ CHAT.BIN]")
    const char *emulator;    // what `run` runs it in ("bundled CP/M 2.2 on libz80ex")
    const char *summary;     // one line for `retroqat targets` and the help
    const rq_tflag *export_flags, *run_flags;  // the target's own flags, {NULL} terminated (or NULL)
    // Programs the target needs on PATH to export (toolchain) and to run (emulator), NULL
    // terminated (or NULL: none). `retroqat targets` reports which are installed; tests skip a
    // target whose tools are absent only outside CI.
    const char *const *export_tools, *const *run_tools;
    // Run: positional arguments after the artefact are the program's (CP/M), so flags after the
    // artefact are passed to it rather than parsed.
    int args_after_artefact;
    // The program prints letters in upper case (CP/M's terminals): its text is the host's after
    // chat_upper (infer/chat_encode.h). 0: byte-identical text.
    int upper_case;
    // Write the target's files for m (its family is one of `families`). 0, RQ_EINPUT (the model
    // does not fit or does not suit the target: the message says why, with the shortfall in
    // bytes when it is memory) or RQ_ERUNTIME (a write or a tool failed).
    int (*export_fn)(const rq_model *m, const rq_export_opts *o);
    // Run an artefact written by export_fn. Returns 0 when the run happened (the program's own
    // exit code is in r->exit_code), RQ_EINPUT for a bad artefact or flags, RQ_ERUNTIME when the
    // emulator could not be started.
    int (*run_fn)(const char *artefact, const rq_run_opts *o, rq_run_result *r);
    // Optional: print r->stats the target's own way under --stats without --json (after the
    // CLI's common line); NULL: the CLI prints each figure as "NAME: KEY VALUE".
    void (*stats_text)(const rq_run_result *r, FILE *f);
} rq_target;

// The registry (export/targets.c): every target, NULL terminated, in the order `targets` lists.
extern const rq_target *const rq_targets[];
const rq_target *rq_target_find(const char *name);
// 0 when t's kernels take the layer weights of c (t->lm_weights), else RQ_EINPUT with a message
// naming the target, what the model has and what the target takes.
int rq_target_lm_check(const rq_target *t, const lm_config *c);
// 1 when every program of tools (NULL-terminated; NULL: none) is found on PATH.
int rq_tools_present(const char *const *tools);
// The value of a target's own flag by name ("--layout"), NULL when absent or unknown.
const char *rq_tflag_get(const rq_tflag *flags, const char *const *values, const char *name);

#endif
