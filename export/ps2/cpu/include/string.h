// string.h for the freestanding PS2 build (no libc here): the few functions infer/ and the
// runtime use, implemented in export/ps2/cpu/libc.c.
#ifndef RQ_PS2_STRING_H
#define RQ_PS2_STRING_H

#include <stddef.h>

void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

#endif
