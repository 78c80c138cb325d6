// tok_image.c: the target tokenizer image (tok_image.h, layout in infer/lm_tok.h).
#include "export/tok_image.h"

#include <stdlib.h>
#include <string.h>

#include "base/crc32.h"
#include "base/endian.h"
#include "base/err.h"
#include "data/tokenizer.h"
#include "infer/lm_tok.h"

static void put32(uint8_t *p, uint32_t v, int be) { be ? rq_wr_u32be(p, v) : rq_wr_u32le(p, v); }
static void put16(uint8_t *p, uint16_t v, int be) { be ? rq_wr_u16be(p, v) : rq_wr_u16le(p, v); }

int tok_image_build(const char *path, int vocab_size, int be, rq_buf *out) {
    tokenizer t;
    int rc = tokenizer_load(&t, path, vocab_size);
    if (rc) return rc;
    if (vocab_size > 32767) {
        tokenizer_free(&t);
        return rq_fail(RQ_EINPUT, "%s: %d tokens: the target tokenizer holds at most 32767", path, vocab_size);
    }
    size_t recs = 0;
    int maxlen = 1;
    for (int i = 0; i < vocab_size; i++) {
        uint32_t bits;
        memcpy(&bits, &t.scores[i], 4);
        if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu)) {
            tokenizer_free(&t);
            return rq_fail(RQ_EINPUT, "%s: token %d has a NaN score", path, i);
        }
        if (t.vocab_len[i] > 255) {
            tokenizer_free(&t);
            return rq_fail(RQ_EINPUT, "%s: token %d is %d bytes long (the target tokenizer holds at most 255)", path, i, t.vocab_len[i]);
        }
        if (t.vocab_len[i] > maxlen) maxlen = t.vocab_len[i];
        recs += 5 + (size_t)t.vocab_len[i];
    }
    uint32_t tab = 32, sorted = tab + 4u * (uint32_t)vocab_size, data = sorted + 2u * (uint32_t)vocab_size;
    data = (data + 3) & ~3u;
    size_t total = data + recs;
    uint8_t *b = calloc(1, total);
    if (!b) {
        tokenizer_free(&t);
        return rq_fail(RQ_ERUNTIME, "out of memory");
    }
    memcpy(b, LM_TOK_MAGIC, 4);
    b[4] = (uint8_t)(be ? 1 : 0), b[5] = LM_TOK_VERSION;
    put32(b + 8, (uint32_t)total, be);
    put32(b + 16, (uint32_t)vocab_size, be), put32(b + 20, (uint32_t)maxlen, be);
    put32(b + 24, tab, be), put32(b + 28, sorted, be);
    uint32_t at = data;
    for (int i = 0; i < vocab_size; i++) {
        uint32_t bits;
        memcpy(&bits, &t.scores[i], 4);
        put32(b + tab + 4u * (uint32_t)i, at, be);
        put32(b + at, (uint32_t)lm_tok_key(bits), be);
        b[at + 4] = (uint8_t)t.vocab_len[i];
        memcpy(b + at + 5, t.vocab[i], (size_t)t.vocab_len[i]);
        at += 5u + (uint32_t)t.vocab_len[i];
    }
    for (int k = 0; k < vocab_size; k++) put16(b + sorted + 2u * (uint32_t)k, (uint16_t)t.sorted[k], be);
    put32(b + 12, crc32_update(0, b + 16, total - 16), be);
    rq_buf_put(out, b, total);
    free(b);
    tokenizer_free(&t);
    return 0;
}
