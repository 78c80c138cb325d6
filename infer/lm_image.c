// lm_image.c: verify an integer model image and point an lm_model into it (lm_image.h).
#include "infer/lm_image.h"

#include <string.h>

#include "base/crc32.h"
#include "base/endian.h"

static uint32_t al4(uint32_t n) { return (n + 3) & ~3u; }

int lm_config_check(const lm_config *c, infer_err *e) {
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->vocab_size <= 0 || c->seq_len <= 0)
        return infer_fail(e, 16, "header: dimensions must be positive", 0, 0, 0, 0);
    if (c->dim % c->n_heads || c->n_heads % c->n_kv_heads || (c->dim / c->n_heads) % 2)
        return infer_fail(e, 28, "header: heads (%ld, kv %ld) must divide dim %ld into even head sizes", c->n_heads, c->n_kv_heads, c->dim, 0);
    if (c->dim / c->n_heads > LM_MAX_HEAD)
        return infer_fail(e, 28, "header: head size %ld (at most %ld)", c->dim / c->n_heads, LM_MAX_HEAD, 0, 0);
    if (c->dim > 4096 || c->hidden_dim > 16384)
        return infer_fail(e, 16, "header: dim %ld / hidden %ld too large for the contract", c->dim, c->hidden_dim, 0, 0);
    if (c->n_layers > LM_MAX_LAYERS) return infer_fail(e, 24, "header: %ld layers (at most %ld)", c->n_layers, LM_MAX_LAYERS, 0, 0);
    if (c->vocab_size > 32767) return infer_fail(e, 36, "header: vocab %ld (at most 32767)", c->vocab_size, 0, 0, 0);
    if (c->seq_len > 65535) return infer_fail(e, 40, "header: seq_len %ld (at most 65535)", c->seq_len, 0, 0, 0);
    for (int k = 0; k < LM_NMAT; k++)
        if (c->mbits[k] != 8 && c->mbits[k] != 4 && c->mbits[k] != 2)
            return infer_fail(e, 48, "header: weight bits %ld of matrix %ld (8, 4 or 2)", c->mbits[k], k, 0, 0);
    for (int k = 0; k < LM_NMAT; k++)
        if (c->mrise[k] > 1 || (c->mrise[k] && c->mbits[k] == 8))
            return infer_fail(e, 48, "header: matrix %ld: the midrise grid is for 4 and 2 bits", k, 0, 0, 0);
    if (c->wbits != lm_uniform_bits(c)) return infer_fail(e, 48, "header: weight bits %ld do not match the matrices' bits", c->wbits, 0, 0, 0);
    if (c->logit_frac < 0 || c->logit_frac > 16) return infer_fail(e, 52, "header: logit_frac %ld (0..16)", c->logit_frac, 0, 0, 0);
    if (c->shared_classifier != 0 && c->shared_classifier != 1)
        return infer_fail(e, 44, "header: shared_classifier must be 0 or 1", 0, 0, 0, 0);
    if (c->eps_ss > (1u << 30)) return infer_fail(e, 56, "header: eps_ss %ld above 2^30", (long)c->eps_ss, 0, 0, 0);
    return 0;
}

uint32_t lm_bits_word(const lm_config *c) {
    uint32_t w = 0;
    for (int k = 0; k < LM_NMAT; k++) w |= (uint32_t)(c->mbits[k] | (c->mrise[k] & 1)) << (4 * k);
    return w;
}

void lm_set_bits_word(lm_config *c, uint32_t word) {
    for (int k = 0; k < LM_NMAT; k++) {
        uint32_t n = (word >> (4 * k)) & 15;
        c->mbits[k] = (uint8_t)(n & 14), c->mrise[k] = (uint8_t)(n & 1);
    }
    c->wbits = lm_uniform_bits(c);
}

static uint32_t mat_bytes(const lm_config *c, int which, int rows, int cols) {
    return (uint32_t)rows * (uint32_t)lm_row_bytes(c->mbits[which], cols);
}

#define ARR(k, n, member) (f[nf++] = (lm_field){k, (uint32_t)(n), (const void **)&(member), NULL})
#define VAL(k, member) (f[nf++] = (lm_field){k, 1, NULL, &(member)})

