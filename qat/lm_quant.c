// lm_quant.c: post-training quantisation of a llama2.c model into the integer contract.
//
// Scales: every activation point gets s = amax / 127 from calibration (static, per tensor);
// weights get one scale per output row, s_r = max|w_r| / 127 (or / 7 for int4). Each integer
// step of the kernel then needs one real multiplier, which lmq_make_rq turns into (m, p, k).
#include "qat/lm_quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/progress.h"
#include "base/rng.h"

void lmq_stats_init(lmq_stats *st, int n_layers) {
    size_t n = (size_t)n_layers * LMQ_NPOINT + 1;
    st->n_layers = n_layers;
    st->amax = rq_calloc(n, sizeof(float));
    st->clip = rq_calloc(n, sizeof(float));
    st->hist = rq_calloc(n * LMQ_NBIN, sizeof(uint32_t));
    st->pass = 0;
    st->tokens = 0;
    st->progress = NULL;
}

void lmq_stats_free(lmq_stats *st) {
    free(st->amax);
    free(st->clip);
    free(st->hist);
    memset(st, 0, sizeof *st);
}

// llama_hook: record v[n] at (layer, point) into the lmq_stats ctx: maxima in pass 0, then the
// histogram of |v| over [0, amax] in pass 1.
static void record(void *ctx, int layer, int point, float *v, int n) {
    lmq_stats *st = ctx;
    int pt = lmq_index(layer, point);
    if (st->pass == 0) {
        for (int i = 0; i < n; i++)
            if (fabsf(v[i]) > st->amax[pt]) st->amax[pt] = fabsf(v[i]);
    } else if (st->amax[pt] > 0) {
        uint32_t *h = st->hist + (size_t)pt * LMQ_NBIN;
        float inv = LMQ_NBIN / st->amax[pt];
        for (int i = 0; i < n; i++) {
            int b = (int)(fabsf(v[i]) * inv);
            h[b >= LMQ_NBIN ? LMQ_NBIN - 1 : b]++;
        }
    }
}

static void choose_clips(lmq_stats *st) {
    int np = st->n_layers * LMQ_NPOINT + 1;
    for (int pt = 0; pt < np; pt++) {
        const uint32_t *h = st->hist + (size_t)pt * LMQ_NBIN;
        double amax = st->amax[pt], best = 1e300;
        st->clip[pt] = (float)amax;
        if (amax <= 0) continue;
        for (int j = 8; j <= 64; j++) {
            double c = amax * j / 64, step = c / 127, err = 0;
            for (int b = 0; b < LMQ_NBIN; b++) {
                if (!h[b]) continue;
                double v = (b + 0.5) * amax / LMQ_NBIN;
                err += h[b] * (v > c ? (v - c) * (v - c) : step * step / 12);
            }
            if (err < best) best = err, st->clip[pt] = (float)c;
        }
    }
}

void lmq_calibrate(const llama_model *f, const uint16_t *tokens, const int *lens, int n_seqs, lmq_stats *st) {
    llama_state s;
    llama_state_build(&s, &f->config);
    for (st->pass = 0; st->pass < 2; st->pass++) {
        const uint16_t *t = tokens;
        for (int q = 0; q < n_seqs; q++) {
            for (int i = 0; i < lens[q] && i < f->config.seq_len; i++) {
                llama_forward_hooked(f, &s, t[i], i, record, st);
                st->tokens++;
            }
            t += lens[q];
            if (st->progress) rq_progress_draw(st->progress, (long)st->pass * n_seqs + q + 1, -1, "calibration passes");
        }
    }
    choose_clips(st);
    llama_state_free(&s);
}

