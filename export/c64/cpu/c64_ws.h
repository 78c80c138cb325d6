// c64_ws.h: where the C64 program's weights and KV cache live (RAM holds neither).
//
// One interface, two back ends chosen at build time:
//   ws_reu.c   a RAM Expansion Unit (REC 8726, registers $DF00-$DF0A): the REU image holds the
//              integer model image at REU address 0, the KV cache after it; every access is one
//              DMA transfer (about one cycle per byte)
//   ws_file.c  sim65's paravirtual host files: the same REU image read with open/read (sim65 has
//              no lseek: a backward access reopens the file), the KV cache in one append-only
//              host file per (layer, kv head, K or V)
// The KV cache of layer l, kv head h is a sequence of positions: position t's key record (3 hs
// bytes: for value i and nibble L of k_i + 2048, the byte 16 i + the nibble; c64_attn.s's scores
// read them as indices into the query's tables) and value record (hs bytes: v_i, or |v_i| + 128
// when v_i < 0) are written once by kv_put, then read back in position order through stream
// C64_KV_STREAM (ws_next) after kv_k_begin / kv_v_begin.
#ifndef C64_WS_H
#define C64_WS_H

#include <stdint.h>

#include "infer/ierr.h"

// Open the model (the REU image name under sim65; the REU itself on a C64). INFER_EBAD with the
// message in *e when it cannot be reached.
int ws_open(const char *name, uint32_t image_bytes, infer_err *e);
// Image bytes [off, off + n) into buf.
void ws_read(uint32_t off, void *buf, uint16_t n);
// Sequential streams: the matrix kernel's weights (s = 0) and row records (s = 1) over the image,
// the KV cache (s = C64_KV_STREAM, set by kv_k_begin / kv_v_begin): ws_seek puts stream 0 or 1 at
// off, ws_next copies stream s's next n bytes. A stream read costs one DMA and no offset arithmetic
// in the caller (c64_matvec.s and c64_attn.s read every block through them).
void ws_seek(uint8_t s, uint32_t off);
void ws_next(uint8_t s, void *buf, uint16_t n);
// Keep n bytes aside (the tokenizer image between its uses: REU after the KV cache, a host file
// under sim65) and get them back.
void ws_stash(const void *buf, uint16_t n);
void ws_unstash(void *buf, uint16_t n);
// KV cache (see above). t is the position being written (0, 1, 2, ... in order).
#define C64_KREC(hs) (3 * (hs))
#define C64_KV_STREAM 3
void kv_put(int l, int h, int t, const uint8_t *krec, const int8_t *v, int hs);
void kv_k_begin(int l, int h);  // stream C64_KV_STREAM at the first key record of (l, h)
void kv_v_begin(int l, int h);  // ... at the first value record

// What crossed the bus: bytes moved and transfers started (each REU DMA costs about 4 cycles
// of register setup in the caller's code plus one cycle per byte).
extern uint32_t ws_dma_bytes, ws_dma_transfers;

#endif
