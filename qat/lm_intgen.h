// lm_intgen.h: run.c's generation loop on the integer kernel (host side: tokenizer and printing
// here, every number that decides a token comes from infer/lm_kernel + infer/lm_ops).
#ifndef RQ_LM_INTGEN_H
#define RQ_LM_INTGEN_H

#include <stdio.h>

#include "data/tokenizer.h"
#include "infer/lm_kernel.h"

typedef struct {
    const char *prompt;   // "" for none
    int steps;            // positions including the prompt; <= 0 or > seq_len: seq_len
    uint32_t temp_q8;     // round(256 * temperature); 0 = greedy (integer argmax)
    uint32_t topp_q15;    // round(32768 * topp); >= 32768 = no nucleus cut
    uint32_t seed;        // xorshift32 seed (lm_rng_seed)
} lm_intgen_cfg;

// Encode the prompt with BOS, feed it, then sample until BOS or `steps` positions, printing each
// decoded piece to out (may be NULL) like run.c. The tokens of every position (the prompt's
// included, starting with BOS) go to tokens (capacity seq_len + 1) when not NULL; returns their
// count, or -1 (error recorded) when the prompt does not fit. *seconds gets the time from the
// first printed token to the end.
int lm_int_generate(const lm_model *m, const tokenizer *tok, const lm_intgen_cfg *cfg, FILE *out, int *tokens, double *seconds);

// The same, and with crc != NULL (capacity seq_len) the CRC-32 of every step's logits
// (infer/lm_gen.h lm_logits_crc) in order, their count in *n_crc.
int lm_int_generate_crc(const lm_model *m, const tokenizer *tok, const lm_intgen_cfg *cfg, FILE *out, int *tokens, double *seconds,
                        uint32_t *crc, int *n_crc);

// Read an image file into a malloc'd buffer and load it (m points into *buf; free(*buf) after use).
int lm_image_read_file(const char *path, uint8_t **buf, lm_model *m);

#endif