void lmq_self_generate(const llama_model *f, int n_seqs, int len, uint64_t seed, uint16_t *tokens, int *lens) {
    llama_state s;
    llama_state_build(&s, &f->config);
    pcg32 r;
    pcg32_seed(&r, seed, 0x51);
    int V = f->config.vocab_size;
    if (len > f->config.seq_len) len = f->config.seq_len;
    for (int q = 0; q < n_seqs; q++) {
        uint16_t *t = tokens + (size_t)q * len;
        t[0] = 1;  // BOS
        int n = 1;
        while (n < len) {
            float *lg = llama_forward(f, &s, t[n - 1], n - 1);
            float mx = lg[0], z = 0;
            for (int i = 1; i < V; i++) mx = fmaxf(mx, lg[i]);
            for (int i = 0; i < V; i++) z += lg[i] = expf(lg[i] - mx);
            float u = pcg32_float(&r) * z, cum = 0;
            int pick = V - 1;
            for (int i = 0; i < V; i++) {
                cum += lg[i];
                if (cum > u) {
                    pick = i;
                    break;
                }
            }
            if (pick == 1) break;  // BOS ends a story
            t[n++] = (uint16_t)pick;
        }
        lens[q] = n;
    }
    // pack the sequences contiguously
    size_t w = 0;
    for (int q = 0; q < n_seqs; q++) {
        memmove(tokens + w, tokens + (size_t)q * len, lens[q] * sizeof(uint16_t));
        w += lens[q];
    }
    llama_state_free(&s);
}

// ---- quantisation ---------------------------------------------------------------------------

int lmq_grid(int bits, int ternary, int midrise, int *lo, int *hi) {
    if (midrise && bits != 8) {  // the odd integers in [-(2^bits - 1), 2^bits - 1]
        *hi = (1 << bits) - 1, *lo = -*hi;
        return 1;
    }
    *hi = bits == 8 ? 127 : bits == 4 ? 7 : 1;
    *lo = bits == 2 && !ternary ? -2 : -*hi;
    return 0;
}

// The grid value nearest to t before clamping: round half away from zero, or on an odd grid the
// nearest odd integer 2 round((t - 1) / 2) + 1.
static long grid_round(float t, int odd) { return odd ? 2 * lroundf((t - 1) * 0.5f) + 1 : lroundf(t); }

lmq_wspec lmq_wspec_uniform(int wbits) {
    lmq_wspec ws;
    memset(&ws, 0, sizeof ws);
    memset(ws.mbits, wbits, sizeof ws.mbits);
    return ws;
}

void lmq_mat_shape(const llama_config *c, int k, int *rows, int *cols) {
    int dim = c->dim, hid = c->hidden_dim, kvd = llama_kv_dim(c);
    static const char kind[LM_NMAT] = {'d', 'k', 'k', 'd', 'h', 'd', 'h'};  // rows: wq wk wv wo w1 w2 w3
    *rows = kind[k] == 'd' ? dim : kind[k] == 'k' ? kvd : hid;
    *cols = k == LM_W2 ? hid : dim;
}

size_t lmq_scale_offset(const llama_config *c, int k) {
    size_t off = 0;
    for (int i = 0; i < k; i++) {
        int r, cl;
        lmq_mat_shape(c, i, &r, &cl);
        off += (size_t)c->n_layers * r;
    }
    return off;
}

size_t lmq_scale_count(const llama_config *c) { return lmq_scale_offset(c, LM_NMAT); }

float *lmq_mat_weights(const llama_weights *w, int k) {
    float *m[LM_NMAT] = {w->wq, w->wk, w->wv, w->wo, w->w1, w->w2, w->w3};
    return m[k];
}

void lmq_quant_row(const float *w, int cols, float s, int lo, int hi, int odd, int8_t *q) {
    for (int j = 0; j < cols; j++) {
        long v = grid_round(w[j] / s, odd);
        q[j] = (int8_t)(v > hi ? hi : v < lo ? lo : v);
    }
}

