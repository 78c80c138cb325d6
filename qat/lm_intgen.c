// lm_intgen.c: integer-only generation (see lm_intgen.h).
#include "qat/lm_intgen.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/binio.h"
#include "base/err.h"
#include "infer/lm_gen.h"
#include "qat/image_open.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int lm_int_generate(const lm_model *m, const tokenizer *tok, const lm_intgen_cfg *cfg, FILE *out, int *tokens, double *seconds) {
    return lm_int_generate_crc(m, tok, cfg, out, tokens, seconds, NULL, NULL);
}

int lm_int_generate_crc(const lm_model *m, const tokenizer *tok, const lm_intgen_cfg *cfg, FILE *out, int *tokens, double *seconds,
                        uint32_t *crc, int *n_crc) {
    const lm_config *c = &m->c;
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
    uint32_t *e = rq_malloc(c->vocab_size * sizeof(uint32_t));
    int16_t *idx = rq_malloc(c->vocab_size * sizeof(int16_t));
    lm_gen g;
    lm_gen_init(&g, m, &s, ptoks, np, cfg->steps, cfg->temp_q8, cfg->topp_q15, cfg->seed, e, idx);

    int nt = 0, nc = 0;
    double start = 0;
    if (tokens) tokens[nt] = ptoks[0];
    nt++;
    for (;;) {
        int before = g.pos, next = lm_gen_next(&g);
        if (g.pos > before && crc) crc[nc++] = lm_logits_crc(g.logits, c->vocab_size);
        if (next < 0) break;
        if (out) {
            tokenizer_print_piece(out, tokenizer_decode(tok, g.prev, next));
            fflush(out);
        }
        if (tokens) tokens[nt] = next;
        nt++;
        if (start == 0) start = now_seconds();
    }
    if (out) {
        fprintf(out, "\n");
        fflush(out);
    }
    if (n_crc) *n_crc = nc;
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
