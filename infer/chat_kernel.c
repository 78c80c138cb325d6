// chat_kernel.c: the reference integer kernel of the trigram chat model (see chat_kernel.h).
#include "infer/chat_kernel.h"

#include <string.h>

static const int8_t CODE_VALUE[4] = {0, 1, -2, -1};  // chat_code_value, tabulated

void chat_pack_row(const int8_t *v, int n, uint8_t *out) {
    memset(out, 0, (size_t)chat_row_bytes(n));
    for (int i = 0; i < n; i++) out[i >> 2] |= (uint8_t)(chat_value_code(v[i]) << (2 * (i & 3)));
}

void chat_unpack_row(const uint8_t *p, int n, int8_t *v) {
    for (int i = 0; i < n; i++) v[i] = CODE_VALUE[(p[i >> 2] >> (2 * (i & 3))) & 3];
}

// A 2-bit code is b1 b0 in two's complement, so its value is b0 - 2*b1, and for a byte holding
// the codes of inputs x0..x3:  sum_i v_i x_i = S(bits b0) - 2 * S(bits b1), where S(m) is the sum of
// the inputs selected by the 4-bit mask m. The kernel tabulates S for every group of 4 inputs
// once per layer (16 entries) and then spends two table reads per weight byte and row.
// NIBBLE maps the bits at positions 0, 2, 4, 6 of a byte (c & 0x55) to a 4-bit mask.
static const uint8_t NIBBLE[0x56] = {
    [0x00] = 0, [0x01] = 1, [0x04] = 2, [0x05] = 3, [0x10] = 4, [0x11] = 5, [0x14] = 6, [0x15] = 7,
    [0x40] = 8, [0x41] = 9, [0x44] = 10, [0x45] = 11, [0x50] = 12, [0x51] = 13, [0x54] = 14, [0x55] = 15};

void chat_layer_forward(const uint8_t *w, const uint8_t *bias, int n_in, int n_out, const int16_t *x, int shift,
                        int relu, int16_t *y, int32_t *pre) {
    int rb = chat_row_bytes(n_in);
    // Subset sums of every group of 4 inputs (the last group padded with zero inputs), and the
    // list of groups that are not all zero (85-90% of the input counts are zero; ReLU zeroes many
    // hidden values).
    int32_t sums[CHAT_MAX_WIDTH / 4][16];
    int16_t live[CHAT_MAX_WIDTH / 4];
    int n_live = 0;
    for (int k = 0; k < rb; k++) {
        int32_t g[4];
        int any = 0;
        for (int i = 0; i < 4; i++) g[i] = 4 * k + i < n_in ? x[4 * k + i] : 0, any |= g[i];
        if (!any) continue;
        int32_t *S = sums[n_live];
        S[0] = 0;
        for (int m = 1; m < 16; m++) {
            int low = m & -m;  // lowest set bit: S(m) = S(m without it) + that input
            S[m] = S[m ^ low] + g[low == 1 ? 0 : low == 2 ? 1 : low == 4 ? 2 : 3];
        }
        live[n_live++] = (int16_t)k;
    }
    for (int j = 0; j < n_out; j++) {
        const uint8_t *r = w + (size_t)j * rb;
        // The exact sum fits int32 (|sum| <= 32768 + 1024*2*32768); wrapping once at the end equals
        // wrapping after every addition.
        int32_t acc = (int16_t)(uint16_t)(bias[2 * j] | bias[2 * j + 1] << 8);
        for (int g = 0; g < n_live; g++) {
            unsigned c = r[live[g]];
            acc += sums[g][NIBBLE[c & 0x55]] - 2 * sums[g][NIBBLE[(c >> 1) & 0x55]];
        }
        if (pre) pre[j] = acc;
        int32_t v = chat_floor_shift(chat_wrap16(acc), shift);
        if (relu && v < 0) v = 0;
        y[j] = (int16_t)v;
    }
}

