// test_lm_ops.c: every integer op of the transformer contract against its float counterpart
// (ggml style: a float reference computed here, a stated tolerance per op).
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "infer/lm_ops.h"

// Exact: the int8 and int4 dot products are integer sums, so they equal the double sum.
static void test_matvec_exact(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 1, 1);
    enum { R = 37, C = 173 };
    static int8_t w[R * C], x[C];
    static uint8_t w4[R * ((C + 1) / 2)];
    int32_t acc[R], acc4[R];
    for (int i = 0; i < R * C; i++) w[i] = (int8_t)((int)pcg32_bounded(&r, 255) - 127);
    for (int i = 0; i < C; i++) x[i] = (int8_t)((int)pcg32_bounded(&r, 255) - 127);
    w[0] = 127, x[0] = 127;  // extremes
    memset(w4, 0, sizeof w4);
    int v4[R][C];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) {
            v4[i][j] = (int)pcg32_bounded(&r, 15) - 7;
            w4[i * ((C + 1) / 2) + j / 2] |= (uint8_t)((v4[i][j] & 15) << (4 * (j & 1)));
        }
    lm_matvec_i8(acc, w, x, R, C);
    lm_matvec_i4(acc4, w4, x, R, C);
    for (int i = 0; i < R; i++) {
        double s = 0, s4 = 0;
        for (int j = 0; j < C; j++) s += (double)w[i * C + j] * x[j], s4 += (double)v4[i][j] * x[j];
        assert_true(acc[i] == (int32_t)s);
        assert_true(acc4[i] == (int32_t)s4);
    }
}

// 2-bit weights {-2, -1, 0, +1}, four per byte (element 4j+i in bits 2i of byte j), rows of every
// length mod 4: the kernel's unsigned-code sum with one correction equals the plain sum, and
// lm_matvec dispatches on the bits.
static void test_matvec_i2_exact(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 9, 1);
    for (int C = 1; C <= 13; C += (C < 9 ? 1 : 4)) {
        enum { R = 11 };
        int8_t x[13], v[R][13];
        uint8_t w[R * 4];
        int32_t acc[R], acc2[R];
        memset(w, 0, sizeof w);
        int stride = lm_row_bytes(2, C);
        assert_int_equal(stride, (C + 3) / 4);
        for (int j = 0; j < C; j++) x[j] = (int8_t)((int)pcg32_bounded(&r, 255) - 127);
        x[0] = -127;
        for (int i = 0; i < R; i++)
            for (int j = 0; j < C; j++) {
                v[i][j] = (int8_t)((int)pcg32_bounded(&r, 4) - 2);
                if (i == 0) v[i][j] = -2;  // extremes: a row of -2 against -127
                w[i * stride + j / 4] |= (uint8_t)((v[i][j] & 3) << (2 * (j & 3)));
            }
        lm_matvec_i2(acc, w, x, R, C);
        lm_matvec(2, acc2, w, x, R, C);
        for (int i = 0; i < R; i++) {
            long s = 0;
            for (int j = 0; j < C; j++) s += (long)v[i][j] * x[j];
            assert_int_equal(acc[i], s);
            assert_int_equal(acc2[i], s);
        }
    }
    // the codes: 0 -> 0, 1 -> +1, 2 -> -2, 3 -> -1 (the row +1, -2, -1, 0, +1 packs to 39h, 01h)
    assert_int_equal(lm_i2(0), 0), assert_int_equal(lm_i2(1), 1), assert_int_equal(lm_i2(2), -2), assert_int_equal(lm_i2(3), -1);
    const uint8_t row[2] = {0x39, 0x01};
    const int8_t ones[5] = {1, 10, 100, 3, 7};
    int32_t a;
    lm_matvec_i2(&a, row, ones, 1, 5);
    assert_int_equal(a, 1 - 20 - 100 + 0 + 7);
}

