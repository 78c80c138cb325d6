// kcheck_cases.c: the kernel cases of the targets' bit-exactness test, compiled twice: for the
// target CPU inside tests/cpu/kcheck.c (linked with that target's kernels, assembly included),
// and for the host inside tests/test_target_*.c (linked with infer/'s reference C). Each case
// fills the inputs from a fixed xorshift stream and reports the CRC-32 of the outputs; the test
// compares the two lists line by line.
#include <stdint.h>

#include "base/crc32.h"
#include "infer/lm_ops.h"

#define KC_MAX_ROWS 520
#define KC_MAX_COLS 1100

typedef void (*kc_emit_fn)(void *ctx, const char *name, int rows, int cols, uint32_t crc);

static uint32_t kc_state;
static uint32_t kc_next(void) {
    kc_state ^= kc_state << 13, kc_state ^= kc_state >> 17, kc_state ^= kc_state << 5;
    return kc_state;
}

static int8_t kc_w8[KC_MAX_ROWS * KC_MAX_COLS];
static int8_t kc_x[KC_MAX_COLS];
static int32_t kc_acc[KC_MAX_ROWS];

// CRC-32 of n int32 as little-endian bytes (the same number on either byte order).
static uint32_t kc_crc(const int32_t *v, int n) {
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        uint8_t b[4] = {(uint8_t)v[i], (uint8_t)(v[i] >> 8), (uint8_t)(v[i] >> 16), (uint8_t)(v[i] >> 24)};
        crc = crc32_update(crc, b, 4);
    }
    return crc;
}

// mode 0: uniform in [-127, 127] (x also -128); 1: the extremes only; 2: mostly zero
static int8_t kc_val(int mode, int lim) {
    uint32_t r = kc_next();
    if (mode == 1) return (int8_t)((r & 1) ? lim : -lim);
    if (mode == 2 && (r & 3)) return 0;
    return (int8_t)((int)((r >> 8) % (uint32_t)(2 * lim + 1)) - lim);
}

// 64-bit products (the ColdFire build's own __muldi3, export/coldfire/cpu/muldi3.c; gcc's inline
// code elsewhere): CRC of the little-endian bytes of n products of random 64-bit pairs.
static uint32_t kc_mul64(int n) {
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        uint64_t a = (uint64_t)kc_next() << 32 | kc_next(), b = (uint64_t)kc_next() << 32 | kc_next();
        if (i & 1) a >>= 40;  // small operands too
        uint64_t p = a * b;
        uint8_t by[8];
        for (int k = 0; k < 8; k++) by[k] = (uint8_t)(p >> (8 * k));
        crc = crc32_update(crc, by, 8);
    }
    return crc;
}

static void kcheck_cases(kc_emit_fn emit, void *ctx) {
    static const int shapes[][2] = {{1, 1},   {1, 2},   {3, 5},   {2, 7},    {4, 8},   {5, 9},  {7, 17},
                                    {64, 64}, {32, 64}, {172, 64}, {64, 172}, {5, 33}, {2, 255}, {512, 64},
                                    {3, 1025}, {9, 16},  {6, 31},  {1, 100}};
    kc_state = 0x12345678u;
    for (unsigned s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        for (int mode = 0; mode < 3; mode++) {
            for (int j = 0; j < cols; j++) kc_x[j] = mode == 1 ? (int8_t)((kc_next() & 1) ? 127 : -128) : kc_val(mode, 127);
            for (int i = 0; i < rows * cols; i++) kc_w8[i] = kc_val(mode, 127);
            lm_matvec_i8(kc_acc, kc_w8, kc_x, rows, cols);
            emit(ctx, mode == 0 ? "i8" : mode == 1 ? "i8ext" : "i8zero", rows, cols, kc_crc(kc_acc, rows));
            // int4: rows of (cols+1)/2 bytes; nibbles from the full range 0..15 (the value -8 too)
            int stride = (cols + 1) / 2;
            uint8_t *w4 = (uint8_t *)kc_w8;
            for (int r = 0; r < rows; r++)
                for (int k = 0; k < stride; k++) {
                    uint32_t v = kc_next();
                    uint8_t b = mode == 1 ? ((v & 1) ? 0x77 : 0x99) : mode == 2 && (v & 3) ? 0 : (uint8_t)(v >> 8);
                    if ((cols & 1) && k == stride - 1) b &= 15;  // the unused high nibble is 0
                    w4[r * stride + k] = b;
                }
            lm_matvec_i4(kc_acc, w4, kc_x, rows, cols);
            emit(ctx, mode == 0 ? "i4" : mode == 1 ? "i4ext" : "i4zero", rows, cols, kc_crc(kc_acc, rows));
        }
    }
    emit(ctx, "mul64", 1000, 0, kc_mul64(1000));
}