int lm_image_fields(lm_model *m, int i, lm_field *f) {
    const lm_config *c = &m->c;
    int nf = 0, d = c->dim, h = c->hidden_dim, kvd = lm_kv_dim(c), V = c->vocab_size;
    if (i == 0) {  // EMB
        ARR(LM_I8, (uint32_t)V * d, m->emb);
        ARR(LM_RQ, V, m->emb_rq);
    } else if (i == 1) {  // ROPE
        ARR(LM_U32, lm_head_size(c) / 2, m->rope_theta);
    } else if (i < 2 + c->n_layers) {  // LYRn
        lm_layer *L = &m->layers[i - 2];
        ARR(LM_I16, d, L->att_norm.g);
        VAL(LM_I32, L->att_norm.k);
        ARR(LM_I8, mat_bytes(c, LM_WQ, d, d), L->wq.w), ARR(LM_RQ, d, L->wq.rq);
        ARR(LM_I8, mat_bytes(c, LM_WK, kvd, d), L->wk.w), ARR(LM_RQ, kvd, L->wk.rq);
        ARR(LM_I8, mat_bytes(c, LM_WV, kvd, d), L->wv.w), ARR(LM_RQ, kvd, L->wv.rq);
        VAL(LM_I32, L->att_cm), VAL(LM_I32, L->att_ck), VAL(LM_I32, L->att_dlim), VAL(LM_RQ, L->att_out);
        ARR(LM_I8, mat_bytes(c, LM_WO, d, d), L->wo.w), ARR(LM_RQ, d, L->wo.rq);
        ARR(LM_I16, d, L->ffn_norm.g);
        VAL(LM_I32, L->ffn_norm.k);
        ARR(LM_I8, mat_bytes(c, LM_W1, h, d), L->w1.w), ARR(LM_RQ, h, L->w1.rq);
        ARR(LM_I8, mat_bytes(c, LM_W3, h, d), L->w3.w), ARR(LM_RQ, h, L->w3.rq);
        ARR(LM_I16, 256, L->silu);
        VAL(LM_RQ, L->glu);
        ARR(LM_I8, mat_bytes(c, LM_W2, d, h), L->w2.w), ARR(LM_RQ, d, L->w2.rq);
    } else if (i == 2 + c->n_layers) {  // FNRM: final norm and the classifier's row requantisations
        ARR(LM_I16, d, m->final_norm.g);
        VAL(LM_I32, m->final_norm.k);
        ARR(LM_RQ, V, m->cls.rq);
    } else {  // CLS (unshared classifier rows, always int8)
        ARR(LM_I8, (uint32_t)V * d, m->cls.w);
    }
    return nf;
}
#undef ARR
#undef VAL

int lm_image_sections(const lm_config *c, lm_section *secs) {
    if (lm_config_check(c, NULL)) return -1;
    lm_model tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.c = *c;
    int n = 3 + c->n_layers + (c->shared_classifier ? 0 : 1);
    lm_field f[LM_MAX_FIELDS];
    for (int i = 0; i < n; i++) {
        int nf = lm_image_fields(&tmp, i, f);
        uint32_t b = 0;
        for (int j = 0; j < nf; j++) b = al4(b) + lm_field_bytes(&f[j]);
        secs[i].bytes = al4(b);
        const char *t = i == 0 ? "EMB " : i == 1 ? "ROPE" : i < 2 + c->n_layers ? "LYR?" : i == 2 + c->n_layers ? "FNRM" : "CLS ";
        memcpy(secs[i].tag, t, 4);
        if (i >= 2 && i < 2 + c->n_layers) secs[i].tag[3] = (char)(i - 2);
    }
    return n;
}

static int host_is_be(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 0;
}

static uint32_t rd32(const uint8_t *p, int be) { return be ? rq_rd_u32be(p) : rq_rd_u32le(p); }

static void swap_field(uint8_t *p, const lm_field *f) {
    uint32_t n = f->count;
    if (f->kind == LM_I16 || f->kind == LM_RQ) {  // lm_rq: swap the i16 m, keep p and k
        int step = f->kind == LM_RQ ? 4 : 2;
        for (uint32_t i = 0; i < n; i++, p += step) {
            uint8_t t = p[0];
            p[0] = p[1], p[1] = t;
        }
    } else if (f->kind == LM_I32 || f->kind == LM_U32) {
        for (uint32_t i = 0; i < n; i++, p += 4) {
            uint8_t t0 = p[0], t1 = p[1];
            p[0] = p[3], p[1] = p[2], p[2] = t1, p[3] = t0;
        }
    }
}