int chat_argmax(const int16_t *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

int chat_forward(const chat_imodel *m, const uint8_t *counts, int16_t *logits, int32_t *const *acc) {
    int16_t buf[2][CHAT_MAX_WIDTH];
    int16_t *x = buf[0], *y = buf[1];
    for (int i = 0; i < m->dims[0]; i++) x[i] = (int16_t)chat_wrap16((int32_t)counts[i] << m->in_shift);
    int L = m->n_layers;
    for (int l = 0; l < L; l++) {
        int16_t *out = l == L - 1 ? logits : y;
        if (m->fetch) m->fetch(m->fetch_ctx, l);
        chat_layer_forward(m->w[l], m->b[l], m->dims[l], m->dims[l + 1], x, m->shift[l], l < L - 1, out,
                           acc ? acc[l] : NULL);
        int16_t *t = x;
        x = y, y = t;
    }
    return chat_argmax(logits, m->dims[L]);
}

int chat_generate(const chat_imodel *m, const char *query, int qlen, char *out, int cap) {
    return chat_generate_steps(m, query, qlen, out, cap, NULL, NULL);
}

int chat_generate_steps(const chat_imodel *m, const char *query, int qlen, char *out, int cap, chat_step_fn on_step, void *step_ctx) {
    uint8_t counts[2 * CHAT_MAX_BUCKETS];
    uint8_t ctx[CHAT_MAX_CONTEXT];
    int16_t logits[CHAT_MAX_WIDTH];
    const chat_enc_cfg *e = &m->enc;
    chat_encode_query(e, query, qlen, counts);  // the query half is constant during an answer
    chat_context_reset(e, ctx);
    int n = 0;
    while (n < m->max_answer && n < cap - 1) {
        chat_encode_context(e, ctx, counts + e->q_buckets);
        int k = chat_forward(m, counts, logits, NULL);
        if (on_step) on_step(step_ctx, logits, m->dims[m->n_layers]);
        if (k == CHAT_END) break;
        uint8_t ch = m->charset[k - 1];
        out[n++] = (char)ch;
        chat_context_push(e, ctx, ch);
    }
    if (cap > 0) out[n] = 0;
    return n;
}

void chat_bounds(const chat_imodel *m, int32_t *lo, int32_t *hi) {
    int32_t hmax[CHAT_MAX_WIDTH];  // largest value input i of the current layer can take (>= 0)
    int8_t row[CHAT_MAX_WIDTH];
    const chat_enc_cfg *e = &m->enc;
    int32_t nq = e->max_query, nk = 3 * e->context - 3;  // query counts sum to 1..nq, context to nk
    for (int l = 0; l < m->n_layers; l++) {
        int n_in = m->dims[l], n_out = m->dims[l + 1], rb = chat_row_bytes(n_in);
        int32_t lmin = 0, lmax = 0, next[CHAT_MAX_WIDTH];
        for (int j = 0; j < n_out; j++) {
            chat_unpack_row(m->w[l] + (size_t)j * rb, n_in, row);
            int32_t b = (int16_t)(uint16_t)(m->b[l][2 * j] | m->b[l][2 * j + 1] << 8), up, dn;
            if (l == 0) {
                // A count vector with sum S puts all of S on the most (least) favourable bucket.
                int wq_max = -2, wq_min = 1, wk_max = -2, wk_min = 1;
                for (int i = 0; i < n_in; i++) {
                    int q = i < e->q_buckets;
                    if (q && row[i] > wq_max) wq_max = row[i];
                    if (q && row[i] < wq_min) wq_min = row[i];
                    if (!q && row[i] > wk_max) wk_max = row[i];
                    if (!q && row[i] < wk_min) wk_min = row[i];
                }
                int32_t s = (int32_t)1 << m->in_shift;
                up = b + s * ((wq_max >= 0 ? nq : 1) * wq_max + nk * wk_max);
                dn = b + s * ((wq_min <= 0 ? nq : 1) * wq_min + nk * wk_min);
            } else {
                up = dn = b;
                for (int i = 0; i < n_in; i++) {
                    if (row[i] > 0) up += row[i] * hmax[i];
                    if (row[i] < 0) dn += row[i] * hmax[i];
                }
            }
            if (j == 0 || up > lmax) lmax = up;
            if (j == 0 || dn < lmin) lmin = dn;
            int32_t full = 32767 >> m->shift[l];  // a wrapping neuron can output anything >= 0
            next[j] = (up > 32767 || dn < -32768) ? full : (up > 0 ? chat_floor_shift(up, m->shift[l]) : 0);
        }
        memcpy(hmax, next, sizeof(int32_t) * (size_t)n_out);
        lo[l] = lmin, hi[l] = lmax;
    }
}
