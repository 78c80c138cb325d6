// tokenizer.c: llama2.c tokenizer files, run.c's BPE encoding and its decoding rules.
#include "data/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"

static const tokenizer *sort_ctx;  // qsort has no context argument; sorting is single-threaded

static int cmp_piece(const char *a, int alen, const char *b, int blen) {
    int n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    return c ? c : (alen > blen) - (alen < blen);
}

static int cmp_sorted(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    int c = cmp_piece(sort_ctx->vocab[x], sort_ctx->vocab_len[x], sort_ctx->vocab[y], sort_ctx->vocab_len[y]);
    return c ? c : (x > y) - (x < y);
}

int tokenizer_load_mem(tokenizer *t, const uint8_t *data, size_t len, const char *name, int vocab_size) {
    memset(t, 0, sizeof *t);
    if (vocab_size <= 0) return rq_fail(RQ_EINPUT, "%s: vocab_size %d", name, vocab_size);
    rq_reader r;
    rq_reader_init(&r, data, len, name);
    int32_t maxlen = rq_rd_i32(&r, "max_token_length");
    if (r.err) return r.err;
    if (maxlen <= 0 || maxlen > 4096) return rq_fail_at(RQ_EINPUT, name, 0, "max_token_length %d is out of range [1, 4096]", maxlen);
    t->vocab_size = vocab_size;
    t->max_token_length = maxlen;
    t->vocab = rq_calloc(vocab_size, sizeof(char *));
    t->vocab_len = rq_calloc(vocab_size, sizeof(int));
    t->scores = rq_calloc(vocab_size, sizeof(float));
    for (int i = 0; i < vocab_size; i++) {
        t->scores[i] = rq_rd_f32(&r, "token score");
        size_t at = r.pos;
        int32_t n = rq_rd_i32(&r, "token length");
        if (r.err) goto fail;
        if (n < 0 || n > maxlen) {
            rq_fail_at(RQ_EINPUT, name, (long)at, "token %d has length %d (max_token_length %d)", i, n, maxlen);
            goto fail;
        }
        const uint8_t *b = rq_rd_bytes(&r, n, "token bytes");
        if (r.err) goto fail;
        if (memchr(b, 0, n)) {
            rq_fail_at(RQ_EINPUT, name, (long)at + 4, "token %d contains a NUL byte", i);
            goto fail;
        }
        t->vocab[i] = rq_malloc(n + 1);
        memcpy(t->vocab[i], b, n);
        t->vocab[i][n] = 0;
        t->vocab_len[i] = n;
    }
    if (r.pos != len) {
        rq_fail_at(RQ_EINPUT, name, (long)r.pos, "%zu bytes after %d tokens (is vocab_size right?)", len - r.pos, vocab_size);
        goto fail;
    }
    for (int i = 0; i < 256; i++) t->byte_pieces[2 * i] = (char)i, t->byte_pieces[2 * i + 1] = 0;
    t->sorted = rq_malloc(vocab_size * sizeof(int));
    for (int i = 0; i < vocab_size; i++) t->sorted[i] = i;
    sort_ctx = t;
    qsort(t->sorted, vocab_size, sizeof(int), cmp_sorted);
    return 0;
fail:
    tokenizer_free(t);
    return RQ_EINPUT;
}

int tokenizer_load(tokenizer *t, const char *path, int vocab_size) {
    uint8_t *data;
    size_t len;
    memset(t, 0, sizeof *t);
    int rc = rq_read_file(path, &data, &len);
    if (rc) return rc;
    rc = tokenizer_load_mem(t, data, len, path, vocab_size);
    free(data);
    return rc;
}

void tokenizer_free(tokenizer *t) {
    if (t->vocab)
        for (int i = 0; i < t->vocab_size; i++) free(t->vocab[i]);
    free(t->vocab);
    free(t->vocab_len);
    free(t->scores);
    free(t->sorted);
    memset(t, 0, sizeof *t);
}

