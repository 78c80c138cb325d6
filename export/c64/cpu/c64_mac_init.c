// c64_mac_init.c: fill the tables of the 6502 MAC kernels (c64_mac.s) once at start-up.
#include "c64_forward.h"

// The tables of c64_mac.s: T[i] = floor((i - 256)^2 / 4) split into low and high bytes, and for
// int4 the nibble -> signed value + 128 maps.
extern uint8_t c64_sq_raw[1024 + 255], c64_sq_page;
#if C64_WBITS == 4
extern uint8_t c64_nib_lo[256], c64_nib_hi[256];
#endif
void c64_mac_init(void) {
    uint8_t *c64_sq_lo = (uint8_t *)(((uint16_t)c64_sq_raw + 255) & 0xFF00), *c64_sq_hi = c64_sq_lo + 512;
    c64_sq_page = (uint8_t)((uint16_t)c64_sq_lo >> 8);
    for (int i = 0; i < 512; i++) {
        uint16_t d = (uint16_t)(i >= 256 ? i - 256 : 256 - i);
        uint16_t f = (uint16_t)(((uint32_t)d * d) >> 2);
        c64_sq_lo[i] = (uint8_t)f, c64_sq_hi[i] = (uint8_t)(f >> 8);
    }
#if C64_WBITS == 4
    for (int b = 0; b < 256; b++) {
        c64_nib_lo[b] = (uint8_t)(lm_i4(b & 15) + 128);
        c64_nib_hi[b] = (uint8_t)(lm_i4(b >> 4) + 128);
    }
#endif
}
