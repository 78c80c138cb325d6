// lm_ops.c: the integer operations of the transformer contract (see lm_ops.h for the exact
// arithmetic and bounds, docs/lm-contract.md for how the model uses them).
#include "infer/lm_ops.h"

// round(32767 * sin(pi/2 * j/256)), j = 0..256: a quarter wave, Q15.
const int16_t LM_SIN_Q15[257] = {
    0, 201, 402, 603, 804, 1005, 1206, 1407, 1608, 1809, 2009, 2210, 2410, 2611, 2811, 3012,
    3212, 3412, 3612, 3811, 4011, 4210, 4410, 4609, 4808, 5007, 5205, 5404, 5602, 5800, 5998, 6195,
    6393, 6590, 6786, 6983, 7179, 7375, 7571, 7767, 7962, 8157, 8351, 8545, 8739, 8933, 9126, 9319,
    9512, 9704, 9896, 10087, 10278, 10469, 10659, 10849, 11039, 11228, 11417, 11605, 11793, 11980, 12167, 12353,
    12539, 12725, 12910, 13094, 13279, 13462, 13645, 13828, 14010, 14191, 14372, 14553, 14732, 14912, 15090, 15269,
    15446, 15623, 15800, 15976, 16151, 16325, 16499, 16673, 16846, 17018, 17189, 17360, 17530, 17700, 17869, 18037,
    18204, 18371, 18537, 18703, 18868, 19032, 19195, 19357, 19519, 19680, 19841, 20000, 20159, 20317, 20475, 20631,
    20787, 20942, 21096, 21250, 21403, 21554, 21705, 21856, 22005, 22154, 22301, 22448, 22594, 22739, 22884, 23027,
    23170, 23311, 23452, 23592, 23731, 23870, 24007, 24143, 24279, 24413, 24547, 24680, 24811, 24942, 25072, 25201,
    25329, 25456, 25582, 25708, 25832, 25955, 26077, 26198, 26319, 26438, 26556, 26674, 26790, 26905, 27019, 27133,
    27245, 27356, 27466, 27575, 27683, 27790, 27896, 28001, 28105, 28208, 28310, 28411, 28510, 28609, 28706, 28803,
    28898, 28992, 29085, 29177, 29268, 29358, 29447, 29534, 29621, 29706, 29791, 29874, 29956, 30037, 30117, 30195,
    30273, 30349, 30424, 30498, 30571, 30643, 30714, 30783, 30852, 30919, 30985, 31050, 31113, 31176, 31237, 31297,
    31356, 31414, 31470, 31526, 31580, 31633, 31685, 31736, 31785, 31833, 31880, 31926, 31971, 32014, 32057, 32098,
    32137, 32176, 32213, 32250, 32285, 32318, 32351, 32382, 32412, 32441, 32469, 32495, 32521, 32545, 32567, 32589,
    32609, 32628, 32646, 32663, 32678, 32692, 32705, 32717, 32728, 32737, 32745, 32752, 32757, 32761, 32765, 32766,
    32767,
};

// round(32768 * 2^(-j/256)), j = 0..255: the fractional part of exp2, Q15.
const uint16_t LM_EXP2_Q15[256] = {
    32768, 32679, 32591, 32503, 32415, 32327, 32240, 32153, 32066, 31979, 31893, 31806, 31720, 31635, 31549, 31464,
    31379, 31294, 31209, 31125, 31041, 30957, 30873, 30790, 30706, 30623, 30541, 30458, 30376, 30293, 30212, 30130,
    30048, 29967, 29886, 29805, 29725, 29644, 29564, 29484, 29405, 29325, 29246, 29167, 29088, 29009, 28931, 28852,
    28774, 28697, 28619, 28542, 28464, 28388, 28311, 28234, 28158, 28082, 28006, 27930, 27855, 27779, 27704, 27629,
    27554, 27480, 27406, 27332, 27258, 27184, 27110, 27037, 26964, 26891, 26818, 26746, 26674, 26601, 26530, 26458,
    26386, 26315, 26244, 26173, 26102, 26031, 25961, 25891, 25821, 25751, 25681, 25612, 25543, 25474, 25405, 25336,
    25268, 25199, 25131, 25063, 24995, 24928, 24860, 24793, 24726, 24659, 24593, 24526, 24460, 24394, 24328, 24262,
    24196, 24131, 24066, 24001, 23936, 23871, 23806, 23742, 23678, 23614, 23550, 23486, 23423, 23359, 23296, 23233,
    23170, 23108, 23045, 22983, 22921, 22859, 22797, 22735, 22674, 22613, 22552, 22491, 22430, 22369, 22309, 22248,
    22188, 22128, 22068, 22009, 21949, 21890, 21831, 21772, 21713, 21654, 21595, 21537, 21479, 21421, 21363, 21305,
    21247, 21190, 21133, 21076, 21019, 20962, 20905, 20849, 20792, 20736, 20680, 20624, 20568, 20513, 20457, 20402,
    20347, 20292, 20237, 20182, 20127, 20073, 20019, 19965, 19911, 19857, 19803, 19750, 19696, 19643, 19590, 19537,
    19484, 19431, 19379, 19326, 19274, 19222, 19170, 19118, 19066, 19015, 18963, 18912, 18861, 18810, 18759, 18708,
    18658, 18607, 18557, 18507, 18457, 18407, 18357, 18308, 18258, 18209, 18160, 18110, 18061, 18013, 17964, 17915,
    17867, 17819, 17770, 17722, 17674, 17627, 17579, 17531, 17484, 17437, 17390, 17343, 17296, 17249, 17202, 17156,
    17109, 17063, 17017, 16971, 16925, 16879, 16834, 16788, 16743, 16697, 16652, 16607, 16562, 16518, 16473, 16428,
};

