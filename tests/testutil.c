#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *rq_test_data(const char *rel) {
    static char path[4096];
    const char *dir = getenv("RQ_DATA");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "../shared/data", rel);
    if (access(path, R_OK) != 0) {
        const char *ci = getenv("CI");
        if (ci && *ci && strcmp(ci, "false") != 0) fail_msg("shared data file missing under CI: %s", path);
        fprintf(stderr, "SKIP: shared data file %s not found (set RQ_DATA)\n", path);
        skip();
    }
    return path;
}

const char *rq_test_bin(void) {
    const char *b = getenv("RQ_BIN");
    return b ? b : "build/retroqat";
}

const char *rq_test_tmpdir(const char *name) {
    static char dir[4096];
    const char *base = getenv("RQ_TMP");
    snprintf(dir, sizeof dir, "%s/%s", base ? base : "/tmp/retroqat-tests", name);
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) fail_msg("cannot create %s", dir);
    return dir;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

int rq_test_run(char **out, char **err, const char *fmt, ...) {
    char cmd[8192], full[8400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char o[] = "/tmp/rqt-out-XXXXXX", e[] = "/tmp/rqt-err-XXXXXX";
    int fo = mkstemp(o), fe = mkstemp(e);
    if (fo < 0 || fe < 0) fail_msg("mkstemp failed");
    close(fo);
    close(fe);
    snprintf(full, sizeof full, "( %s ) >%s 2>%s </dev/null", cmd, o, e);
    int st = system(full);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    if (out) *out = slurp(o);
    if (err) *err = slurp(e);
    unlink(o);
    unlink(e);
    return rc;
}

void rq_test_write(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

char *rq_test_slurp(FILE *f) {
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *s = calloc(1, (size_t)n + 1);
    if (n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n) fail_msg("cannot read back a temporary file");
    return s;
}
