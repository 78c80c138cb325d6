// chat_image.c: the model image (docs/chat-contract.md, "Model image"): what a kernel loads.
//
//   off  size        field
//   0    4           magic "RQCI"
//   4    u16         version (1)
//   6    u8          weight mode: 2 = 2-bit {-2,-1,0,+1}, 3 = ternary {-1,0,+1}
//   7    u8          L, number of layers (1..8)
//   8    u16         Q query buckets        10  u16  K context buckets
//   12   u8          context characters     13  u8   max_query bytes
//   14   u8          max_answer characters  15  u8   a, input shift (counts << a)
//   16   u16 x(L+1)  dims[0..L]             (dims[0] = Q+K, dims[L] = n_out)
//   ..   u8 x L      shifts s[0..L-1]
//   ..   u8 x (n_out-1)  charset: class k >= 1 prints charset[k-1]; class 0 is the end symbol
//   ..   pad to an even offset with 0
//   then for each layer l: dims[l+1] rows of ceil(dims[l]/4) weight bytes, pad to even,
//        dims[l+1] int16 biases
// All multi-byte fields are little-endian.
#include <string.h>

#include "infer/chat_kernel.h"

static size_t even(size_t x) { return (x + 1) & ~(size_t)1; }

static size_t header_size(int L, int n_out) { return even(16 + 2 * (size_t)(L + 1) + (size_t)L + (size_t)(n_out - 1)); }

size_t chat_image_size(int L, const int *dims) {
    size_t n = header_size(L, dims[L]);
    for (int l = 0; l < L; l++) n += even((size_t)dims[l + 1] * chat_row_bytes(dims[l])) + 2 * (size_t)dims[l + 1];
    return n;
}

