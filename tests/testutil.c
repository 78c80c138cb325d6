#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/binio.h"
#include "base/crc32.h"
#include "base/endian.h"
#include "model/llama.h"

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

// The whole file, NUL-terminated, malloc'd; NULL when it cannot be opened.
static char *slurp_len(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)(n > 0 ? n : 0) + 1);
    size_t got = n > 0 ? fread(s, 1, (size_t)n, f) : 0;
    s[got] = 0;
    fclose(f);
    if (len) *len = got;
    return s;
}

static char *slurp(const char *path) {
    char *s = slurp_len(path, NULL);
    return s ? s : strdup("");
}

char *rq_test_read_file(const char *path, size_t *len) {
    char *s = slurp_len(path, len);
    if (!s) fail_msg("cannot open %s", path);
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

void rq_test_chat_fixture(const char *dir, int epochs, char *cfg, size_t ncfg) {
    static const char *q[6] = {"hello", "what time", "who are you", "bye now", "tell a joke", "how much ram"};
    static const char *a[6] = {"HI.", "NO CLOCK.", "I AM ZED.", "BYE.", "NO JOKES.", "64K."};
    char data[4200], text[9000];
    snprintf(data, sizeof data, "%s/chat.txt", dir);
    FILE *f = fopen(data, "w");
    if (!f) fail_msg("cannot write %s", data);
    for (int i = 0; i < 150; i++) fprintf(f, "%s %d|%s\n", q[i % 6], i / 30, a[i % 6]);
    fclose(f);
    snprintf(cfg, ncfg, "%s/chat.json", dir);
    snprintf(text, sizeof text,
             "{\"model\": \"chat\", \"data\": \"%s\", \"seed\": 1,\n"
             " \"net\": {\"q_buckets\": 32, \"k_buckets\": 32, \"context\": 8, \"hidden\": [24, 16], \"weights\": \"2bit\"},\n"
             " \"train\": {\"epochs\": %d, \"batch\": 32, \"lr\": 0.04, \"evals\": %d}}\n",
             data, epochs, epochs > 50 ? epochs : 4);
    rq_test_write(cfg, text);
}

void rq_test_train_small_chat(const char *dir, char *ckpt, size_t nckpt) {
    const char *root = getenv("RQ_ROOT") ? getenv("RQ_ROOT") : ".";
    char cfg[4200], text[8400];
    snprintf(cfg, sizeof cfg, "%s/small.json", dir);
    snprintf(text, sizeof text,
             "{\"model\": \"chat\", \"data\": \"%s/examples/tinychat/chat.txt\", \"seed\": 5,\n"
             " \"net\": {\"q_buckets\": 64, \"k_buckets\": 64, \"context\": 8, \"hidden\": [64, 48], \"weights\": \"2bit\",\n"
             "         \"max_query\": 64, \"max_answer\": 32},\n"
             " \"train\": {\"epochs\": 2, \"batch\": 128, \"evals\": 1}}\n",
             root);
    rq_test_write(cfg, text);
    char *err = NULL;
    if (rq_test_run(NULL, &err, "%s train %s --out %s/run --quiet", rq_test_bin(), cfg, dir)) fail_msg("training failed: %s", err);
    free(err);
    snprintf(ckpt, nckpt, "%s/run/best.ckpt", dir);
}

void rq_test_llama_v1(const llama_model *m, rq_buf *b) {
    const llama_config *c = &m->config;
    rq_buf_u32(b, 0x616b3432u);
    rq_buf_i32(b, 1);
    int v[7] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len};
    for (int i = 0; i < 7; i++) rq_buf_i32(b, v[i]);
    rq_buf_u8(b, (uint8_t)c->shared_classifier);
    rq_buf_zeros(b, 256 - b->len);
    size_t d = c->dim, h = c->hidden_dim, L = c->n_layers, V = c->vocab_size, kv = llama_kv_dim(c);
    const llama_weights *w = &m->w;
    rq_buf_f32s(b, w->rms_att, L * d);
    rq_buf_f32s(b, w->rms_ffn, L * d);
    rq_buf_f32s(b, w->rms_final, d);
    rq_buf_f32s(b, w->token_embedding, V * d);
    rq_buf_f32s(b, w->wq, L * d * d);
    rq_buf_f32s(b, w->wk, L * kv * d);
    rq_buf_f32s(b, w->wv, L * kv * d);
    rq_buf_f32s(b, w->wo, L * d * d);
    rq_buf_f32s(b, w->w1, L * h * d);
    rq_buf_f32s(b, w->w2, L * d * h);
    rq_buf_f32s(b, w->w3, L * h * d);
    if (!c->shared_classifier) rq_buf_f32s(b, w->wcls, V * d);
}
