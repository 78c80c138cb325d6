// lm_tok.c: the target tokenizer image, read in place (lm_tok.h). Encoding and decoding follow
// data/tokenizer.c (run.c's rules) step for step; tests/test_lm_tok.c checks them against it.
#include "infer/lm_tok.h"

#include <string.h>

#include "base/crc32.h"
#include "base/endian.h"

static uint32_t rd32(const lm_tok *t, uint32_t off) { return t->be ? rq_rd_u32be(t->b + off) : rq_rd_u32le(t->b + off); }
static uint32_t rd16(const lm_tok *t, uint32_t off) { return t->be ? rq_rd_u16be(t->b + off) : rq_rd_u16le(t->b + off); }

int32_t lm_tok_key(uint32_t bits) {
    if (bits == 0x80000000u) bits = 0;  // -0 == +0
    return (bits & 0x80000000u) ? (int32_t)(bits ^ 0x7FFFFFFFu) : (int32_t)bits;
}

static uint32_t rec(const lm_tok *t, int id) { return rd32(t, t->tab + 4u * (uint32_t)id); }

const uint8_t *lm_tok_piece(const lm_tok *t, int id, int *len) {
    uint32_t r = rec(t, id);
    *len = t->b[r + 4];
    return t->b + r + 5;
}

int32_t lm_tok_score_key(const lm_tok *t, int id) { return (int32_t)rd32(t, rec(t, id)); }

// memcmp of the common prefix, then the shorter first (tokenizer.c's cmp_piece).
static int cmp_piece(const uint8_t *a, int alen, const uint8_t *b, int blen) {
    int n = alen < blen ? alen : blen;
    int c = memcmp(a, b, (size_t)n);
    return c ? c : (alen > blen) - (alen < blen);
}

