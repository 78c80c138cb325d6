// lm_intgen.c: integer-only generation (see lm_intgen.h).
#include "qat/lm_intgen.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/binio.h"
#include "base/err.h"
#include "qat/image_open.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int lm_int_generate(const lm_model *m, const tokenizer *tok, const lm_intgen_cfg *cfg, FILE *out, int *tokens, double *seconds) {
    const lm_config *c = &m->c;
    int steps = cfg->steps <= 0 || cfg->steps > c->seq_len ? c->seq_len : cfg->steps;
    const char *prompt = cfg->prompt ? cfg->prompt : "";
    int *ptoks = rq_malloc((strlen(prompt) + 3) * sizeof(int));
    int np = tokenizer_encode(tok, prompt, 1, 0, ptoks);
    if (np > c->seq_len) {
        free(ptoks);
        rq_fail(RQ_EINPUT, "the prompt is %d tokens, the model's context is %d", np, c->seq_len);
        return -1;
    }
    void *mem = rq_calloc(1, lm_state_bytes(c));
    lm_state s;
    lm_state_init(&s, c, mem);
    lm_sampler smp;
    lm_sampler_init(&smp, cfg->temp_q8, cfg->topp_q15, cfg->seed, c->logit_frac);
    uint32_t *e = rq_malloc(c->vocab_size * sizeof(uint32_t));
    int16_t *idx = rq_malloc(c->vocab_size * sizeof(int16_t));

    int token = ptoks[0], pos = 0, nt = 0;
    double start = 0;
    if (tokens) tokens[nt] = token;
    nt++;
    while (pos < steps) {
        int32_t *logits = lm_forward(m, &s, token, pos);
        int next = pos < np - 1 ? ptoks[pos + 1]
                   : cfg->temp_q8 == 0 ? lm_argmax(logits, c->vocab_size)
                                       : lm_sample(&smp, logits, c->vocab_size, e, idx);
        pos++;
        if (next == TOK_BOS) break;
        if (out) {
            tokenizer_print_piece(out, tokenizer_decode(tok, token, next));
            fflush(out);
        }
        if (tokens) tokens[nt] = next;
        nt++;
        token = next;
        if (start == 0) start = now_seconds();
    }
    if (out) {
        fprintf(out, "\n");
        fflush(out);
    }
    if (seconds) *seconds = start ? now_seconds() - start : 0;
    free(e);
    free(idx);
    free(mem);
    free(ptoks);
    return nt;
}

// Read an image file into a 4-byte aligned buffer and load it (the model points into *buf).
int lm_image_read_file(const char *path, uint8_t **buf, lm_model *m) {
    uint8_t *data;
    size_t len;
    int rc = rq_read_file(path, &data, &len);
    if (rc) return rc;
    *buf = data;  // malloc'd: aligned for any type
    rc = lm_image_open(data, len, path, m);
    if (rc) {
        free(data);
        *buf = NULL;
    }
    return rc;
}