// Requantisation: |requant(acc) - acc * m / 2^(k+p)| <= 0.5 + the pre-shift's floor error.
static void test_requant_rounding(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 2, 1);
    for (int it = 0; it < 100000; it++) {
        int32_t acc = (int32_t)pcg32_next(&r) >> (int)pcg32_bounded(&r, 16);
        lm_rq q = {(int16_t)((int)pcg32_bounded(&r, 65535) - 32767), (uint8_t)pcg32_bounded(&r, 17), 0};
        while ((acc >> q.p) >= 32768 || (acc >> q.p) < -32768) q.p++;  // the contract: |acc >> p| <= 2^15
        q.k = (uint8_t)(q.p + pcg32_bounded(&r, 14));
        if (q.k > 30) q.k = 30;
        int32_t y = lm_requant(acc, q);
        double want = floor((double)acc / ldexp(1, q.p)) * q.m / ldexp(1, q.k);
        assert_true(fabs(y - want) <= 0.5 + 1e-9);
        assert_true(y == (int32_t)floor(want + 0.5));  // halves round up
    }
    assert_int_equal(lm_rshr(-3, 1), -1);  // -1.5 -> -1
    assert_int_equal(lm_rshr(3, 1), 2);    //  1.5 ->  2
    assert_int_equal(lm_sat8(300), 127);
    assert_int_equal(lm_sat8(-300), -127);
}

// Exact scalar helpers against the C operators on random and edge inputs.
static void test_isqrt_udiv_mulq15(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 3, 1);
    uint32_t edge[] = {0, 1, 2, 3, 4, 15, 16, 17, 65535, 65536, 0x3FFFFFFFu, 0x40000000u, 0xFFFFFFFEu, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        uint32_t s = lm_isqrt(edge[i]);
        assert_true((uint64_t)s * s <= edge[i] && (uint64_t)(s + 1) * (s + 1) > edge[i]);
    }
    for (int it = 0; it < 200000; it++) {
        uint32_t a = pcg32_next(&r) >> pcg32_bounded(&r, 32);
        uint32_t d = (pcg32_next(&r) >> pcg32_bounded(&r, 32)) | 1u;
        uint32_t s = lm_isqrt(a);
        assert_true((uint64_t)s * s <= a && (uint64_t)(s + 1) * (s + 1) > a);
        assert_true(lm_udiv(a, d) == a / d);
        uint32_t q = pcg32_bounded(&r, 32769);
        assert_true(lm_mul_q15(a, q) == (uint32_t)(((uint64_t)a * q) >> 15));
    }
    assert_true(lm_udiv(0xFFFFFFFFu, 0xFFFFFFFFu) == 1);
    assert_true(lm_udiv(0x80000000u, 3) == 0x80000000u / 3);
}

// RMSNorm: out = sat8(round(x * g / rms(x) / s)) within 1 LSB (the integer path has ~12-bit
// inputs and a 15-bit reciprocal, well below the int8 output's half LSB plus rounding).
static void test_rmsnorm_vs_float(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 4, 1);
    enum { N = 64 };
    int32_t x[N];
    int16_t g[N];
    int8_t out[N];
    int worst = 0;
    for (int it = 0; it < 3000; it++) {
        double mag = ldexp(1, (int)pcg32_bounded(&r, 22) - 10);  // rms from 2^-10 to 2^11 (real)
        double gf[N], ss = 0;
        for (int i = 0; i < N; i++) {
            x[i] = (int32_t)lrint(pcg32_normal(&r) * mag * 65536.0 / 4);
            if (it % 7 == 0 && i == 5) x[i] *= 9;  // an outlier channel
            ss += (double)x[i] / 65536.0 * x[i] / 65536.0;
            gf[i] = 0.2 + 1.5 * pcg32_float(&r);
        }
        double eps = 1e-5, rms = sqrt(ss / N + eps);
        double s_out = 4.0 / 127;  // output scale: |normalised * g| of a few units
        double gmax = 0;
        for (int i = 0; i < N; i++) gmax = fmax(gmax, gf[i] * sqrt(N) / s_out);
        int gk = 15;
        while (gmax * ldexp(1, gk - 15 + 1) < 32767) gk++;
        for (int i = 0; i < N; i++) g[i] = (int16_t)lrint(gf[i] * sqrt(N) / s_out * ldexp(1, gk - 15));
        uint32_t eps_ss = (uint32_t)lrint(N * eps * 4294967296.0);
        lm_rmsnorm_q8(out, x, g, gk, N, eps_ss);
        for (int i = 0; i < N; i++) {
            double want = (double)x[i] / 65536.0 / rms * gf[i] / s_out;
            want = fmax(-127, fmin(127, want));
            int d = abs((int)lrint(want) - out[i]);
            if (d > worst) worst = d;
            if (d > 1) fail_msg("it %d i %d: want %.3f got %d", it, i, want, out[i]);
        }
    }
    printf("rmsnorm: worst |int - float| = %d LSB\n", worst);
}