int lm_tok_lookup(const lm_tok *t, const uint8_t *piece, int len) {
    int32_t lo = 0, hi = (int32_t)t->vocab - 1;
    while (lo <= hi) {
        int32_t mid = (lo + hi) / 2;
        int id = (int)rd16(t, t->sorted + 2u * (uint32_t)mid), plen;
        const uint8_t *p = lm_tok_piece(t, id, &plen);
        int c = cmp_piece(piece, len, p, plen);
        if (c == 0) return id;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

int lm_tok_load(lm_tok *t, const uint8_t *buf, size_t len, uint32_t vocab_size, infer_err *e) {
    memset(t, 0, sizeof *t);
    if (len < 32) return infer_fail(e, (long)len, "truncated: a tokenizer image header needs 32 bytes, the file has %ld", (long)len, 0, 0, 0);
    if (memcmp(buf, LM_TOK_MAGIC, 4) != 0) return infer_fail(e, 0, "bad magic (not a retroqat tokenizer image \"RQTK\")", 0, 0, 0, 0);
    if (buf[4] > 1) return infer_fail(e, 4, "bad byte-order flag %ld (0 little, 1 big)", buf[4], 0, 0, 0);
    if (buf[5] != LM_TOK_VERSION) return infer_fail(e, 5, "unsupported tokenizer image version %ld (this build reads %ld)", buf[5], LM_TOK_VERSION, 0, 0);
    t->b = buf, t->be = buf[4];
    uint32_t total = rd32(t, 8), crc = rd32(t, 12);
    if (total != len) return infer_fail(e, 8, "size field says %ld bytes, the file has %ld", (long)total, (long)len, 0, 0);
    uint32_t got = crc32_update(0, buf + 16, len - 16);
    if (got != crc) return infer_fail(e, 12, "CRC mismatch (stored %x, computed %x): the tokenizer image is corrupt", (long)crc, (long)got, 0, 0);
    t->vocab = rd32(t, 16), t->maxlen = rd32(t, 20), t->tab = rd32(t, 24), t->sorted = rd32(t, 28);
    if (t->vocab != vocab_size)
        return infer_fail(e, 16, "the tokenizer has %ld tokens, the model %ld", (long)t->vocab, (long)vocab_size, 0, 0);
    if (t->vocab < 3 || t->vocab > 32767) return infer_fail(e, 16, "vocab_size %ld out of range 3..32767", (long)t->vocab, 0, 0, 0);
    if (t->maxlen < 1 || t->maxlen > 255) return infer_fail(e, 20, "max_token_length %ld out of range 1..255", (long)t->maxlen, 0, 0, 0);
    if (t->tab < 32 || t->tab > len || (len - t->tab) / 4 < t->vocab)
        return infer_fail(e, 24, "record table at %ld does not fit the image", (long)t->tab, 0, 0, 0);
    if (t->sorted < 32 || t->sorted > len || (len - t->sorted) / 2 < t->vocab)
        return infer_fail(e, 28, "sorted index at %ld does not fit the image", (long)t->sorted, 0, 0, 0);
    for (uint32_t i = 0; i < t->vocab; i++) {
        uint32_t r = rec(t, (int)i);
        if (r < 32 || r > len - 5 || r + 5u + t->b[r + 4] > len)
            return infer_fail(e, (long)(t->tab + 4 * i), "token %ld: record at %ld outside the image", (long)i, (long)r, 0, 0);
        if (t->b[r + 4] > t->maxlen)
            return infer_fail(e, (long)r + 4, "token %ld has length %ld (max_token_length %ld)", (long)i, t->b[r + 4], (long)t->maxlen, 0);
    }
    // The sorted index: every id once, in piece order.
    for (uint32_t k = 0; k < t->vocab; k++) {
        uint32_t id = rd16(t, t->sorted + 2 * k);
        if (id >= t->vocab) return infer_fail(e, (long)(t->sorted + 2 * k), "sorted index entry %ld is token %ld (vocab %ld)", (long)k, (long)id, (long)t->vocab, 0);
        if (k > 0) {
            int la, lb;
            uint32_t prev = rd16(t, t->sorted + 2 * (k - 1));
            const uint8_t *a = lm_tok_piece(t, (int)prev, &la), *b = lm_tok_piece(t, (int)id, &lb);
            int c = cmp_piece(a, la, b, lb);
            if (c > 0 || (c == 0 && prev >= id))
                return infer_fail(e, (long)(t->sorted + 2 * k), "sorted index out of order at entry %ld", (long)k, 0, 0, 0);
        }
    }
    return 0;
}

size_t lm_tok_scratch_bytes(const lm_tok *t, size_t n) { return (n + 3) * sizeof(int) + 2 * (size_t)t->maxlen + 4; }

// The merge candidate for pair (a, b): the id of piece(a)+piece(b), or -1.
static int pair_id(const lm_tok *t, int a, int b, uint8_t *buf) {
    int la, lb;
    const uint8_t *pa = lm_tok_piece(t, a, &la), *pb = lm_tok_piece(t, b, &lb);
    memcpy(buf, pa, (size_t)la);
    memcpy(buf + la, pb, (size_t)lb);
    return lm_tok_lookup(t, buf, la + lb);
}

int lm_tok_encode(const lm_tok *t, const char *text, size_t len, int bos, int *tokens, void *scratch) {
    int n = 0;
    if (bos) tokens[n++] = LM_TOK_BOS;
    if (len > 0) {
        int sp = lm_tok_lookup(t, (const uint8_t *)" ", 1);
        if (sp >= 0) tokens[n++] = sp;  // run.c's dummy prefix
    }
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0;
    while (i < len) {  // codepoints: a lead byte and up to 3 continuation bytes
        size_t j = i + 1;
        while (j < len && (s[j] & 0xC0) == 0x80 && j - i < 4) j++;
        int id = lm_tok_lookup(t, s + i, (int)(j - i));
        if (id >= 0) tokens[n++] = id;
        else
            for (size_t k = i; k < j; k++) tokens[n++] = s[k] + 3;
        i = j;
    }
    if (n >= 2) {  // greedy merges: highest score, leftmost on ties, must beat key(-1e10)
        int *pid = scratch;
        uint8_t *buf = (uint8_t *)(pid + n);
        for (int k = 0; k + 1 < n; k++) pid[k] = pair_id(t, tokens[k], tokens[k + 1], buf);
        for (;;) {
            int32_t best = LM_TOK_MIN_KEY;
            int at = -1;
            for (int k = 0; k + 1 < n; k++)
                if (pid[k] != -1 && lm_tok_score_key(t, pid[k]) > best) best = lm_tok_score_key(t, pid[k]), at = k;
            if (at < 0) break;
            tokens[at] = pid[at];
            for (int k = at + 1; k + 1 < n; k++) tokens[k] = tokens[k + 1];
            for (int k = at + 1; k + 2 < n; k++) pid[k] = pid[k + 1];
            n--;
            if (at > 0) pid[at - 1] = pair_id(t, tokens[at - 1], tokens[at], buf);
            if (at + 1 < n) pid[at] = pair_id(t, tokens[at], tokens[at + 1], buf);
        }
    }
    return n;
}

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

const uint8_t *lm_tok_decode(const lm_tok *t, int prev, int token, uint8_t *byte, int *len) {
    int n;
    const uint8_t *p = lm_tok_piece(t, token, &n);
    if (prev == LM_TOK_BOS && n > 0 && p[0] == ' ') p++, n--;
    if (n >= 4 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && hexval(p[3]) >= 0) {  // "<0xHH>": the raw byte
        int v = hexval(p[3]);
        if (n >= 5 && hexval(p[4]) >= 0) v = 16 * v + hexval(p[4]);
        *byte = (uint8_t)v;
        p = byte, n = 1;
    }
    // tokenizer.c prints pieces as C strings: a piece stops at its first NUL (only the raw byte
    // 0 can be one), and a single byte that is neither printable nor whitespace prints nothing.
    if (n == 1) {
        uint8_t b = p[0];
        int printable = b >= 0x20 && b <= 0x7e, space = b == ' ' || (b >= '\t' && b <= '\r');
        if (!printable && !space) n = 0;
    }
    *len = n;
    return p;
}
