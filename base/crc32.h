// crc32.h: CRC-32 as in zlib/PNG/Ethernet (reflected polynomial 0xEDB88320,
// initial value and final xor 0xFFFFFFFF). Known answer: "123456789" -> 0xCBF43926.
// Portable integer C (bitwise, no table) so the same file builds for every target.
#ifndef RQ_CRC32_H
#define RQ_CRC32_H

#include <stddef.h>
#include <stdint.h>

// Continue a CRC: crc32_update(0, buf, n) is the CRC of buf; feeding pieces in order
// gives the same result as one call over the whole buffer.
uint32_t crc32_update(uint32_t crc, const void *buf, size_t n);

#endif
