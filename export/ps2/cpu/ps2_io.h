// ps2_io.h: the machine services of the PS2 programs beyond rt.h: the disc the weights stream
// from, the argument block, the instruction counter and exit. Two implementations in rt_ps2.c:
//   GXemul testmips (default): the disc is GXemul's disk device (0x13000000, 512-byte reads)
//     holding the ISO 9660 image the exporter wrote; files are found in its root directory.
//     Console at 0xB0000000 (fd 2 framed by STX/ETX bytes so the runner can separate it).
//   qemu-user (PS2_QEMU): Linux o32 syscalls; a file is opened by path, read at an offset.
// A PS2SDK build would put sceCdSearchFile/sceCdRead (or fioOpen("cdrom0:\\MODEL.RQS;1") +
// fioLseek/fioRead) behind ps2_open/ps2_read; nothing above this interface changes.
#ifndef RQ_PS2_IO_H
#define RQ_PS2_IO_H

#include <stdint.h>

typedef struct {
    long handle;     // GXemul: byte offset of the file's extent on the disc; qemu: fd
    uint32_t size;
} ps2_file;

// Open name (GXemul: its last path component, case-insensitive, in the disc's root directory).
// 0, or -1 when it is not there.
int ps2_open(const char *name, ps2_file *f);
// Copy n bytes at byte off of f into buf; 0, or -1 on a read error or past the end.
int ps2_read(ps2_file *f, uint32_t off, void *buf, uint32_t n);
// Executed instructions so far (GXemul: the cp0 Count register, which GXemul advances once per
// instruction); 0 under qemu (counted outside by the runner).
uint32_t ps2_count(void);
// End the program with code (GXemul: "#exit CODE" on the diagnostic channel, then halt).
void ps2_exit(int code) __attribute__((noreturn));
int ps2_main(int argc, char **argv);

#endif
