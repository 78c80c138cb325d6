// muldi3.c: the 64-bit multiply gcc calls on ColdFire (__muldi3). libgcc's m68k version uses
// the 68020's 32 x 32 -> 64 mulu.l, which ISA_A lacks (and the build links no libgcc at all), so
// here it is from ColdFire's 32 x 32 -> 32 muls.l: the low word of a*b is
//   lo(a)*lo(b) + 2^32 * (hi(a)*lo(b) + lo(a)*hi(b)) mod 2^64,
// and lo(a)*lo(b) in full from four 16 x 16 -> 32 products. infer/ itself never multiplies in
// 64 bits (lm_ops.h); tests/cpu/kcheck_cases.c checks this against the host's multiply.
#include <stdint.h>

uint64_t __muldi3(uint64_t a, uint64_t b);
uint64_t __muldi3(uint64_t a, uint64_t b) {
    uint32_t al = (uint32_t)a, ah = (uint32_t)(a >> 32), bl = (uint32_t)b, bh = (uint32_t)(b >> 32);
    uint32_t a0 = al & 0xFFFF, a1 = al >> 16, b0 = bl & 0xFFFF, b1 = bl >> 16;
    uint32_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint32_t mid = (p00 >> 16) + (p01 & 0xFFFF) + (p10 & 0xFFFF);  // < 3 * 2^16
    uint32_t lo = (p00 & 0xFFFF) | (mid << 16);
    uint32_t hi = p11 + (p01 >> 16) + (p10 >> 16) + (mid >> 16) + ah * bl + al * bh;
    return ((uint64_t)hi << 32) | lo;
}
