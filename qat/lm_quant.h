// lm_quant.h: float llama model + calibration statistics -> the integer model of the contract
// (post-training quantisation). Host-only: float is allowed here; what it produces is integers.
//
//   lmq_stats       absolute maxima of every quantised activation, per layer
//   lmq_calibrate   run the float forward (llama_forward_hooked) over token sequences and
//                   collect the statistics at its hook points
//   lmq_quantize    choose every int8/int4/2-bit weight, per-row scale, static activation scale, and
//                   fold them into the integer requantisations and tables of an lm_model
// The lm_model it returns owns its arrays (lmq_free releases them); it runs on lm_forward directly
// and serialises with export/lm_image_write.
#ifndef RQ_LM_QUANT_H
#define RQ_LM_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "infer/lm_kernel.h"
#include "model/llama.h"

// Quantisation points of one layer (absolute maxima over the calibration tokens): the float
// forward's hook points (model/llama.h), then LMQ_FIN once after the last layer.
enum {
    LMQ_XATT = LLAMA_PT_XATT, LMQ_Q = LLAMA_PT_Q, LMQ_K = LLAMA_PT_K, LMQ_V = LLAMA_PT_V, LMQ_O = LLAMA_PT_O,
    LMQ_XFFN = LLAMA_PT_XFFN, LMQ_H1 = LLAMA_PT_H1, LMQ_H3 = LLAMA_PT_H3, LMQ_G = LLAMA_PT_G,
    LMQ_NPOINT = LLAMA_PT_NLAYER, LMQ_FIN = LLAMA_PT_FIN
};
// Index of (layer, point) as a llama_hook receives them in the per-point arrays below (FIN, which
// comes with layer = n_layers, is the last one).
static inline int lmq_index(int layer, int point) { return layer * LMQ_NPOINT + (point == LMQ_FIN ? 0 : point); }

// Calibration runs the float model twice: once for the maxima, once for histograms of |v| over
// [0, max] (LMQ_NBIN bins); the clip of each point is the one that minimises the expected squared
// error of int8 quantisation (clipping error above the clip, uniform rounding error clip^2 /
// (3 * 127^2 * 4) below it) over candidates clip = max * j / 64, j = 8..64.
#define LMQ_NBIN 2048
typedef struct {
    int n_layers;
    float *amax;      // [n_layers * LMQ_NPOINT + 1]: the last one is the final RMSNorm output
    float *clip;      // same layout: the chosen clipping ranges (scale = clip / 127)
    uint32_t *hist;   // [n_layers * LMQ_NPOINT + 1][LMQ_NBIN]
    int pass;         // 0: collecting maxima, 1: histograms
    long tokens;      // positions seen
    struct rq_progress_s *progress;  // a progress line to draw per sequence (NULL: none)
} lmq_stats;

void lmq_stats_init(lmq_stats *st, int n_layers);
void lmq_stats_free(lmq_stats *st);

// Run the float model over seqs (each starts at position 0; BOS first as in training data),
// collecting maxima. tokens: concatenated sequences, lens[i] tokens each (<= seq_len).
void lmq_calibrate(const llama_model *f, const uint16_t *tokens, const int *lens, int n_seqs, lmq_stats *st);
// Default calibration data: n_seqs sequences of len tokens sampled from the float model itself
// (temperature 1, seed) starting at BOS. Writes into tokens (n_seqs * len) and lens.
void lmq_self_generate(const llama_model *f, int n_seqs, int len, uint64_t seed, uint16_t *tokens, int *lens);

// How the layer matrices are quantised: bits per matrix kind (LM_WQ ... LM_W3, infer/lm_kernel.h),
// the 2-bit grid, and optionally learned per-row steps (QAT's LSQ) instead of the clip search.
typedef struct {
    uint8_t mbits[LM_NMAT];  // 8, 4 or 2
    int ternary;             // 2-bit matrices on {-1, 0, +1} instead of {-2, -1, 0, +1}
    int midrise;             // int4 and 2-bit matrices on the midrise grids: the odd values in
                             // [-15, 15] and {-3, -1, +1, +3} (lm_config.mrise)
    const float *scale;      // [lmq_scale_count]: per-row steps, or NULL (lmq_quantize_rows' search)
} lmq_wspec;
// Every matrix at wbits (8, 4 or 2), the {-2, -1, 0, +1} grid at 2 bits, steps from the search.
lmq_wspec lmq_wspec_uniform(int wbits);
// The integer grid [lo, hi] of a matrix at bits (ternary: the 2-bit grid without -2; midrise, at 4
// and 2 bits: the odd integers in [-15, 15] or [-3, 3], and the return value is 1: "odd").
int lmq_grid(int bits, int ternary, int midrise, int *lo, int *hi);
// Per-row steps of every layer matrix, kind-major: for k = LM_WQ .. LM_W3, the n_layers * rows(k)
// rows of the stacked llama matrix (model/llama.h's [n_layers][rows][cols] layout).
size_t lmq_scale_count(const llama_config *c);
// Rows and columns of one layer's matrix k; the offset of kind k in the scale array.
void lmq_mat_shape(const llama_config *c, int k, int *rows, int *cols);
size_t lmq_scale_offset(const llama_config *c, int k);
// The stacked float matrix of kind k in w (w->wq ... w->w3).
float *lmq_mat_weights(const llama_weights *w, int k);

