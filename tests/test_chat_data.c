// test_chat_data.c: the query|response parser, dataset statistics, the split, and the hash encoder
// (known answers worked out by hand below).
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "data/chat_data.h"
#include "infer/chat_encode.h"

static const chat_enc_cfg ENC = {.q_buckets = 128, .k_buckets = 128, .context = 3, .max_query = 64};

// h = (h*31 + b) mod 2^16 over the bytes, by hand:
//   " hi": 0*31+32 = 32; 32*31+104 = 1096; 1096*31+105 = 34081            -> bucket 34081 & 127 = 33
//   "hi ": 104; 104*31+105 = 3329; 3329*31+32 = 103231 - 65536 = 37695     -> bucket 63
//   "zzz": 122; 122*31+122 = 3904; 3904*31+122 = 121146 - 65536 = 55610    -> bucket 58
static void test_hash_known_answers(void **state) {
    (void)state;
    assert_int_equal(chat_hash(0, (const uint8_t *)" hi", 3), 34081);
    assert_int_equal(chat_hash(0, (const uint8_t *)"hi ", 3), 37695);
    assert_int_equal(chat_hash(0, (const uint8_t *)"zzz", 3), 55610);
    uint8_t c[128];
    // "Hi" is lowercased and padded to " hi ": trigrams " hi" and "hi ".
    assert_int_equal(chat_encode_query(&ENC, "Hi", 2, c), 2);
    int total = 0;
    for (int i = 0; i < 128; i++) total += c[i];
    assert_int_equal(total, 2);
    assert_int_equal(c[33], 1);
    assert_int_equal(c[63], 1);
    // Q = 64 keeps the low 6 bits: 34081 & 63 = 33, 37695 & 63 = 63.
    chat_enc_cfg e64 = ENC;
    e64.q_buckets = 64;
    chat_encode_query(&e64, "hI", 2, c);
    assert_int_equal(c[33], 1);
    assert_int_equal(c[63], 1);
    // Truncation to max_query: only the first max_query bytes count.
    chat_enc_cfg e2 = ENC;
    e2.max_query = 2;
    uint8_t d[128];
    assert_int_equal(chat_encode_query(&e2, "hi there", 8, d), 2);
    chat_encode_query(&ENC, "hi", 2, c);
    assert_memory_equal(c, d, 128);
}

// Context 3, all spaces (32), h starts at 7*p:
//   p=0: "  "-grams from h=0: 1-gram 32 -> 32; 2-gram 32*31+32 = 1024 -> 0; 3-gram 1024*31+32 = 31776 -> 32
//   p=1: h=7: 1-gram 7*31+32 = 249 -> 121; 2-gram 249*31+32 = 7751 -> 71
//   p=2: h=14: 1-gram 14*31+32 = 466 -> 82
static void test_context_known_answers(void **state) {
    (void)state;
    uint8_t ctx[3], c[128];
    chat_context_reset(&ENC, ctx);
    chat_encode_context(&ENC, ctx, c);
    int want[128] = {0};
    want[32] = 2, want[0] = 1, want[121] = 1, want[71] = 1, want[82] = 1;
    for (int i = 0; i < 128; i++) assert_int_equal(c[i], want[i]);
    // Pushing characters shifts left and lowercases; the counts always sum to 3*context - 3.
    chat_context_push(&ENC, ctx, 'O');
    chat_context_push(&ENC, ctx, 'K');
    assert_memory_equal(ctx, " ok", 3);
    chat_enc_cfg e8 = ENC;
    e8.context = 8;
    uint8_t ctx8[8];
    chat_context_reset(&e8, ctx8);
    for (const char *s = "HELLO, HUMAN."; *s; s++) {
        chat_context_push(&e8, ctx8, (uint8_t)*s);
        chat_encode_context(&e8, ctx8, c);
        int total = 0;
        for (int i = 0; i < 128; i++) total += c[i];
        assert_int_equal(total, 21);
    }
    assert_memory_equal(ctx8, ", human.", 8);
}

static int parse(const char *text, int lenient, chat_dataset *d) {
    chat_data_opts o;
    chat_data_opts_default(&o);
    o.lenient = lenient;
    return chat_data_parse(text, strlen(text), "t.txt", &o, d);
}

