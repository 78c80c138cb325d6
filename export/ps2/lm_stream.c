// lm_stream.c: read a streaming model image and serve its matrices to lm_forward (lm_stream.h).
#include "export/ps2/lm_stream.h"

#include <string.h>

// Slicing by 4: t[0] is the byte table, t[k][i] the CRC of byte i followed by k zero bytes, so
// four bytes fold in with four lookups (about 5 MIPS instructions a byte instead of 8).
static uint32_t crc_t[4][256];

void lmst_crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_t[0][i] = c;
    }
    for (int k = 1; k < 4; k++)
        for (int i = 0; i < 256; i++) crc_t[k][i] = (crc_t[k - 1][i] >> 8) ^ crc_t[0][crc_t[k - 1][i] & 255];
}

uint32_t lmst_crc(uint32_t crc, const void *buf, size_t n) {
    const uint8_t *p = buf;
    crc = ~crc;
    for (; n && ((uintptr_t)p & 3); n--) crc = crc_t[0][(crc ^ *p++) & 255] ^ (crc >> 8);
    for (; n >= 4; n -= 4, p += 4) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint32_t w;
        __builtin_memcpy(&w, p, 4);
#else
        uint32_t w = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
#endif
        crc ^= w;
        crc = crc_t[3][crc & 255] ^ crc_t[2][(crc >> 8) & 255] ^ crc_t[1][(crc >> 16) & 255] ^ crc_t[0][crc >> 24];
    }
    for (; n; n--) crc = crc_t[0][(crc ^ *p++) & 255] ^ (crc >> 8);
    return ~crc;
}

static const char *const MAT_NAMES[7] = {"wq", "wk", "wv", "wo", "w1", "w3", "w2"};

int lmst_mats(lm_model *m, lmst_mat *out) {
    const lm_config *c = &m->c;
    int d = c->dim, h = c->hidden_dim, kvd = lm_kv_dim(c), n = 0;
    for (int l = 0; l < c->n_layers; l++) {
        lm_layer *L = &m->layers[l];
        lm_mat *ms[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w1, &L->w3, &L->w2};
        int rows[7] = {d, kvd, kvd, d, h, h, d}, cols[7] = {d, d, d, d, d, d, h};
        for (int i = 0; i < 7; i++) out[n++] = (lmst_mat){ms[i], rows[i], cols[i], c->wbits, l, MAT_NAMES[i]};
    }
    if (!c->shared_classifier) out[n++] = (lmst_mat){&m->cls, c->vocab_size, d, 8, -1, "cls"};
    return n;
}

int lmst_is_matrix_field(lm_model *m, const lm_field *f) {
    if (!f->ref) return 0;
    for (int l = 0; l < m->c.n_layers; l++) {
        lm_layer *L = &m->layers[l];
        const lm_mat *ms[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w1, &L->w3, &L->w2};
        for (int i = 0; i < 7; i++)
            if (f->ref == &ms[i]->w) return 1;
    }
    return !m->c.shared_classifier && f->ref == &m->cls.w;
}

static int host_is_be(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 0;
}
static uint32_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint32_t al4(uint32_t n) { return (n + 3) & ~3u; }

// The weight source lm_forward calls: the rows of one matrix arrive in order, their CRC is
// accumulated and compared when the matrix's last byte is in.
static void stream_read(void *ctx, uint32_t off, void *buf, uint32_t n) {
    lmst *st = ctx;
    infer_err e;
    if (st->cur >= st->n_mats || off != st->next) {  // a matrix starts: find it
        uint32_t k = st->cur + 1 < st->n_mats && st->mats[st->cur + 1].off == off ? st->cur + 1 : 0;
        while (k < st->n_mats && st->mats[k].off != off) k++;
        if (k == st->n_mats) {
            infer_fail(&e, (long)off, "stream: read of %ld bytes does not start a matrix", (long)n, 0, 0, 0);
            st->fail(st->fail_ctx, &e);
        }
        st->cur = k, st->crc = 0;
    }
    const lmst_extent *x = &st->mats[st->cur];
    if (off + n > x->off + x->bytes) {
        infer_fail(&e, (long)off, "stream: read of %ld bytes runs past matrix %ld", (long)n, (long)st->cur, 0, 0);
        st->fail(st->fail_ctx, &e);
    }
    if (st->read(st->read_ctx, off, buf, n)) {
        infer_fail(&e, (long)off, "stream: read error (%ld bytes)", (long)n, 0, 0, 0);
        st->fail(st->fail_ctx, &e);
    }
    st->crc = lmst_crc(st->crc, buf, n);
    st->next = off + n;
    st->bytes_streamed += n;
    if (st->next == x->off + x->bytes) {
        if (st->crc != x->crc) {
            infer_fail(&e, (long)x->off, "CRC mismatch in streamed matrix %ld (%ld bytes; stored %x, computed %x): the image is corrupt",
                       (long)st->cur, (long)x->bytes, (long)x->crc, (long)st->crc);
            st->fail(st->fail_ctx, &e);
        }
        st->cur = st->n_mats;  // the next read starts a matrix
    }
}

