// lm_ops.h: the integer operations of the transformer contract (docs/lm-contract.md).
//
// Integer-only portable C: no float, no malloc, no division operator, no 64-bit multiply.
// Every product below is a 32-bit product whose operands are bounded so it cannot overflow;
// the bounds are stated next to each function. Shifts of negative numbers are arithmetic
// (floor), which is what every target's ASR/SRA does.
//
// Rounding rule, used everywhere a value is scaled down by 2^k:
//     rshr(a, k) = (a + 2^(k-1)) >> k   for k >= 1,   a for k = 0
// i.e. floor(a / 2^k + 1/2): halves round up (toward +inf), for negative numbers too.
//
// Tables (all const, in this file's .c; sizes in bytes):
//     LM_SIN_Q15[257]  int16  514 B   round(32767 * sin(pi/2 * j/256)), j = 0..256
//     LM_EXP2_Q15[256] uint16 512 B   round(32768 * 2^(-j/256)),        j = 0..255
#ifndef RQ_LM_OPS_H
#define RQ_LM_OPS_H

#include <stdint.h>

// A requantisation: y = rshr((acc >> p) * m, k). The writer chooses p so that |acc >> p| < 2^15
// for every input the matrix can see (p from 127 * sum|w| of the row), so with |m| <= 2^15 and
// k <= 31 the product plus the rounding half fits int32.
typedef struct {
    int16_t m;
    uint8_t p, k;
} lm_rq;

static inline int32_t lm_rshr(int32_t a, int k) { return k > 0 ? (a + ((int32_t)1 << (k - 1))) >> k : a; }
static inline int32_t lm_clamp(int32_t a, int32_t lim) { return a > lim ? lim : a < -lim ? -lim : a; }
static inline int8_t lm_sat8(int32_t a) { return (int8_t)lm_clamp(a, 127); }
static inline int32_t lm_requant(int32_t acc, lm_rq r) { return lm_rshr((acc >> r.p) * r.m, r.k); }

// --- matrix-vector products ------------------------------------------------------------------
// acc[r] = sum_j w[r][j] * x[j]; w row-major [rows][cols] int8 in [-127, 127], x int8.
// |acc| <= 127 * 127 * cols: int32 holds cols up to 133,000.
void lm_matvec_i8(int32_t *acc, const int8_t *w, const int8_t *x, int rows, int cols);
// Same with int4 weights in [-7, 7], two per byte: element 2j in the low nibble of byte j,
// element 2j+1 in the high nibble (two's complement nibbles); each row is (cols+1)/2 bytes.
void lm_matvec_i4(int32_t *acc, const uint8_t *w, const int8_t *x, int rows, int cols);
// Unpack int4 nibble v (0..15) to its signed value.
static inline int lm_i4(int v) { return (v ^ 8) - 8; }
#ifndef LM_NO_2BIT
// Same with 2-bit weights in {-2, -1, 0, +1}, four per byte: element 4j+i in bits 2i, 2i+1 of
// byte j (element 4j in the two lowest bits), two's complement codes 0 -> 0, 1 -> +1, 2 -> -2,
// 3 -> -1 (the chat model's codes, docs/chat-contract.md); each row is (cols+3)/4 bytes, unused
// codes at the end of a row are 0. |acc| <= 2 * 127 * cols.
void lm_matvec_i2(int32_t *acc, const uint8_t *w, const int8_t *x, int rows, int cols);
// Unpack a 2-bit code v (0..3) to its signed value.
static inline int lm_i2(int v) { return (v ^ 2) - 2; }
// Bytes of one packed row of cols weights at bits = 8, 4 or 2.
static inline int32_t lm_row_bytes(int bits, int32_t cols) { return bits == 8 ? cols : bits == 4 ? (cols + 1) / 2 : (cols + 3) / 4; }
// acc = W x for a matrix of `bits` (8, 4 or 2) weights: one of the three above.
void lm_matvec(int bits, int32_t *acc, const void *w, const int8_t *x, int rows, int cols);
#endif

