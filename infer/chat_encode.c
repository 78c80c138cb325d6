// chat_encode.c: the trigram/context hash encoder (see chat_encode.h for the definition).
#include "infer/chat_encode.h"

#include <string.h>

uint16_t chat_hash(uint16_t h, const uint8_t *s, int n) {
    for (int i = 0; i < n; i++) h = (uint16_t)(h * 31u + s[i]);
    return h;
}

int chat_encode_query(const chat_enc_cfg *c, const char *q, int qlen, uint8_t *counts) {
    uint8_t p[CHAT_MAX_QUERY + 2];
    if (qlen > c->max_query) qlen = c->max_query;
    p[0] = ' ';
    for (int i = 0; i < qlen; i++) p[i + 1] = chat_lower((uint8_t)q[i]);
    p[qlen + 1] = ' ';
    memset(counts, 0, (size_t)c->q_buckets);
    for (int t = 0; t < qlen; t++) counts[chat_hash(0, p + t, 3) & (c->q_buckets - 1)]++;
    return qlen;
}

void chat_encode_context(const chat_enc_cfg *c, const uint8_t *ctx, uint8_t *counts) {
    memset(counts, 0, (size_t)c->k_buckets);
    for (int p = 0; p < c->context; p++)
        for (int m = 1; m <= 3 && p + m <= c->context; m++)
            counts[chat_hash((uint16_t)(7 * p), ctx + p, m) & (c->k_buckets - 1)]++;
}

void chat_context_reset(const chat_enc_cfg *c, uint8_t *ctx) { memset(ctx, ' ', (size_t)c->context); }

void chat_context_push(const chat_enc_cfg *c, uint8_t *ctx, uint8_t ch) {
    memmove(ctx, ctx + 1, (size_t)c->context - 1);
    ctx[c->context - 1] = chat_lower(ch);
}

static int pow2(int x) { return x > 0 && (x & (x - 1)) == 0; }

int chat_enc_check(const chat_enc_cfg *c) {
    if (!pow2(c->q_buckets) || c->q_buckets > CHAT_MAX_BUCKETS) return 1;
    if (!pow2(c->k_buckets) || c->k_buckets > CHAT_MAX_BUCKETS) return 1;
    if (c->context < 3 || c->context > CHAT_MAX_CONTEXT) return 1;
    if (c->max_query < 1 || c->max_query > CHAT_MAX_QUERY) return 1;
    return 0;
}