void lmq_quantize_rows_grid(const float *w, int rows, int cols, int lo, int hi, int odd, int8_t *q, float *scale) {
    int qd = hi > -lo ? hi : -lo, low = hi <= 3;  // low: a 2-bit grid
    if (low && !odd) qd = 1;
    for (int r = 0; r < rows; r++) {
        const float *wr = w + (size_t)r * cols;
        float mx = 0;
        for (int j = 0; j < cols; j++) mx = fmaxf(mx, fabsf(wr[j]));
        // the clip max * f, f = 1, 63/64, ..., 32/64 (2-bit: down to 8/64), with the least squared
        // rounding + clipping error; the first minimum wins
        float s = mx > 0 ? mx / qd : 1.0f;
        double best = INFINITY;
        for (int sign = 1; sign >= -1 && mx > 0; sign -= 2) {
            if (sign < 0 && lo == -hi) break;
            for (int fi = 64; fi >= (low ? (odd ? 16 : 8) : 32); fi--) {
                float sc = sign * (mx * fi / 64 / qd);
                double err = 0;
                for (int j = 0; j < cols; j++) {
                    long v = grid_round(wr[j] / sc, odd);
                    v = v > hi ? hi : v < lo ? lo : v;
                    double d = wr[j] - (double)v * sc;
                    err += d * d;
                }
                if (err < best) best = err, s = sc;
            }
        }
        scale[r] = s;
        lmq_quant_row(wr, cols, s, lo, hi, odd, q + (size_t)r * cols);
    }
}

void lmq_quantize_rows(const float *w, int rows, int cols, int qmax, int8_t *q, float *scale) {
    lmq_quantize_rows_grid(w, rows, cols, -qmax, qmax, 0, q, scale);
}

double lmq_lsq_row_grad(const float *w, float *g, int cols, float s, int lo, int hi, int odd, float lambda) {
    double ds = 0;
    for (int j = 0; j < cols; j++) {
        float v = w[j] / s;
        long q = grid_round(v, odd);  // lmq_quant_row's rounding
        if (q > hi || q < lo) ds += (double)g[j] * (q > hi ? hi : lo), g[j] *= 1 - lambda;
        else ds += (double)g[j] * (q - v);
    }
    return ds * lambda;
}

// Quantise each row of w [rows][cols] in place to its dequantised value q * s, on the grid
// [lo, hi] with the steps s (rows of them) or, when s is NULL, the search's.
static void fake_quant_rows(float *w, int rows, int cols, int lo, int hi, int odd, const float *s) {
    int8_t *q = rq_malloc((size_t)cols);
    for (int r = 0; r < rows; r++) {
        float *wr = w + (size_t)r * cols, sc;
        if (s) sc = s[r], lmq_quant_row(wr, cols, sc, lo, hi, odd, q);
        else lmq_quantize_rows_grid(wr, 1, cols, lo, hi, odd, q, &sc);
        for (int j = 0; j < cols; j++) wr[j] = q[j] * sc;
    }
    free(q);
}

void lmq_fake_quant_spec(const llama_model *src, llama_model *dst, const lmq_wspec *ws) {
    const llama_config *c = &src->config;
    memcpy(dst->params, src->params, src->n_params * sizeof(float));
    llama_weights *w = &dst->w;
    // per-row quantisation: a layer's stacked [L * rows][cols] matrix is just more rows
    for (int k = 0; k < LM_NMAT; k++) {
        int rows, cols, lo, hi;
        lmq_mat_shape(c, k, &rows, &cols);
        int odd = lmq_grid(ws->mbits[k], ws->ternary, ws->midrise, &lo, &hi);
        fake_quant_rows(lmq_mat_weights(w, k), c->n_layers * rows, cols, lo, hi, odd, ws->scale ? ws->scale + lmq_scale_offset(c, k) : NULL);
    }
    fake_quant_rows(w->token_embedding, c->vocab_size, c->dim, -127, 127, 0, NULL);
    if (!c->shared_classifier) fake_quant_rows(w->wcls, c->vocab_size, c->dim, -127, 127, 0, NULL);
}

void lmq_fake_quant_weights(const llama_model *src, llama_model *dst, int wbits) {
    lmq_wspec ws = lmq_wspec_uniform(wbits);
    lmq_fake_quant_spec(src, dst, &ws);
}

int lmq_make_rq(double M, double bound, lm_rq *rq) {
    int p = 0;
    while (bound / ldexp(1, p) >= 32767) p++;
    double Mp = fabs(M) * ldexp(1, p);
    int k = 0;
    while (k < 31 && Mp * ldexp(1, k + 1) < 32767.5) k++;
    long m = lround(fabs(M) * ldexp(1, p + k));
    if (m > 32767) {
        if (k == 0) return rq_fail(RQ_EINPUT, "requantisation multiplier %g too large for the contract (needs a left shift)", M);
        m = 32767;
    }
    rq->m = (int16_t)(M < 0 ? -m : m);
    rq->p = (uint8_t)p;
    rq->k = (uint8_t)k;
    return 0;
}

