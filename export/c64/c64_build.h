// c64_build.h: the C64 exporter's build step: generate the model header for one model image,
// rewrite the C sources for cc65 (c89.py) and compile and link them with cl65, for sim65
// (sim6502, paravirtual host files) and for a C64 with an REU (c64, the .prg); the chat program
// (export/rt/chat_main.c) the same way.
#ifndef RQ_EXPORT_C64_BUILD_H
#define RQ_EXPORT_C64_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "base/binio.h"
#include "infer/lm_kernel.h"

typedef struct {
    const char *root;      // the retroqat source tree (RQ_ROOT or RQ_SOURCE_DIR)
    const char *bdir;      // the build folder (generated sources, objects)
    size_t tok_bytes;      // the tokenizer image's size (its static buffer)
    int prompt_max;        // the longest prompt in bytes the program accepts
    int c_kernels;         // 1: infer/'s C loops instead of the 6502 routines (for comparison)
    int wbits;             // the layers' weight bits
    int maxc8, maxb4;      // the widest int8 row (columns) and int4 row (bytes) the assembly
                           // kernels take (c64_matvec.s: C64_MAXC8, C64_MAXB4; 0: no int4 kernel)
    int blk_bytes;         // the matrix kernel's block buffer for this model's rows (0: any row;
                           // c64_blk_bytes)
    int hs;                // the transformer's head size (c64_attn.s is assembled for it: even,
                           // 2..C64_MAX_HS)
    const char *test_main; // NULL: the transformer program; else a test program's main file
                           // (linked with infer/lm_ops, lm_gen, crc32 and the kernels; with
                           // chat_defs: lm_ops, lm_gen, crc32 and chat_layer.s)
    const char *chat_defs; // non-NULL: the chat program (export/rt/chat_main.c), built with these
                           // -D flags (CHAT_MAX_WIDTH, CHAT_MAX_BUCKETS, RT_ARENA_BYTES)
    int chat_reu;          // the chat program with its image in the REU (chat_reu.c and the
                           // generated bdir/c64_chat.c; chat_defs has -DRT_CHAT_REMOTE)
    int chat_width;        // the chat model's widest layer (chat_layer.s's tables; c_kernels:
                           // infer/'s C chat_layer_forward instead)
} c64_build_cfg;

#define C64_MAX_HS 16  // the attention kernels' largest head (c64_attn.s: 16 tables of a byte's index)

// The REU (README.md, "The REU"): the model image at 0, the C64 sidecar at c64_side_base (after
// the image, 256-aligned), the KV cache at c64_kv_base (after the sidecar, 256-aligned).
uint32_t c64_kv_bytes(const lm_config *c);
uint32_t c64_side_base(uint32_t image_bytes);
uint32_t c64_kv_base(uint32_t image_bytes, uint32_t side_bytes);

// The sidecar of model m (its image's CRC image_crc): the header and one row record
// (cpu/c64_rec.h) for every row of every matrix in the order the forward reads them (per layer
// wq wk wv wo w1 w3 w2, then the classifier). Unless c_kernels, refuses (RQ_EINPUT, the row
// named) a model whose rows break the 6502 kernels' 24-bit bound (c64_matvec.s).
#define C64_SIDE_HEADER 16
int c64_side_build(const lm_model *m, uint32_t image_crc, int c_kernels, rq_buf *side);

// The kernels' workspace at the start of the forward's arena (c64_forward.h's kw: C64_KWB bytes):
// c64_matvec.s's block buffer and row records, or c64_attn.s's query tables and chunk of records.
int c64_kw_bytes(const c64_build_cfg *b);

// The bytes c64_matvec.s's block buffer needs for rows of `stride` bytes in a kernel `maxc`
// wide: the first row starts at maxc - stride, the block holds the rows that keep x below 256.
int c64_blk_bytes(int maxc, int stride);

// Write bdir/c64_model.h and bdir/c64_model.c for the image img (len bytes) of model m
// (m points into img, host order = the image's little-endian order) and its sidecar.
int c64_gen_model(const c64_build_cfg *b, const lm_model *m, const uint8_t *img, size_t len, const rq_buf *side);
// Compile and link the program for sys ("sim6502" or "c64") into exe. When the program does not
// fit the machine's RAM, returns RQ_EINPUT with the shortfall in bytes in *shortfall (and the
// message recorded); other failures RQ_ERUNTIME with the tool's output in the message.
int c64_compile(const c64_build_cfg *b, const char *sys, const char *exe, long *shortfall);

// Export helpers: write DIR/NAME; the size of a segment in an ld65 map (0 when absent); CODE,
// RODATA, DATA, BSS of bdir/c64.map (0: no map); cc1541 in dir with `files` (its arguments, the
// .d64's name last).
int c64_put_file(const char *dir, const char *name, const void *p, size_t n);
long c64_segment_bytes(const char *map, const char *seg);
int c64_map_segments(const char *bdir, long seg[5]);  // code, rodata, data, bss, the kernels' tables (PAGES)
int c64_d64(const char *dir, const char *files);

// The chat model's export (c64_chat.c); force_reu: the weights in the REU even when they fit RAM;
// c_kernels: infer/'s C layer instead of chat_layer.s.
#include "qat/model_open.h"
#include "export/target.h"
int c64_chat_export(const rq_model *m, const rq_export_opts *o, int force_reu, int c_kernels);

#endif
