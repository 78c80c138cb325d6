// com.h: a trigram chat model as a CP/M 2.2 .COM (the Z80 kernel of export/cpm/cpu/chat.s plus the
// model re-laid for it). docs/z80-kernel.md describes the kernel and the memory map.
//
// The .COM is the assembled kernel (cpm_kernel_bin, code at 0100h) followed by the model
// descriptor, the charset, the biases and the weights. The weights are the image's 2-bit codes
// unchanged but transposed to column-major order (column i of a layer = ceil(n_out/4) bytes, row r
// in byte r/4 at bits 2(r%4)..), so the kernel updates all rows of one input at once and skips
// inputs that are zero. Buffers and the stack follow the file in memory; everything must end at or
// below the CCP (E400h in a 64K CP/M 2.2), or cpm_build refuses and names the excess.
#ifndef RQ_EXPORT_CPM_COM_H
#define RQ_EXPORT_CPM_COM_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "infer/chat_kernel.h"

extern const unsigned char cpm_kernel_bin[];  // $(BUILD)/gen/cpm_kernel_bin.c (export/cpm/cpm.mk)
extern const unsigned cpm_kernel_size;

// Entry points of the kernel (fixed by chat.s).
#define CPM_K_MAIN 0x0100u
#define CPM_K_FORWARD 0x0103u  // counts in CNT -> logits in the ACC pages, A = argmax
#define CPM_K_ENCQ 0x0106u     // query in the line buffer -> CNT[0..Q)
#define CPM_K_ENCC 0x0109u     // CTX -> CNT[Q..Q+K)
#define CPM_K_PROBES 0x010Cu   // word: address of the probe list
#define CPM_K_MODEL 0x010Eu    // word: address of the model descriptor
#define CPM_K_COLFN 0x0110u    // words: colrun (packed layout), colrun_s (sparse layout)
#define CPM_K_OPEN 0x0114u     // open and check the .BIN of a streaming build
#define CPM_K_HEADER_BYTES 0x17  // the entry table above (JPs and words): the same in every .COM
#define CPM_PROBE_STEP_END 3   // probe list index of probe_c1: a generation step's forward has returned
#define CPM_TPA_END 0xE400u    // the CCP of a standard 64K CP/M 2.2 starts here
#define CPM_STACK_BYTES 256
#define CPM_MAX_ROWS 256       // a layer's outputs live in one 256-byte page per accumulator byte

// Weight layouts (per layer). Both hold exactly the image's codes; they differ in what the kernel
// skips. packed: column-major 2-bit codes (n_in x ceil(n_out/4) bytes; the kernel dispatches on
// each byte of an active column). sparse: a pointer per column to three lists (+1, -1, -2 rows;
// a count byte then one byte per non-zero weight), so zero weights cost nothing at all; smaller
// and faster below ~25% density, faster but larger up to ~55%.
enum { CPM_LAYOUT_AUTO = 0, CPM_LAYOUT_PACKED = 1, CPM_LAYOUT_SPARSE = 2 };

// Where the program is placed, for a Z80 machine other than CP/M (export/zx48: the ZX Spectrum):
// its kernel (a machine file + chat.s, assembled at org, with the same entry table as CP/M's at
// org + 0..15h) and the end of the memory it may use. NULL in cpm_export_opts: CP/M's kernel at
// 0100h below the CCP at E400h.
typedef struct {
    const unsigned char *kernel;
    unsigned kernel_size;
    uint16_t org;
    int packed;          // 1: the kernel has the packed layout's handlers; 0: every layer is sparse
    uint32_t end;        // the program, its buffers and its stack must end at or below this address
    const char *where;   // for the refusal: "a 48K ZX Spectrum from 8000h"
} cpm_mem_map;

typedef struct {
    int probes;  // keep the T-state probe OUTs (ports D0h/E0h regions 0-1); 0: replace with NOPs
    int layout;  // CPM_LAYOUT_*: AUTO picks per layer the faster layout that still fits the TPA
    // Stream the weights: they go to a .BIN file (bin_name, 8.3, e.g. "CHAT.BIN") instead of the
    // .COM, and the kernel reads each layer's records into one buffer (sized for the largest layer)
    // through BDOS 33 (read random) every time it needs the layer.
    int stream;
    const char *bin_name;
    const cpm_mem_map *map;  // NULL: CP/M (streaming is CP/M's only)
} cpm_export_opts;