static void *own(lm_model *m, size_t bytes) {
    (void)m;
    return rq_calloc(1, bytes ? bytes : 1);
}

// Quantise a [rows][cols] matrix per row for the kernel (int8, int4 or 2-bit packed, lm_row_bytes)
// on the grid of bits (ternary: without -2; midrise: the odd values v, stored as s = (v - 1) / 2),
// with the steps s[rows] (or the search's when NULL), and build each row's requantisation for
// multiplier out_mul (real output units per real value) given the input scale sx.
static int quant_mat(lm_model *m, lm_mat *mat, const float *w, int rows, int cols, int bits, int ternary, int midrise, const float *s,
                     double sx, double out_mul) {
    int lo, hi, odd = lmq_grid(bits, ternary, midrise, &lo, &hi);
    int8_t *q = rq_malloc((size_t)rows * cols);
    float *sc = rq_malloc(rows * sizeof(float));
    if (s) {
        for (int r = 0; r < rows; r++) sc[r] = s[r], lmq_quant_row(w + (size_t)r * cols, cols, s[r], lo, hi, odd, q + (size_t)r * cols);
    } else {
        lmq_quantize_rows_grid(w, rows, cols, lo, hi, odd, q, sc);
    }
    lm_rq *rq = own(m, rows * sizeof(lm_rq));
    int rc = 0;
    for (int r = 0; r < rows && !rc; r++) {
        double sabs = 0;
        for (int j = 0; j < cols; j++) sabs += abs(q[(size_t)r * cols + j]);
        rc = lmq_make_rq(sc[r] * sx * out_mul, 127.0 * sabs + 1, &rq[r]);
    }
    if (bits != 8) {  // pack: element j in bits (j mod per) * bits of byte j / per, per = 8 / bits
        int stride = lm_row_bytes(bits, cols), per = 8 / bits, mask = (1 << bits) - 1;
        uint8_t *pk = own(m, (size_t)rows * stride);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++)
                pk[(size_t)r * stride + j / per] |= (uint8_t)(((odd ? (q[(size_t)r * cols + j] - 1) / 2 : q[(size_t)r * cols + j]) & mask) << (bits * (j % per)));
        mat->w = pk;
        free(q);
    } else {
        mat->w = q;
    }
    mat->rq = rq;
    free(sc);
    return rc;
}

// RMSNorm weight g folded with sqrt(n) and the output scale: G_i = g_i sqrt(n) / s_out 2^(k-15).
static void quant_norm(lm_model *m, lm_norm *nm, const float *g, int n, double s_out) {
    int16_t *G = own(m, n * sizeof(int16_t));
    double mx = 0;
    for (int i = 0; i < n; i++) mx = fmax(mx, fabs(g[i]) * sqrt(n) / s_out);
    int k = 0;
    while (k < 30 && mx * ldexp(1, k + 1 - 15) < 32767.5) k++;
    for (int i = 0; i < n; i++) {
        long v = lround(g[i] * sqrt(n) / s_out * ldexp(1, k - 15));
        G[i] = (int16_t)(v > 32767 ? 32767 : v < -32767 ? -32767 : v);
    }
    nm->g = G;
    nm->k = k;
}

static double act_scale(float amax) { return amax > 0 ? amax / 127.0 : 1.0 / 127; }

