// c64_rec.h: the row record of the C64 sidecar (c64_matvec.s), shared by the exporter
// (export/c64/c64_side.c) and the kernel test program (test_kernels.c).
//   bytes 0..2  W = sum of the squares of the row's stored weights, u24 little-endian (int4: both
//               nibbles of every byte, the pad nibble of an odd row too: its input is 0)
//   bytes 3..6  the row's requantisation as in the image: i16 m little-endian, u8 p, u8 k
// The sum-of-squares MAC needs W: 2 sum_j x_j w_j = sum_j (x_j + w_j)^2 - sum_j x_j^2 - W.
#ifndef C64_REC_H
#define C64_REC_H

#include <stdint.h>

#include "infer/lm_ops.h"

#define C64_REC_BYTES 7

// W of one packed row of `cols` weights of `bits` (8 or 4) bits.
static inline uint32_t c64_row_sumsq(int bits, const uint8_t *w, int cols) {
    uint32_t s = 0;
    int j;
    if (bits == 4) {
        for (j = 0; j < (cols + 1) / 2; j++) {
            int lo = lm_i4(w[j] & 15), hi = lm_i4(w[j] >> 4);
            s += (uint32_t)(lo * lo) + (uint32_t)(hi * hi);
        }
    } else {
        for (j = 0; j < cols; j++) {
            int v = (int8_t)w[j];
            s += (uint32_t)(v * v);
        }
    }
    return s;
}

static inline void c64_rec_put(uint8_t *rec, uint32_t w, const lm_rq *rq) {
    rec[0] = (uint8_t)w, rec[1] = (uint8_t)(w >> 8), rec[2] = (uint8_t)(w >> 16);
    rec[3] = (uint8_t)rq->m, rec[4] = (uint8_t)((uint16_t)rq->m >> 8), rec[5] = rq->p, rec[6] = rq->k;
}

#endif