// Offset of p in the image that starts at base (for messages).
static long at(const void *p, const uint8_t *base) { return (long)((const uint8_t *)p - base); }

// Every row of a matrix: weights inside [-127, 127] ([-7, 7] for int4, 2-bit codes with zero
// padding codes; on the midrise grid (odd) every int4 code, the weight 2s + 1) and a pre-shift p
// large enough that |acc >> p| < 2^15 for any int8 input (the requantisation's overflow bound).
static int check_mat(const lm_mat *mt, int rows, int cols, int bits, int odd, const char *what, int l, const uint8_t *base, infer_err *e) {
    int stride = lm_row_bytes(bits, cols);
    for (int r = 0; r < rows; r++) {
        uint32_t sum = 0;
        if (bits == 4) {
            const uint8_t *w = (const uint8_t *)mt->w + (size_t)r * stride;
            for (int j = 0; j < cols; j++) {
                int v = (j & 1) ? w[j / 2] >> 4 : w[j / 2] & 15;
                if (v == 8 && !odd) return infer_fail_s(e, at(w + j / 2, base), "layer %ld %s row %ld: int4 weight -8 outside [-7, 7]", what, l, r, 0);
                v = odd ? 2 * lm_i4(v) + 1 : lm_i4(v);
                sum += (uint32_t)(v < 0 ? -v : v);
            }
        } else if (bits == 2) {
            const uint8_t *w = (const uint8_t *)mt->w + (size_t)r * stride;
            for (int j = 0; j < 4 * stride; j++) {
                int v = lm_i2((w[j / 4] >> (2 * (j & 3))) & 3);
                if (j >= cols && v)
                    return infer_fail_s(e, at(w + j / 4, base), "layer %ld %s row %ld: non-zero padding code after the row's %ld weights", what, l, r, cols);
                if (odd && j < cols) v = 2 * v + 1;
                sum += (uint32_t)(v < 0 ? -v : v);
            }
        } else {
            const int8_t *w = (const int8_t *)mt->w + (size_t)r * cols;
            for (int j = 0; j < cols; j++) {
                if (w[j] == -128) return infer_fail_s(e, at(w + j, base), "layer %ld %s row %ld: weight -128 outside [-127, 127]", what, l, r, 0);
                sum += (uint32_t)(w[j] < 0 ? -w[j] : w[j]);
            }
        }
        if (((127 * sum + 1) >> mt->rq[r].p) >= 32767)
            return infer_fail_s(e, at(mt->rq + r, base), "layer %ld %s row %ld: pre-shift %ld too small for the row's accumulator range", what, l, r,
                                mt->rq[r].p);
    }
    return 0;
}

static int check_i16(const int16_t *v, int n, const char *what, int l, const uint8_t *base, infer_err *e) {
    for (int i = 0; i < n; i++)
        if (v[i] == -32768) return infer_fail_s(e, at(v + i, base), "layer %ld %s[%ld]: -32768 outside the contract", what, l, i, 0);
    return 0;
}

