// lm_tok.h: the llama2.c tokenizer for target programs: read in place from a compact image
// (no malloc, no float), encoding and decoding exactly as data/tokenizer.c (run.c's rules).
//
// The exporter (export/tok_image.c) converts a llama2.c tokenizer .bin into this image, in the
// target's byte order. A score s becomes an int32 key with the same order as the float
// comparison run.c makes: key = bits(s) for s >= +0, bits(s) ^ 0x7FFFFFFF for s < 0, with -0
// written as +0 (so equal floats get equal keys); NaN scores are refused at export.
//
//   0   char[4]  "RQTK"
//   4   u8       byte order of the fields below: 0 little-endian, 1 big-endian
//   5   u8       version (1)
//   6   u16      0
//   8   u32      total bytes
//   12  u32      CRC-32 of bytes [16, total)
//   16  u32      vocab_size          20  u32  max_token_length (1..4096)
//   24  u32      offset of the record table (vocab_size x u32: offset of token i's record)
//   28  u32      offset of the sorted index (vocab_size x u16: token ids in piece order,
//                memcmp of the common prefix, then shorter first, then lower id)
//   records      i32 key, u8 length, then the piece's bytes (no NUL; unaligned, read bytewise)
#ifndef RQ_INFER_LM_TOK_H
#define RQ_INFER_LM_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "infer/ierr.h"

#define LM_TOK_MAGIC "RQTK"
#define LM_TOK_VERSION 1
#define LM_TOK_BOS 1
// key(-1e10f): run.c only merges pairs whose score beats -1e10 (bits 0xD01502F9).
#define LM_TOK_MIN_KEY ((int32_t)(0xD01502F9u ^ 0x7FFFFFFFu))

typedef struct {
    const uint8_t *b;    // the image
    int be;
    uint32_t vocab, maxlen, tab, sorted;
} lm_tok;

// Check the image (magic, version, sizes, CRC, every record inside the image, lengths <=
// max_token_length, sorted index a permutation in order) for a model with vocab_size tokens.
int lm_tok_load(lm_tok *t, const uint8_t *buf, size_t len, uint32_t vocab_size, infer_err *e);
// Order-preserving int32 key of a float's bit pattern (see above).
int32_t lm_tok_key(uint32_t float_bits);

// The piece of token id: *len bytes at the returned pointer.
const uint8_t *lm_tok_piece(const lm_tok *t, int id, int *len);
// Token id of an exact piece, or -1.
int lm_tok_lookup(const lm_tok *t, const uint8_t *piece, int len);
int32_t lm_tok_score_key(const lm_tok *t, int id);

// Scratch bytes lm_tok_encode needs for a text of n bytes.
size_t lm_tok_scratch_bytes(const lm_tok *t, size_t n);
// run.c's encode: BOS when bos, the dummy-prefix " " when n > 0, codepoints or byte fallback
// (byte + 3), then greedy merges by highest score key (leftmost on ties). tokens needs n + 3
// entries; scratch lm_tok_scratch_bytes(t, n) bytes, 4-byte aligned. Returns the count.
int lm_tok_encode(const lm_tok *t, const char *text, size_t n, int bos, int *tokens, void *scratch);
// The bytes to print for token following prev (run.c's decode and safe_printf): the leading space
// is dropped right after BOS, "<0xHH>" is the raw byte (written to *byte, returned as 1 byte), and
// a single byte that is neither printable ASCII nor whitespace prints nothing (*len = 0).
const uint8_t *lm_tok_decode(const lm_tok *t, int prev, int token, uint8_t *byte, int *len);

#endif
