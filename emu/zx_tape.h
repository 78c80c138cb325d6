// zx_tape.h: ZX Spectrum tape files (.TAP) through libspectrum (Debian's libspectrum-dev, the
// format library of Fuse and most Spectrum emulators): written with its tape API and read back
// with it, as the ROM's SAVE writes them and LOAD expects them.
//
// A ROM file is two tape blocks: a header (flag byte 00h, 17 bytes, XOR checksum) and its data
// (flag FFh, the bytes, XOR checksum: the XOR of flag, bytes and checksum is 0). Header:
//   type (0 program, 3 code), name (10 bytes, blank padded), data length (u16),
//   param1 (u16: program: autostart line, >= 32768 for none; code: start address),
//   param2 (u16: program: length without the variables; code: 32768)
// A .TAP is the blocks in order, each preceded by its length (u16).
#ifndef RQ_ZX_TAPE_H
#define RQ_ZX_TAPE_H

#include <stddef.h>
#include <stdint.h>

enum { ZX_TAPE_PROGRAM = 0, ZX_TAPE_CODE = 3 };

typedef struct {
    uint8_t type;       // ZX_TAPE_PROGRAM or ZX_TAPE_CODE
    char name[11];      // up to 10 characters (blank padded on tape), NUL terminated
    uint16_t param1, param2;
    uint8_t *data;      // the data block's bytes without flag and checksum (read: malloc'd)
    size_t len;         // at most 65535
    size_t offset;      // read: the file offset of the header block's length word
} zx_tape_file;

// The .TAP of n files, header block then data block each (a 1 s pause after every block for
// emulators that play it as sound). *tap is malloc'd. RQ_EINPUT for a name or size the header
// cannot hold, RQ_ERUNTIME when libspectrum fails.
int zx_tap_write(const zx_tape_file *files, int n, uint8_t **tap, size_t *len);

// The files of a .TAP read through libspectrum. Every block must be a standard ROM block and
// pair up as header + data, with matching lengths and correct checksums: anything else is
// RQ_EINPUT naming path and the byte offset of the block ("FILE: byte N: ..."). *files is
// malloc'd (zx_tape_files_free).
int zx_tap_read(const uint8_t *tap, size_t len, const char *path, zx_tape_file **files, int *n);
int zx_tap_read_file(const char *path, zx_tape_file **files, int *n);
void zx_tape_files_free(zx_tape_file *files, int n);

#endif
