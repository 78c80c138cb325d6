// ws_reu.c: the weight source on a RAM Expansion Unit (c64_ws.h), for a C64 with a 1764/1750/
// 17xx-compatible REU (or VICE's -reu). REC 8726 registers at $DF00:
//   $DF01 command ($91: execute now, REU -> C64; $90: C64 -> REU)   $DF02/03 C64 address
//   $DF04/05/06 REU address (bank in $DF06)   $DF07/08 length (0 = 64 KB)   $DF0A 0: both
//   addresses count up
// The REU image is the model image at REU address 0 (the exporter pads the file to the REU's
// size); the KV cache starts at C64_KV_BASE after it: K of (layer l, kv head h) at
// C64_KV_BASE + ((l * n_kv + h) * seq_len + t) * 2 hs, V after all K.
#include "c64_model.h"
#include "c64_ws.h"

#define REU ((volatile uint8_t *)0xDF00)

uint32_t ws_dma_bytes, ws_dma_transfers;
static uint32_t kv_at;

static void dma(uint8_t cmd, const void *c64, uint32_t reu, uint16_t n) {
    uint16_t a = (uint16_t)c64;
    REU[2] = (uint8_t)a;
    REU[3] = (uint8_t)(a >> 8);
    REU[4] = (uint8_t)reu;
    REU[5] = (uint8_t)(reu >> 8);
    REU[6] = (uint8_t)(reu >> 16);
    REU[7] = (uint8_t)n;
    REU[8] = (uint8_t)(n >> 8);
    REU[10] = 0;
    REU[1] = cmd;  // the CPU is halted until the transfer is done
    ws_dma_bytes += n;
    ws_dma_transfers++;
}

int ws_open(const char *name, uint32_t image_bytes, infer_err *e) {
    uint8_t b[4];
    (void)name;
    b[0] = 0;
    dma(0x91, b, 0, 4);
    if (b[0] != 'R' || b[1] != 'Q' || b[2] != 'L' || b[3] != 'M')
        return infer_fail(e, 0, "no model image in the REU (expected \"RQLM\" at REU address 0: load the .reu file)", 0, 0, 0, 0);
    (void)image_bytes;
    return 0;
}

void ws_read(uint32_t off, void *buf, uint16_t n) { dma(0x91, buf, off, n); }

static uint32_t k_addr(int l, int h, int t, int hs) {
    return C64_KV_BASE + (((uint32_t)l * C64_N_KV + (uint32_t)h) * C64_SEQ + (uint32_t)t) * (uint32_t)(2 * hs);
}
static uint32_t v_addr(int l, int h, int t, int hs) {
    return C64_KV_BASE + (uint32_t)C64_N_LAYERS * C64_N_KV * C64_SEQ * (uint32_t)(2 * hs) +
           (((uint32_t)l * C64_N_KV + (uint32_t)h) * C64_SEQ + (uint32_t)t) * (uint32_t)hs;
}

void kv_put(int l, int h, int t, const int16_t *k, const int8_t *v, int hs) {
    dma(0x90, k, k_addr(l, h, t, hs), (uint16_t)(2 * hs));
    dma(0x90, v, v_addr(l, h, t, hs), (uint16_t)hs);
}

void kv_k_begin(int l, int h) { kv_at = k_addr(l, h, 0, C64_HS); }
void kv_v_begin(int l, int h) { kv_at = v_addr(l, h, 0, C64_HS); }

void kv_k_next(int16_t *k, int n, int hs) {
    dma(0x91, k, kv_at, (uint16_t)(2 * n * hs));
    kv_at += (uint32_t)(2 * n * hs);
}

void kv_v_next(int8_t *v, int n, int hs) {
    dma(0x91, v, kv_at, (uint16_t)(n * hs));
    kv_at += (uint32_t)(n * hs);
}
