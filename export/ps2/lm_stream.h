// lm_stream.h: the streaming model image (.rqs) and the weight source that reads it block by
// block while lm_forward runs (infer/lm_kernel.h lm_wsource). Freestanding (no stdio, no malloc):
// the PS2 program (export/ps2/cpu/) and the host tests compile the same file; the writer is
// host-only (lm_stream_write.c).
//
// The image is made for a disc: 2048-byte sectors, every part starting on a sector boundary, so
// a matrix is read from its first sector and a block of rows never needs a sector twice. The
// non-matrix part (embedding, norms, requantisations, tables) is read once and stays resident;
// each layer matrix (and an unshared classifier) is a separate extent streamed when the forward
// needs it. All fields are in the image's byte order (the target's: the reader refuses the other).
//
//   0   char[4]  "RQST"
//   4   u8       byte order: 0 little-endian, 1 big-endian
//   5   u8       version (1)
//   6   u16      sector bytes (2048)
//   8   u32      total bytes (a multiple of the sector)
//   12  u32      CRC-32 of header bytes [16, header bytes)
//   16  u32      header bytes (96 + 12 * n_mats)
//   20  u32      resident part: offset (a sector multiple)
//   24  u32      resident part: bytes
//   28  u32      resident part: CRC-32
//   32  u32      n_mats = 7 * n_layers (+ 1 for an unshared classifier)
//   36  u32      largest row of any matrix, bytes (a stream buffer holds at least one row)
//   40  u32      bytes of all matrices (what one token streams when nothing is cached)
//   44  11 x u32 lm_config: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len,
//                shared_classifier, wbits, logit_frac, eps_ss
//   88  2 x u32  0
//   96  n_mats x {u32 offset (a sector multiple), u32 bytes, u32 CRC-32}: per layer wq wk wv wo
//       w1 w3 w2, then the classifier
//   resident part: every field of infer/lm_image.h's sections in their order except the matrix
//       weights above, each 4-byte aligned (lm_rq as i16 m, u8 p, u8 k)
//
// The CRC of a matrix is checked as its blocks stream in: the forward reads a matrix's rows in
// order, the source accumulates the CRC and compares it when the last byte arrives, before the
// last block reaches the kernel, so a corrupt sector stops the program before any result of that
// forward is used. A matrix that fits the budget is instead read (and checked) once at start-up
// and kept resident (lmst_cache).
#ifndef RQ_EXPORT_PS2_LM_STREAM_H
#define RQ_EXPORT_PS2_LM_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "infer/ierr.h"
#include "infer/lm_image.h"
#include "infer/lm_kernel.h"

#define LMST_MAGIC "RQST"
#define LMST_VERSION 1
#define LMST_SECTOR 2048u
#define LMST_HEADER_FIXED 96u

// The medium: copy n bytes at byte offset off of the image into buf; 0, or -1 on a read error.
typedef int (*lmst_read_fn)(void *ctx, uint32_t off, void *buf, uint32_t n);

typedef struct {
    uint32_t off, bytes, crc;
} lmst_extent;

typedef struct {
    lmst_read_fn read;
    void *read_ctx;
    // Called on a streaming failure (CRC mismatch, read error) with the byte offset and message;
    // must not return (the program prints "FILE: byte N: ..." and exits 2).
    void (*fail)(void *ctx, const infer_err *e);
    void *fail_ctx;
    uint32_t n_mats, max_row, stream_total;
    const lmst_extent *mats;   // the matrix table (in the arena)
    lm_wsource src;            // what the model's src points to
    // streaming state: the matrix being read, the next offset expected, its CRC so far
    uint32_t cur, next, crc;
    // counters
    uint64_t bytes_streamed;   // through the source since lmst_open
    uint32_t bytes_cached;     // matrices kept resident by lmst_cache
} lmst;

// Layout (host and target): the matrices of m in table order (pointers to m's lm_mat) and their
// row counts, columns and bits; returns the count (7 * n_layers + unshared classifier).
typedef struct {
    lm_mat *mat;
    int rows, cols, bits;
    int layer;         // -1 for the classifier
    const char *name;  // "wq", ..., "cls"
} lmst_mat;
int lmst_mats(lm_model *m, lmst_mat *out);  // out: room for 7 * LM_MAX_LAYERS + 1
// 1 when field f (of lm_image_fields) is the weight array of one of those matrices.
int lmst_is_matrix_field(lm_model *m, const lm_field *f);

// Read and check the header and the resident part (CRCs, sizes, layout of m's config), point m
// into the resident part and m->src at the source (every matrix streamed). alloc takes arena
// memory (4-byte aligned, NULL when exhausted); buf_bytes is the stream buffer (at least the
// largest row; rounded down to a multiple of 4). INFER_EBAD with *e on a bad image; -1 when alloc
// failed (out of budget: *e says how many bytes were asked for).
int lmst_open(lmst *st, lm_model *m, uint32_t buf_bytes, void *(*alloc)(size_t), infer_err *e);
// Keep matrices resident while alloc can hold them (in table order, each read and CRC-checked
// once); returns the bytes cached. INFER_EBAD (negative: -2) when a matrix's CRC is wrong.
long lmst_cache(lmst *st, lm_model *m, void *(*alloc)(size_t), infer_err *e);

// CRC-32 (zlib), sliced by 4 with a 4 KB table (the bitwise base/crc32 costs ~40 instructions a
// byte on the R5900; this about 5). lmst_crc_init (called by lmst_open) fills the table.
void lmst_crc_init(void);
uint32_t lmst_crc(uint32_t crc, const void *buf, size_t n);

#endif
