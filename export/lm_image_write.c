// lm_image_write.c: the model image writer (the reader and the byte map are in infer/lm_image.c).
#include "export/lm_image_write.h"

#include <stdio.h>
#include <string.h>

#include "base/crc32.h"
#include "base/err.h"
#include "infer/lm_image.h"

void lm_field_write(rq_buf *b, const lm_field *f) {
    const void *src = f->ref ? *f->ref : f->val;
    const uint8_t *p = src;
    for (uint32_t i = 0; i < f->count; i++) {
        switch (f->kind) {
        case LM_I8: rq_buf_put(b, p, f->count); return;
        case LM_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); rq_buf_u16(b, (uint16_t)v); break; }
        case LM_I32: case LM_U32: { uint32_t v; memcpy(&v, p + 4 * i, 4); rq_buf_u32(b, v); break; }
        case LM_RQ: { lm_rq q; memcpy(&q, p + 4 * i, 4); rq_buf_u16(b, (uint16_t)q.m); rq_buf_u8(b, q.p); rq_buf_u8(b, q.k); break; }
        }
    }
}

int lm_image_write(const lm_model *m, int big_endian, rq_buf *out) {
    lm_section secs[LM_MAX_LAYERS + 5];
    int ns = lm_image_sections(&m->c, secs);
    if (ns < 0) return RQ_EINPUT;
    rq_buf b = {0};
    b.big_endian = big_endian;
    uint32_t hbytes = 64 + 12 * (uint32_t)ns;
    rq_buf_put(&b, "RQLM", 4);
    rq_buf_u8(&b, (uint8_t)big_endian);
    // One width of 8 or 4 bits for every layer matrix is a version 2 image (what readers built
    // before 2-bit weights load); 2-bit or mixed widths need version 3 and its bits word.
    const lm_config *c = &m->c;
    // A midrise grid needs version 4 (older readers would take its codes for the other grid).
    int odd = lm_midrise_count(c) > 0;
    int v2 = !odd && (c->wbits == 8 || c->wbits == 4);
    rq_buf_u8(&b, v2 ? 2 : odd ? LM_IMAGE_VERSION : 3);
    rq_buf_u16(&b, (uint16_t)hbytes);
    rq_buf_u32(&b, 0);  // total, patched below
    rq_buf_u32(&b, 0);  // CRC, patched below
    int32_t hv[] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len,
                    c->shared_classifier, v2 ? c->wbits : (int32_t)lm_bits_word(c), c->logit_frac};
    for (int i = 0; i < 10; i++) rq_buf_i32(&b, hv[i]);
    rq_buf_u32(&b, c->eps_ss);
    rq_buf_u32(&b, (uint32_t)ns);
    uint32_t off = (hbytes + 3) & ~3u;
    for (int i = 0; i < ns; i++) {
        rq_buf_put(&b, secs[i].tag, 4);
        rq_buf_u32(&b, off);
        rq_buf_u32(&b, secs[i].bytes);
        off += secs[i].bytes;
    }
    lm_model tmp = *m;  // lm_image_fields wants a mutable model; only reads happen here
    lm_field f[LM_MAX_FIELDS];
    for (int i = 0; i < ns; i++) {
        rq_buf_align(&b, 4);
        int nf = lm_image_fields(&tmp, i, f);
        for (int j = 0; j < nf; j++) {
            rq_buf_align(&b, 4);
            lm_field_write(&b, &f[j]);
        }
    }
    rq_buf_align(&b, 4);
    if (big_endian) rq_wr_u32be(b.data + 8, (uint32_t)b.len); else rq_wr_u32le(b.data + 8, (uint32_t)b.len);
    uint32_t crc = crc32_update(0, b.data + 16, b.len - 16);
    if (big_endian) rq_wr_u32be(b.data + 12, crc); else rq_wr_u32le(b.data + 12, crc);
    rq_buf_put(out, b.data, b.len);
    rq_buf_free(&b);
    return 0;
}

const char *lm_weights_desc(const lm_config *c, char *buf, size_t n) {
    static const char *const names[LM_NMAT] = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"};
    int odd = lm_midrise_count(c);
    if (c->wbits && (odd == 0 || odd == LM_NMAT)) {  // one width and one grid for every matrix
        snprintf(buf, n, "%s%s", c->wbits == 8 ? "int8" : c->wbits == 4 ? "int4" : "2-bit", odd ? " midrise" : "");
        return buf;
    }
    size_t len = 0;
    buf[0] = 0;
    for (int k = 0; k < LM_NMAT && len < n; k++) {
        int w = snprintf(buf + len, n - len, "%s%s %d%s", k ? " " : "", names[k], c->mbits[k], c->mrise[k] ? "m" : "");
        if (w < 0) break;
        len += (size_t)w;
    }
    return buf;
}

int lm_image_save(const lm_model *m, int big_endian, const char *path) {
    rq_buf b = {0};
    int rc = lm_image_write(m, big_endian, &b);
    if (!rc) rc = rq_write_atomic(path, b.data, b.len);
    rq_buf_free(&b);
    return rc;
}
