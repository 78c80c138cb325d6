// lm_image.c: verify an integer model image and point an lm_model into it (lm_image.h).
#include "infer/lm_image.h"

#include <stdio.h>
#include <string.h>

#include "base/crc32.h"
#include "base/endian.h"
#include "base/err.h"

static uint32_t al4(uint32_t n) { return (n + 3) & ~3u; }

int lm_config_check(const lm_config *c, const char *what) {
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->vocab_size <= 0 || c->seq_len <= 0)
        return rq_fail(RQ_EINPUT, "%s: dimensions must be positive", what);
    if (c->dim % c->n_heads || c->n_heads % c->n_kv_heads || (c->dim / c->n_heads) % 2)
        return rq_fail(RQ_EINPUT, "%s: heads (%d, kv %d) must divide dim %d into even head sizes", what, c->n_heads, c->n_kv_heads, c->dim);
    if (c->dim / c->n_heads > LM_MAX_HEAD) return rq_fail(RQ_EINPUT, "%s: head size %d (at most %d)", what, c->dim / c->n_heads, LM_MAX_HEAD);
    if (c->dim > 4096 || c->hidden_dim > 16384) return rq_fail(RQ_EINPUT, "%s: dim %d / hidden %d too large for the contract", what, c->dim, c->hidden_dim);
    if (c->n_layers > LM_MAX_LAYERS) return rq_fail(RQ_EINPUT, "%s: %d layers (at most %d)", what, c->n_layers, LM_MAX_LAYERS);
    if (c->vocab_size > 32767) return rq_fail(RQ_EINPUT, "%s: vocab %d (at most 32767)", what, c->vocab_size);
    if (c->seq_len > 65535) return rq_fail(RQ_EINPUT, "%s: seq_len %d (at most 65535)", what, c->seq_len);
    for (int k = 0; k < LM_NMAT; k++)
        if (c->mbits[k] != 8 && c->mbits[k] != 4 && c->mbits[k] != 2)
            return rq_fail(RQ_EINPUT, "%s: weight bits %d of matrix %d (8, 4 or 2)", what, c->mbits[k], k);
    if (c->wbits != lm_uniform_bits(c)) return rq_fail(RQ_EINPUT, "%s: weight bits %d do not match the matrices' bits", what, c->wbits);
    if (c->logit_frac < 0 || c->logit_frac > 16) return rq_fail(RQ_EINPUT, "%s: logit_frac %d (0..16)", what, c->logit_frac);
    if (c->shared_classifier != 0 && c->shared_classifier != 1) return rq_fail(RQ_EINPUT, "%s: shared_classifier must be 0 or 1", what);
    if (c->eps_ss > (1u << 30)) return rq_fail(RQ_EINPUT, "%s: eps_ss %u above 2^30", what, c->eps_ss);
    return 0;
}

uint32_t lm_bits_word(const lm_config *c) {
    uint32_t w = 0;
    for (int k = 0; k < LM_NMAT; k++) w |= (uint32_t)c->mbits[k] << (4 * k);
    return w;
}

