/* string.h for the c89.py pass: the cc65 library functions infer/ and export/rt/ use. */
#ifndef C64_STRING_H
#define C64_STRING_H
#include <stddef.h>
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memmove(void *d, const void *s, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
#endif
