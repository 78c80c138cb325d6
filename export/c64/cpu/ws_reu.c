// ws_reu.c: the weight source on a RAM Expansion Unit (c64_ws.h), for a C64 with a 1764/1750/
// 17xx-compatible REU (or VICE's -reu); each access is one transfer (reu_dma.c)
// The REU image is the model image at REU address 0 (the exporter pads the file to the REU's
// size); the KV cache starts at C64_KV_BASE after it: K of (layer l, kv head h) at
// C64_KV_BASE + ((l * n_kv + h) * seq_len + t) * 2 hs, V after all K.
#include "c64_model.h"
#include "c64_ws.h"

#include "reu_dma.h"

static uint32_t kv_at;

int ws_open(const char *name, uint32_t image_bytes, infer_err *e) {
    uint8_t b[4];
    (void)name;
    b[0] = 0;
    reu_dma(REU_TO_C64, b, 0, 4);
    if (b[0] != 'R' || b[1] != 'Q' || b[2] != 'L' || b[3] != 'M')
        return infer_fail(e, 0, "no model image in the REU (expected \"RQLM\" at REU address 0: load the .reu file)", 0, 0, 0, 0);
    (void)image_bytes;
    return 0;
}

void ws_read(uint32_t off, void *buf, uint16_t n) { reu_dma(REU_TO_C64, buf, off, n); }

static uint32_t k_addr(int l, int h, int t, int hs) {
    return C64_KV_BASE + (((uint32_t)l * C64_N_KV + (uint32_t)h) * C64_SEQ + (uint32_t)t) * (uint32_t)(2 * hs);
}
static uint32_t v_addr(int l, int h, int t, int hs) {
    return C64_KV_BASE + (uint32_t)C64_N_LAYERS * C64_N_KV * C64_SEQ * (uint32_t)(2 * hs) +
           (((uint32_t)l * C64_N_KV + (uint32_t)h) * C64_SEQ + (uint32_t)t) * (uint32_t)hs;
}

void kv_put(int l, int h, int t, const int16_t *k, const int8_t *v, int hs) {
    reu_dma(C64_TO_REU, k, k_addr(l, h, t, hs), (uint16_t)(2 * hs));
    reu_dma(C64_TO_REU, v, v_addr(l, h, t, hs), (uint16_t)hs);
}

void kv_k_begin(int l, int h) { kv_at = k_addr(l, h, 0, C64_HS); }
void kv_v_begin(int l, int h) { kv_at = v_addr(l, h, 0, C64_HS); }

void kv_k_next(int16_t *k, int n, int hs) {
    reu_dma(REU_TO_C64, k, kv_at, (uint16_t)(2 * n * hs));
    kv_at += (uint32_t)(2 * n * hs);
}

void kv_v_next(int8_t *v, int n, int hs) {
    reu_dma(REU_TO_C64, v, kv_at, (uint16_t)(n * hs));
    kv_at += (uint32_t)(n * hs);
}
