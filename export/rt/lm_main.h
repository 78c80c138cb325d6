// lm_main.h: the pieces of the transformer program (export/rt/lm_main.c) that a target with its
// own way of opening the model reuses (the PS2 streams it from the disc, export/ps2/cpu/ps2_lm.c):
// the command line of rt.h, and generation over an opened model, printed as `retroqat run` does.
#ifndef RQ_EXPORT_RT_LM_MAIN_H
#define RQ_EXPORT_RT_LM_MAIN_H

#include "infer/lm_gen.h"
#include "infer/lm_tok.h"

// PROG [-m MODEL] [-k TOK] [-i PROMPT] [-n STEPS] [-T TEMP_Q8] [-P TOPP_Q15] [-s SEED] [-d] [-X]
typedef struct {
    const char *model, *tok, *prompt;
    long steps, temp, topp, seed;  // run.c's defaults: 256 steps, t 1.0 (256), p 0.9 (29491), seed 1
    int debug;                     // -d: "#logits STEP CRC" on fd 2 after every forward
    int own;                       // the target's own switch (-X for own_flag 'X') was given
} rt_lm_args;

// Parses argv into a (defaults first; -m and -k default to default_model and default_tok).
// own_flag: the letter of a switch the target adds (0: none). Returns 0, or prints the usage and returns exit code 2.
int rt_lm_parse(int argc, char **argv, rt_lm_args *a, const char *default_model, const char *default_tok, char own_flag);

// What generation needs besides the model, carved from the arena by rt_lm_prepare.
typedef struct {
    lm_tok tok;
    lm_state s;
    int *ptoks;
    void *scratch;
    uint32_t *ex;
    int16_t *idx;
} rt_lm_run;

// Loads the tokenizer image a->tok and takes the state, prompt and sampler buffers for model c
// from the arena. Returns 0, or prints the error and returns the exit code (2 bad file, 1 arena).
int rt_lm_prepare(rt_lm_run *r, const lm_config *c, const rt_lm_args *a);
// Encodes the prompt, runs infer/lm_gen's loop and prints the pieces then "\n" (and the logit
// CRCs with -d). *forwards (may be NULL) counts the forwards. Returns 0 or exit code 2.
int rt_lm_generate(rt_lm_run *r, const lm_model *m, const rt_lm_args *a, uint32_t *forwards);

#endif