static int check_model(const lm_model *m, const uint8_t *base, infer_err *e) {
    const lm_config *c = &m->c;
    int d = c->dim, h = c->hidden_dim, kvd = lm_kv_dim(c), rc = 0;
    const uint8_t *b = c->mbits;
    for (int l = 0; l < c->n_layers && !rc; l++) {
        const lm_layer *L = &m->layers[l];
        if (!rc) rc = check_mat(&L->wq, d, d, b[LM_WQ], c->mrise[LM_WQ], "wq", l, base, e);
        if (!rc) rc = check_mat(&L->wk, kvd, d, b[LM_WK], c->mrise[LM_WK], "wk", l, base, e);
        if (!rc) rc = check_mat(&L->wv, kvd, d, b[LM_WV], c->mrise[LM_WV], "wv", l, base, e);
        if (!rc) rc = check_mat(&L->wo, d, d, b[LM_WO], c->mrise[LM_WO], "wo", l, base, e);
        if (!rc) rc = check_mat(&L->w1, h, d, b[LM_W1], c->mrise[LM_W1], "w1", l, base, e);
        if (!rc) rc = check_mat(&L->w3, h, d, b[LM_W3], c->mrise[LM_W3], "w3", l, base, e);
        if (!rc) rc = check_mat(&L->w2, d, h, b[LM_W2], c->mrise[LM_W2], "w2", l, base, e);
        if (!rc) rc = check_i16(L->att_norm.g, d, "att_norm", l, base, e);
        if (!rc) rc = check_i16(L->ffn_norm.g, d, "ffn_norm", l, base, e);
        if (!rc) rc = check_i16(L->silu, 256, "silu", l, base, e);
        if (!rc && (((uint32_t)127 * (32768 + (uint32_t)c->seq_len)) >> L->att_out.p) >= 32767)
            rc = infer_fail(e, at(&L->att_out, base), "layer %ld: attention output pre-shift %ld too small", l, L->att_out.p, 0, 0);
        if (!rc && (((uint32_t)127 * 32767) >> L->glu.p) >= 32767)
            rc = infer_fail(e, -1, "layer %ld: SwiGLU pre-shift %ld too small", l, L->glu.p, 0, 0);
    }
    if (!rc) rc = check_mat(&m->cls, c->vocab_size, d, 8, 0, "classifier", -1, base, e);
    if (!rc) rc = check_i16(m->final_norm.g, d, "final_norm", -1, base, e);
    return rc;
}

