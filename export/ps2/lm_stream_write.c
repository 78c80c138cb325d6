// lm_stream_write.c: the streaming image writer (the reader and the byte map are in lm_stream.c/.h).
#include "export/ps2/lm_stream_write.h"

#include "base/crc32.h"
#include "base/err.h"
#include "export/lm_image_write.h"
#include "export/ps2/lm_stream.h"
#include "infer/lm_image.h"

static void wr32(rq_buf *b, size_t at, uint32_t v) {
    if (b->big_endian) rq_wr_u32be(b->data + at, v);
    else rq_wr_u32le(b->data + at, v);
}

int lmst_write(const lm_model *m, int big_endian, rq_buf *out, lmst_sizes *sz) {
    lm_section secs[LM_MAX_LAYERS + 5];
    int ns = lm_image_sections(&m->c, secs);
    if (ns < 0) return RQ_EINPUT;
    lm_model tmp = *m;  // lm_image_fields and lmst_mats want a mutable model; only reads happen
    static lmst_mat lay[7 * LM_MAX_LAYERS + 1];
    int nm = lmst_mats(&tmp, lay);
    uint32_t hbytes = LMST_HEADER_FIXED + 12u * (uint32_t)nm;
    rq_buf b = {0};
    b.big_endian = big_endian;
    rq_buf_put(&b, LMST_MAGIC, 4);
    rq_buf_u8(&b, (uint8_t)big_endian);
    rq_buf_u8(&b, LMST_VERSION);
    rq_buf_u16(&b, LMST_SECTOR);
    rq_buf_zeros(&b, 36);  // total, CRC, header bytes, resident off/bytes/CRC, n_mats, max row, stream total: below
    const lm_config *c = &m->c;
    int32_t hv[] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len,
                    c->shared_classifier, c->wbits, c->logit_frac};
    for (int i = 0; i < 10; i++) rq_buf_i32(&b, hv[i]);
    rq_buf_u32(&b, c->eps_ss);
    rq_buf_zeros(&b, 8 + 12u * (uint32_t)nm);
    rq_buf_align(&b, LMST_SECTOR);

    // resident part
    uint32_t roff = (uint32_t)b.len;
    lm_field f[LM_MAX_FIELDS];
    for (int i = 0; i < ns; i++) {
        int nf = lm_image_fields(&tmp, i, f);
        for (int j = 0; j < nf; j++) {
            if (lmst_is_matrix_field(&tmp, &f[j])) continue;
            rq_buf_align(&b, 4);
            lm_field_write(&b, &f[j]);
        }
    }
    rq_buf_align(&b, 4);
    uint32_t rbytes = (uint32_t)b.len - roff, rcrc = crc32_update(0, b.data + roff, rbytes);
    rq_buf_align(&b, LMST_SECTOR);

    // the matrices, each from a sector boundary
    uint32_t max_row = 0, stotal = 0, max_mat = 0;
    for (int i = 0; i < nm; i++) {
        uint32_t rb = lm_row_bytes(lay[i].bits, lay[i].cols), bytes = rb * (uint32_t)lay[i].rows, off = (uint32_t)b.len;
        rq_buf_put(&b, lay[i].mat->w, bytes);
        uint32_t crc = crc32_update(0, b.data + off, bytes);
        rq_buf_align(&b, LMST_SECTOR);
        wr32(&b, LMST_HEADER_FIXED + 12u * i, off);
        wr32(&b, LMST_HEADER_FIXED + 12u * i + 4, bytes);
        wr32(&b, LMST_HEADER_FIXED + 12u * i + 8, crc);
        if (rb > max_row) max_row = rb;
        if (bytes > max_mat) max_mat = bytes;
        stotal += bytes;
    }
    wr32(&b, 8, (uint32_t)b.len);
    wr32(&b, 16, hbytes);
    wr32(&b, 20, roff);
    wr32(&b, 24, rbytes);
    wr32(&b, 28, rcrc);
    wr32(&b, 32, (uint32_t)nm);
    wr32(&b, 36, max_row);
    wr32(&b, 40, stotal);
    wr32(&b, 12, crc32_update(0, b.data + 16, hbytes - 16));
    if (sz) *sz = (lmst_sizes){hbytes, rbytes, (uint32_t)b.len, stotal, max_row, max_mat};
    rq_buf_put(out, b.data, b.len);
    rq_buf_free(&b);
    return 0;
}