typedef struct {
    int wbits;        // 8, 4 or 2: every layer matrix (embedding/classifier stay int8), when ws is NULL
    int logit_frac;   // Q format of the logits (default 10)
    const lmq_wspec *ws;  // or NULL: lmq_wspec_uniform(wbits)
} lmq_opts;

// Build the integer model. RQ_EINPUT when the model's shapes or scales fall outside the contract
// (e.g. a requantisation multiplier that would need a left shift).
int lmq_quantize(const llama_model *f, const lmq_stats *st, const lmq_opts *o, lm_model *out);
void lmq_free(lm_model *m);
// The same integer model with every int4 / 2-bit layer matrix stored as int8 codes (mbits 8; rows,
// requantisations and everything else unchanged): the accumulators are the same exact integer sums,
// so lm_forward's logits are the same bit for bit (tests/test_lm_qat.c), and the host runs the int8
// kernel, which the compiler vectorises (QAT's integer pass over every batch). Not an image format.
void lmq_unpack_i8(lm_model *m);

// Post-training quantisation in one call. Calibration data: tokens[n] when given (cut into
// sequences of calib_len starting at position 0), else the default: LMQ_CALIB_SEQS sequences of
// LMQ_CALIB_LEN tokens sampled from the float model itself (seed LMQ_CALIB_SEED).
#define LMQ_CALIB_SEQS 16
#define LMQ_CALIB_LEN 256
#define LMQ_CALIB_SEED 1
int lmq_ptq(const llama_model *f, const uint16_t *tokens, size_t n, int wbits, lm_model *out);
// The same with a progress line with ETA on a terminal (export's calibration; base/progress.h).
int lmq_ptq_progress(const llama_model *f, const uint16_t *tokens, size_t n, int wbits, int show, lm_model *out);
// The same with a weight spec (per-matrix bits, 2-bit grid).
int lmq_ptq_spec(const llama_model *f, const uint16_t *tokens, size_t n, const lmq_wspec *ws, lm_model *out);
int lmq_ptq_spec_progress(const llama_model *f, const uint16_t *tokens, size_t n, const lmq_wspec *ws, int show, lm_model *out);
// Just the calibration part of lmq_ptq (st is initialised here; lmq_stats_free it).
int lmq_calibrate_default(const llama_model *f, const uint16_t *tokens, size_t n, lmq_stats *st);

// Per-row symmetric quantisation of a [rows][cols] matrix: q = round(w / s) clamped to
// [-qmax, qmax] (round half away from zero), s = c / qmax with the clip c = max|w_row| * j/64,
// j = 64..32, that minimises the row's squared error (first minimum from j = 64 down; s = 1 for
// an all-zero row).
void lmq_quantize_rows(const float *w, int rows, int cols, int qmax, int8_t *q, float *scale);
// The same on the grid [lo, hi] (odd: its odd integers only): symmetric grids (lo = -hi) search as
// above; the 2-bit grids search j = 64..8 (midrise: 64..16, s = c / 3) (a 2-bit step is a fraction
// of the largest weight) and, when lo != -hi, both signs of the step (a negative step puts the
// grid's longer side on the row's positive weights).
void lmq_quantize_rows_grid(const float *w, int rows, int cols, int lo, int hi, int odd, int8_t *q, float *scale);
// One row at a given step s (any sign, non-zero): q_j = clamp(round(w_j / s), lo, hi), round half
// away from zero (odd: the nearest odd integer, 2 round((w_j / s - 1) / 2) + 1). Every quantiser
// of the layer matrices goes through this rounding.
void lmq_quant_row(const float *w, int cols, float s, int lo, int hi, int odd, int8_t *q);
// LSQ (learned step size) backward of one row blended toward its grid, w_hat = w + lambda (s q - w)
// with q_j = clamp(round(w_j / s), lo, hi) (lambda = 1: the quantised row): given g = dL/dw_hat
// (cols), turns g into dL/dw in place, straight through where round(w_j / s) is inside the grid
// and (1 - lambda) g_j where it clips, and returns
//     dL/ds = lambda (sum_inside g_j (q_j - w_j / s) + sum_clipped g_j q_j).
double lmq_lsq_row_grad(const float *w, float *g, int cols, float s, int lo, int hi, int odd, float lambda);
// dst = src with every matrix the integer model quantises replaced by its quantised values, in
// float: the layer matrices per row at wbits (8 or 4), the embedding (and an unshared classifier)
// per row at int8, exactly as lmq_quantize chooses them; norm weights unchanged. dst has src's
// shape (llama_build). QAT runs its float forward and backward on dst (straight-through for the
// weights: the gradient at the quantised weights updates the float masters).
void lmq_fake_quant_weights(const llama_model *src, llama_model *dst, int wbits);
// The same for a weight spec (per-matrix bits, the 2-bit grid, learned steps).
void lmq_fake_quant_spec(const llama_model *src, llama_model *dst, const lmq_wspec *ws);
// A requantisation (m, p, k) for real multiplier M applied to accumulators bounded by |acc| <= bound.
int lmq_make_rq(double M, double bound, lm_rq *rq);

#endif
