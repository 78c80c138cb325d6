// test_storygen.c: the offline story-corpus generator (examples/stories/storygen.c), run as the
// built program next to the CLI binary: determinism, seeds, document structure, vocabulary size,
// and usage errors.
#include "tests/testutil.h"

#include <ctype.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *storygen(void) {
    static char path[4096];
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", rq_test_bin());
    snprintf(path, sizeof path, "%s/storygen", dirname(bin));
    return path;
}

static char *run_ok(const char *args) {
    char *out = NULL, *err = NULL;
    int rc = rq_test_run(&out, &err, "%s %s", storygen(), args);
    if (rc != 0) fail_msg("storygen %s: exit %d: %s", args, rc, err);
    free(err);
    return out;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

static void test_same_seed_same_bytes(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("storygen_det");
    char *a = run_ok("-n 200 -s 7");
    char *b = run_ok("-n 200 -s 7");
    assert_true(strlen(a) > 10000);
    assert_string_equal(a, b);
    // -o writes the same bytes as stdout.
    char args[4200];
    snprintf(args, sizeof args, "-n 200 -s 7 -o %s/a.txt", dir);
    char *quiet = run_ok(args);
    assert_string_equal(quiet, "");
    snprintf(args, sizeof args, "%s/a.txt", dir);
    char *file = slurp(args);
    assert_string_equal(file, a);
    // Story i depends only on (seed, i): a shorter run is a prefix of a longer one.
    char *head = run_ok("-n 50 -s 7");
    assert_true(strlen(head) < strlen(a));
    assert_memory_equal(head, a, strlen(head));
    free(a), free(b), free(quiet), free(file), free(head);
}

static void test_different_seeds_differ(void **state) {
    (void)state;
    char *a = run_ok("-n 100 -s 1");
    char *b = run_ok("-n 100 -s 2");
    assert_true(strcmp(a, b) != 0);
    // Not just one story: most stories differ between the seeds.
    int same = 0, n = 0;
    char *pa = a, *pb = b;
    for (;;) {
        char *ea = strstr(pa, "<|endoftext|>\n"), *eb = strstr(pb, "<|endoftext|>\n");
        if (!ea || !eb) break;
        same += (ea - pa == eb - pb) && memcmp(pa, pb, (size_t)(ea - pa)) == 0;
        n++;
        pa = ea + 14, pb = eb + 14;
    }
    assert_int_equal(n, 100);
    assert_true(same <= 2);
    free(a), free(b);
}

// Structure of every story: the count of separators, one or two paragraphs, printable ASCII,
// balanced quotes, capitalised sentence starts, and a vocabulary of a few hundred words.
static void test_structure_and_vocabulary(void **state) {
    (void)state;
    const int want = 500;
    char *text = run_ok("-n 500 -s 3");
    size_t len = strlen(text);
    assert_true(len > 0 && text[len - 1] == '\n');
    assert_true(len >= 14 && strcmp(text + len - 14, "<|endoftext|>\n") == 0);

    int stories = 0, two_par = 0;
    char *p = text;
    for (;;) {
        char *end = strstr(p, "<|endoftext|>");
        if (!end) break;
        // The separator is a whole line.
        assert_true(end == text || end[-1] == '\n');
        assert_true(end[13] == '\n');
        size_t n = (size_t)(end - p);
        assert_true(n > 100);  // a real story, not an empty document
        assert_true(isupper((unsigned char)p[0]));
        int blank = 0, quotes = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            assert_true(c == '\n' || (c >= 32 && c < 127));
            if (c == '"') quotes++;
            if (c == '\n' && i + 1 < n && p[i + 1] == '\n') {
                blank++;
                assert_true(i + 2 < n && isupper((unsigned char)p[i + 2]));  // next paragraph starts properly
            }
            if (c == '.' && i + 2 < n && p[i + 1] == ' ')
                assert_true(isupper((unsigned char)p[i + 2]) || p[i + 2] == '"');
        }
        assert_true(blank <= 1);  // one or two paragraphs
        assert_int_equal(quotes % 2, 0);
        assert_int_equal(p[n - 1], '\n');
        assert_true(n < 2 || p[n - 2] != '\n');  // no trailing blank line inside a document
        two_par += blank;
        stories++;
        p = end + 14;
    }
    assert_int_equal(stories, want);
    assert_true(*p == 0);
    // Both shapes occur.
    assert_true(two_par > want / 5 && two_par < want * 4 / 5);

    // Distinct lowercase words (letters only): a few hundred.
    char **words = NULL;
    int nw = 0, cap = 0;
    p = text;
    while (*p) {
        if (!isalpha((unsigned char)*p)) {
            p++;
            continue;
        }
        char w[64];
        int k = 0;
        while (isalpha((unsigned char)*p)) {
            if (k < 63) w[k++] = (char)tolower((unsigned char)*p);
            p++;
        }
        w[k] = 0;
        int seen = 0;
        for (int i = 0; i < nw && !seen; i++) seen = strcmp(words[i], w) == 0;
        if (!seen) {
            if (nw == cap) words = realloc(words, sizeof(char *) * (size_t)(cap = cap ? 2 * cap : 256));
            words[nw++] = strdup(w);
        }
    }
    print_message("storygen: %d stories, %zu bytes, %d distinct words, %d with two paragraphs\n", stories, len,
                  nw, two_par);
    assert_true(nw >= 150 && nw <= 600);
    for (int i = 0; i < nw; i++) free(words[i]);
    free(words);
    free(text);
}

static void test_usage_errors(void **state) {
    (void)state;
    char *err = NULL;
    assert_int_equal(rq_test_run(NULL, &err, "%s -n abc", storygen()), 2);
    assert_non_null(strstr(err, "-n"));
    free(err);
    assert_int_equal(rq_test_run(NULL, &err, "%s -n -5", storygen()), 2);
    free(err);
    assert_int_equal(rq_test_run(NULL, &err, "%s -s", storygen()), 2);
    free(err);
    assert_int_equal(rq_test_run(NULL, &err, "%s --bogus", storygen()), 2);
    assert_non_null(strstr(err, "usage"));
    free(err);
    assert_int_equal(rq_test_run(NULL, &err, "%s -n 1 -o /nonexistent-dir/x.txt", storygen()), 1);
    assert_non_null(strstr(err, "/nonexistent-dir/x.txt"));
    free(err);
    char *out = NULL;
    assert_int_equal(rq_test_run(&out, NULL, "%s --help", storygen()), 0);
    assert_non_null(strstr(out, "usage: storygen"));
    free(out);
    // Zero stories is an empty file, not an error.
    assert_int_equal(rq_test_run(&out, NULL, "%s -n 0", storygen()), 0);
    assert_string_equal(out, "");
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_different_seeds_differ),
        cmocka_unit_test(test_structure_and_vocabulary),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
