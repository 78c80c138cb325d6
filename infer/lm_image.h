// lm_image.h: the integer model image (.rqm), read in place. docs/lm-contract.md has the byte map.
//
//   0   char[4]  "RQLM"
//   4   u8       byte order of everything below: 0 little-endian, 1 big-endian
//   5   u8       version (4: midrise grids; 3: per-matrix weight bits, 2-bit weights; 2: one width
//                8 or 4; all read)
//   6   u16      header bytes (LM_IMAGE_HEADER = 64 + 12 * n_sections)
//   8   u32      total bytes of the image
//   12  u32      CRC-32 (zlib) of bytes [16, total)
//   16  11 x u32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len,
//                shared_classifier, weight bits, logit_frac, eps_ss (weight bits: version 3 and 4
//                the bits word, nibble k = bits 8/4/2 of matrix k (wq wk wv wo w1 w2 w3), plus 1
//                for a midrise matrix (version 4 only); version 2 8 or 4 for all)
//   60  u32      n_sections = n_layers + 3 (+ 1 for an unshared classifier)
//   64  n_sections x {u32 tag, u32 offset, u32 bytes}: "EMB ", "ROPE", "LYR0".."LYRn" (tag
//       "LYR" + layer byte), "FNRM", "CLS " (unshared only); offsets 4-byte aligned, in order,
//       zero padding between.
// Every multi-byte value (header, lm_rq as i16 m + u8 p + u8 k, int16 and int32 arrays) is in the
// image's byte order; the reader converts them in place to the host's order after checking the
// CRC, then points an lm_model into the buffer (no allocation, no copy).
#ifndef RQ_LM_IMAGE_H
#define RQ_LM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "infer/ierr.h"
#include "infer/lm_kernel.h"

#define LM_IMAGE_MAGIC "RQLM"
#define LM_IMAGE_VERSION 4  // 4: midrise grids (bits word nibble = bits | 1); version 3 (per-matrix bits,
                            // no midrise) and 2 (one weight width, 8 or 4) still load and are what the
                            // writer makes for such models; version 1 (int8 k cache) is rejected: re-export

// The sections of an image for config c, in file order.
typedef struct {
    char tag[4];
    uint32_t bytes;
} lm_section;
// Fills secs (room for LM_MAX_LAYERS + 5) and returns the count; -1 when c is outside the contract
// (the message is recorded).
int lm_image_sections(const lm_config *c, lm_section *secs);
// The arrays of one section, in file order (each starts 4-byte aligned). An array field points
// at the lm_model member that holds its pointer (ref); a scalar field at the member itself (val).
enum { LM_I8, LM_I16, LM_I32, LM_U32, LM_RQ };
typedef struct {
    int kind;
    uint32_t count;
    const void **ref;  // array: &m->member (the reader sets it, the writer reads through it)
    void *val;         // scalar: &m->member
} lm_field;
#define LM_MAX_FIELDS 32
// Fields of section i (as numbered by lm_image_sections) of model m with config m->c.
int lm_image_fields(lm_model *m, int i, lm_field *f);
static inline uint32_t lm_field_bytes(const lm_field *f) {
    static const uint8_t size[] = {1, 2, 4, 4, 4};
    return f->count * size[f->kind];
}

// The bits word of a config (nibble k = mbits[k] | mrise[k]); set mbits, mrise and wbits from one.
uint32_t lm_bits_word(const lm_config *c);
void lm_set_bits_word(lm_config *c, uint32_t word);

// Check a configuration against the contract: positive dims, heads divide dim, kv heads divide
// heads, even head size, every matrix's bits 8, 4 or 2 and wbits = lm_uniform_bits, n_layers <=
// LM_MAX_LAYERS, vocab <= 32767, seq_len <= 65535, logit_frac <= 16. INFER_EBAD with *e filled (e
// may be NULL) on failure; the offsets name the header field.
int lm_config_check(const lm_config *c, infer_err *e);

// Parse and verify an image held in buf (len bytes, 4-byte aligned, modified in place), and point
// m into it. INFER_EBAD (= RQ_EINPUT) with *e saying what and at which byte on bad magic,
// version, byte order, sizes, section table, CRC or out-of-contract parameters. After a successful
// load the buffer is in host order: load it only once. Freestanding (no stdio, no malloc): every
// target build uses it; on the host, lm_image_open (qat/image_open.h) turns *e into a message
// "FILE: byte N: ...".
int lm_image_load(uint8_t *buf, size_t len, lm_model *m, infer_err *e);

#endif