int lmq_quantize(const llama_model *f, const lmq_stats *st, const lmq_opts *o, lm_model *out) {
    const llama_config *fc = &f->config;
    const llama_weights *w = &f->w;
    memset(out, 0, sizeof *out);
    if (fc->n_layers > LM_MAX_LAYERS) return rq_fail(RQ_EINPUT, "%d layers: the integer kernel supports at most %d", fc->n_layers, LM_MAX_LAYERS);
    if (fc->vocab_size > 32767) return rq_fail(RQ_EINPUT, "vocab %d: the integer sampler supports at most 32767", fc->vocab_size);
    lmq_wspec uni = lmq_wspec_uniform(o->wbits);
    const lmq_wspec *ws = o->ws ? o->ws : &uni;
    for (int k = 0; k < LM_NMAT; k++)
        if (ws->mbits[k] != 8 && ws->mbits[k] != 4 && ws->mbits[k] != 2)
            return rq_fail(RQ_EINPUT, "weight bits must be 8, 4 or 2, not %d", ws->mbits[k]);
    lm_config *c = &out->c;
    c->dim = fc->dim, c->hidden_dim = fc->hidden_dim, c->n_layers = fc->n_layers, c->n_heads = fc->n_heads;
    c->n_kv_heads = fc->n_kv_heads, c->vocab_size = fc->vocab_size, c->seq_len = fc->seq_len;
    c->shared_classifier = fc->shared_classifier;
    memcpy(c->mbits, ws->mbits, sizeof c->mbits);
    for (int k = 0; k < LM_NMAT; k++) c->mrise[k] = (uint8_t)(ws->midrise && ws->mbits[k] != 8);
    c->wbits = lm_uniform_bits(c);
    c->logit_frac = o->logit_frac ? o->logit_frac : 10;
    c->eps_ss = (uint32_t)llround(fc->dim * 1e-5 * 4294967296.0);
    int dim = c->dim, hid = c->hidden_dim, kvd = lm_kv_dim(c), hs = lm_head_size(c), V = c->vocab_size;
    int rc = 0;

    // embedding rows (int8, per-token scale) -> residual Q16
    int8_t *emb = rq_malloc((size_t)V * dim);
    float *esc = rq_malloc(V * sizeof(float));
    lmq_quantize_rows(w->token_embedding, V, dim, 127, emb, esc);
    lm_rq *erq = own(out, V * sizeof(lm_rq));
    for (int r = 0; r < V && !rc; r++) rc = lmq_make_rq(esc[r] * 65536.0, 127, &erq[r]);
    out->emb = emb, out->emb_rq = erq;

    uint32_t *theta = own(out, (hs / 2) * sizeof(uint32_t));
    for (int i = 0; i < hs / 2; i++) {
        double turns = pow(10000.0, -2.0 * i / hs) / (2 * M_PI);
        theta[i] = (uint32_t)(uint64_t)llround(turns * 4294967296.0);
    }
    out->rope_theta = theta;

    for (int l = 0; l < c->n_layers && !rc; l++) {
        lm_layer *L = &out->layers[l];
        const float *a = st->clip + (size_t)l * LMQ_NPOINT;
        double sxa = act_scale(a[LMQ_XATT]), sq = act_scale(a[LMQ_Q]), sk = act_scale(a[LMQ_K]), sv = act_scale(a[LMQ_V]);
        double so = act_scale(a[LMQ_O]), sxf = act_scale(a[LMQ_XFFN]), s1 = act_scale(a[LMQ_H1]);
        double s3 = act_scale(a[LMQ_H3]), sg = act_scale(a[LMQ_G]);
        // quant_mat of layer matrix k: its bits, grid and (learned) steps
#define QM(k, mat, wsrc, rows, cols, sx, mul)                                                                                  \
    quant_mat(out, &L->mat, wsrc + (size_t)l * (rows) * (cols), rows, cols, ws->mbits[k], ws->ternary, ws->midrise,             \
              ws->scale ? ws->scale + lmq_scale_offset(fc, k) + (size_t)l * (rows) : NULL, sx, mul)
        quant_norm(out, &L->att_norm, w->rms_att + (size_t)l * dim, dim, sxa);
        if (!rc) rc = QM(LM_WQ, wq, w->wq, dim, dim, sxa, 16.0 / sq);
        if (!rc) rc = QM(LM_WK, wk, w->wk, kvd, dim, sxa, 16.0 / sk);
        if (!rc) rc = QM(LM_WV, wv, w->wv, kvd, dim, sxa, 1.0 / sv);
        // scores: one unit = (sq/16) (sk/16) / sqrt(hs) nats -> Q8 log2: cm / 2^ck = unit * log2(e) * 256
        double unit = sq / 16 * sk / 16 / sqrt(hs) * M_LOG2E * 256;
        int ck = 0;
        while (ck < 18 && unit * ldexp(1, ck + 1) < 32767.5) ck++;
        L->att_cm = (int32_t)lround(unit * ldexp(1, ck));
        if (L->att_cm < 1) L->att_cm = 1;
        L->att_ck = ck;
        L->att_dlim = (int32_t)floor(17.0 * 256 * ldexp(1, ck) / L->att_cm) + 1;
        if (!rc) rc = lmq_make_rq(sv / 32768.0 / so, 127.0 * (32768 + c->seq_len), &L->att_out);
        if (!rc) rc = QM(LM_WO, wo, w->wo, dim, dim, so, 65536.0);
        quant_norm(out, &L->ffn_norm, w->rms_ffn + (size_t)l * dim, dim, sxf);
        if (!rc) rc = QM(LM_W1, w1, w->w1, hid, dim, sxf, 1.0 / s1);
        if (!rc) rc = QM(LM_W3, w3, w->w3, hid, dim, sxf, 1.0 / s3);
        // silu table over the int8 h1 grid, scaled so its largest magnitude is 32767
        int16_t *tab = own(out, 256 * sizeof(int16_t));
        double smax = 0;
        for (int i = -127; i <= 127; i++) smax = fmax(smax, fabs(i * s1 / (1 + exp(-i * s1))));
        double st_ = smax > 0 ? smax / 32767 : 1;
        for (int i = -128; i <= 127; i++) tab[i + 128] = (int16_t)lround(i * s1 / (1 + exp(-i * s1)) / st_);
        tab[0] = tab[1];  // index -128 never occurs (h1 is clamped to +-127)
        L->silu = tab;
        if (!rc) rc = lmq_make_rq(st_ * s3 / sg, 32767.0 * 127, &L->glu);
        if (!rc) rc = QM(LM_W2, w2, w->w2, dim, hid, sg, 65536.0);
    }
#undef QM
    double sfin = act_scale(st->clip[c->n_layers * LMQ_NPOINT]);
    quant_norm(out, &out->final_norm, w->rms_final, dim, sfin);
    double lf = ldexp(1, c->logit_frac);
    if (c->shared_classifier) {
        lm_rq *crq = own(out, V * sizeof(lm_rq));
        for (int r = 0; r < V && !rc; r++) {
            double sabs = 0;
            for (int j = 0; j < dim; j++) sabs += abs(emb[(size_t)r * dim + j]);
            rc = lmq_make_rq(esc[r] * sfin * lf, 127.0 * sabs + 1, &crq[r]);
        }
        out->cls.w = emb, out->cls.rq = crq;
    } else if (!rc) {
        rc = quant_mat(out, &out->cls, w->wcls, V, dim, 8, 0, 0, NULL, sfin, lf);
    }
    free(esc);
    if (rc) lmq_free(out);
    return rc;
}

