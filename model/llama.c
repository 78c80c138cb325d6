// llama.c: configuration checks, the one parameter allocation, and llama2.c checkpoint files.
#include "model/llama.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "base/rng.h"

#define LLAMA_V1_MAGIC 0x616b3432u  // "ak42" read as a little-endian u32
#define LLAMA_V1_HEADER 256

static const char *const FIELD[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};

// Field values in header order (vocab_size as a magnitude).
static void config_fields(const llama_config *c, int v[7]) {
    v[0] = c->dim, v[1] = c->hidden_dim, v[2] = c->n_layers, v[3] = c->n_heads;
    v[4] = c->n_kv_heads, v[5] = c->vocab_size, v[6] = c->seq_len;
}

// Bounds that keep every size computation far from overflow and the cache files in uint16, the
// same for version 0 and 1 (docs/llama-format.md lists them): dim, vocab_size and seq_len up to
// 65,536, hidden_dim up to 1,048,576, n_layers up to 1,024, heads up to 4,096.
static const int FIELD_MAX[7] = {1 << 16, 1 << 20, 1 << 10, 1 << 12, 1 << 12, 1 << 16, 1 << 16};

// base: byte offset of the first header field in the file (-1: not from a file).
static int check_fields(const llama_config *c, const char *file, long base) {
    int v[7];
    config_fields(c, v);
    for (int i = 0; i < 7; i++) {
        if (v[i] <= 0 || v[i] > FIELD_MAX[i]) {
            if (base >= 0)
                return rq_fail_at(RQ_EINPUT, file, base + 4 * i, "%s = %d is out of range [1, %d]", FIELD[i], v[i], FIELD_MAX[i]);
            return rq_fail(RQ_EINPUT, "%s: %s = %d is out of range [1, %d]", file, FIELD[i], v[i], FIELD_MAX[i]);
        }
    }
    const char *why = NULL;
    if (c->dim % c->n_heads) why = "n_heads does not divide dim";
    else if (c->n_heads % c->n_kv_heads) why = "n_kv_heads does not divide n_heads";
    else if ((c->dim / c->n_heads) % 2) why = "head size dim/n_heads is odd (RoPE rotates pairs)";
    if (why) {
        if (base >= 0)
            return rq_fail_at(RQ_EINPUT, file, base, "%s (dim %d, n_heads %d, n_kv_heads %d)", why, c->dim, c->n_heads, c->n_kv_heads);
        return rq_fail(RQ_EINPUT, "%s: %s (dim %d, n_heads %d, n_kv_heads %d)", file, why, c->dim, c->n_heads, c->n_kv_heads);
    }
    return 0;
}

int llama_config_check(const llama_config *c, const char *file) { return check_fields(c, file ? file : "config", -1); }

size_t llama_n_params(const llama_config *c) {
    size_t d = c->dim, h = c->hidden_dim, L = c->n_layers, V = c->vocab_size, kv = llama_kv_dim(c);
    size_t n = V * d                       // token_embedding
             + L * d                       // rms_att
             + L * (d * d + 2 * kv * d + d * d)  // wq wk wv wo
             + L * d                       // rms_ffn
             + L * 3 * h * d               // w1 w2 w3
             + d;                          // rms_final
    if (!c->shared_classifier) n += V * d;
    return n;
}

void llama_point_weights(llama_weights *w, const llama_config *c, float *p) {
    size_t d = c->dim, h = c->hidden_dim, L = c->n_layers, V = c->vocab_size, kv = llama_kv_dim(c);
    w->token_embedding = p; p += V * d;
    w->rms_att = p; p += L * d;
    w->wq = p; p += L * d * d;
    w->wk = p; p += L * kv * d;
    w->wv = p; p += L * kv * d;
    w->wo = p; p += L * d * d;
    w->rms_ffn = p; p += L * d;
    w->w1 = p; p += L * h * d;
    w->w2 = p; p += L * d * h;
    w->w3 = p; p += L * h * d;
    w->rms_final = p; p += d;
    w->wcls = c->shared_classifier ? w->token_embedding : p;
}

int llama_build(llama_model *m, const llama_config *c) {
    memset(m, 0, sizeof *m);
    int rc = llama_config_check(c, "model config");
    if (rc) return rc;
    m->config = *c;
    m->n_params = llama_n_params(c);
    m->params = rq_calloc(m->n_params, sizeof(float));
    llama_point_weights(&m->w, c, m->params);
    return 0;
}

