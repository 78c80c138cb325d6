// c64_ws.h: where the C64 program's weights and KV cache live (RAM holds neither).
//
// One interface, two back ends chosen at build time:
//   ws_reu.c   a RAM Expansion Unit (REC 8726, registers $DF00-$DF0A): the REU image holds the
//              integer model image at REU address 0, the KV cache after it; every access is one
//              DMA transfer (about one cycle per byte)
//   ws_file.c  sim65's paravirtual host files: the same REU image read with open/read (sim65 has
//              no lseek: a backward access reopens the file), the KV cache in one append-only
//              host file per (layer, kv head, K or V)
// The KV cache of layer l, kv head h is a sequence of positions: position t's key record (hs
// int16, then their sum of squares as an int32: C64_KREC(hs) bytes; c64_attn.s's scores use the
// sum) and value (hs int8) are written once by kv_put, then read back in position order by the
// scans.
#ifndef C64_WS_H
#define C64_WS_H

#include <stdint.h>

#include "infer/ierr.h"

// Open the model (the REU image name under sim65; the REU itself on a C64). INFER_EBAD with the
// message in *e when it cannot be reached.
int ws_open(const char *name, uint32_t image_bytes, infer_err *e);
// Image bytes [off, off + n) into buf.
void ws_read(uint32_t off, void *buf, uint16_t n);
// Two sequential streams over the same bytes (the matrix kernel's weights, s = 0, and row records,
// s = 1): ws_seek puts stream s at off, ws_next copies its next n bytes. A stream read costs one
// DMA and no offset arithmetic in the caller (c64_matvec.s reads every block through them).
void ws_seek(uint8_t s, uint32_t off);
void ws_next(uint8_t s, void *buf, uint16_t n);
// Keep n bytes aside (the tokenizer image between its uses: REU after the KV cache, a host file
// under sim65) and get them back.
void ws_stash(const void *buf, uint16_t n);
void ws_unstash(void *buf, uint16_t n);
// KV cache (see above). t is the position being written (0, 1, 2, ... in order).
#define C64_KREC(hs) (2 * (hs) + 4)
void kv_put(int l, int h, int t, const int16_t *krec, const int8_t *v, int hs);
void kv_k_begin(int l, int h);
void kv_k_next(int16_t *k, int n, int hs);  // the next n positions' key records
void kv_v_begin(int l, int h);
void kv_v_next(int8_t *v, int n, int hs);   // the next n positions' values, [n][hs]

// What crossed the bus: bytes moved and transfers started (each REU DMA costs about 4 cycles
// of register setup in the caller's code plus one cycle per byte).
extern uint32_t ws_dma_bytes, ws_dma_transfers;

#endif