void lmq_free(lm_model *m) {
#define F(p) free((void *)(p))
    if (!m->c.shared_classifier) F(m->cls.w);
    F(m->cls.rq);
    F(m->emb), F(m->emb_rq), F(m->rope_theta), F(m->final_norm.g);
    for (int l = 0; l < m->c.n_layers && l < LM_MAX_LAYERS; l++) {
        lm_layer *L = &m->layers[l];
        const lm_mat *ms[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w1, &L->w2, &L->w3};
        for (int i = 0; i < 7; i++) F(ms[i]->w), F(ms[i]->rq);
        F(L->att_norm.g), F(L->ffn_norm.g), F(L->silu);
    }
#undef F
    memset(m, 0, sizeof *m);
}

void lmq_unpack_i8(lm_model *m) {
    const lm_config *c = &m->c;
    int rows[LM_NMAT], cols[LM_NMAT];
    llama_config fc = {.dim = c->dim, .hidden_dim = c->hidden_dim, .n_heads = c->n_heads, .n_kv_heads = c->n_kv_heads};
    for (int k = 0; k < LM_NMAT; k++) lmq_mat_shape(&fc, k, &rows[k], &cols[k]);
    for (int l = 0; l < c->n_layers; l++) {
        lm_layer *L = &m->layers[l];
        lm_mat *ms[LM_NMAT] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w1, &L->w2, &L->w3};
        for (int k = 0; k < LM_NMAT; k++) {
            int bits = c->mbits[k], stride = lm_row_bytes(bits, cols[k]);
            if (bits == 8) continue;
            const uint8_t *pk = ms[k]->w;
            int8_t *q = own(m, (size_t)rows[k] * cols[k]);
            for (int r = 0; r < rows[k]; r++)
                for (int j = 0; j < cols[k]; j++) {
                    int b = pk[(size_t)r * stride + j * bits / 8] >> (bits * j % 8) & ((1 << bits) - 1);
                    int v = bits == 4 ? lm_i4(b) : lm_i2(b);
                    q[(size_t)r * cols[k] + j] = (int8_t)(c->mrise[k] ? 2 * v + 1 : v);
                }
            free((void *)ms[k]->w);
            ms[k]->w = q;
        }
    }
    memset(m->c.mbits, 8, sizeof m->c.mbits);
    memset(m->c.mrise, 0, sizeof m->c.mrise);
    m->c.wbits = 8;
}

