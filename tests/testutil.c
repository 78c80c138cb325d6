#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/crc32.h"
#include "base/endian.h"

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

long rq_test_rqf_section(const uint8_t *d, size_t n, const char *tag, uint32_t *len) {
    if (n < 24 || memcmp(d, "RQF1", 4) != 0) return -1;
    uint32_t ns = rq_rd_u32le(d + 16);
    for (uint32_t i = 0; i < ns && 20 + 12 * (size_t)(i + 1) <= n; i++) {
        const uint8_t *e = d + 20 + 12 * i;
        if (memcmp(e, tag, 4) != 0) continue;
        if (len) *len = rq_rd_u32le(e + 8);
        return (long)rq_rd_u32le(e + 4);
    }
    return -1;
}

void rq_test_rqf_fix_crc(uint8_t *d, size_t n) {
    if (n >= 4) rq_wr_u32le(d + n - 4, crc32_update(0, d, n - 4));
}

void rq_test_write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) fail_msg("cannot write %s", path);
}
