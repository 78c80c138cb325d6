// test_tokenizer.c: the llama2.c tokenizer: known answers with tok512.bin, encode against a
// straightforward transcription of run.c's merge loop (rescan every pair after each merge) on real
// text, decode round trips (ASCII and UTF-8 byte fallback), run.c's printing rules, documents and
// the token cache, and malformed files.
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "data/textdata.h"
#include "data/tokenizer.h"

static int load_tok512(tokenizer *t) {
    const char *path = rq_test_data("llama2c/tok512.bin");
    if (!path) return 0;
    assert_int_equal(tokenizer_load(t, path, 512), 0);
    return 1;
}

static void test_known_answers(void **state) {
    (void)state;
    tokenizer t;
    if (!load_tok512(&t)) return;
    int toks[64];
    int n = tokenizer_encode(&t, "Zoo", 1, 0, toks);
    assert_int_equal(n, 4);
    int want[4] = {1, 410, 469, 347};
    assert_memory_equal(toks, want, sizeof want);
    // Empty text: BOS only (no dummy prefix), with EOS when asked.
    assert_int_equal(tokenizer_encode(&t, "", 1, 1, toks), 2);
    assert_int_equal(toks[0], TOK_BOS);
    assert_int_equal(toks[1], TOK_EOS);
    // A codepoint not in the vocabulary falls back to its bytes + 3 ("☃" = E2 98 83).
    n = tokenizer_encode(&t, "\xe2\x98\x83", 0, 0, toks);
    assert_int_equal(n, 4);
    assert_int_equal(toks[0], tokenizer_lookup(&t, " ", 1));
    assert_int_equal(toks[1], 0xE2 + 3);
    assert_int_equal(toks[2], 0x98 + 3);
    assert_int_equal(toks[3], 0x83 + 3);
    // Decoding: "<0xE2>" is the raw byte; the space after BOS is dropped.
    assert_string_equal(tokenizer_decode(&t, 5, 0xE2 + 3), "\xe2");
    assert_string_equal(tokenizer_decode(&t, 5, 0x0A + 3), "\n");
    assert_string_equal(tokenizer_decode(&t, TOK_BOS, 410), "");  // 410 is " "
    assert_string_equal(tokenizer_decode(&t, 5, 410), " ");
    assert_string_equal(tokenizer_decode(&t, 410, 469), "Z");
    tokenizer_free(&t);
}

// run.c's merge loop as written there: rescan all pairs after every merge.
static int naive_encode(const tokenizer *t, const char *text, int *tokens) {
    int n = tokenizer_encode_n(t, "", 0, 1, 0, tokens);  // BOS
    tokens[n++] = tokenizer_lookup(t, " ", 1);
    const unsigned char *s = (const unsigned char *)text;
    size_t len = strlen(text);
    for (size_t i = 0; i < len;) {
        size_t j = i + 1;
        while (j < len && (s[j] & 0xC0) == 0x80 && j - i < 4) j++;
        int id = tokenizer_lookup(t, text + i, j - i);
        if (id >= 0) tokens[n++] = id;
        else
            for (size_t k = i; k < j; k++) tokens[n++] = s[k] + 3;
        i = j;
    }
    char buf[64];
    for (;;) {
        float best = -1e10f;
        int at = -1, best_id = -1;
        for (int i = 0; i + 1 < n; i++) {
            snprintf(buf, sizeof buf, "%s%s", t->vocab[tokens[i]], t->vocab[tokens[i + 1]]);
            int id = tokenizer_lookup(t, buf, strlen(buf));
            if (id != -1 && t->scores[id] > best) best = t->scores[id], at = i, best_id = id;
        }
        if (at < 0) break;
        tokens[at] = best_id;
        for (int i = at + 1; i + 1 < n; i++) tokens[i] = tokens[i + 1];
        n--;
    }
    return n;
}

static void test_encode_matches_naive_and_round_trips(void **state) {
    (void)state;
    tokenizer t;
    if (!load_tok512(&t)) return;
    const char *path = rq_test_data("tinystories/valid.txt");
    if (!path) return;
    uint8_t *text;
    size_t len;
    assert_int_equal(rq_read_file(path, &text, &len), 0);
    // 200 paragraphs-sized slices from across the file, plus UTF-8 and odd bytes.
    char piece[1200];
    int a[1300], b[1300];
    for (int k = 0; k < 200; k++) {
        size_t at = (len - 1100) / 200 * k, n = 50 + (k * 37) % 1000;
        memcpy(piece, text + at, n);
        piece[n] = 0;
        for (size_t i = 0; i < n; i++)
            if (!piece[i]) piece[i] = ' ';
        if (k == 7) snprintf(piece, sizeof piece, "caf\xc3\xa9 \xe2\x98\x83 na\xc3\xafve \xf0\x9f\x98\x80 end");
        int na = tokenizer_encode(&t, piece, 1, 0, a);
        int nb = naive_encode(&t, piece, b);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na * sizeof(int));
        // Round trip: the decoded pieces concatenate back to the text.
        char back[1300 * 8] = "";
        size_t bl = 0;
        for (int i = 1; i < na; i++) {
            const char *p = tokenizer_decode(&t, a[i - 1], a[i]);
            size_t pl = strlen(p);
            memcpy(back + bl, p, pl);
            bl += pl;
        }
        back[bl] = 0;
        assert_string_equal(back, piece);
    }
    free(text);
    tokenizer_free(&t);
}