static int calibrate_default(const llama_model *f, const uint16_t *tokens, size_t n, lmq_stats *st, int show) {
    int len = LMQ_CALIB_LEN < f->config.seq_len ? LMQ_CALIB_LEN : f->config.seq_len;
    int ns = tokens ? (int)((n + len - 1) / len) : LMQ_CALIB_SEQS;
    if (tokens && n == 0) return rq_fail(RQ_EINPUT, "calibration: no tokens");
    int *lens = rq_malloc(ns * sizeof(int));
    uint16_t *own_t = NULL;
    if (tokens) {
        for (int i = 0; i < ns; i++) lens[i] = (int)(n - (size_t)i * len < (size_t)len ? n - (size_t)i * len : (size_t)len);
    } else {
        own_t = rq_malloc((size_t)ns * len * sizeof(uint16_t));
        lmq_self_generate(f, ns, len, LMQ_CALIB_SEED, own_t, lens);
        tokens = own_t;
    }
    lmq_stats_init(st, f->config.n_layers);
    rq_progress pg;
    rq_progress_start(&pg, "calibrate: sequence", 2L * ns, !show);
    st->progress = show ? &pg : NULL;
    lmq_calibrate(f, tokens, lens, ns, st);
    rq_progress_end(&pg);
    st->progress = NULL;
    free(own_t);
    free(lens);
    return 0;
}

int lmq_calibrate_default(const llama_model *f, const uint16_t *tokens, size_t n, lmq_stats *st) {
    return calibrate_default(f, tokens, n, st, 0);
}

int lmq_ptq(const llama_model *f, const uint16_t *tokens, size_t n, int wbits, lm_model *out) {
    lmq_wspec ws = lmq_wspec_uniform(wbits);
    return lmq_ptq_spec_progress(f, tokens, n, &ws, 0, out);
}

int lmq_ptq_progress(const llama_model *f, const uint16_t *tokens, size_t n, int wbits, int show, lm_model *out) {
    lmq_wspec ws = lmq_wspec_uniform(wbits);
    return lmq_ptq_spec_progress(f, tokens, n, &ws, show, out);
}

int lmq_ptq_spec(const llama_model *f, const uint16_t *tokens, size_t n, const lmq_wspec *ws, lm_model *out) {
    return lmq_ptq_spec_progress(f, tokens, n, ws, 0, out);
}

int lmq_ptq_spec_progress(const llama_model *f, const uint16_t *tokens, size_t n, const lmq_wspec *ws, int show, lm_model *out) {
    lmq_stats st;
    int rc = calibrate_default(f, tokens, n, &st, show);
    if (rc) return rc;
    lmq_opts o = {0, 10, ws};
    rc = lmq_quantize(f, &st, &o, out);
    lmq_stats_free(&st);
    return rc;
}