void lm_matvec_i8(int32_t *acc, const int8_t *w, const int8_t *x, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        const int8_t *wr = w + (long)r * cols;
        int32_t a = 0;
        for (int j = 0; j < cols; j++) a += (int32_t)wr[j] * x[j];
        acc[r] = a;
    }
}

void lm_matvec_i4(int32_t *acc, const uint8_t *w, const int8_t *x, int rows, int cols) {
    // A nibble v holds the weight (v ^ 8) - 8, so sum_j w_j x_j = sum_j (v_j ^ 8) x_j - 8 sum_j x_j:
    // the inner loop multiplies unsigned nibbles and the correction is one sum per call.
    int stride = (cols + 1) / 2, half = cols / 2;
    int32_t sx = 0;
    for (int j = 0; j < 2 * half; j++) sx += x[j];
    for (int r = 0; r < rows; r++) {
        const uint8_t *wr = w + (long)r * stride;
        int32_t a = 0;
        for (int k = 0; k < half; k++) {
            int b = wr[k];
            a += ((b & 15) ^ 8) * x[2 * k] + ((b >> 4) ^ 8) * x[2 * k + 1];
        }
        a -= 8 * sx;
        if (cols & 1) a += lm_i4(wr[half] & 15) * x[cols - 1];
        acc[r] = a;
    }
}

#ifndef LM_NO_2BIT  // a target without 2-bit models (the C64, whose RAM is counted in bytes) leaves it out
void lm_matvec_i2(int32_t *acc, const uint8_t *w, const int8_t *x, int rows, int cols) {
    // A code c holds the weight (c ^ 2) - 2: as for int4, the inner loop multiplies the unsigned
    // codes (c ^ 2) in 0..3 and the correction -2 sum_j x_j is one sum per call. A partial last
    // byte is unpacked element by element.
    int stride = (cols + 3) / 4, quads = cols / 4;
    int32_t sx = 0;
    for (int j = 0; j < 4 * quads; j++) sx += x[j];
    for (int r = 0; r < rows; r++) {
        const uint8_t *wr = w + (long)r * stride;
        const int8_t *xj = x;
        int32_t a = 0;
        for (int k = 0; k < quads; k++, xj += 4) {
            int b = wr[k] ^ 0xAA;  // every code c -> c ^ 2
            a += (b & 3) * xj[0] + ((b >> 2) & 3) * xj[1] + ((b >> 4) & 3) * xj[2] + (b >> 6) * xj[3];
        }
        a -= 2 * sx;
        for (int j = 4 * quads; j < cols; j++) a += lm_i2((wr[quads] >> (2 * (j & 3))) & 3) * x[j];
        acc[r] = a;
    }
}

void lm_matvec(int bits, int32_t *acc, const void *w, const int8_t *x, int rows, int cols) {
    if (bits == 4) lm_matvec_i4(acc, (const uint8_t *)w, x, rows, cols);
    else if (bits == 2) lm_matvec_i2(acc, (const uint8_t *)w, x, rows, cols);
    else lm_matvec_i8(acc, (const int8_t *)w, x, rows, cols);
}
#endif

void lm_requant_i8(int8_t *y, const int32_t *acc, const lm_rq *rq, int n) {
    for (int r = 0; r < n; r++) y[r] = lm_sat8(lm_requant(acc[r], rq[r]));
}

void lm_requant_i16(int16_t *y, const int32_t *acc, const lm_rq *rq, int n, int32_t lim) {
    for (int r = 0; r < n; r++) y[r] = (int16_t)lm_clamp(lm_requant(acc[r], rq[r]), lim);
}

void lm_requant_add(int32_t *res, const int32_t *acc, const lm_rq *rq, int n) {
    for (int r = 0; r < n; r++) res[r] += lm_requant(acc[r], rq[r]);
}