// sin/cos from the quarter-wave table with interpolation: within 2 LSB of Q15 everywhere.
static void test_sin_cos_table(void **state) {
    (void)state;
    double worst = 0;
    for (uint64_t ph = 0; ph < (1ull << 32); ph += 4099 * 7) {
        double a = (double)ph / 4294967296.0 * 2 * M_PI;
        double ds = fabs(lm_sin_q15((uint32_t)ph) - 32767 * sin(a));
        double dc = fabs(lm_cos_q15((uint32_t)ph) - 32767 * cos(a));
        worst = fmax(worst, fmax(ds, dc));
    }
    printf("sin/cos: worst error %.2f / 32767\n", worst);
    assert_true(worst <= 2.0);
    assert_int_equal(lm_sin_q15(0), 0);
    assert_int_equal(lm_sin_q15(0x40000000u), 32767);
    assert_int_equal(lm_cos_q15(0x80000000u), -32767);
}

// RoPE (q and the k cache): rotation of int16 inputs (units s/16, |v| <= 2047) within 1 LSB of
// the float rotation (clamped to +-2047) with llama2.c's frequencies, at positions up to 4096.
static void test_rope_vs_float(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 5, 1);
    enum { HS = 8, N = 32 };
    uint32_t theta[HS / 2];
    for (int i = 0; i < HS / 2; i++) {
        double f = pow(10000.0, -2.0 * i / HS) / (2 * M_PI);  // turns per position
        theta[i] = (uint32_t)(uint64_t)llround(f * 4294967296.0);
    }
    int16_t v[N], out[N];
    for (int it = 0; it < 4000; it++) {
        int pos = (int)pcg32_bounded(&r, 4096);
        for (int i = 0; i < N; i++) v[i] = (int16_t)((int)pcg32_bounded(&r, 4095) - 2047);
        lm_rope_q12(out, v, N, HS, pos, theta);
        for (int i = 0; i < N; i += 2) {
            double ang = pos * pow(10000.0, -(double)(i % HS) / HS);
            double a = v[i], b = v[i + 1];
            double wa = a * cos(ang) - b * sin(ang), wb = a * sin(ang) + b * cos(ang);
            wa = fmax(-2047, fmin(2047, wa)), wb = fmax(-2047, fmin(2047, wb));
            if (fabs(wa - out[i]) > 1.0 || fabs(wb - out[i + 1]) > 1.0)
                fail_msg("pos %d i %d: want %.2f %.2f got %d %d", pos, i, wa, wb, out[i], out[i + 1]);
        }
    }
}

// exp2 within 1 LSB + 0.3% (the Q8 table step), softmax within 0.002 absolute of float.
static void test_exp_softmax_vs_float(void **state) {
    (void)state;
    for (int u = 0; u >= -17 * 256; u--) {
        double want = 32768.0 * pow(2.0, u / 256.0);
        assert_true(fabs(lm_exp2_q15(u) - want) <= 1.0 + want * 0.003);
    }
    pcg32 r;
    pcg32_seed(&r, 6, 1);
    enum { T = 300 };
    int32_t s[T];
    uint16_t p[T];
    double worst = 0;
    for (int it = 0; it < 300; it++) {
        int n = 1 + (int)pcg32_bounded(&r, T);
        double scale = 0.001 + 0.01 * pcg32_float(&r);  // real value of one score unit
        // (cm, ck) mapping score units to Q8 log2: cm / 2^ck = scale * log2(e) * 256
        int ck = 0;
        while (scale * M_LOG2E * 256 * ldexp(1, ck + 1) < 32767) ck++;
        int32_t cm = (int32_t)lrint(scale * M_LOG2E * 256 * ldexp(1, ck));
        int32_t dlim = (int32_t)((17.0 * 256 * ldexp(1, ck)) / cm) + 1;
        double mx = -1e30, z = 0, pf[T];
        for (int t = 0; t < n; t++) s[t] = (int32_t)pcg32_bounded(&r, 4000) - 2000, mx = fmax(mx, s[t] * scale);
        for (int t = 0; t < n; t++) z += pf[t] = exp(s[t] * scale - mx);
        lm_softmax_q15(p, s, n, cm, ck, dlim);
        long sum = 0;
        for (int t = 0; t < n; t++) {
            worst = fmax(worst, fabs(p[t] / 32768.0 - pf[t] / z));
            sum += p[t];
        }
        assert_true(labs(sum - 32768) <= n);  // each p rounds by at most half an LSB
    }
    printf("softmax: worst |p_int - p_float| = %.5f\n", worst);
    assert_true(worst < 0.002);
}

