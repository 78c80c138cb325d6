// textdata.c: documents -> BOS-delimited token stream, with a token cache file.
#define _GNU_SOURCE
#include "data/textdata.h"

#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/crc32.h"
#include "base/err.h"

#define EOT "<|endoftext|>"

void token_stream_free(token_stream *ts) {
    free(ts->tokens);
    memset(ts, 0, sizeof *ts);
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

typedef struct {
    const tokenizer *tok;
    token_stream *ts;
    size_t cap;
    int *buf;
    size_t buf_cap;
} encoder;

static void add_document(encoder *e, const char *s, size_t n) {
    while (n && is_space(*s)) s++, n--;
    while (n && is_space(s[n - 1])) n--;
    if (!n) return;
    if (n + 3 > e->buf_cap) {
        e->buf_cap = 2 * (n + 3);
        e->buf = rq_realloc(e->buf, e->buf_cap * sizeof(int));
    }
    int k = tokenizer_encode_n(e->tok, s, n, 1, 0, e->buf);
    token_stream *ts = e->ts;
    if (ts->n + k > e->cap) {
        e->cap = 2 * (ts->n + k) + 1024;
        ts->tokens = rq_realloc(ts->tokens, e->cap * sizeof(uint16_t));
    }
    for (int i = 0; i < k; i++) ts->tokens[ts->n++] = (uint16_t)e->buf[i];
    ts->n_docs++;
}

int textdata_encode(const char *text, size_t len, const tokenizer *tok, token_stream *ts) {
    memset(ts, 0, sizeof *ts);
    if (tok->vocab_size > 65536) return rq_fail(RQ_EINPUT, "vocab_size %d does not fit uint16 token files", tok->vocab_size);
    encoder e = {.tok = tok, .ts = ts};
    const char *end = text + len;
    if (memmem(text, len, EOT, strlen(EOT))) {
        const char *p = text;
        for (;;) {
            const char *q = memmem(p, end - p, EOT, strlen(EOT));
            add_document(&e, p, (q ? q : end) - p);
            if (!q) break;
            p = q + strlen(EOT);
        }
    } else {
        // Paragraphs: runs of non-blank lines.
        const char *doc = NULL, *p = text;
        while (p < end) {
            const char *nl = memchr(p, '\n', end - p);
            const char *le = nl ? nl : end;
            int blank = 1;
            for (const char *c = p; c < le; c++)
                if (!is_space(*c)) blank = 0;
            if (blank && doc) add_document(&e, doc, p - doc), doc = NULL;
            else if (!blank && !doc) doc = p;
            p = nl ? nl + 1 : end;
        }
        if (doc) add_document(&e, doc, end - doc);
    }
    free(e.buf);
    return 0;
}

int textdata_encode_file(const char *path, const tokenizer *tok, token_stream *ts) {
    uint8_t *data;
    size_t len;
    memset(ts, 0, sizeof *ts);
    int rc = rq_read_file(path, &data, &len);
    if (rc) return rc;
    rc = textdata_encode((const char *)data, len, tok, ts);
    free(data);
    if (!rc && ts->n == 0) rc = rq_fail(RQ_EINPUT, "%s: no text (no non-blank document)", path);
    return rc;
}

uint32_t tokenizer_fingerprint(const tokenizer *tok) {
    uint32_t c = crc32_update(0, &tok->vocab_size, sizeof tok->vocab_size);
    for (int i = 0; i < tok->vocab_size; i++) {
        c = crc32_update(c, tok->vocab[i], tok->vocab_len[i] + 1);
        c = crc32_update(c, &tok->scores[i], sizeof(float));
    }
    return c;
}

int textdata_load_cached(const char *path, const tokenizer *tok, const char *cache_path, token_stream *ts, int *from_cache) {
    uint8_t *text, *cache;
    size_t len, clen;
    memset(ts, 0, sizeof *ts);
    *from_cache = 0;
    int rc = rq_read_file(path, &text, &len);
    if (rc) return rc;
    uint32_t text_crc = crc32_update(0, text, len), fp = tokenizer_fingerprint(tok);
    if (rq_read_file(cache_path, &cache, &clen) == 0) {
        rq_reader r;
        rq_reader_init(&r, cache, clen, cache_path);
        const uint8_t *magic = rq_rd_bytes(&r, 4, "magic");
        uint32_t ver = rq_rd_u32(&r, "version"), tcrc = rq_rd_u32(&r, "text crc"), tfp = rq_rd_u32(&r, "tokenizer");
        uint64_t docs = rq_rd_u64(&r, "documents"), n = rq_rd_u64(&r, "tokens");
        if (!r.err && !memcmp(magic, "RQTK", 4) && ver == 1 && tcrc == text_crc && tfp == fp && r.len - r.pos == 2 * n) {
            ts->n = n;
            ts->n_docs = docs;
            ts->tokens = rq_malloc((n ? n : 1) * sizeof(uint16_t));
            for (size_t i = 0; i < n; i++) ts->tokens[i] = rq_rd_u16(&r, "token");
            *from_cache = 1;
        }
        free(cache);
        rq_clear_error();
        if (*from_cache) {
            free(text);
            return 0;
        }
    }
    rq_clear_error();
    rc = textdata_encode((const char *)text, len, tok, ts);
    free(text);
    if (rc) return rc;
    if (ts->n == 0) return rq_fail(RQ_EINPUT, "%s: no text (no non-blank document)", path);
    rq_buf b = {0};
    rq_buf_put(&b, "RQTK", 4);
    rq_buf_u32(&b, 1);
    rq_buf_u32(&b, text_crc);
    rq_buf_u32(&b, fp);
    rq_buf_u64(&b, ts->n_docs);
    rq_buf_u64(&b, ts->n);
    for (size_t i = 0; i < ts->n; i++) rq_buf_u16(&b, ts->tokens[i]);
    rc = rq_write_atomic(cache_path, b.data, b.len);
    rq_buf_free(&b);
    return rc;
}
