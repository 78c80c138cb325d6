// endian.h: explicit little- and big-endian loads and stores, byte by byte.
// Portable C with no host assumptions, so it also compiles for the retro targets.
// Floats travel as their IEEE-754 bit pattern (rq_f32_bits / rq_bits_f32 in binio.h).
#ifndef RQ_ENDIAN_H
#define RQ_ENDIAN_H

#include <stdint.h>

static inline uint16_t rq_rd_u16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint16_t rq_rd_u16be(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rq_rd_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint32_t rq_rd_u32be(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
#ifdef UINT64_MAX  // cc65 (the C64 target) has no 64-bit type
static inline uint64_t rq_rd_u64le(const uint8_t *p) {
    return (uint64_t)rq_rd_u32le(p) | ((uint64_t)rq_rd_u32le(p + 4) << 32);
}
static inline uint64_t rq_rd_u64be(const uint8_t *p) {
    return ((uint64_t)rq_rd_u32be(p) << 32) | (uint64_t)rq_rd_u32be(p + 4);
}
#endif

static inline void rq_wr_u16le(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void rq_wr_u16be(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void rq_wr_u32le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void rq_wr_u32be(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
#ifdef UINT64_MAX
static inline void rq_wr_u64le(uint8_t *p, uint64_t v) { rq_wr_u32le(p, (uint32_t)v); rq_wr_u32le(p + 4, (uint32_t)(v >> 32)); }
static inline void rq_wr_u64be(uint8_t *p, uint64_t v) { rq_wr_u32be(p, (uint32_t)(v >> 32)); rq_wr_u32be(p + 4, (uint32_t)v); }
#endif

#endif
