// reu_dma.c: one REU transfer (reu_dma.h).
#include "reu_dma.h"

#define REU ((volatile uint8_t *)0xDF00)

uint32_t ws_dma_bytes, ws_dma_transfers;

void reu_dma(uint8_t cmd, const void *c64, uint32_t reu, uint16_t n) {
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
