#include "base/rqfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/crc32.h"
#include "base/err.h"

static const char RQF_MAGIC[4] = {'R', 'Q', 'F', '1'};

void rqf_writer_init(rqf_writer *w, const char *kind, uint32_t version) {
    memset(w, 0, sizeof *w);
    snprintf(w->kind, sizeof w->kind, "%s", kind);
    w->version = version;
}

rq_buf *rqf_section_begin(rqf_writer *w, const char *tag) {
    if (w->n >= RQF_MAX_SECTIONS) {
        fprintf(stderr, "retroqat: internal error: more than %d checkpoint sections\n", RQF_MAX_SECTIONS);
        abort();
    }
    rqf_wsection *s = &w->sec[w->n++];
    memset(s->tag, 0, sizeof s->tag);
    strncpy(s->tag, tag, 4);
    return &s->body;
}

void rqf_writer_free(rqf_writer *w) {
    for (int i = 0; i < w->n; i++) rq_buf_free(&w->sec[i].body);
    w->n = 0;
}

void rqf_serialise(rqf_writer *w, rq_buf *out) {
    out->len = 0;
    out->big_endian = 0;
    rq_buf_put(out, RQF_MAGIC, 4);
    char kind[8] = {0};
    memcpy(kind, w->kind, strlen(w->kind));
    rq_buf_put(out, kind, 8);
    rq_buf_u32(out, w->version);
    rq_buf_u32(out, (uint32_t)w->n);
    size_t off = 20 + 12 * (size_t)w->n;
    for (int i = 0; i < w->n; i++) {
        rq_buf_put(out, w->sec[i].tag, 4);
        rq_buf_u32(out, (uint32_t)off);
        rq_buf_u32(out, (uint32_t)w->sec[i].body.len);
        off += (w->sec[i].body.len + 3) & ~(size_t)3;
    }
    for (int i = 0; i < w->n; i++) {
        rq_buf_put(out, w->sec[i].body.data, w->sec[i].body.len);
        rq_buf_align(out, 4);
    }
    rq_buf_u32(out, crc32_update(0, out->data, out->len));
    rqf_writer_free(w);
}

int rqf_write(rqf_writer *w, const char *path) {
    rq_buf out = {0};
    rqf_serialise(w, &out);
    int rc = rq_write_atomic(path, out.data, out.len);
    rq_buf_free(&out);
    return rc;
}

int rqf_open_mem(rqf_file *f, uint8_t *data, size_t len, const char *path, const char *kind) {
    memset(f, 0, sizeof *f);
    f->data = data;
    f->len = len;
    f->path = path;
    rq_reader r;
    rq_reader_init(&r, data, len, path);
    const uint8_t *magic = rq_rd_bytes(&r, 4, "magic");
    if (r.err) return r.err;
    if (memcmp(magic, RQF_MAGIC, 4) != 0) return rq_fail_at(RQ_EINPUT, path, 0, "not a retroqat checkpoint (bad magic)");
    const uint8_t *k = rq_rd_bytes(&r, 8, "kind");
    f->version = rq_rd_u32(&r, "version");
    uint32_t n = rq_rd_u32(&r, "section count");
    if (r.err) return r.err;
    memcpy(f->kind, k, 8);
    f->kind[8] = 0;
    if (kind && strcmp(f->kind, kind) != 0)
        return rq_fail_at(RQ_EINPUT, path, 4, "checkpoint holds a '%s' model, expected '%s'", f->kind, kind);
    if (n > RQF_MAX_SECTIONS) return rq_fail_at(RQ_EINPUT, path, 16, "section count %u is corrupt", n);
    if (len < 24 + 12 * (size_t)n) return rq_fail_at(RQ_EINPUT, path, (long)len, "truncated checkpoint");
    uint32_t want = rq_rd_u32le(data + len - 4);
    uint32_t got = crc32_update(0, data, len - 4);
    if (want != got)
        return rq_fail_at(RQ_EINPUT, path, (long)len - 4, "checksum mismatch (stored %08x, computed %08x): file is corrupt or truncated", want, got);
    f->n = (int)n;
    for (uint32_t i = 0; i < n; i++) {
        long at = (long)r.pos;
        const uint8_t *tag = rq_rd_bytes(&r, 4, "section tag");
        uint32_t off = rq_rd_u32(&r, "section offset");
        uint32_t slen = rq_rd_u32(&r, "section length");
        if (r.err) return r.err;
        if (off > len - 4 || slen > len - 4 - off)
            return rq_fail_at(RQ_EINPUT, path, at, "section %.4s lies outside the file", (const char *)tag);
        memcpy(f->sec[i].tag, tag, 4);
        f->sec[i].tag[4] = 0;
        f->sec[i].offset = off;
        f->sec[i].length = slen;
    }
    return 0;
}

int rqf_open(rqf_file *f, const char *path, const char *kind) {
    uint8_t *data;
    size_t len;
    int rc = rq_read_file(path, &data, &len);
    if (rc) return rc;
    rc = rqf_open_mem(f, data, len, path, kind);
    if (rc) {
        free(data);
        f->data = NULL;
    }
    return rc;
}

int rqf_section(const rqf_file *f, const char *tag, rq_reader *r) {
    for (int i = 0; i < f->n; i++) {
        if (strncmp(f->sec[i].tag, tag, 4) == 0) {
            rq_reader_init(r, f->data + f->sec[i].offset, f->sec[i].length, f->path);
            r->origin = f->sec[i].offset;
            return 0;
        }
    }
    return rq_fail(RQ_EINPUT, "%s: checkpoint has no '%s' section", f->path, tag);
}

void rqf_put_floats(rqf_writer *w, const char *tag, const float *params, size_t n) {
    rq_buf *b = rqf_section_begin(w, tag);
    rq_buf_u64(b, n);
    rq_buf_f32s(b, params, n);
}

int rqf_get_floats(const rqf_file *f, const char *tag, float *params, size_t n) {
    rq_reader r;
    int rc = rqf_section(f, tag, &r);
    if (rc) return rc;
    uint64_t have = rq_rd_u64(&r, "value count");
    if (r.err) return r.err;
    if (have != n)
        return rq_fail(RQ_EINPUT, "%s: section %s has %llu values, expected %zu (the model its config describes)", f->path, tag,
                       (unsigned long long)have, n);
    return rq_rd_f32s(&r, params, n, tag);
}

void rqf_close(rqf_file *f) {
    free(f->data);
    f->data = NULL;
}

int rqf_sniff(const char *path, char kind[9]) {
    int fd;
    if (rq_open_regular(path, &fd)) {  // not a readable regular file: let the loader say why
        rq_clear_error();
        return 0;
    }
    uint8_t h[12];
    int ok = read(fd, h, 12) == 12 && memcmp(h, RQF_MAGIC, 4) == 0;
    close(fd);
    if (ok && kind) {
        memcpy(kind, h + 4, 8);
        kind[8] = 0;
    }
    return ok;
}
