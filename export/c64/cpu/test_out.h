// test_out.h: text output of the 6502 test programs (test_mac.c, test_chatk.c) without printf.
#ifndef C64_TEST_OUT_H
#define C64_TEST_OUT_H

#include <stdint.h>
#include <unistd.h>

static void put(const char *s) {
    int n = 0;
    while (s[n]) n++;
    write(1, s, (unsigned)n);
}

static void put_num(uint32_t v, int base) {
    char b[12];
    int i = 11;
    b[i] = 0;
    do b[--i] = "0123456789abcdef"[v % (uint32_t)base], v /= (uint32_t)base;
    while (v);
    put(b + i);
}

#endif
