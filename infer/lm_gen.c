// lm_gen.c: the logits CRCs of lm_gen.h (the rest of the generation loop lands with the lead's
// infer/lm_gen.c). Each value is serialised little-endian, whatever the host's byte order.
#include "infer/lm_gen.h"

#include "base/crc32.h"

uint32_t lm_logits_crc(const int32_t *v, int n) {
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        uint32_t x = (uint32_t)v[i];
        uint8_t b[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16), (uint8_t)(x >> 24)};
        crc = crc32_update(crc, b, 4);
    }
    return crc;
}

uint32_t chat_logits_crc(const int16_t *v, int n) {
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        uint16_t x = (uint16_t)v[i];
        uint8_t b[2] = {(uint8_t)x, (uint8_t)(x >> 8)};
        crc = crc32_update(crc, b, 2);
    }
    return crc;
}