static void test_parser_folds_trims_and_skips(void **state) {
    (void)state;
    chat_dataset d;
    assert_int_equal(parse("# comment\n\n  Hello There | hi, human. \r\nbye|Bye\n", 0, &d), 0);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.pairs[0].q, "hello there");
    assert_string_equal(d.pairs[0].r, "HI, HUMAN.");
    assert_int_equal(d.pairs[0].line, 3);
    assert_string_equal(d.pairs[1].r, "BYE");
    assert_int_equal(d.pairs[1].line, 4);
    chat_data_free(&d);
}

// A UTF-8 BOM is not part of line 1; LF, CR LF and lone-CR line ends all give the same pairs and
// line numbers (an error on line 3 is on line 3 in each).
static void test_parser_bom_and_line_ends(void **state) {
    (void)state;
    const char *texts[4] = {"hello|HI\n# c\nbye|BYE\n", "\xEF\xBB\xBFhello|HI\n# c\nbye|BYE\n", "hello|HI\r\n# c\r\nbye|BYE\r\n",
                            "\xEF\xBB\xBFhello|HI\r# c\rbye|BYE\r"};
    for (int i = 0; i < 4; i++) {
        chat_dataset d;
        if (parse(texts[i], 0, &d)) fail_msg("text %d: %s", i, rq_last_error());
        assert_int_equal(d.n, 2);
        assert_string_equal(d.pairs[0].q, "hello");
        assert_string_equal(d.pairs[0].r, "HI");
        assert_int_equal(d.pairs[1].line, 3);
        assert_string_equal(d.pairs[1].r, "BYE");
        chat_data_free(&d);
    }
    const char *bad[3] = {"a|B\nb|C\nno bar\n", "a|B\r\nb|C\r\nno bar\r\n", "a|B\rb|C\rno bar\r"};
    for (int i = 0; i < 3; i++) {
        chat_dataset d;
        assert_int_equal(parse(bad[i], 0, &d), RQ_EINPUT);
        assert_string_equal(rq_last_error(), "t.txt:3: expected 'query|response' (no '|')");
    }
}

static void test_parser_errors_name_file_and_line(void **state) {
    (void)state;
    chat_dataset d;
    const struct {
        const char *text, *want;
    } cases[] = {
        {"a|B\nno bar here\n", "t.txt:2: expected 'query|response' (no '|')"},
        {"a|B\n\n |B\n", "t.txt:3: empty query"},
        {"a|   \n", "t.txt:1: empty response"},
        {"a|B\nb|C~D\n", "t.txt:2: response character '~' is not in the charset"},
        {"a|B\nq\x01|C\n", "t.txt:2: query byte 0x01 is not printable ASCII"},
        {"a|B\nb|caf\xc3\xa9\n", "t.txt:2: response byte 0xc3 is not in the charset"},
        {"# only comments\n\n", "t.txt: no query|response pairs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(parse(cases[i].text, 0, &d), RQ_EINPUT);
        assert_string_equal(rq_last_error(), cases[i].want);
    }
    // Too long for max_answer
    chat_data_opts o;
    chat_data_opts_default(&o);
    o.max_answer = 3;
    assert_int_equal(chat_data_parse("a|ABCD\n", 7, "t.txt", &o, &d), RQ_EINPUT);
    assert_string_equal(rq_last_error(), "t.txt:1: response longer than max_answer (3)");
    // Lenient: bad lines are counted and skipped.
    assert_int_equal(parse("a|B\nbad\nc|C~\nd|D\n", 1, &d), 0);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.skipped, 2);
    assert_string_equal(d.first_warning, "t.txt:2: expected 'query|response' (no '|')");
    chat_data_free(&d);
    // A missing file is an input error naming the path.
    assert_int_equal(chat_data_load("/nonexistent/x.txt", &o, &d), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "/nonexistent/x.txt"));
}