// y[r] = sat8(requant(acc[r], rq[r]))   (one rq per row)
void lm_requant_i8(int8_t *y, const int32_t *acc, const lm_rq *rq, int n);
// y[r] = clamp(requant(acc[r], rq[r]), lim)  into int16 (lim < 2^15)
void lm_requant_i16(int16_t *y, const int32_t *acc, const lm_rq *rq, int n, int32_t lim);
// res[r] += requant(acc[r], rq[r])   (the residual stream, int32 Q16)
void lm_requant_add(int32_t *res, const int32_t *acc, const lm_rq *rq, int n);

// --- scalar helpers --------------------------------------------------------------------------
// floor(sqrt(x)) by the bitwise method (16 iterations of shift/compare/subtract).
uint32_t lm_isqrt(uint32_t x);
// floor(n / d) for d > 0 by restoring shift-subtract division (32 iterations, no divide op);
// used once per row or per call, never per element.
uint32_t lm_udiv(uint32_t n, uint32_t d);
// floor(a * q / 2^15) for a < 2^32, q <= 2^15, without a 64-bit product.
uint32_t lm_mul_q15(uint32_t a, uint32_t q);

// --- RMSNorm fused with the int8 quantisation of its output -----------------------------------
// x: n residual values (int32, Q16). g: per-channel multipliers int16 with shift gk
// (g[i] = g_i * sqrt(n) / s_out * 2^(gk-15) where g_i is the float RMSNorm weight and s_out
// the output's int8 scale). eps_ss = round(n * eps * 2^32) (eps in the Q16 domain, times n).
// Steps (B = lm_norm_bits(n), so that n * 2^(2B) <= 2^31):
//   1. s = the smallest s >= 0 with (max|x| >> s) < 2^B; when max|x| < 2^(B-1) instead the
//      most negative s (left shift) with (max|x| << -s) < 2^B and (eps_ss << -2s) <= 2^30;
//      xs_i = x_i >> s (x_i << -s).               |xs_i| < 2^B
//   2. t = sum xs_i^2 + (eps_ss >> 2s)            (eps_ss << -2s when s < 0); uint32, eps_ss <= 2^30
//   3. e = the integer with t * 4^e in [2^28, 2^30) (t >> -2e when e < 0); r = isqrt(that)
//      in [2^14, 2^15); inv = udiv(2^30, r) in (2^15, 2^16]
//   4. u_i = rshr(xs_i * inv, 15 - e)             = xs_i / sqrt(t) in Q15, |u_i| <= 2^15
//   5. out_i = sat8(rshr(u_i * g_i, gk))
// All-zero x with eps_ss = 0 gives all-zero output.
void lm_rmsnorm_q8(int8_t *out, const int32_t *x, const int16_t *g, int gk, int n, uint32_t eps_ss);
int lm_norm_bits(int n);

// --- RoPE ------------------------------------------------------------------------------------
// sin and cos of a phase in turns (uint32: 2^32 = one full turn), Q15, from LM_SIN_Q15 with
// linear interpolation on the next 8 phase bits:
//   quadrant = phi >> 30; i16 = (phi >> 14) & 0xFFFF (8 bits index, 8 bits fraction);
//   quadrants 1 and 3 mirror: i16 = 65536 - i16; j = i16 >> 8, f = i16 & 255;
//   v = S[j] + rshr((S[j+1] - S[j]) * f, 8)  (S[257] is never read: j = 256 only with f = 0);
//   quadrants 2 and 3 negate. cos(phi) = sin(phi + 2^30).
int32_t lm_sin_q15(uint32_t phi);
static inline int32_t lm_cos_q15(uint32_t phi) { return lm_sin_q15(phi + 0x40000000u); }
// Rotate interleaved pairs (v[2i], v[2i+1]) of each head (head_size hs, n values in total) by
// the angle pos * theta_i where theta[i] (i < hs/2) is the frequency in turns per position, Q32
// (pos * theta[i] wraps modulo one turn in uint32). Input and output int16 with |v| <= 2047 in
// the same units (s/16), for q and for k (the int16 key cache):
//   a' = clamp(rshr(a*c - b*s, 15), 2047),  b' = clamp(rshr(a*s + b*c, 15), 2047)
void lm_rope_q12(int16_t *out, const int16_t *v, int n, int hs, int pos, const uint32_t *theta);