int lm_image_load(uint8_t *buf, size_t len, lm_model *m, infer_err *e) {
    memset(m, 0, sizeof *m);
    if (len < 64) return infer_fail(e, (long)len, "truncated: an image header needs 64 bytes, the file has %ld", (long)len, 0, 0, 0);
    if (memcmp(buf, LM_IMAGE_MAGIC, 4) != 0) return infer_fail(e, 0, "bad magic (not a retroqat integer model image \"RQLM\")", 0, 0, 0, 0);
    int be = buf[4];
    if (be > 1) return infer_fail(e, 4, "bad byte-order flag %ld (0 little, 1 big)", be, 0, 0, 0);
    if (buf[5] == 1)  // same layout, but its attention constants assume the int8 k cache of version 1
        return infer_fail(e, 5, "image version %ld has the old int8 key cache; this build reads version %ld: export the model again", buf[5],
                          LM_IMAGE_VERSION, 0, 0);
    if (buf[5] < 2 || buf[5] > LM_IMAGE_VERSION)
        return infer_fail(e, 5, "unsupported image version %ld (this build reads 2 to %ld)", buf[5], LM_IMAGE_VERSION, 0, 0);
    int version = buf[5];
    uint32_t hbytes = be ? rq_rd_u16be(buf + 6) : rq_rd_u16le(buf + 6);
    uint32_t total = rd32(buf + 8, be), crc = rd32(buf + 12, be);
    if (total != len) return infer_fail(e, 8, "image size field says %ld bytes, the file has %ld", (long)total, (long)len, 0, 0);
    uint32_t got = crc32_update(0, buf + 16, len - 16);
    if (got != crc) return infer_fail(e, 12, "CRC mismatch (stored %x, computed %x): the image is corrupt", (long)crc, (long)got, 0, 0);
    lm_config *c = &m->c;
    int32_t *hv[] = {&c->dim, &c->hidden_dim, &c->n_layers, &c->n_heads, &c->n_kv_heads, &c->vocab_size, &c->seq_len,
                     &c->shared_classifier, &c->wbits, &c->logit_frac};
    for (int i = 0; i < 10; i++) *hv[i] = (int32_t)rd32(buf + 16 + 4 * i, be);
    c->eps_ss = rd32(buf + 56, be);
    // offset 48: version 2 has one weight width (8 or 4) for every layer matrix, version 3 the
    // bits word (a nibble per matrix, lm_bits_word)
    uint32_t bits = (uint32_t)c->wbits;
    if (version == 2 && bits != 8 && bits != 4) return infer_fail(e, 48, "version 2 image with weight bits %ld (8 or 4)", (long)bits, 0, 0, 0);
    if (version == 2) bits *= 0x1111111u;
    if (bits >> (4 * LM_NMAT))
        return infer_fail(e, 48, "weight bits word %x has bits above the %ld matrices' nibbles", (long)bits, LM_NMAT, 0, 0);
    if (version == 3 && (bits & 0x1111111u))
        return infer_fail(e, 48, "version 3 image with a midrise grid (weight bits word %x; midrise needs version 4)", (long)bits, 0, 0, 0);
    lm_set_bits_word(c, bits);
    if (lm_config_check(c, e)) return INFER_EBAD;
    lm_section secs[LM_MAX_LAYERS + 5];
    int ns = lm_image_sections(c, secs);
    uint32_t n_sec = rd32(buf + 60, be);
    if (ns < 0) return infer_fail(e, 16, "header: dimensions outside the contract", 0, 0, 0, 0);
    if (n_sec != (uint32_t)ns) return infer_fail(e, 60, "%ld sections, the header's dimensions need %ld", (long)n_sec, ns, 0, 0);
    if (hbytes != 64u + 12u * ns) return infer_fail(e, 6, "header size %ld, expected %ld", (long)hbytes, 64L + 12L * ns, 0, 0);
    if (len < hbytes) return infer_fail(e, (long)len, "truncated section table (%ld of %ld bytes)", (long)len, (long)hbytes, 0, 0);
    uint32_t expect = al4(hbytes);
    for (int i = 0; i < ns; i++) {
        const uint8_t *t = buf + 64 + 12 * i;
        uint32_t off = rd32(t + 4, be), bytes = rd32(t + 8, be);
        if (memcmp(t, secs[i].tag, 4) != 0)
            return infer_fail(e, 64 + 12L * i, "section %ld has the wrong tag (expected section %ld of the layout)", i, i, 0, 0);
        if (off != expect || bytes != secs[i].bytes)
            return infer_fail(e, 64 + 12L * i + 4, "section offset/size %ld does not match the layout's %ld", (long)off, (long)expect, 0, 0);
        if ((uint64_t)off + bytes > len)
            return infer_fail(e, (long)off, "section runs past the end of the image (%ld bytes, %ld left)", (long)bytes, (long)(len - off), 0, 0);
        expect = off + bytes;
    }
    if (expect != len) return infer_fail(e, (long)expect, "%ld trailing bytes after the last section", (long)(len - expect), 0, 0, 0);

    // Convert to host order and point the model into the buffer.
    int swap = be != host_is_be();
    lm_field f[LM_MAX_FIELDS];
    for (int i = 0; i < ns; i++) {
        uint8_t *p = buf + rd32(buf + 64 + 12 * i + 4, be);
        int nf = lm_image_fields(m, i, f);
        for (int j = 0; j < nf; j++) {
            if (swap) swap_field(p, &f[j]);
            if (f[j].kind == LM_RQ)
                for (uint32_t r = 0; r < f[j].count; r++) {
                    const lm_rq *q = (const lm_rq *)(const void *)p + r;
                    if (q->p > 31 || q->k > 31 || q->m == -32768)
                        return infer_fail(e, (long)(p - buf) + 4L * (long)r, "requantisation (p %ld, k %ld) outside the contract", q->p, q->k, 0, 0);
                }
            if (f[j].ref) *f[j].ref = p;
            else memcpy(f[j].val, p, lm_field_bytes(&f[j]));
            p += al4(lm_field_bytes(&f[j]));
        }
    }
    if (c->shared_classifier) m->cls.w = m->emb;
    buf[4] = (uint8_t)host_is_be();  // the buffer is now in host order: a second load finds no swap

    // Parameters the kernel's overflow bounds rely on.
    for (int l = 0; l < c->n_layers; l++) {
        const lm_layer *L = &m->layers[l];
        if (L->att_norm.k < 0 || L->att_norm.k > 30 || L->ffn_norm.k < 0 || L->ffn_norm.k > 30 || L->att_ck < 0 ||
            L->att_ck > 24 || L->att_cm < 1 || L->att_dlim < 1 ||
            (uint32_t)L->att_dlim > lm_udiv(0x7FFFFFFFu - ((uint32_t)1 << L->att_ck), (uint32_t)L->att_cm) - 1)
            return infer_fail(e, at(L->att_norm.g, buf), "layer %ld: attention or norm parameters outside the contract", l, 0, 0, 0);
    }
    if (m->final_norm.k < 0 || m->final_norm.k > 30)
        return infer_fail(e, at(m->final_norm.g, buf), "final norm shift outside the contract", 0, 0, 0, 0);
    return check_model(m, buf, e);
}