// Integer sampling: argmax; determinism; the draw frequencies follow the float softmax with
// temperature (within 0.01 over 200k draws); top-p keeps exactly the float nucleus when no
// probability lies within rounding of a boundary.
static void test_sampling(void **state) {
    (void)state;
    int32_t v[6] = {3, 9, -2, 9, 1, 0};
    assert_int_equal(lm_argmax(v, 6), 1);
    lm_rng a, b;
    lm_rng_seed(&a, 42);
    lm_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) assert_true(lm_rng_next(&a) == lm_rng_next(&b));
    for (int i = 0; i < 10000; i++) assert_true(lm_rng_below(&a, 7) < 7);

    enum { V = 12, LF = 10 };
    int32_t logits[V];
    double lf[V];
    for (int i = 0; i < V; i++) lf[i] = 0.37 * i - 0.05 * i * i, logits[i] = (int32_t)lrint(lf[i] * (1 << LF));
    uint32_t e[V];
    int16_t idx[V];
    double temp = 0.8, z = 0, pf[V];
    for (int i = 0; i < V; i++) z += pf[i] = exp((logits[i] / 1024.0) / temp);
    for (int i = 0; i < V; i++) pf[i] /= z;
    lm_sampler s;
    lm_sampler_init(&s, (uint32_t)lrint(temp * 256), 32768, 7, LF);
    long cnt[V] = {0};
    const int N = 200000;
    for (int i = 0; i < N; i++) cnt[lm_sample(&s, logits, V, e, idx)]++;
    for (int i = 0; i < V; i++) assert_true(fabs((double)cnt[i] / N - pf[i]) < 0.01);

    // nucleus: float reference set of the top tokens whose mass first exceeds 0.6
    int order[V];
    for (int i = 0; i < V; i++) order[i] = i;
    for (int i = 1; i < V; i++)
        for (int j = i; j > 0 && pf[order[j]] > pf[order[j - 1]]; j--) {
            int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
        }
    double cum = 0;
    int keep = 0;
    while (keep < V && cum <= 0.6) cum += pf[order[keep++]];
    int allowed[V] = {0};
    for (int i = 0; i < keep; i++) allowed[order[i]] = 1;
    lm_sampler_init(&s, (uint32_t)lrint(temp * 256), (uint32_t)lrint(0.6 * 32768), 9, LF);
    long seen[V] = {0};
    for (int i = 0; i < 20000; i++) seen[lm_sample(&s, logits, V, e, idx)]++;
    for (int i = 0; i < V; i++) {
        if (!allowed[i]) assert_int_equal(seen[i], 0);
        else assert_true(seen[i] > 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matvec_exact),
        cmocka_unit_test(test_matvec_i2_exact),
        cmocka_unit_test(test_requant_rounding),
        cmocka_unit_test(test_isqrt_udiv_mulq15),
        cmocka_unit_test(test_rmsnorm_vs_float),
        cmocka_unit_test(test_sin_cos_table),
        cmocka_unit_test(test_rope_vs_float),
        cmocka_unit_test(test_exp_softmax_vs_float),
        cmocka_unit_test(test_sampling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
