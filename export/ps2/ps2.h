// ps2.h: the PS2 target's host-side pieces (export/ps2/ps2.c is the registry entry).
//   ps2_build.c  cross-compile the R5900 (GXemul) and mips2 (qemu) programs at export time
//   ps2_run.c    run an exported folder under GXemul or qemu-mipsel, demultiplex its console
#ifndef RQ_EXPORT_PS2_H
#define RQ_EXPORT_PS2_H

#include <stddef.h>

#include "export/target.h"

#define PS2_RAM (32u << 20)          // the Emotion Engine's main RAM
#define PS2_LOW_RESERVED 0x20000u    // below the program: vectors and the runner's argument block
#define PS2_STACK 0x10000u           // link.ld's stack

// Build one program into out (an ELF): fast = 0: -march=r5900 for GXemul, 1: -march=mips2
// -mtune=r5900 for qemu-mipsel. chat selects the chat program. arena and stream_buf become
// RT_ARENA_BYTES and PS2_STREAM_BUF, ctx PS2_CTX (positions of the KV cache). 0 or RQ_ERUNTIME (the compiler's message is printed).
int ps2_build(const char *out, int fast, int chat, size_t arena, size_t stream_buf, long ctx);
// Bytes the program occupies from its load address to the top of its stack, arena excluded
// (measured from the ELF's symbols), or 0 when it cannot be read.
size_t ps2_program_bytes(const char *elf, size_t arena);

int ps2_run(const char *dir, const rq_run_opts *o, rq_run_result *r);

#endif
