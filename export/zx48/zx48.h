// zx48.h: a trigram chat model as a ZX Spectrum 48K program on tape (export/zx48/README.md).
//
// The program is the CP/M target's Z80 kernel (export/cpm/cpu/chat.s, the computation) behind the
// Spectrum's machine file (export/zx48/cpu/zx48_io.s: USR entry, ROM printing, keyboard), laid
// out by the CP/M exporter's builder (export/cpm/com.h, with a cpm_mem_map) from a page ORG to
// the top of RAM, and written as a .TAP with its BASIC loader:
//   "chat" (BASIC, autostart 10):  10 CLEAR ORG-1: LOAD "" CODE
//                                  20 RANDOMIZE USR ORG
//   "chatcode" (CODE at ORG):      kernel, model, (buffers and stack follow in RAM, up to FFFFh)
//
// Two kernels are assembled at build time (export/zx48/zx48.mk), both at 8000h with a
// relocation table so that they move to any page: with the packed layout's 256 byte handlers
// (12.3 KB, for dense layers) and without them (1.5 KB, every layer sparse).
#ifndef RQ_EXPORT_ZX48_H
#define RQ_EXPORT_ZX48_H

#include <stddef.h>
#include <stdint.h>

#include "export/cpm/com.h"
#include "infer/chat_kernel.h"

typedef struct {
    const unsigned char *bin;  // assembled at ZX48_KERNEL_ORG
    unsigned size;
    const uint16_t *reloc;     // offsets of the bytes that are high bytes of kernel addresses
    unsigned nreloc;
    int packed;                // 1: with the packed layout's handlers
} zx48_kernel;

#define ZX48_NKERNELS 2
extern const zx48_kernel zx48_kernels[ZX48_NKERNELS];  // $(BUILD)/gen/zx48_kernel_bin.c: sparse, packed

#define ZX48_KERNEL_ORG 0x8000u
#define ZX48_ORG_DEFAULT 0x8000u  // uncontended memory from here up
#define ZX48_ORG_MIN 0x6000u      // below: too little room for BASIC, its variables and its stack
#define ZX48_MEM_END 0x10000u
#define ZX48_K_ONESHOT 0x14u      // ORG + 14h: answer the BASIC string a$

// The kernel k relocated to page org (org a multiple of 256): out holds k->size bytes.
void zx48_relocate(const zx48_kernel *k, uint16_t org, uint8_t *out);

typedef struct {
    int layout;     // CPM_LAYOUT_AUTO (the faster kernel and layouts that fit), PACKED, SPARSE
    int probes;     // keep the T-state probe OUTs (the emulator's counters; NOPs otherwise)
    uint32_t org;   // 0: auto (8000h, or the highest page from 6000h that fits); else this page
} zx48_export_opts;

typedef struct {
    cpm_program p;       // the layout: p.com is the CODE block (from p.org), p.end = 10000h at most
    int kernel;          // index in zx48_kernels
    uint8_t *tap;        // the .TAP file
    size_t tap_size;
    uint8_t *basic;      // the loader program as saved (lines and the empty variables area)
    size_t basic_size;
    double est_tstates;  // the cost model's T-states of the layers (every column active), for the choice
} zx48_program;

// Build the .TAP for m. RQ_EINPUT when it does not fit: the message names the bytes over and the
// parts, and what would fit (the sparse-only kernel, another ORG, fewer non-zero weights).
int zx48_build(const chat_imodel *m, const zx48_export_opts *o, zx48_program *out);
void zx48_program_free(zx48_program *pr);

// The BASIC loader for a program at org, tokenised as the ROM stores it (lines and the empty
// variables area, 80h). *n bytes, malloc'd; *prog_len = the lines' length (the header's param2).
uint8_t *zx48_basic_loader(uint16_t org, size_t *n, size_t *prog_len);

#endif
