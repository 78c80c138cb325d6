/* string.h for the C-built targets linked without a C library (export/rt/mem.c defines these).
 * The cross compilers here ship no C library headers; infer/ needs only these functions. */
#ifndef RQ_RT_STRING_H
#define RQ_RT_STRING_H

#include <stddef.h>

void *memcpy(void *restrict d, const void *restrict s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

#endif
