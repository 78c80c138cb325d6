// test_mac.c: the 6502 MAC kernels (c64_mac.s) against infer/'s lm_matvec_i8 / lm_matvec_i4, both
// compiled for the 6502, on random matrices (1..9 rows, every column count up to 255, weights
// over the whole contract range) under sim65. Prints "mac8 TRIALS MISMATCHES CHECK" (and mac4
// for an int4 build), CHECK = a hash of every accumulator, which tests/test_target_c64.c
// recomputes on the host from the same random numbers: asm == cc65's C == the host's C.
#include "test_out.h"

#include "c64_forward.h"
#include "infer/lm_gen.h"

#define TRIALS 60
static int8_t W[9 * 255];
static int8_t X[255];
static int32_t A1[9], A2[9];

static void run(int bits) {
    lm_rng r;
    uint32_t check = 0;
    int bad = 0;
    lm_rng_seed(&r, (uint32_t)bits);
    for (int t = 0; t < TRIALS; t++) {
        int rows = 1 + (int)lm_rng_below(&r, 9);
        int cols = t < 3 ? 255 - t : (bits == 4 ? 2 : 1) + (int)lm_rng_below(&r, bits == 4 ? 254 : 255);
        int stride = bits == 4 ? (cols + 1) / 2 : cols;
        for (int i = 0; i < rows * stride; i++) {
            if (bits == 8) W[i] = (int8_t)((int)lm_rng_below(&r, 255) - 127);
            else W[i] = (int8_t)(((int)lm_rng_below(&r, 15) - 7) & 15 | (((int)lm_rng_below(&r, 15) - 7) & 15) << 4);
        }
        for (int j = 0; j < cols; j++) X[j] = (int8_t)((int)lm_rng_below(&r, 256) - 128);
        if (t % 7 == 1)  // the extremes: every product 127 * -128 or -127 * -128
            for (int i = 0; i < rows * stride; i++) W[i] = bits == 8 ? (int8_t)(t % 2 ? 127 : -127) : (int8_t)0x99;
        if (t % 7 == 1)
            for (int j = 0; j < cols; j++) X[j] = -128;
#if C64_WBITS == 4
        if (bits == 4) {
            lm_matvec_i4(A1, (const uint8_t *)W, X, rows, cols);
            c64_matvec_i4(A2, (const uint8_t *)W, X, rows, cols);
        } else
#endif
        {
            lm_matvec_i8(A1, W, X, rows, cols);
            c64_matvec_i8(A2, W, X, rows, cols);
        }
        for (int i = 0; i < rows; i++) bad += A1[i] != A2[i];
        check = (check << 1 | check >> 31) ^ lm_logits_crc(A2, rows);
    }
    put(bits == 8 ? "mac8 " : "mac4 ");
    put_num(TRIALS, 10);
    put(" ");
    put_num((uint32_t)bad, 10);
    put(" ");
    put_num(check, 16);
    put("\n");
}

int main(void) {
    c64_mac_init();
    run(8);
#if C64_WBITS == 4
    run(4);
#endif
    return 0;
}