static void *take(void *(*alloc)(size_t), size_t n, infer_err *e) {
    void *p = alloc(n);
    if (!p) infer_fail(e, -1, "out of memory: the budget cannot hold %ld more bytes", (long)n, 0, 0, 0);
    return p;
}

int lmst_open(lmst *st, lm_model *m, uint32_t buf_bytes, void *(*alloc)(size_t), infer_err *e) {
    memset(m, 0, sizeof *m);
    lmst_crc_init();
    uint8_t *h = take(alloc, LMST_SECTOR, e);
    if (!h) return -1;
    if (st->read(st->read_ctx, 0, h, LMST_SECTOR)) return infer_fail(e, 0, "read error in the header sector", 0, 0, 0, 0);
    if (memcmp(h, LMST_MAGIC, 4) != 0) return infer_fail(e, 0, "bad magic (not a retroqat streaming image \"RQST\")", 0, 0, 0, 0);
    if (h[4] > 1) return infer_fail(e, 4, "bad byte-order flag %ld (0 little, 1 big)", h[4], 0, 0, 0);
    if (h[4] != host_is_be())
        return infer_fail_s(e, 4, "image is %s-endian, not this machine's byte order: export it for this target", h[4] ? "big" : "little", 0, 0, 0);
    if (h[5] != LMST_VERSION) return infer_fail(e, 5, "unsupported streaming image version %ld (this build reads %ld)", h[5], LMST_VERSION, 0, 0);
    uint16_t sec;
    memcpy(&sec, h + 6, 2);
    if (sec != LMST_SECTOR) return infer_fail(e, 6, "sector size %ld (this build reads %ld)", sec, LMST_SECTOR, 0, 0);
    uint32_t total = rd32(h + 8), hcrc = rd32(h + 12), hbytes = rd32(h + 16);
    uint32_t roff = rd32(h + 20), rbytes = rd32(h + 24), rcrc = rd32(h + 28);
    uint32_t nm = rd32(h + 32), max_row = rd32(h + 36), stotal = rd32(h + 40);
    if (total % LMST_SECTOR) return infer_fail(e, 8, "total size %ld is not a whole number of sectors", (long)total, 0, 0, 0);
    if (nm > 7u * LM_MAX_LAYERS + 1 || hbytes != LMST_HEADER_FIXED + 12 * nm)
        return infer_fail(e, 16, "header size %ld does not match %ld matrices", (long)hbytes, (long)nm, 0, 0);
    if (hbytes > LMST_SECTOR) {  // a long matrix table: read the whole header
        uint8_t *h2 = take(alloc, hbytes, e);
        if (!h2) return -1;
        if (st->read(st->read_ctx, 0, h2, hbytes)) return infer_fail(e, 0, "read error in the header", 0, 0, 0, 0);
        h = h2;
    }
    uint32_t got = lmst_crc(0, h + 16, hbytes - 16);
    if (got != hcrc) return infer_fail(e, 12, "header CRC mismatch (stored %x, computed %x): the image is corrupt", (long)hcrc, (long)got, 0, 0);
    lm_config *c = &m->c;
    int32_t *hv[] = {&c->dim, &c->hidden_dim, &c->n_layers, &c->n_heads, &c->n_kv_heads, &c->vocab_size, &c->seq_len,
                     &c->shared_classifier, &c->wbits, &c->logit_frac};
    for (int i = 0; i < 10; i++) *hv[i] = (int32_t)rd32(h + 44 + 4 * i);
    c->eps_ss = rd32(h + 84);
    if (c->wbits != 8 && c->wbits != 4) return infer_fail(e, 76, "weight bits %ld (the streaming image holds 8 or 4)", c->wbits, 0, 0, 0);
    lm_set_bits_word(c, (uint32_t)c->wbits * 0x1111111u);  // one width for every layer matrix
    infer_err ce;
    if (lm_config_check(c, &ce)) {  // the config sits at 44 here, at 16 in an .rqm image
        *e = ce, e->offset = ce.offset + 28;
        return INFER_EBAD;
    }

    // The matrix table: layout, sector alignment, inside the image.
    static lmst_mat lay[7 * LM_MAX_LAYERS + 1];
    int n = lmst_mats(m, lay);
    if ((uint32_t)n != nm) return infer_fail(e, 32, "%ld matrices, the config needs %ld", (long)nm, n, 0, 0);
    lmst_extent *mats = take(alloc, 12u * nm, e);
    if (!mats) return -1;
    uint32_t want_row = 0, want_total = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *t = h + LMST_HEADER_FIXED + 12 * i;
        mats[i] = (lmst_extent){rd32(t), rd32(t + 4), rd32(t + 8)};
        uint32_t rb = lm_row_bytes(lay[i].bits, lay[i].cols);
        if (mats[i].bytes != rb * (uint32_t)lay[i].rows)
            return infer_fail(e, (long)(t - h) + 4, "matrix %ld: %ld bytes, the config needs %ld", i, (long)mats[i].bytes, (long)(rb * lay[i].rows), 0);
        if (mats[i].off % LMST_SECTOR || mats[i].off < roff + rbytes || mats[i].off > total || mats[i].bytes > total - mats[i].off)
            return infer_fail(e, (long)(t - h), "matrix %ld: extent at %ld is not a sector inside the image", i, (long)mats[i].off, 0, 0);
        if (rb > want_row) want_row = rb;
        want_total += mats[i].bytes;
        lay[i].mat->w = NULL, lay[i].mat->off = mats[i].off;
    }
    if (max_row != want_row || stotal != want_total)
        return infer_fail(e, 36, "row/stream sizes %ld/%ld, the table gives %ld/%ld", (long)max_row, (long)stotal, (long)want_row, (long)want_total);

    // The resident part: every non-matrix field, in lm_image_fields order.
    if (roff % LMST_SECTOR || roff < hbytes || rbytes > total - roff)
        return infer_fail(e, 20, "resident part at %ld (%ld bytes) is not a sector inside the image", (long)roff, (long)rbytes, 0, 0);
    lm_section secs[LM_MAX_LAYERS + 5];
    int ns = lm_image_sections(c, secs);
    lm_field f[LM_MAX_FIELDS];
    uint32_t need = 0;
    for (int i = 0; i < ns; i++) {
        int nf = lm_image_fields(m, i, f);
        for (int j = 0; j < nf; j++)
            if (!lmst_is_matrix_field(m, &f[j])) need = al4(need) + lm_field_bytes(&f[j]);
    }
    if (al4(need) != rbytes) return infer_fail(e, 24, "resident part is %ld bytes, the config needs %ld", (long)rbytes, (long)al4(need), 0, 0);
    uint8_t *res = take(alloc, rbytes, e);
    if (!res) return -1;
    if (st->read(st->read_ctx, roff, res, rbytes)) return infer_fail(e, (long)roff, "read error in the resident part", 0, 0, 0, 0);
    got = lmst_crc(0, res, rbytes);
    if (got != rcrc)
        return infer_fail(e, (long)roff, "resident part CRC mismatch (stored %x, computed %x): the image is corrupt", (long)rcrc, (long)got, 0, 0);
    uint32_t p = 0;
    for (int i = 0; i < ns; i++) {
        int nf = lm_image_fields(m, i, f);
        for (int j = 0; j < nf; j++) {
            if (lmst_is_matrix_field(m, &f[j])) continue;
            p = al4(p);
            if (f[j].kind == LM_RQ)
                for (uint32_t r = 0; r < f[j].count; r++) {
                    const lm_rq *q = (const lm_rq *)(const void *)(res + p) + r;
                    if (q->p > 31 || q->k > 31 || q->m == -32768)
                        return infer_fail(e, (long)(roff + p + 4 * r), "requantisation (p %ld, k %ld) outside the contract", q->p, q->k, 0, 0);
                }
            if (f[j].ref) *f[j].ref = res + p;
            else memcpy(f[j].val, res + p, lm_field_bytes(&f[j]));
            p += lm_field_bytes(&f[j]);
        }
    }
    if (c->shared_classifier) m->cls.w = m->emb;

    if (buf_bytes < max_row) buf_bytes = max_row;
    buf_bytes &= ~3u;
    if (buf_bytes < max_row) buf_bytes += 4;
    void *buf = take(alloc, buf_bytes, e);
    if (!buf) return -1;
    st->n_mats = nm, st->max_row = max_row, st->stream_total = stotal, st->mats = mats;
    st->src = (lm_wsource){stream_read, st, buf, buf_bytes};
    st->cur = nm, st->next = 0, st->crc = 0, st->bytes_streamed = 0, st->bytes_cached = 0;
    m->src = &st->src;
    return 0;
}

long lmst_cache(lmst *st, lm_model *m, void *(*alloc)(size_t), infer_err *e) {
    static lmst_mat lay[7 * LM_MAX_LAYERS + 1];
    int n = lmst_mats(m, lay);
    long cached = 0;
    for (int i = 0; i < n; i++) {
        const lmst_extent *x = &st->mats[i];
        void *w = alloc(x->bytes);
        if (!w) continue;
        if (st->read(st->read_ctx, x->off, w, x->bytes)) return infer_fail(e, (long)x->off, "read error in matrix %ld", i, 0, 0, 0), -2;
        uint32_t got = lmst_crc(0, w, x->bytes);
        if (got != x->crc)
            return infer_fail(e, (long)x->off, "CRC mismatch in matrix %ld (%ld bytes; stored %x, computed %x): the image is corrupt", i,
                              (long)x->bytes, (long)x->crc, (long)got),
                   -2;
        lay[i].mat->w = w;
        cached += x->bytes;
    }
    st->bytes_cached = (uint32_t)cached;
    return cached;
}
