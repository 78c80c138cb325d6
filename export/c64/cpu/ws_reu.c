// ws_reu.c: the weight source on a RAM Expansion Unit (c64_ws.h), for a C64 with a 1764/1750/
// 17xx-compatible REU (or VICE's -reu); each access is one transfer (reu_dma.c; the streams'
// block reads ws_reu_next.s). The REU holds the model image at REU address 0 (the exporter pads
// the file to the REU's size), the C64 sidecar at C64_SIDE_BASE, the KV cache at C64_KV_BASE: the
// key record of (layer l, kv head h, position t) at C64_KV_BASE + ((l * n_kv + h) * seq_len + t) *
// C64_KREC(hs), V after all K; then the tokenizer's stash.
// The streams' addresses are little-endian byte triples (no 32-bit shifts in cc65 code).
#include "c64_model.h"
#include "c64_ws.h"

#include "reu_dma.h"

uint8_t ws_stream[C64_KV_STREAM + 1][3];  // the streams' next REU addresses (ws_reu_next.s reads them: ws_next; 2 unused)

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

void ws_seek(uint8_t s, uint32_t off) {
    uint8_t *a = ws_stream[s];
    a[0] = (uint8_t)off, a[1] = (uint8_t)(off >> 8), a[2] = (uint8_t)(off >> 16);
}

#define KBYTES ((uint32_t)C64_N_LAYERS * C64_N_KV * C64_SEQ * C64_KREC(C64_HS))
#define STASH (C64_KV_BASE + KBYTES + (uint32_t)C64_N_LAYERS * C64_N_KV * C64_SEQ * C64_HS)
void ws_stash(const void *buf, uint16_t n) { reu_dma(C64_TO_REU, buf, STASH, n); }
void ws_unstash(void *buf, uint16_t n) { reu_dma(REU_TO_C64, buf, STASH, n); }

static uint32_t k_addr(int l, int h, int t, int hs) {
    return C64_KV_BASE + (((uint32_t)l * C64_N_KV + (uint32_t)h) * C64_SEQ + (uint32_t)t) * (uint32_t)C64_KREC(hs);
}
static uint32_t v_addr(int l, int h, int t, int hs) {
    return C64_KV_BASE + KBYTES + (((uint32_t)l * C64_N_KV + (uint32_t)h) * C64_SEQ + (uint32_t)t) * (uint32_t)hs;
}

void kv_put(int l, int h, int t, const uint8_t *krec, const int8_t *v, int hs) {
    reu_dma(C64_TO_REU, krec, k_addr(l, h, t, hs), (uint16_t)C64_KREC(hs));
    reu_dma(C64_TO_REU, v, v_addr(l, h, t, hs), (uint16_t)hs);
}

void kv_k_begin(int l, int h) { ws_seek(C64_KV_STREAM, k_addr(l, h, 0, C64_HS)); }
void kv_v_begin(int l, int h) { ws_seek(C64_KV_STREAM, v_addr(l, h, 0, C64_HS)); }
