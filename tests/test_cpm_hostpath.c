// test_cpm_hostpath.c: a .COM cannot touch anything outside the emulator's --dir, nor spin for
// minutes (the wall-clock --timeout).
// A hand-assembled program makes (BDOS 22) and writes (BDOS 21) a file named by raw FCB bytes:
//   "../VICTI" "TXT" and "../../VI" "TXT"  -> BDOS returns FFh, nothing is created outside --dir
//   "LINK    " "TXT" where LINK.TXT is a symlink to a file outside --dir -> refused, the target
//                                             keeps its bytes
//   "GOOD    " "TXT"                          -> DIR/GOOD.TXT with the record written
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/binio.h"
#include "emu/cpm_hostpath.h"

// 0100 LD DE,FCB / LD C,22 / CALL 5 / LD DE,FCB / LD C,21 / CALL 5 / LD C,0 / CALL 5 / FCB: 36 bytes
// (DMA is 0080h, the command tail: the record written is whatever is there).
static void write_com(const char *path, const char name11[12]) {
    uint8_t code[64] = {0x11, 0x15, 0x01, 0x0E, 22, 0xCD, 0x05, 0x00, 0x11, 0x15, 0x01, 0x0E, 21,
                        0xCD, 0x05, 0x00, 0x0E, 0x00, 0xCD, 0x05, 0x00};
    assert_int_equal(0x100 + 21, 0x115);  // FCB address in the LD DE above
    memcpy(code + 21 + 1, name11, 11);    // drive byte 0, then name+type, extent etc. zero
    rq_test_write_bytes(path, code, 21 + 36);
}

static int exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static void test_fcb_names_stay_in_dir(void **state) {
    (void)state;
    char base[4096], dir[4200], com[4300], p[4300], outside[4300];
    snprintf(base, sizeof base, "%s", rq_test_tmpdir("cpm_hostpath"));
    snprintf(dir, sizeof dir, "%s/a/b/disk", base);
    assert_int_equal(rq_mkdir_p(dir), 0);
    snprintf(com, sizeof com, "%s/w.com", base);
    const char *bad[2] = {"../VICTITXT", "../../VITXT"};
    const char *victim[2] = {"a/b/VICTI.TXT", "a/VI.TXT"};
    char *err;
    for (int i = 0; i < 2; i++) {
        write_com(com, bad[i]);
        int rc = rq_test_run(NULL, &err, "%s run --target cpm --dir %s %s", rq_test_bin(), dir, com);
        if (rc != 0) fail_msg("%s: exit %d: %s", bad[i], rc, err);
        free(err);
        snprintf(p, sizeof p, "%s/%s", base, victim[i]);
        if (exists(p)) fail_msg("FCB '%s' created %s outside --dir", bad[i], p);
    }
    // A symbolic link in the folder does not lead outside it.
    snprintf(outside, sizeof outside, "%s/a/SECRET.TXT", base);
    rq_test_write(outside, "keep me\n");
    snprintf(p, sizeof p, "%s/LINK.TXT", dir);
    assert_int_equal(symlink(outside, p), 0);
    write_com(com, "LINK    TXT");
    int rc = rq_test_run(NULL, &err, "%s run --target cpm --dir %s %s", rq_test_bin(), dir, com);
    if (rc != 1 || !strstr(err, "LINK.TXT")) fail_msg("LINK.TXT: exit %d (want 1, naming the file): %s", rc, err);
    free(err);
    uint8_t *d;
    size_t n;
    assert_int_equal(rq_read_file(outside, &d, &n), 0);
    assert_int_equal(n, 8);
    assert_memory_equal(d, "keep me\n", 8);
    free(d);
    // An ordinary name still works: one 128-byte record.
    write_com(com, "GOOD    TXT");
    rc = rq_test_run(NULL, &err, "%s run --target cpm --dir %s %s", rq_test_bin(), dir, com);
    if (rc != 0) fail_msg("GOOD.TXT: exit %d: %s", rc, err);
    free(err);
    snprintf(p, sizeof p, "%s/GOOD.TXT", dir);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_size, 128);
}

static void test_host_name_rules(void **state) {
    (void)state;
    char out[13];
    assert_int_equal(cpm_fcb_host_name((const uint8_t *)"GOOD    TXT", out), 1);
    assert_string_equal(out, "GOOD.TXT");
    assert_int_equal(cpm_fcb_host_name((const uint8_t *)"README     ", out), 1);
    assert_string_equal(out, "README");
    const char *bad[] = {"../VICTITXT", "A/B     TXT", "A B     TXT", "        TXT", "A       T.T", "A?      TXT", "A\\B     TXT",
                         "A\x01      TXT", "A\xc1      TXT"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cpm_fcb_host_name((const uint8_t *)bad[i], out)) fail_msg("'%s' accepted as %s", bad[i], out);
    // The confined open refuses a path that is not DIR/NAME with an 8.3 NAME.
    assert_int_equal(cpm_host_open("/tmp", "/tmp/../etc/passwd", 0, 0), -1);
    assert_int_equal(cpm_host_open("/tmp", "/etc/passwd", 0, 0), -1);
    assert_int_equal(cpm_host_open("/tmp", "/tmp/a/b", 0, 0), -1);
}

// An endless loop (JR $) stops on the wall clock long before the 20e9 T-state default: exit 124.
static void test_wall_clock_timeout(void **state) {
    (void)state;
    char com[4300];
    snprintf(com, sizeof com, "%s/loop.com", rq_test_tmpdir("cpm_timeout"));
    const uint8_t loop[2] = {0x18, 0xFE};
    rq_test_write_bytes(com, loop, 2);
    char *err;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = rq_test_run(NULL, &err, "%s run --target cpm --timeout 1 %s", rq_test_bin(), com);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double el = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    if (rc != 124 || !strstr(err, "wall-clock timeout of 1 s")) fail_msg("--timeout 1: exit %d (want 124): %s", rc, err);
    free(err);
    printf("  --timeout 1 stopped JR $ after %.2f s\n", el);
    assert_true(el < 10);
    assert_int_equal(rq_test_run(NULL, &err, "%s run --target cpm --timeout -1 %s", rq_test_bin(), com), 2);
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_name_rules),
        cmocka_unit_test(test_fcb_names_stay_in_dir),
        cmocka_unit_test(test_wall_clock_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
