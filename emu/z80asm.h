// z80asm.h: build Z80 machine code with sdcc's assembler (sdasz80 + sdldz80) and read the
// Intel HEX it produces into a flat image, so tests and exporters can turn a .s into bytes for
// the CP/M emulator without objcopy.
//
// A CP/M program in sdasz80 syntax either uses an absolute area
//     .area PROG (ABS)
//     .org 0x100
// or the relocatable _CODE area, which is linked at 0100h. `.include "x.inc"` finds files next
// to the source.
#ifndef RQ_Z80ASM_H
#define RQ_Z80ASM_H

#include <stddef.h>
#include <stdint.h>

// Assemble and link `src` in `work_dir` (listing WORK_DIR/NAME.lst with T-states per
// instruction, map NAME.map). On success *org is the lowest address written and *bin (malloc'd)
// holds every byte from *org to the highest address (gaps zero-filled), *n bytes.
// Errors: RQ_EINPUT with the assembler's messages (missing file, syntax, undefined symbols),
// RQ_ERUNTIME when the tools cannot be run.
int z80_assemble(const char *src, const char *work_dir, uint16_t *org, uint8_t **bin, size_t *n);

// Parse Intel HEX text (record types 00 data and 01 end; checksums verified) into a flat image.
// `name` is used in error messages ("NAME:LINE: ...").
int ihx_parse(const char *text, const char *name, uint16_t *org, uint8_t **bin, size_t *n);

#endif
