// lm_gen.c: run.c's generation loop, one position per call (lm_gen.h).
#include "infer/lm_gen.h"

#include "base/crc32.h"

void lm_gen_init(lm_gen *g, const lm_model *m, lm_state *s, const int *prompt, int np, int steps, uint32_t temp_q8,
                 uint32_t topp_q15, uint32_t seed, uint32_t *e, int16_t *idx) {
    const lm_config *c = &m->c;
    g->m = m, g->s = s;
    g->prompt = prompt, g->np = np;
    g->steps = steps <= 0 || steps > c->seq_len ? c->seq_len : steps;
    g->pos = 0;
    g->prev = g->token = prompt[0];
    g->temp_q8 = temp_q8;
    g->e = e, g->idx = idx;
    g->logits = s->logits;
    lm_sampler_init(&g->smp, temp_q8, topp_q15, seed, c->logit_frac);
}

int lm_gen_next(lm_gen *g) {
    const lm_config *c = &g->m->c;
    if (g->pos >= g->steps) return -1;
    int32_t *logits = lm_forward(g->m, g->s, g->token, g->pos);
    int next = g->pos < g->np - 1 ? g->prompt[g->pos + 1]
               : g->temp_q8 == 0  ? lm_argmax(logits, c->vocab_size)
                                  : lm_sample(&g->smp, logits, c->vocab_size, g->e, g->idx);
    g->pos++;
    g->logits = logits;
    if (next == 1) return -1;  // BOS ends the text, as in run.c
    g->prev = g->token;
    g->token = next;
    return next;
}

uint32_t lm_logits_crc(const int32_t *v, int n) {
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        uint32_t u = (uint32_t)v[i];
        uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
        crc = crc32_update(crc, b, 4);
    }
    return crc;
}

uint32_t chat_logits_crc(const int16_t *v, int n) {
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        uint16_t u = (uint16_t)v[i];
        uint8_t b[2] = {(uint8_t)u, (uint8_t)(u >> 8)};
        crc = crc32_update(crc, b, 2);
    }
    return crc;
}
