/* stddef.h for the c89.py pass (cc65: 16-bit size_t and pointers). */
#ifndef C64_STDDEF_H
#define C64_STDDEF_H
typedef unsigned int size_t;
typedef int ptrdiff_t;
#define NULL ((void *)0)
#define offsetof(t, m) ((size_t)&((t *)0)->m)
#endif
