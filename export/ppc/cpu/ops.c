// ops.c: infer/lm_ops.c for the PowerPC 750 build, with its two matrix-vector products replaced
// by versions shaped for what gcc does well on this CPU (the originals are kept as
// lm_matvec_i8_c / lm_matvec_i4_c). Same sums, so the same int32 results: tested bit-exact
// against infer/ (tests/cpu/kcheck_cases.c) and on whole stories260K runs.
//
// infer/'s loop costs seven instructions per MAC here (two lbzu, two extsb, mullw, add, bdnz).
// The versions below sign-extend x once per call into int32 (a stack copy), and read the weight
// row a 32-bit word at a time when it is word-aligned: the big-endian word holds w0..w3 with w0
// in the top byte, so srawi 24 gives w0, extsb gives w3 and a shift pair each of w1, w2. That is
// one lwzu, seven extraction instructions, four lwzu of x, four mullw and four add per four MACs
// (about five per MAC). Rows that are not word-aligned take the byte path.
#define lm_matvec_i8 lm_matvec_i8_c
#define lm_matvec_i4 lm_matvec_i4_c
#include "infer/lm_ops.c"
#undef lm_matvec_i8
#undef lm_matvec_i4

void lm_matvec_i8(int32_t *acc, const int8_t *w, const int8_t *x, int rows, int cols);
void lm_matvec_i8(int32_t *acc, const int8_t *w, const int8_t *x, int rows, int cols) {
    int32_t xs[cols > 0 ? cols : 1];
    for (int j = 0; j < cols; j++) xs[j] = x[j];
    int quads = ((uintptr_t)w & 3) == 0 && (cols & 3) == 0 ? cols >> 2 : 0;
    for (int r = 0; r < rows; r++) {
        const int8_t *wr = w + (long)r * cols;
        const int32_t *xp = xs;
        int32_t a = 0;
        if (quads) {
            const uint32_t *wq = (const uint32_t *)(const void *)wr;
            for (int k = 0; k < quads; k++, xp += 4) {
                int32_t v = (int32_t)wq[k];
                a += (v >> 24) * xp[0] + ((int32_t)(v << 8) >> 24) * xp[1] + ((int32_t)(v << 16) >> 24) * xp[2] +
                     (int8_t)v * xp[3];
            }
        } else {
            for (int j = 0; j < cols; j++) a += (int32_t)wr[j] * xs[j];
        }
        acc[r] = a;
    }
}

// int4: a byte b holds w_2k in its low nibble and w_2k+1 in its high one; as signed nibbles,
// w_2k = (int32_t)(b << 28) >> 28 and w_2k+1 = (int32_t)(b << 24) >> 28 (two instructions each).
void lm_matvec_i4(int32_t *acc, const uint8_t *w, const int8_t *x, int rows, int cols);
void lm_matvec_i4(int32_t *acc, const uint8_t *w, const int8_t *x, int rows, int cols) {
    int32_t xs[cols > 0 ? cols : 1];
    for (int j = 0; j < cols; j++) xs[j] = x[j];
    int stride = (cols + 1) / 2, half = cols / 2;
    for (int r = 0; r < rows; r++) {
        const uint8_t *wr = w + (long)r * stride;
        const int32_t *xp = xs;
        int32_t a = 0;
        for (int k = 0; k < half; k++, xp += 2) {
            uint32_t b = wr[k];
            a += ((int32_t)(b << 28) >> 28) * xp[0] + ((int32_t)(b << 24) >> 28) * xp[1];
        }
        if (cols & 1) a += ((int32_t)((uint32_t)wr[half] << 28) >> 28) * xp[0];
        acc[r] = a;
    }
}