void lm_set_bits_word(lm_config *c, uint32_t word) {
    for (int k = 0; k < LM_NMAT; k++) c->mbits[k] = (uint8_t)((word >> (4 * k)) & 15);
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
    if (lm_config_check(c, "model image")) return -1;
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

static int bad(const char *name, long off, const char *msg, long a, long b) {
    return rq_fail_at(RQ_EINPUT, name, off, msg, a, b);
}

// Every row of a matrix: weights inside [-127, 127] ([-7, 7] for int4, 2-bit codes with zero
// padding codes) and a pre-shift p large enough that |acc >> p| < 2^15 for any int8 input (the
// requantisation's overflow bound).
static int check_mat(const lm_mat *mt, int rows, int cols, int bits, const char *name, const char *what, int l) {
    int stride = lm_row_bytes(bits, cols);
    for (int r = 0; r < rows; r++) {
        uint32_t sum = 0;
        if (bits == 4) {
            const uint8_t *w = (const uint8_t *)mt->w + (size_t)r * stride;
            for (int j = 0; j < cols; j++) {
                int v = (j & 1) ? w[j / 2] >> 4 : w[j / 2] & 15;
                if (v == 8) return rq_fail(RQ_EINPUT, "%s: layer %d %s row %d: int4 weight -8 outside [-7, 7]", name, l, what, r);
                v = lm_i4(v);
                sum += (uint32_t)(v < 0 ? -v : v);
            }
        } else if (bits == 2) {
            const uint8_t *w = (const uint8_t *)mt->w + (size_t)r * stride;
            for (int j = 0; j < 4 * stride; j++) {
                int v = lm_i2((w[j / 4] >> (2 * (j & 3))) & 3);
                if (j >= cols && v) return rq_fail(RQ_EINPUT, "%s: layer %d %s row %d: non-zero padding code after the row's %d weights", name, l, what, r, cols);
                sum += (uint32_t)(v < 0 ? -v : v);
            }
        } else {
            const int8_t *w = (const int8_t *)mt->w + (size_t)r * cols;
            for (int j = 0; j < cols; j++) {
                if (w[j] == -128) return rq_fail(RQ_EINPUT, "%s: layer %d %s row %d: weight -128 outside [-127, 127]", name, l, what, r);
                sum += (uint32_t)(w[j] < 0 ? -w[j] : w[j]);
            }
        }
        if (((127 * sum + 1) >> mt->rq[r].p) >= 32767)
            return rq_fail(RQ_EINPUT, "%s: layer %d %s row %d: pre-shift %d too small for the row's accumulator range", name, l, what, r,
                           mt->rq[r].p);
    }
    return 0;
}

static int check_i16(const int16_t *v, int n, const char *name, const char *what, int l) {
    for (int i = 0; i < n; i++)
        if (v[i] == -32768) return rq_fail(RQ_EINPUT, "%s: layer %d %s[%d]: -32768 outside the contract", name, l, what, i);
    return 0;
}

static int check_model(const lm_model *m, const char *name) {
    const lm_config *c = &m->c;
    int d = c->dim, h = c->hidden_dim, kvd = lm_kv_dim(c), rc = 0;
    const uint8_t *b = c->mbits;
    for (int l = 0; l < c->n_layers && !rc; l++) {
        const lm_layer *L = &m->layers[l];
        if (!rc) rc = check_mat(&L->wq, d, d, b[LM_WQ], name, "wq", l);
        if (!rc) rc = check_mat(&L->wk, kvd, d, b[LM_WK], name, "wk", l);
        if (!rc) rc = check_mat(&L->wv, kvd, d, b[LM_WV], name, "wv", l);
        if (!rc) rc = check_mat(&L->wo, d, d, b[LM_WO], name, "wo", l);
        if (!rc) rc = check_mat(&L->w1, h, d, b[LM_W1], name, "w1", l);
        if (!rc) rc = check_mat(&L->w3, h, d, b[LM_W3], name, "w3", l);
        if (!rc) rc = check_mat(&L->w2, d, h, b[LM_W2], name, "w2", l);
        if (!rc) rc = check_i16(L->att_norm.g, d, name, "att_norm", l);
        if (!rc) rc = check_i16(L->ffn_norm.g, d, name, "ffn_norm", l);
        if (!rc) rc = check_i16(L->silu, 256, name, "silu", l);
        if (!rc && (((uint32_t)127 * (32768 + c->seq_len)) >> L->att_out.p) >= 32767)
            rc = rq_fail(RQ_EINPUT, "%s: layer %d: attention output pre-shift %d too small", name, l, L->att_out.p);
        if (!rc && (((uint32_t)127 * 32767) >> L->glu.p) >= 32767)
            rc = rq_fail(RQ_EINPUT, "%s: layer %d: SwiGLU pre-shift %d too small", name, l, L->glu.p);
    }
    if (!rc) rc = check_mat(&m->cls, c->vocab_size, d, 8, name, "classifier", -1);
    if (!rc) rc = check_i16(m->final_norm.g, d, name, "final_norm", -1);
    return rc;
}

int lm_image_load(uint8_t *buf, size_t len, const char *name, lm_model *m) {
    memset(m, 0, sizeof *m);
    if (len < 64) return bad(name, (long)len, "truncated: an image header needs 64 bytes, the file has %ld%.0ld", (long)len, 0);
    if (memcmp(buf, LM_IMAGE_MAGIC, 4) != 0) return rq_fail_at(RQ_EINPUT, name, 0, "bad magic (not a retroqat integer model image \"RQLM\")");
    int be = buf[4];
    if (be > 1) return bad(name, 4, "bad byte-order flag %ld (0 little, 1 big)%.0ld", be, 0);
    if (buf[5] == 1)  // same layout, but its attention constants assume the int8 k cache of version 1
        return bad(name, 5, "image version %ld has the old int8 key cache; this build reads version %ld: export the model again", buf[5],
                   LM_IMAGE_VERSION);
    if (buf[5] != LM_IMAGE_VERSION && buf[5] != 2)
        return bad(name, 5, "unsupported image version %ld (this build reads 2 and %ld)", buf[5], LM_IMAGE_VERSION);
    int version = buf[5];
    uint32_t hbytes = be ? rq_rd_u16be(buf + 6) : rq_rd_u16le(buf + 6);
    uint32_t total = rd32(buf + 8, be), crc = rd32(buf + 12, be);
    if (total != len) return bad(name, 8, "image size field says %ld bytes, the file has %ld", (long)total, (long)len);
    uint32_t got = crc32_update(0, buf + 16, len - 16);
    if (got != crc) return rq_fail_at(RQ_EINPUT, name, 12, "CRC mismatch (stored %08x, computed %08x): the image is corrupt", crc, got);
    lm_config *c = &m->c;
    int32_t *hv[] = {&c->dim, &c->hidden_dim, &c->n_layers, &c->n_heads, &c->n_kv_heads, &c->vocab_size, &c->seq_len,
                     &c->shared_classifier, &c->wbits, &c->logit_frac};
    for (int i = 0; i < 10; i++) *hv[i] = (int32_t)rd32(buf + 16 + 4 * i, be);
    c->eps_ss = rd32(buf + 56, be);
    // offset 48: version 2 has one weight width (8 or 4) for every layer matrix, version 3 the
    // bits word (a nibble per matrix, lm_bits_word)
    uint32_t bits = (uint32_t)c->wbits;
    if (version == 2 && bits != 8 && bits != 4) return bad(name, 48, "version 2 image with weight bits %ld (8 or 4)%.0ld", (long)bits, 0);
    if (version == 2) bits *= 0x1111111u;
    if (bits >> (4 * LM_NMAT)) return bad(name, 48, "weight bits word %08lx has bits above the %ld matrices' nibbles", (long)bits, LM_NMAT);
    lm_set_bits_word(c, bits);
    char what[600];
    snprintf(what, sizeof what, "%s: header", name);
    if (lm_config_check(c, what)) return RQ_EINPUT;
    lm_section secs[LM_MAX_LAYERS + 5];
    int ns = lm_image_sections(c, secs);
    uint32_t n_sec = rd32(buf + 60, be);
    if (ns < 0) return RQ_EINPUT;
    if (n_sec != (uint32_t)ns) return bad(name, 60, "%ld sections, the header's dimensions need %ld", (long)n_sec, ns);
    if (hbytes != 64u + 12u * ns) return bad(name, 6, "header size %ld, expected %ld", (long)hbytes, 64L + 12L * ns);
    if (len < hbytes) return bad(name, (long)len, "truncated section table (%ld of %ld bytes)", (long)len, (long)hbytes);
    uint32_t expect = al4(hbytes);
    for (int i = 0; i < ns; i++) {
        const uint8_t *e = buf + 64 + 12 * i;
        uint32_t off = rd32(e + 4, be), bytes = rd32(e + 8, be);
        if (memcmp(e, secs[i].tag, 4) != 0) return bad(name, 64 + 12L * i, "section %ld has the wrong tag (expected section %ld of the layout)", i, i);
        if (off != expect || bytes != secs[i].bytes)
            return bad(name, 64 + 12L * i + 4, "section offset/size %ld does not match the layout's %ld", (long)off, (long)expect);
        if ((uint64_t)off + bytes > len) return bad(name, (long)off, "section runs past the end of the image (%ld bytes, %ld left)", (long)bytes, (long)(len - off));
        expect = off + bytes;
    }
    if (expect != len) return bad(name, (long)expect, "%ld trailing bytes after the last section%.0ld", (long)(len - expect), 0);

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
                        return bad(name, (long)(p - buf) + 4L * r, "requantisation (p %ld, k %ld) outside the contract", q->p, q->k);
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
            return rq_fail(RQ_EINPUT, "%s: layer %d: attention or norm parameters outside the contract", name, l);
    }
    if (m->final_norm.k < 0 || m->final_norm.k > 30) return rq_fail(RQ_EINPUT, "%s: final norm shift outside the contract", name);
    return check_model(m, name);
}
