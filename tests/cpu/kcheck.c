// kcheck.c: the target half of the kernel bit-exactness test (tests/cpu/kcheck_cases.c): runs
// every case with the target's kernels and prints "NAME ROWS COLS CRC" per case on the console.
// Built for the target CPU by the test with the target's toolchain (export/rt_build.h), with
// RT_ENTRY=kcheck_main.
#include "export/rt/rt.h"
#include "tests/cpu/kcheck_cases.c"

static void put(void *ctx, const char *name, int rows, int cols, uint32_t crc) {
    (void)ctx;
    rt_puts(1, name);
    rt_puts(1, " ");
    rt_put_dec(1, rows);
    rt_puts(1, " ");
    rt_put_dec(1, cols);
    rt_puts(1, " ");
    rt_put_hex8(1, crc);
    rt_puts(1, "\n");
}

int kcheck_main(int argc, char **argv);
int kcheck_main(int argc, char **argv) {
    (void)argc, (void)argv;
    kcheck_cases(put, 0);
    return 0;
}