static void test_stats_by_hand(void **state) {
    (void)state;
    chat_dataset d;
    // 4 pairs, 3 distinct queries ("hi" has two different answers), 3 distinct responses.
    assert_int_equal(parse("hi|HI\nhi|HO\nyo|HI\nbye|BYE\n", 0, &d), 0);
    chat_stats s;
    chat_data_stats(&d, NULL, 0, 8, &s);
    assert_int_equal(s.pairs, 4);
    assert_int_equal(s.distinct_queries, 3);
    assert_int_equal(s.distinct_responses, 3);
    assert_int_equal(s.conflicting_queries, 1);
    // examples: 3 + 3 + 3 + 4 = 13. Classes: 'H' x3, 'I' x2, 'O', 'B' x1, 'Y', 'E', end x4.
    assert_int_equal(s.examples, 13);
    assert_int_equal(s.majority_class, 0);  // the end symbol
    assert_float_equal(s.majority_acc, 4.0 / 13.0, 1e-12);
    // Best: "hi" at t=1 sees context "h" for both answers, targets I and O: one of the two is lost.
    assert_float_equal(s.best_acc, 12.0 / 13.0, 1e-12);
    assert_string_equal(s.charset, "BEHIOY");
    chat_data_free(&d);
}

static void test_split_is_seeded_disjoint_and_complete(void **state) {
    (void)state;
    char text[8192] = "";
    for (int i = 0; i < 100; i++) {
        char line[64];
        snprintf(line, sizeof line, "query %d|ANSWER %d\nquery %d|AGAIN %d\n", i, i % 7, i, i % 5);
        strcat(text, line);
    }
    chat_dataset d;
    assert_int_equal(parse(text, 0, &d), 0);
    int *tr, *ho, ntr, nho, *tr2, *ho2, ntr2, nho2;
    chat_data_split(&d, 0.1, 5, &tr, &ntr, &ho, &nho);
    chat_data_split(&d, 0.1, 5, &tr2, &ntr2, &ho2, &nho2);
    assert_int_equal(nho, 20);  // 10 of 100 distinct queries, two pairs each
    assert_int_equal(ntr + nho, 200);
    assert_int_equal(nho2, nho);
    assert_memory_equal(ho, ho2, sizeof(int) * (size_t)nho);
    // No query on both sides.
    for (int i = 0; i < nho; i++)
        for (int j = 0; j < ntr; j++) assert_string_not_equal(d.pairs[ho[i]].q, d.pairs[tr[j]].q);
    free(tr2), free(ho2);
    // Another seed, another split.
    chat_data_split(&d, 0.1, 6, &tr2, &ntr2, &ho2, &nho2);
    assert_true(memcmp(ho, ho2, sizeof(int) * (size_t)nho) != 0);
    free(tr), free(ho), free(tr2), free(ho2);
    chat_data_free(&d);
}

static void test_examples_encode_every_character_and_the_end(void **state) {
    (void)state;
    chat_dataset d;
    assert_int_equal(parse("hi|OK\n", 0, &d), 0);
    char chars[256];
    int nc = chat_data_charset(&d, chars);
    assert_int_equal(nc, 2);
    int idx = 0;
    chat_examples ex;
    chat_build_examples(&d, &idx, 1, &ENC, chars, nc, &ex);
    assert_int_equal(ex.n, 3);
    assert_int_equal(ex.width, 256);
    assert_int_equal(ex.y[0], 2);  // 'O' is the second character of "KO"
    assert_int_equal(ex.y[1], 1);  // 'K'
    assert_int_equal(ex.y[2], 0);  // end
    // example 2's context is " ok": its counts equal a direct encoding
    uint8_t ctx[3] = {' ', 'o', 'k'}, c[128];
    chat_encode_context(&ENC, ctx, c);
    assert_memory_equal(ex.x + 2 * 256 + 128, c, 128);
    chat_encode_query(&ENC, "hi", 2, c);
    assert_memory_equal(ex.x + 2 * 256, c, 128);
    chat_free_examples(&ex);
    chat_data_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_known_answers),
        cmocka_unit_test(test_context_known_answers),
        cmocka_unit_test(test_parser_folds_trims_and_skips),
        cmocka_unit_test(test_parser_bom_and_line_ends),
        cmocka_unit_test(test_parser_errors_name_file_and_line),
        cmocka_unit_test(test_stats_by_hand),
        cmocka_unit_test(test_split_is_seeded_disjoint_and_complete),
        cmocka_unit_test(test_examples_encode_every_character_and_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