void llama_free(llama_model *m) {
    free(m->params);
    memset(m, 0, sizeof *m);
}

static void fill_normal(pcg32 *r, float *p, size_t n, float std) {
    for (size_t i = 0; i < n; i++) p[i] = std * pcg32_normal(r);
}

void llama_init_random(llama_model *m, uint64_t seed) {
    const llama_config *c = &m->config;
    llama_weights *w = &m->w;
    size_t d = c->dim, h = c->hidden_dim, L = c->n_layers, V = c->vocab_size, kv = llama_kv_dim(c);
    pcg32 r;
    pcg32_seed(&r, seed, 0x11a3a);
    float std = 0.02f, res = 0.02f / sqrtf(2.0f * c->n_layers);
    fill_normal(&r, w->token_embedding, V * d, std);
    fill_normal(&r, w->wq, L * d * d, std);
    fill_normal(&r, w->wk, L * kv * d, std);
    fill_normal(&r, w->wv, L * kv * d, std);
    fill_normal(&r, w->wo, L * d * d, res);
    fill_normal(&r, w->w1, L * h * d, std);
    fill_normal(&r, w->w2, L * d * h, res);
    fill_normal(&r, w->w3, L * h * d, std);
    if (!c->shared_classifier) fill_normal(&r, w->wcls, V * d, std);
    for (size_t i = 0; i < L * d; i++) w->rms_att[i] = w->rms_ffn[i] = 1.0f;
    for (size_t i = 0; i < d; i++) w->rms_final[i] = 1.0f;
}

// ---- reading ---------------------------------------------------------------------------------

// Read n floats at the reader's position into dst, rejecting NaN/Inf with the byte offset.
static int read_tensor(rq_reader *r, float *dst, size_t n, const char *what) {
    size_t at = r->pos;
    if (rq_rd_f32s(r, dst, n, what)) return r->err;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dst[i]))
            return rq_fail_at(RQ_EINPUT, r->file, (long)(at + 4 * i), "%s[%zu] is not a finite number", what, i);
    return 0;
}

// Exact-size check: the header fixes the file length; anything else is a corrupt file.
static int check_size(const char *name, size_t len, size_t want) {
    if (len < want)
        return rq_fail_at(RQ_EINPUT, name, (long)len, "truncated: the header implies %zu bytes, the file has %zu", want, len);
    if (len > want)
        return rq_fail_at(RQ_EINPUT, name, (long)want, "%zu unexpected bytes after the weights (the header implies %zu bytes)", len - want, want);
    return 0;
}

static int load_v0(llama_model *m, rq_reader *r, const char *name) {
    llama_config c = {0};
    int32_t v[7];
    for (int i = 0; i < 7; i++) v[i] = rq_rd_i32(r, FIELD[i]);
    if (r->err) return r->err;
    c.dim = v[0], c.hidden_dim = v[1], c.n_layers = v[2], c.n_heads = v[3], c.n_kv_heads = v[4];
    c.shared_classifier = v[5] > 0;
    c.vocab_size = v[5] == INT32_MIN ? 0 : abs(v[5]);
    c.seq_len = v[6];
    int rc = check_fields(&c, name, 0);
    if (rc) return rc;
    size_t np = llama_n_params(&c), rope = (size_t)c.seq_len * llama_head_size(&c) / 2;
    size_t want = 28 + 4 * (np + 2 * rope);
    if ((rc = check_size(name, r->len, want))) return rc;
    if ((rc = llama_build(m, &c))) return rc;
    // Everything up to rms_final is contiguous in both the file and params.
    size_t body = np - (c.shared_classifier ? 0 : (size_t)c.vocab_size * c.dim);
    if ((rc = read_tensor(r, m->params, body, "weights"))) goto fail;
    rq_rd_bytes(r, 8 * rope, "freq_cis tables");  // unused: RoPE is computed, as in run.c
    if (!c.shared_classifier && (rc = read_tensor(r, m->w.wcls, (size_t)c.vocab_size * c.dim, "wcls"))) goto fail;
    return 0;
fail:
    llama_free(m);
    return rc;
}

