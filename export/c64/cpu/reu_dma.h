// reu_dma.h: one transfer through a RAM Expansion Unit's REC 8726 (registers at $DF00):
//   $DF01 command ($91: execute now, REU -> C64; $90: C64 -> REU)   $DF02/03 C64 address
//   $DF04/05/06 REU address (bank in $DF06)   $DF07/08 length (0 = 64 KB)   $DF0A 0: both
//   addresses count up. The CPU is halted while the bytes move (about one cycle each).
#ifndef C64_REU_DMA_H
#define C64_REU_DMA_H

#include <stdint.h>

#define REU_TO_C64 0x91
#define C64_TO_REU 0x90

void reu_dma(uint8_t cmd, const void *c64, uint32_t reu, uint16_t n);
// What crossed the bus: bytes moved and transfers started.
extern uint32_t ws_dma_bytes, ws_dma_transfers;

#endif