uint32_t lm_isqrt(uint32_t x) {
    uint32_t root = 0, bit = (uint32_t)1 << 30;
    while (bit > x) bit >>= 2;
    while (bit) {
        if (x >= root + bit) {
            x -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return root;
}

uint32_t lm_udiv(uint32_t n, uint32_t d) {
    uint32_t q = 0, rem = 0;
    for (int i = 31; i >= 0; i--) {
        // rem < d <= 2^32-1; (rem << 1) may exceed 32 bits only when rem >= 2^31, then it is >= d.
        uint32_t top = rem >> 31;
        rem = (rem << 1) | ((n >> i) & 1);
        if (top || rem >= d) {
            rem -= d;
            q |= (uint32_t)1 << i;
        }
    }
    return q;
}

uint32_t lm_mul_q15(uint32_t a, uint32_t q) { return (a >> 15) * q + (((a & 0x7FFF) * q) >> 15); }

int lm_norm_bits(int n) {
    int lg = 0;
    while ((1L << lg) < n) lg++;  // ceil(log2 n)
    return (31 - lg) / 2;
}

void lm_rmsnorm_q8(int8_t *out, const int32_t *x, const int16_t *g, int gk, int n, uint32_t eps_ss) {
    int B = lm_norm_bits(n);
    uint32_t mx = 0;
    for (int i = 0; i < n; i++) {
        uint32_t a = x[i] < 0 ? (uint32_t)0 - (uint32_t)x[i] : (uint32_t)x[i];
        if (a > mx) mx = a;
    }
    // 1. shift so that the largest magnitude is just below 2^B
    int s = 0;
    if (mx >= ((uint32_t)1 << B)) {
        while ((mx >> s) >= ((uint32_t)1 << B)) s++;
    } else if (mx) {
        // shift left while the largest stays below 2^B and the shifted epsilon below 2^30
        while ((mx << (1 - s)) < ((uint32_t)1 << B) && 2 * (1 - s) < 31 && eps_ss <= (((uint32_t)1 << 30) >> (2 * (1 - s))))
            s--;
    }
    // 2. sum of squares plus the shifted epsilon
    uint32_t t = 0;
    for (int i = 0; i < n; i++) {
        int32_t v = s >= 0 ? x[i] >> s : (int32_t)((uint32_t)x[i] << -s);
        t += (uint32_t)(v * v);
    }
    t += s >= 0 ? (2 * s >= 32 ? 0 : eps_ss >> (2 * s)) : eps_ss << (-2 * s);
    if (t == 0) {
        for (int i = 0; i < n; i++) out[i] = 0;
        return;
    }
    // 3. inverse square root: normalise t into [2^28, 2^30) by an even shift
    int e = 0;
    uint32_t tn = t;
    while (tn >= ((uint32_t)1 << 30)) tn >>= 2, e--;
    while (tn < ((uint32_t)1 << 28)) tn <<= 2, e++;
    uint32_t r = lm_isqrt(tn);
    int32_t inv = (int32_t)lm_udiv((uint32_t)1 << 30, r);
    // 4-5. normalise and scale by the folded weight
    int sh = 15 - e;
    for (int i = 0; i < n; i++) {
        int32_t v = s >= 0 ? x[i] >> s : (int32_t)((uint32_t)x[i] << -s);
        int32_t u = sh >= 31 ? 0 : lm_rshr(v * inv, sh);
        out[i] = lm_sat8(lm_rshr(u * g[i], gk));
    }
}

int32_t lm_sin_q15(uint32_t phi) {
    uint32_t quad = phi >> 30;
    uint32_t i16 = (phi >> 14) & 0xFFFF;
    if (quad & 1) i16 = 65536 - i16;
    uint32_t j = i16 >> 8, f = i16 & 255;
    int32_t v = LM_SIN_Q15[j];
    if (f) v += lm_rshr((LM_SIN_Q15[j + 1] - LM_SIN_Q15[j]) * (int32_t)f, 8);
    return quad & 2 ? -v : v;
}

void lm_rope_q12(int16_t *out, const int16_t *v, int n, int hs, int pos, const uint32_t *theta) {
    for (int i = 0; i < n; i += 2) {
        uint32_t phi = (uint32_t)pos * theta[(i % hs) >> 1];
        int32_t c = lm_cos_q15(phi), s = lm_sin_q15(phi);
        int32_t a = v[i], b = v[i + 1];
        out[i] = (int16_t)lm_clamp(lm_rshr(a * c - b * s, 15), 2047);
        out[i + 1] = (int16_t)lm_clamp(lm_rshr(a * s + b * c, 15), 2047);
    }
}

uint32_t lm_exp2_q15(int32_t u) {
    uint32_t a = (uint32_t)(-u);
    if ((a >> 8) >= 16) return 0;
    return (uint32_t)LM_EXP2_Q15[a & 255] >> (a >> 8);
}

void lm_softmax_q15(uint16_t *p, const int32_t *s, int n, int32_t cm, int ck, int32_t dlim) {
    int32_t mx = s[0];
    for (int t = 1; t < n; t++)
        if (s[t] > mx) mx = s[t];
    uint32_t S = 0;
    // e_t <= 2^15 does not fit uint16 when it equals 2^15: keep it as 0x8000 in a uint16 (fits).
    for (int t = 0; t < n; t++) {
        int32_t d = s[t] - mx;
        uint32_t e = d < -dlim ? 0 : lm_exp2_q15(lm_rshr(d * cm, ck));
        p[t] = (uint16_t)e;
        S += e;
    }
    int ns = 0;
    while ((S >> ns) >= 65536u) ns++;
    uint32_t R = lm_udiv((uint32_t)1 << 31, S >> ns);
    for (int t = 0; t < n; t++) p[t] = (uint16_t)(((uint32_t)p[t] * R + ((uint32_t)1 << (15 + ns))) >> (16 + ns));
}

int lm_argmax(const int32_t *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

void lm_rng_seed(lm_rng *r, uint32_t seed) {
    r->state = seed ^ 0x9E3779B9u;
    if (r->state == 0) r->state = 1;
    lm_rng_next(r);
}

uint32_t lm_rng_next(lm_rng *r) {
    uint32_t x = r->state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return r->state = x;
}

uint32_t lm_rng_below(lm_rng *r, uint32_t bound) {
    uint32_t mask = bound - 1;
    mask |= mask >> 1, mask |= mask >> 2, mask |= mask >> 4, mask |= mask >> 8, mask |= mask >> 16;
    for (;;) {
        uint32_t v = lm_rng_next(r) & mask;
        if (v < bound) return v;
    }
}

void lm_sampler_init(lm_sampler *s, uint32_t temp_q8, uint32_t topp_q15, uint32_t seed, int logit_frac) {
    s->tk = 16;
    if (temp_q8 < 1) temp_q8 = 1;
    s->tm = (int32_t)lm_udiv((uint32_t)LM_LOG2E_Q16 << (s->tk - logit_frac), temp_q8);
    if (s->tm < 1) s->tm = 1;
    s->dlim = (int32_t)lm_udiv((uint32_t)(17 * 256) << s->tk, (uint32_t)s->tm) + 1;
    s->topp_q15 = topp_q15;
    lm_rng_seed(&s->rng, seed);
}

uint32_t lm_sample_weights(const lm_sampler *s, const int32_t *logits, int n, uint32_t *e) {
    int32_t mx = logits[lm_argmax(logits, n)];
    uint32_t S = 0;
    for (int t = 0; t < n; t++) {
        int32_t d = logits[t] - mx;
        e[t] = d < -s->dlim ? 0 : lm_exp2_q15(lm_rshr(d * s->tm, s->tk));
        S += e[t];
    }
    return S;
}

#ifndef LM_SAMPLE_WEIGHTS
#define LM_SAMPLE_WEIGHTS lm_sample_weights
#endif
int lm_sample(lm_sampler *s, const int32_t *logits, int n, uint32_t *e, int16_t *idx) {
    uint32_t S = LM_SAMPLE_WEIGHTS(s, logits, n, e);
    int m = 0;
    uint32_t total = 0;
    if (s->topp_q15 >= 32768 || n < 2) {
        for (int t = 0; t < n; t++) idx[m++] = (int16_t)t;
        total = S;
    } else {
        uint32_t cut = lm_mul_q15(S, 32768 - s->topp_q15);
        for (int t = 0; t < n; t++)
            if (e[t] > 0 && e[t] * (uint32_t)(n - 1) >= cut) idx[m++] = (int16_t)t;  // (zeros first: no product)
        // insertion sort, e descending, index ascending on ties (stable)
        for (int i = 1; i < m; i++) {
            int16_t v = idx[i];
            int j = i - 1;
            while (j >= 0 && e[idx[j]] < e[v]) idx[j + 1] = idx[j], j--;
            idx[j + 1] = v;
        }
        uint32_t thr = lm_mul_q15(S, s->topp_q15);
        int keep = m;
        for (int i = 0; i < m; i++) {
            total += e[idx[i]];
            if (total > thr) {
                keep = i + 1;
                break;
            }
        }
        m = keep;
    }
    if (total == 0) return idx[0];
    uint32_t r = lm_rng_below(&s->rng, total), cum = 0;
    for (int i = 0; i < m; i++) {
        cum += e[idx[i]];
        if (cum > r) return idx[i];
    }
    return idx[m - 1];
}