static void put16(uint8_t *p, int v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static int get16(const uint8_t *p) { return p[0] | p[1] << 8; }

// Point m's weight/bias/charset pointers at their places in an image of m's shapes.
static void place(chat_imodel *m, const uint8_t *base) {
    int L = m->n_layers;
    m->charset = base + 16 + 2 * (L + 1) + L;
    size_t off = header_size(L, m->dims[L]);
    for (int l = 0; l < L; l++) {
        m->w[l] = base + off;
        off += even((size_t)m->dims[l + 1] * chat_row_bytes(m->dims[l]));
        m->b[l] = base + off;
        off += 2 * (size_t)m->dims[l + 1];
    }
}

size_t chat_image_layout(chat_imodel *m, uint8_t *buf, const uint8_t *charset) {
    int L = m->n_layers;
    size_t n = chat_image_size(L, m->dims);
    memset(buf, 0, n);
    memcpy(buf, "RQCI", 4);
    put16(buf + 4, 1);
    buf[6] = (uint8_t)m->mode, buf[7] = (uint8_t)L;
    put16(buf + 8, m->enc.q_buckets), put16(buf + 10, m->enc.k_buckets);
    buf[12] = (uint8_t)m->enc.context, buf[13] = (uint8_t)m->enc.max_query;
    buf[14] = (uint8_t)m->max_answer, buf[15] = (uint8_t)m->in_shift;
    for (int l = 0; l <= L; l++) put16(buf + 16 + 2 * l, m->dims[l]);
    for (int l = 0; l < L; l++) buf[16 + 2 * (L + 1) + l] = (uint8_t)m->shift[l];
    memcpy(buf + 16 + 2 * (L + 1) + L, charset, (size_t)m->dims[L] - 1);
    place(m, buf);
    return n;
}

int chat_image_check(const uint8_t *p, size_t n, chat_imodel *m, infer_err *e) {
    memset(m, 0, sizeof *m);
    if (n < 16 || memcmp(p, "RQCI", 4) != 0) return infer_fail(e, 0, "not a chat model image (magic RQCI)", 0, 0, 0, 0);
    if (get16(p + 4) != 1) return infer_fail(e, 4, "unsupported chat image version %ld", get16(p + 4), 0, 0, 0);
    m->mode = p[6], m->n_layers = p[7];
    if (m->mode != CHAT_W2BIT && m->mode != CHAT_WTERNARY) return infer_fail(e, 6, "bad weight mode %ld", m->mode, 0, 0, 0);
    int L = m->n_layers;
    if (L < 1 || L > CHAT_MAX_LAYERS) return infer_fail(e, 7, "bad layer count %ld (1..%ld)", L, CHAT_MAX_LAYERS, 0, 0);
    m->enc.q_buckets = get16(p + 8), m->enc.k_buckets = get16(p + 10);
    m->enc.context = p[12], m->enc.max_query = p[13], m->max_answer = p[14], m->in_shift = p[15];
    if (chat_enc_check(&m->enc)) return infer_fail(e, 8, "bad encoder settings (Q %ld, K %ld, context %ld, max_query %ld)", m->enc.q_buckets, m->enc.k_buckets, m->enc.context, m->enc.max_query);
    if (m->in_shift > CHAT_MAX_IN_SHIFT) return infer_fail(e, 15, "input shift %ld > %ld", m->in_shift, CHAT_MAX_IN_SHIFT, 0, 0);
    if (n < (size_t)16 + 2 * (L + 1) + L) return infer_fail(e, (long)n, "truncated header", 0, 0, 0, 0);
    for (int l = 0; l <= L; l++) {
        m->dims[l] = get16(p + 16 + 2 * l);
        if (m->dims[l] < 1 || m->dims[l] > CHAT_MAX_WIDTH)
            return infer_fail(e, 16 + 2 * l, "layer width %ld out of range 1..%ld", m->dims[l], CHAT_MAX_WIDTH, 0, 0);
    }
    if (m->dims[0] != m->enc.q_buckets + m->enc.k_buckets)
        return infer_fail(e, 16, "input width %ld != Q + K = %ld", m->dims[0], m->enc.q_buckets + m->enc.k_buckets, 0, 0);
    if (m->dims[L] < 2 || m->dims[L] > 256) return infer_fail(e, 16 + 2 * L, "output width %ld out of range 2..256", m->dims[L], 0, 0, 0);
    for (int l = 0; l < L; l++) {
        m->shift[l] = p[16 + 2 * (L + 1) + l];
        if (m->shift[l] > CHAT_MAX_SHIFT) return infer_fail(e, 16 + 2 * (L + 1) + l, "shift %ld > %ld", m->shift[l], CHAT_MAX_SHIFT, 0, 0);
    }
    size_t need = chat_image_size(L, m->dims);
    if (n < need) return infer_fail(e, (long)n, "truncated chat image (%ld of %ld bytes)", (long)n, (long)need, 0, 0);
    place(m, p);
    for (int k = 0; k < m->dims[L] - 1; k++)
        if (m->charset[k] < 32 || m->charset[k] > 126)
            return infer_fail(e, (long)(m->charset - p + k), "charset byte 0x%x is not printable ASCII", m->charset[k], 0, 0, 0);
    for (int l = 0; l < L; l++) {
        int rb = chat_row_bytes(m->dims[l]), pad_bits = 2 * (rb * 4 - m->dims[l]);
        for (int j = 0; j < m->dims[l + 1]; j++) {
            const uint8_t *r = m->w[l] + (size_t)j * rb;
            if (pad_bits && (r[rb - 1] >> (8 - pad_bits)) != 0)
                return infer_fail(e, (long)(r + rb - 1 - p), "nonzero padding code in layer %ld row %ld", l, j, 0, 0);
            if (m->mode == CHAT_WTERNARY)
                for (int k = 0; k < rb; k++)
                    for (int i = 0; i < 4; i++)
                        if (((r[k] >> (2 * i)) & 3) == 2)
                            return infer_fail(e, (long)(r + k - p), "code -2 in a ternary model (layer %ld row %ld)", l, j, 0, 0);
        }
    }
    return 0;
}

