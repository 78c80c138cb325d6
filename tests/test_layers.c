// test_layers.c: the layering rules of the source tree.
//   - infer/ (the integer contract every target compiles) is freestanding: each infer/*.c
//     compiles with -ffreestanding -nostdinc and only <stdint.h>, <stddef.h> (the compiler's own)
//     and <string.h> (a stub declaring the mem*/str* functions) on the include path; a file that
//     includes <stdio.h> must fail the same compile (the check can fail); -mgeneral-regs-only
//     makes any float or double arithmetic an error too (the contract is integer-only).
//   - #include "..." between folders: infer/ names only infer/ and the portable base/crc32.h,
//     base/endian.h; model/ no qat/; train/ no cli/ (scripts/layers.sh prints the whole matrix).
#include "tests/testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"

static const char *root(void) { return getenv("RQ_ROOT") ? getenv("RQ_ROOT") : "."; }

// A folder with the three headers infer/ may use.
static const char *stub_dir(void) {
    const char *dir = rq_test_tmpdir("layers_stub");
    char *inc = NULL;
    assert_int_equal(rq_test_run(&inc, NULL, "gcc -print-file-name=include"), 0);
    inc[strcspn(inc, "\n")] = 0;
    assert_int_equal(rq_test_run(NULL, NULL, "ln -s %s/stddef.h %s/stdint.h %s/stdint-gcc.h %s/", inc, inc, inc, dir), 0);
    free(inc);
    char path[4200];
    snprintf(path, sizeof path, "%s/string.h", dir);
    rq_test_write(path,
                  "// string.h for the freestanding check: the only C library functions infer/ may call.\n"
                  "#include <stddef.h>\n"
                  "void *memcpy(void *d, const void *s, size_t n);\nvoid *memmove(void *d, const void *s, size_t n);\n"
                  "void *memset(void *d, int c, size_t n);\nint memcmp(const void *a, const void *b, size_t n);\n"
                  "void *memchr(const void *s, int c, size_t n);\nsize_t strlen(const char *s);\n"
                  "int strcmp(const char *a, const char *b);\nint strncmp(const char *a, const char *b, size_t n);\n"
                  "char *strchr(const char *s, int c);\n");
    return dir;
}

// The .c files (hdrs = 1: and .h files) of a folder of the tree, sorted.
#define MAX_FILES 256
static int sources(const char *folder, int hdrs, char names[MAX_FILES][256]) {
    char dirpath[4200];
    snprintf(dirpath, sizeof dirpath, "%s/%s", root(), folder);
    DIR *d = opendir(dirpath);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < MAX_FILES;) {
        size_t k = strlen(e->d_name);
        if (k >= 3 && e->d_name[k - 2] == '.' && (e->d_name[k - 1] == 'c' || (hdrs && e->d_name[k - 1] == 'h')))
            snprintf(names[n++], 256, "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    return n;
}

static int compile(const char *stub, const char *src, char **err) {
    return rq_test_run(NULL, err, "cd %s && gcc -std=gnu11 -ffreestanding -nostdinc -mgeneral-regs-only -isystem %s -I. -Wall -Wextra -Werror -c %s -o /dev/null",
                       root(), stub, src);
}

static void test_infer_freestanding(void **state) {
    (void)state;
    char stub[4200];
    snprintf(stub, sizeof stub, "%s", stub_dir());  // rq_test_tmpdir's buffer is reused
    static char names[MAX_FILES][256];
    int n = sources("infer", 0, names);
    for (int i = 0; i < n; i++) {
        char src[600], *err = NULL;
        snprintf(src, sizeof src, "infer/%.255s", names[i]);
        if (compile(stub, src, &err) != 0) fail_msg("%s does not compile freestanding:\n%s", src, err);
        free(err);
    }
    assert_true(n >= 8);
    // The control: the C library's stdio is not there.
    const char *tmp = rq_test_tmpdir("layers_bad");
    char bad[4200], *err = NULL;
    snprintf(bad, sizeof bad, "%s/bad.c", tmp);
    rq_test_write(bad, "#include \"infer/chat_kernel.h\"\n#include <stdio.h>\nint f(void) { return 0; }\n");
    assert_int_not_equal(compile(stub, bad, &err), 0);
    assert_non_null(strstr(err, "stdio.h"));
    free(err);
    // The control for integer-only: a float computation does not compile either.
    rq_test_write(bad, "#include \"infer/lm_kernel.h\"\nfloat g(float x) { return x * 0.5f; }\n");
    err = NULL;
    assert_int_not_equal(compile(stub, bad, &err), 0);
    free(err);
    fprintf(stderr, "layers: %d infer/*.c compile freestanding with <stdint.h> <stddef.h> <string.h> only\n", n);
}

// Every #include "X" of the .c/.h files in folder: fail when allowed(X) says no.
static int scan(const char *folder, int (*allowed)(const char *inc), const char *rule) {
    static char names[MAX_FILES][256];
    int files = sources(folder, 1, names);
    for (int f = 0; f < files; f++) {
        char path[4600];
        snprintf(path, sizeof path, "%s/%s/%.255s", root(), folder, names[f]);
        uint8_t *txt;
        size_t n;
        assert_int_equal(rq_read_file(path, &txt, &n), 0);
        int line = 1;
        for (char *p = (char *)txt; *p; line++) {
            char *nl = strchr(p, '\n');
            if (strncmp(p, "#include \"", 10) == 0) {
                char inc[256];
                size_t m = strcspn(p + 10, "\"\n");
                snprintf(inc, sizeof inc, "%.*s", (int)m, p + 10);
                if (!allowed(inc)) fail_msg("%s/%s:%d: #include \"%s\": %s", folder, names[f], line, inc, rule);
            }
            if (!nl) break;
            p = nl + 1;
        }
        free(txt);
    }
    return files;
}

static int infer_ok(const char *inc) {
    return strncmp(inc, "infer/", 6) == 0 || strcmp(inc, "base/crc32.h") == 0 || strcmp(inc, "base/endian.h") == 0;
}
static int model_ok(const char *inc) { return strncmp(inc, "qat/", 4) != 0 && strncmp(inc, "cli/", 4) != 0; }
static int train_ok(const char *inc) { return strncmp(inc, "cli/", 4) != 0; }

static void test_include_rules(void **state) {
    (void)state;
    assert_true(scan("infer", infer_ok, "infer/ includes only infer/, base/crc32.h and base/endian.h") >= 10);
    assert_true(scan("model", model_ok, "model/ includes no qat/ and no cli/") >= 5);
    assert_true(scan("train", train_ok, "train/ includes no cli/") >= 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_infer_freestanding),
        cmocka_unit_test(test_include_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