static int load_v1(llama_model *m, rq_reader *r, const char *name) {
    rq_rd_u32(r, "magic");
    int32_t version = rq_rd_i32(r, "version");
    if (r->err) return r->err;
    if (version != 1)
        return rq_fail_at(RQ_EINPUT, name, 4, "llama2.c file version %d is not supported (0 and 1 are; 2 and 3 are quantised)", version);
    llama_config c = {0};
    int32_t v[7];
    for (int i = 0; i < 7; i++) v[i] = rq_rd_i32(r, FIELD[i]);
    uint8_t shared = rq_rd_u8(r, "shared_classifier");
    if (r->err) return r->err;
    if (shared > 1) return rq_fail_at(RQ_EINPUT, name, 36, "shared_classifier flag is %u (expected 0 or 1)", shared);
    c.dim = v[0], c.hidden_dim = v[1], c.n_layers = v[2], c.n_heads = v[3], c.n_kv_heads = v[4];
    c.vocab_size = v[5], c.seq_len = v[6], c.shared_classifier = shared;
    int rc = check_fields(&c, name, 8);
    if (rc) return rc;
    size_t np = llama_n_params(&c);
    if ((rc = check_size(name, r->len, LLAMA_V1_HEADER + 4 * np))) return rc;
    if ((rc = llama_build(m, &c))) return rc;
    r->pos = LLAMA_V1_HEADER;
    size_t d = c.dim, h = c.hidden_dim, L = c.n_layers, V = c.vocab_size, kv = llama_kv_dim(&c);
    llama_weights *w = &m->w;
    struct { float *p; size_t n; const char *what; } order[] = {
        {w->rms_att, L * d, "rms_att"}, {w->rms_ffn, L * d, "rms_ffn"}, {w->rms_final, d, "rms_final"},
        {w->token_embedding, V * d, "token_embedding"}, {w->wq, L * d * d, "wq"}, {w->wk, L * kv * d, "wk"},
        {w->wv, L * kv * d, "wv"}, {w->wo, L * d * d, "wo"}, {w->w1, L * h * d, "w1"}, {w->w2, L * d * h, "w2"},
        {w->w3, L * h * d, "w3"}, {w->wcls, shared ? 0 : V * d, "wcls"},
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (order[i].n && (rc = read_tensor(r, order[i].p, order[i].n, order[i].what))) {
            llama_free(m);
            return rc;
        }
    return 0;
}

int llama_load_mem(llama_model *m, const uint8_t *data, size_t len, const char *name) {
    memset(m, 0, sizeof *m);
    rq_reader r;
    rq_reader_init(&r, data, len, name);
    if (len >= 4 && rq_rd_u32le(data) == LLAMA_V1_MAGIC) return load_v1(m, &r, name);
    return load_v0(m, &r, name);
}

int llama_load(llama_model *m, const char *path) {
    uint8_t *data;
    size_t len;
    memset(m, 0, sizeof *m);
    int rc = rq_read_file(path, &data, &len);
    if (rc) return rc;
    rc = llama_load_mem(m, data, len, path);
    free(data);
    return rc;
}

// ---- writing (version 0) ---------------------------------------------------------------------

static void serialise_v0(const llama_model *m, rq_buf *b) {
    const llama_config *c = &m->config;
    rq_buf_i32(b, c->dim);
    rq_buf_i32(b, c->hidden_dim);
    rq_buf_i32(b, c->n_layers);
    rq_buf_i32(b, c->n_heads);
    rq_buf_i32(b, c->n_kv_heads);
    rq_buf_i32(b, c->shared_classifier ? c->vocab_size : -c->vocab_size);
    rq_buf_i32(b, c->seq_len);
    size_t np = m->n_params, vd = (size_t)c->vocab_size * c->dim;
    rq_buf_f32s(b, m->params, c->shared_classifier ? np : np - vd);
    // The legacy RoPE tables (cos then sin of pos * 10000^(-2i/head_size)), which run.c skips.
    int hs = llama_head_size(c);
    for (int part = 0; part < 2; part++)
        for (int pos = 0; pos < c->seq_len; pos++)
            for (int i = 0; i < hs / 2; i++) {
                double a = pos * pow(10000.0, -2.0 * i / hs);
                rq_buf_f32(b, (float)(part == 0 ? cos(a) : sin(a)));
            }
    if (!c->shared_classifier) rq_buf_f32s(b, m->w.wcls, vd);
}

void llama_serialise_v0(const llama_model *m, uint8_t **data, size_t *len) {
    rq_buf b = {0};
    serialise_v0(m, &b);
    *data = b.data;
    *len = b.len;
}

int llama_save_v0(const llama_model *m, const char *path) {
    rq_buf b = {0};
    serialise_v0(m, &b);
    int rc = rq_write_atomic(path, b.data, b.len);
    rq_buf_free(&b);
    return rc;
}