// --- softmax ---------------------------------------------------------------------------------
// exp2 of u <= 0 given in Q8 (u = -256 means 2^-1), result Q15 (2^0 = 32768):
//   a = -u; e = LM_EXP2_Q15[a & 255] >> (a >> 8), 0 when a >> 8 >= 16.
uint32_t lm_exp2_q15(int32_t u);
// Softmax of scores (int32) scaled to log2 units in Q8 by (cm, ck):
//   d_t = s_t - max_s; e_t = 0 if d_t < -dlim, else exp2(rshr(d_t * cm, ck))
//   (dlim bounds d * cm below 2^31 and is where exp2 reaches 0);
//   S = sum e_t; ns = smallest shift with S >> ns < 2^16; R = udiv(2^31, S >> ns);
//   p_t = (e_t * R + 2^(15+ns)) >> (16+ns)   (uint32; Q15, sum close to 2^15)
// n <= 65535 positions; the unnormalised e_t are kept in p until the last loop.
void lm_softmax_q15(uint16_t *p, const int32_t *s, int n, int32_t cm, int ck, int32_t dlim);
// The (cm, ck, dlim) that map an int32 score unit of `scale` (real value per unit) to Q8 log2:
// computed by the writer in float; the kernel only uses the integers.

// --- sampling --------------------------------------------------------------------------------
// First index of the maximum.
int lm_argmax(const int32_t *v, int n);
// xorshift32 (13, 17, 5); state never 0. Seed s: state = s ^ 0x9E3779B9, or 1 if that is 0;
// then one step is discarded.
typedef struct {
    uint32_t state;
} lm_rng;
void lm_rng_seed(lm_rng *r, uint32_t seed);
uint32_t lm_rng_next(lm_rng *r);
// Uniform in [0, bound), bound >= 1, by rejection of (next & mask) with mask = 2^k - 1 >= bound - 1.
uint32_t lm_rng_below(lm_rng *r, uint32_t bound);

// Temperature and top-p for lm_sample: temp_q8 = round(256 * T) >= 1, topp_q15 = round(32768 * p).
// Logits are Q(logit_frac) nats (logit_frac <= 16). Logit differences become Q8 log2 units by
//   u = rshr(d * tm, tk),  tk = 16,  tm = udiv(LM_LOG2E_Q16 << (tk - logit_frac), temp_q8),
//   dlim = udiv((17 * 256) << tk, tm) + 1   (d < -dlim gives e = 0).
typedef struct {
    int32_t tm, tk, dlim;
    uint32_t topp_q15;
    lm_rng rng;
} lm_sampler;
void lm_sampler_init(lm_sampler *s, uint32_t temp_q8, uint32_t topp_q15, uint32_t seed, int logit_frac);
// Draw a token: e_t = exp2(rshr((l_t - lmax) * tm, tk)) as in lm_softmax_q15 (not normalised);
// with topp_q15 < 32768: keep the tokens with e_t * (n-1) >= mul_q15(S, 32768 - topp_q15),
// sort them by e descending (ties: lower index first), keep the shortest prefix whose sum
// exceeds mul_q15(S, topp_q15) (or all); draw r = rng_below(sum of the prefix) and return the
// first token whose running sum exceeds r. With topp_q15 >= 32768 the prefix is all tokens in
// index order. Scratch: e (n uint32) and idx (n int16). n <= 32767.
int lm_sample(lm_sampler *s, const int32_t *logits, int n, uint32_t *e, int16_t *idx);
// lm_sample's first step: e_t as above for every token into e, their sum returned. A target may
// give lm_sample its own (bit-identical) version at compile time: -DLM_SAMPLE_WEIGHTS=name.
uint32_t lm_sample_weights(const lm_sampler *s, const int32_t *logits, int n, uint32_t *e);

#define LM_LOG2E_Q16 94548  // round(2^16 * log2(e))

extern const int16_t LM_SIN_Q15[257];
extern const uint16_t LM_EXP2_Q15[256];

#endif