// The .BIN of a streaming build: record 0 = "RQZ1", u16 version 1, u32 file length in bytes,
// u16 L, then per layer u16 first record and u16 record count; each layer's weights (in the
// layout the .COM expects) start on a record boundary; the last record is padded with 1Ah.

// The built program and its memory map.
typedef struct {
    uint8_t *com;          // the .COM file (another map: the program's bytes from its org)
    size_t com_size;
    uint8_t *bin;          // the .BIN file (streaming builds; whole 128-byte records), else NULL
    size_t bin_size;
    size_t code_bytes;     // the kernel
    size_t weight_bytes;   // column-major 2-bit codes, all layers (streaming: the largest layer's buffer)
    size_t data_bytes;     // descriptor, charset, biases
    size_t buffer_bytes;   // counts, context, query, line, list, accumulator pages (+ alignment)
    size_t stack_bytes;
    uint16_t desc, charset, cnt, kcnt, ctx, qbuf, line;  // addresses
    uint32_t end;           // the stack's top, the end of everything (also filled when it does not fit)
    uint16_t org;           // where com[0] goes (0100h on CP/M)
    uint16_t list;  // END of the list of active hidden outputs (entries below it, last row first)
    uint8_t acc_page, qacc_page;                                       // ACC lo at acc_page:00
    int n_layers, row_off[CHAT_MAX_LAYERS];  // row j of layer l sits at page offset row_off[l] + j
    uint16_t w[CHAT_MAX_LAYERS];             // column-major weights (packed) or pointer table (sparse)
    int sparse[CHAT_MAX_LAYERS];             // 1 when layer l uses the sparse layout (layer 1: its context columns)
    int qsparse;                             // 1 when layer 1's query columns use the sparse layout
    int counters;                            // 1 when layer 1 has the 8-bit context counter path
} cpm_program;

// Build the .COM for m. RQ_EINPUT when the model cannot run on the kernel (a layer wider than 256
// outputs; a layer the sparse layout cannot hold when the kernel has only that one) or does not
// fit below the CCP (or o->map's end; the message names the bytes over); *p is then still filled
// with the sizes (com == NULL) so callers can report them.
int cpm_build(const chat_imodel *m, const cpm_export_opts *o, cpm_program *p);
void cpm_program_free(cpm_program *p);

// The int16 logits the kernel left in its accumulator pages (after a forward) in the memory mem
// (64 KiB) of a program whose descriptor is at desc. Returns n_out.
int cpm_read_logits(const uint8_t *mem, uint16_t desc, int16_t *logits);

// The CRC-32 of every generation step's logits, as the runners collect them: cpm_step_probe finds,
// in the memory of a program whose kernel starts at org, the probe where a generation step's
// forward has returned (a NOP NOP unless --probes) and the descriptor; at that PC the runner calls
// cpm_logit_log_step.
typedef struct {
    uint16_t desc;
    int n, cap;
    uint32_t *crc;  // malloc'd
} cpm_logit_log;
uint16_t cpm_step_probe(const uint8_t *mem, uint16_t org, uint16_t *desc);
void cpm_logit_log_step(cpm_logit_log *g, const uint8_t *mem);

// The export summary's parts every Z80 target shares (export/cpm/cpm.c): the sizes, "end", the
// generic "memory_map" (export/target.h; the last part is free_name, free_bytes), the probes'
// "region_names" and per layer its layout and worst-case accumulator bounds (chat_bounds).
void cpm_summary_parts(cJSON *o, const chat_imodel *m, const cpm_program *p, const char *free_name, size_t free_bytes);

// Column-major codes of one layer: out[i * nb + r/4] holds the code of w[r][i] (nb = ceil(n_out/4)).
void cpm_transpose_layer(const uint8_t *w, int n_in, int n_out, uint8_t *out);

#endif