static void test_safe_printing(void **state) {
    (void)state;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    tokenizer_print_piece(f, "ab");
    tokenizer_print_piece(f, "\x01");    // control byte: dropped
    tokenizer_print_piece(f, "\n");      // whitespace: kept
    tokenizer_print_piece(f, "\xe2");    // a lone high byte: dropped (as run.c does)
    tokenizer_print_piece(f, "");
    tokenizer_print_piece(f, NULL);
    fclose(f);
    assert_string_equal(buf, "ab\n");
    free(buf);
}

static void test_documents_and_cache(void **state) {
    (void)state;
    tokenizer t;
    if (!load_tok512(&t)) return;
    token_stream ts;
    const char *para = "Once upon a time.\n\n  \nThe end.\nMore.\n\n";
    assert_int_equal(textdata_encode(para, strlen(para), &t, &ts), 0);
    assert_int_equal(ts.n_docs, 2);
    int a[64], b[64];
    int na = tokenizer_encode(&t, "Once upon a time.", 1, 0, a);
    int nb = tokenizer_encode(&t, "The end.\nMore.", 1, 0, b);
    assert_int_equal(ts.n, na + nb);
    for (int i = 0; i < na; i++) assert_int_equal(ts.tokens[i], a[i]);
    for (int i = 0; i < nb; i++) assert_int_equal(ts.tokens[na + i], b[i]);
    token_stream_free(&ts);
    // With <|endoftext|> the blank lines no longer split.
    const char *eot = "One.\n\nTwo.<|endoftext|>Three.<|endoftext|>\n";
    assert_int_equal(textdata_encode(eot, strlen(eot), &t, &ts), 0);
    assert_int_equal(ts.n_docs, 2);
    token_stream_free(&ts);

    // The cache: built once, reused, rebuilt when the text changes.
    const char *dir = rq_test_tmpdir("textdata");
    char txt[512], cache[512];
    snprintf(txt, sizeof txt, "%s/a.txt", dir);
    snprintf(cache, sizeof cache, "%s/a.tok", dir);
    rq_test_write(txt, para);
    int from;
    token_stream c1, c2, c3;
    assert_int_equal(textdata_load_cached(txt, &t, cache, &c1, &from), 0);
    assert_int_equal(from, 0);
    assert_int_equal(textdata_load_cached(txt, &t, cache, &c2, &from), 0);
    assert_int_equal(from, 1);
    assert_int_equal(c1.n, c2.n);
    assert_memory_equal(c1.tokens, c2.tokens, c1.n * 2);
    rq_test_write(txt, "Different text.\n");
    assert_int_equal(textdata_load_cached(txt, &t, cache, &c3, &from), 0);
    assert_int_equal(from, 0);
    assert_int_equal(c3.n_docs, 1);
    token_stream_free(&c1);
    token_stream_free(&c2);
    token_stream_free(&c3);
    tokenizer_free(&t);
}

static void test_malformed_files(void **state) {
    (void)state;
    const char *path = rq_test_data("llama2c/tok512.bin");
    if (!path) return;
    uint8_t *data;
    size_t len;
    assert_int_equal(rq_read_file(path, &data, &len), 0);
    tokenizer t;
    assert_int_equal(tokenizer_load_mem(&t, data, len - 3, "tok.bin", 512), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "tok.bin: byte"));
    assert_non_null(strstr(rq_last_error(), "truncated"));
    // Reading fewer tokens than the file holds: the leftover bytes are reported.
    assert_int_equal(tokenizer_load_mem(&t, data, len, "tok.bin", 500), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "bytes after 500 tokens"));
    // A negative token length.
    uint8_t *bad = malloc(len);
    memcpy(bad, data, len);
    rq_wr_u32le(bad + 8, 0xFFFFFFFFu);  // length of token 0
    assert_int_equal(tokenizer_load_mem(&t, bad, len, "tok.bin", 512), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "tok.bin: byte 8: token 0 has length -1"));
    free(bad);
    free(data);
}

// The built-in character-level tokenizer: a valid llama2.c tokenizer file of 354 pieces where
// printable ASCII maps to one token per character and everything else to bytes + 3.
static void test_builtin_chars(void **state) {
    (void)state;
    uint8_t *data;
    size_t len;
    tokenizer_build_chars(&data, &len);
    tokenizer t;
    assert_int_equal(tokenizer_load_mem(&t, data, len, "chars", TOKENIZER_CHARS_VOCAB), 0);
    int toks[32];
    int n = tokenizer_encode(&t, "Hi!\n\xc3\xa9", 1, 0, toks);
    int sp = tokenizer_lookup(&t, " ", 1);
    int want[8] = {TOK_BOS, sp, tokenizer_lookup(&t, "H", 1), tokenizer_lookup(&t, "i", 1), tokenizer_lookup(&t, "!", 1), '\n' + 3, 0xc3 + 3, 0xa9 + 3};
    assert_int_equal(n, 8);
    assert_memory_equal(toks, want, sizeof want);
    assert_int_equal(sp, 259);
    assert_string_equal(tokenizer_decode(&t, TOK_BOS, sp), "");
    assert_string_equal(tokenizer_decode(&t, sp, '\n' + 3), "\n");
    tokenizer_free(&t);
    free(data);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_encode_matches_naive_and_round_trips),
        cmocka_unit_test(test_safe_printing),
        cmocka_unit_test(test_documents_and_cache),
        cmocka_unit_test(test_malformed_files),
        cmocka_unit_test(test_builtin_chars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
