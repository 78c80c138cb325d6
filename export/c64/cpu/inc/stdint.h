/* stdint.h for the c89.py pass: cc65's type widths (int is 16 bits, long 32, no 64-bit type),
   written as plain typedefs so that the rewritten source needs no cc65 header. */
#ifndef C64_STDINT_H
#define C64_STDINT_H
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef int int16_t;
typedef unsigned int uint16_t;
typedef long int32_t;
typedef unsigned long uint32_t;
typedef int intptr_t;
typedef unsigned int uintptr_t;
#define INT32_MAX 2147483647L
#define UINT32_MAX 4294967295UL
#endif