int tokenizer_lookup(const tokenizer *t, const char *piece, size_t len) {
    int lo = 0, hi = t->vocab_size - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, id = t->sorted[mid];
        int c = cmp_piece(piece, (int)len, t->vocab[id], t->vocab_len[id]);
        if (c == 0) return id;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

// The merge candidate for pair (a, b): the id of piece(a)+piece(b), or -1.
static int pair_id(const tokenizer *t, int a, int b, char *buf) {
    int la = t->vocab_len[a], lb = t->vocab_len[b];
    memcpy(buf, t->vocab[a], la);
    memcpy(buf + la, t->vocab[b], lb);
    return tokenizer_lookup(t, buf, la + lb);
}

int tokenizer_encode_n(const tokenizer *t, const char *text, size_t len, int bos, int eos, int *tokens) {
    int n = 0;
    if (bos) tokens[n++] = TOK_BOS;
    if (len > 0) {
        int sp = tokenizer_lookup(t, " ", 1);
        if (sp >= 0) tokens[n++] = sp;  // run.c adds the dummy prefix (an absent " " would be -1 there)
    }
    // Codepoints: a piece is a lead byte and its continuation bytes (10xxxxxx), at most 4 bytes.
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        size_t j = i + 1;
        while (j < len && (s[j] & 0xC0) == 0x80 && j - i < 4) j++;
        int id = tokenizer_lookup(t, (const char *)s + i, j - i);
        if (id >= 0) tokens[n++] = id;
        else
            for (size_t k = i; k < j; k++) tokens[n++] = s[k] + 3;
        i = j;
    }
    // Greedy merges. pid/psc cache the candidate of each adjacent pair, so each merge only
    // recomputes the two pairs it touches; the choice (highest score, leftmost on ties, scores
    // must beat -1e10) is run.c's.
    if (n >= 2) {
        char *buf = rq_malloc(2 * (size_t)t->max_token_length + 2);
        int *pid = rq_malloc(n * sizeof(int));
        for (int k = 0; k + 1 < n; k++) pid[k] = pair_id(t, tokens[k], tokens[k + 1], buf);
        for (;;) {
            float best = -1e10f;
            int at = -1;
            for (int k = 0; k + 1 < n; k++)
                if (pid[k] != -1 && t->scores[pid[k]] > best) best = t->scores[pid[k]], at = k;
            if (at < 0) break;
            tokens[at] = pid[at];
            memmove(tokens + at + 1, tokens + at + 2, (n - at - 2) * sizeof(int));
            memmove(pid + at + 1, pid + at + 2, (n - at - 2 > 0 ? n - at - 2 : 0) * sizeof(int));
            n--;
            if (at > 0) pid[at - 1] = pair_id(t, tokens[at - 1], tokens[at], buf);
            if (at + 1 < n) pid[at] = pair_id(t, tokens[at], tokens[at + 1], buf);
        }
        free(pid);
        free(buf);
    }
    if (eos) tokens[n++] = TOK_EOS;
    return n;
}

int tokenizer_encode(const tokenizer *t, const char *text, int bos, int eos, int *tokens) {
    return tokenizer_encode_n(t, text, strlen(text), bos, eos, tokens);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

const char *tokenizer_decode(const tokenizer *t, int prev, int token) {
    const char *piece = t->vocab[token];
    if (prev == TOK_BOS && piece[0] == ' ') piece++;
    // "<0xHH>": the raw byte (run.c reads it with sscanf "<0x%02hhX>": one or two hex digits).
    if (piece[0] == '<' && piece[1] == '0' && piece[2] == 'x' && hexval(piece[3]) >= 0) {
        int v = hexval(piece[3]);
        if (hexval(piece[4]) >= 0) v = 16 * v + hexval(piece[4]);
        return t->byte_pieces + 2 * v;
    }
    return piece;
}

void tokenizer_print_piece(FILE *f, const char *piece) {
    if (!piece || !piece[0]) return;
    if (!piece[1]) {
        unsigned char b = (unsigned char)piece[0];
        int printable = b >= 0x20 && b <= 0x7e, space = b == ' ' || (b >= '\t' && b <= '\r');
        if (!printable && !space) return;
    }
    fputs(piece, f);
}

void tokenizer_build_chars(uint8_t **data, size_t *len) {
    rq_buf b = {0};
    rq_buf_i32(&b, 6);  // max_token_length: "<0xHH>"
    const char *special[3] = {"<unk>", "\n<s>\n", "\n</s>\n"};
    for (int i = 0; i < 3; i++) {
        rq_buf_f32(&b, 0.0f);
        rq_buf_i32(&b, (int32_t)strlen(special[i]));
        rq_buf_put(&b, special[i], strlen(special[i]));
    }
    for (int i = 0; i < 256; i++) {
        char piece[8];
        snprintf(piece, sizeof piece, "<0x%02X>", i);
        rq_buf_f32(&b, 0.0f);
        rq_buf_i32(&b, 6);
        rq_buf_put(&b, piece, 6);
    }
    for (int c = 0x20; c < 0x7f; c++) {
        char ch = (char)c;
        rq_buf_f32(&b, (float)-(c - 0x20));
        rq_buf_i32(&b, 1);
        rq_buf_put(&b, &ch, 1);
    }
    *data = b.data;
    *len = b.len;
}
