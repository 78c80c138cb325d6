// test_cpm_emu.c: the CP/M 2.2 emulator checked with Z80 programs written for it (tests/z80/*.s,
// assembled here with sdasz80): every BDOS function it implements, the command tail and FCBs,
// the test ports, hand-counted T-states, the T-state limit, console EOF and LF/CR mapping,
// runtime faults, bad .COM files, the library's cpm_call, and the CLI.
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/binio.h"
#include "base/err.h"
#include "emu/cpm.h"
#include "emu/z80asm.h"

// ---- the test programs, assembled once ------------------------------------------------------

typedef struct {
    const char *name;
    uint8_t *bin;
    size_t n;
} prog;

static prog progs[] = {{"hello", NULL, 0}, {"tstates", NULL, 0}, {"echo", NULL, 0}, {"con", NULL, 0},
                       {"tail", NULL, 0},  {"fault", NULL, 0},   {"files", NULL, 0}, {"timing", NULL, 0}};
#define NPROGS (int)(sizeof progs / sizeof progs[0])
static char asm_dir[4096];  // assembled programs and their .COM files live here

static int assemble_all(void **state) {
    (void)state;
    const char *root = getenv("RQ_ROOT");
    snprintf(asm_dir, sizeof asm_dir, "%s", rq_test_tmpdir("cpm_emu_asm"));
    for (int i = 0; i < NPROGS; i++) {
        char src[4200], com[4200];
        snprintf(src, sizeof src, "%s/tests/z80/%s.s", root ? root : ".", progs[i].name);
        uint16_t org;
        if (z80_assemble(src, asm_dir, &org, &progs[i].bin, &progs[i].n) != 0) {
            fprintf(stderr, "cannot assemble %s: %s\n", src, rq_last_error());
            return -1;
        }
        if (org != 0x100) {
            fprintf(stderr, "%s: assembled at %04X, not 0100h\n", src, org);
            return -1;
        }
        snprintf(com, sizeof com, "%s/%s.com", asm_dir, progs[i].name);
        if (rq_write_atomic(com, progs[i].bin, progs[i].n) != 0) return -1;
    }
    return 0;
}

static int free_all(void **state) {
    (void)state;
    for (int i = 0; i < NPROGS; i++) free(progs[i].bin);
    return 0;
}

static const prog *get_prog(const char *name) {
    for (int i = 0; i < NPROGS; i++)
        if (strcmp(progs[i].name, name) == 0) return &progs[i];
    fail_msg("no test program %s", name);
    return NULL;
}

// A machine with the program loaded (opts may be NULL), the given arguments and input.
static cpm_machine *machine(const char *name, const cpm_opts *o, const char *args, const char *input) {
    cpm_machine *m = cpm_new(o);
    assert_non_null(m);
    const prog *p = get_prog(name);
    assert_int_equal(cpm_load_com(m, p->bin, p->n, name), RQ_OK);
    if (args) assert_int_equal(cpm_set_tail(m, args), RQ_OK);
    if (input) cpm_set_input(m, input, strlen(input));
    return m;
}

static cpm_opts quiet(void) {
    cpm_opts o = {0};
    o.in_fd = -1;
    o.no_echo = 1;
    return o;
}

// ---- console output ----------------------------------------------------------------------------

static void test_hello_output(void **state) {
    (void)state;
    cpm_machine *m = machine("hello", NULL, NULL, NULL);
    assert_int_equal(cpm_run(m), RQ_OK);
    size_t n;
    const char *out = cpm_output(m, &n);
    // CR LF -> LF, LF CR -> LF; 80h and FFh pass through; "A\rB" keeps its lone CR; the final
    // lone CR too.
    const char want[] = "Hello, CP/M\nline 2\x80\xff!\nA\rB\nC\nD\r";
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(out, want, n);
    const cpm_stats *s = cpm_stats_get(m);
    assert_int_equal(s->end, CPM_END_WBOOT);  // the final RET went to 0000h
    assert_int_equal(s->exit_code, 0);
    assert_int_equal(s->chars, 34);  // 21 + 1 + 2 + 10 bytes the program wrote (before mapping)
    assert_int_equal(s->bdos[9], 2);
    assert_int_equal(s->bdos[2], 1);
    assert_int_equal(s->bdos[6], 2);
    cpm_free(m);
}

// ---- T-states -----------------------------------------------------------------------------------

static void test_tstates_by_hand(void **state) {
    (void)state;
    cpm_machine *m = machine("tstates", NULL, NULL, NULL);
    assert_int_equal(cpm_run(m), RQ_OK);
    const cpm_stats *s = cpm_stats_get(m);
    assert_int_equal(s->end, CPM_END_EXIT);
    assert_int_equal(s->exit_code, 7);
    // Region 0, instruction by instruction (Zilog timings):
    //   LD B,n 7 + DJNZ 9 x 13 + 8 + NOP 4 + LD C,n 7 + CALL 17 + JP at 0005h 10 + BDOS RET 10
    //   + LD HL,nn 10 + LD DE,nn 10 + LD BC,nn 10 + LDIR 21 + 21 + 16 + LD IX,nn 14 + INC (IX+d) 23
    //   = 7 + 125 + 4 + 7 + 37 + 30 + 58 + 14 + 23 = 305
    uint64_t t, cnt;
    cpm_region(m, 0, &t, &cnt);
    assert_int_equal(t, 305);
    assert_int_equal(cnt, 1);
    cpm_region(m, 1, &t, &cnt);  // started and stopped back to back: empty
    assert_int_equal(t, 0);
    assert_int_equal(cnt, 1);
    // Whole run: the region OUTs 11 + 11 + 11 + 11, LD A,n 7 and the exit OUT 11 on top: 367.
    assert_int_equal(s->tstates, 305 + 4 * 11 + 7 + 11);
    // The code did what the timings say it did: LDIR copied 1 2 3, INC (IX+1) made the 2 a 3.
    const uint8_t *mem = cpm_mem(m);
    const prog *p = get_prog("tstates");
    const uint8_t want[4] = {1, 3, 3, 0x55};
    assert_memory_equal(mem + 0x100 + p->n - 4, want, 4);
    assert_int_equal(s->bdos[12], 1);
    cpm_free(m);
}

// Every instruction group and prefix, timed against the T-state column of sdasz80's listing
// (its own table, independent of libz80ex's): the region must equal the listing's sum.
static void test_tstates_vs_listing(void **state) {
    (void)state;
    char path[4200];
    snprintf(path, sizeof path, "%s/timing.lst", asm_dir);
    uint8_t *lst;
    size_t n;
    assert_int_equal(rq_read_file(path, &lst, &n), RQ_OK);
    long sum = 0;
    int inside = 0, ninsn = 0;
    for (char *line = strtok((char *)lst, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, "out (0xD5),a")) {
            inside = 1;
            continue;
        }
        if (strstr(line, "out (0xE5),a")) break;
        char *br = strchr(line, '[');
        if (inside && br && strchr(br, ']')) {
            sum += strtol(br + 1, NULL, 10);
            ninsn++;
        }
    }
    free(lst);
    assert_true(ninsn > 150);
    cpm_machine *m = machine("timing", NULL, NULL, NULL);
    assert_int_equal(cpm_run(m), RQ_OK);
    assert_int_equal(cpm_stats_get(m)->end, CPM_END_EXIT);
    assert_int_equal(cpm_stats_get(m)->exit_code, 0);
    uint64_t t, cnt;
    cpm_region(m, 5, &t, &cnt);
    assert_int_equal(cnt, 1);
    assert_int_equal(t, sum);
    cpm_free(m);
}

static void test_tstate_limit(void **state) {
    (void)state;
    cpm_opts o = quiet();
    o.max_tstates = 100000;
    cpm_machine *m = machine("fault", &o, "L", NULL);  // JR to itself, forever
    assert_int_equal(cpm_run(m), RQ_ERUNTIME);
    const cpm_stats *s = cpm_stats_get(m);
    assert_int_equal(s->end, CPM_END_TLIMIT);
    assert_int_equal(s->exit_code, CPM_EXIT_TLIMIT);
    assert_true(s->tstates >= 100000 && s->tstates < 100000 + 23);  // stops at the first boundary
    assert_non_null(strstr(cpm_error(m), "T-state limit of 100000"));
    assert_non_null(strstr(rq_last_error(), "T-state limit"));
    // A new limit continues the same run.
    cpm_set_max_tstates(m, 250000);
    assert_int_equal(cpm_run(m), RQ_ERUNTIME);
    assert_true(s->tstates >= 250000 && s->tstates < 250000 + 23);
    cpm_free(m);
}

// ---- console input ------------------------------------------------------------------------------

static void run_echo(const char *input, int echo, const char *want_out, cpm_end want_end, int want_code) {
    cpm_opts o = quiet();
    o.no_echo = !echo;
    cpm_machine *m = machine("echo", &o, NULL, input);
    assert_int_equal(cpm_run(m), RQ_OK);
    const cpm_stats *s = cpm_stats_get(m);
    assert_string_equal(cpm_output(m, NULL), want_out);
    assert_int_equal(s->end, want_end);
    assert_int_equal(s->exit_code, want_code);
    cpm_free(m);
}

static void test_line_input(void **state) {
    (void)state;
    // LF ends a line (read as CR); BS erases; an empty line exits with 55h.
    run_echo("hello\nab\bc\n\n", 0, "> \n[hello]\n> \n[ac]\n> \n", CPM_END_EXIT, 0x55);
    // With echo, as on a terminal: the typed text, BS SP BS for the rubout, and the BDOS's CR
    // merging with the program's CR LF into one line end.
    run_echo("hello\nab\bc\n\n", 1, "> hello\n[hello]\n> ab\b \bc\n[ac]\n> \n", CPM_END_EXIT, 0x55);
    // DEL erases too; ^U and ^X erase the whole line; control characters echo as ^X.
    run_echo("abc\x7f\x7f" "d\nxy\x15q\nzz\x18w\x01\n\n", 1,
             "> abc\b \b\b \bd\n[ad]\n> xy\b \b\b \bq\n[q]\n> zz\b \b\b \bw^A\n[w\x01]\n> \n", CPM_END_EXIT, 0x55);
    // The 8-character buffer fills: BDOS 10 returns at once, the rest is the next line.
    run_echo("123456789\n\n", 0, "> \n[12345678]\n> \n[9]\n> \n", CPM_END_EXIT, 0x55);
    // DOS line ends (CR LF) are one Return each.
    run_echo("ab\r\ncd\r\n\r\n", 0, "> \n[ab]\n> \n[cd]\n> \n", CPM_END_EXIT, 0x55);
    // EOF: a last line without LF is still a line; EOF on an empty line ends the run, exit 0.
    run_echo("abc", 0, "> \n[abc]\n> ", CPM_END_EOF, 0);
    run_echo("", 0, "> ", CPM_END_EOF, 0);
    // ^C as the first character of a line is a warm boot.
    run_echo("x\n\x03zz\n", 1, "> x\n[x]\n> ^C", CPM_END_WBOOT, 0);
}

static void test_console_functions(void **state) {
    (void)state;
    cpm_opts o = quiet();
    o.no_echo = 0;
    cpm_machine *m = machine("con", &o, NULL, "xy\nz");
    assert_int_equal(cpm_run(m), RQ_OK);
    assert_string_equal(cpm_output(m, NULL),
                        "22 "        // 12: version 2.2
                        "FF "        // 11: input waiting
                        "x78 "       // 1: 'x', echoed
                        "FF "        // 6/FEh: status
                        "79 "        // 6/FFh: 'y', not echoed
                        "0D "        // 6/FFh: LF read as CR
                        "7A "        // 6/FDh: 'z'
                        "00 00 "     // 6/FFh and 11 at EOF: nothing
                        "00 05 01 "  // 25 disk A, 32 user 5, 14+25 disk B
                        "00 01 "     // 13+25 back to A, 24 login vector
                        "Q00 ");     // BIOS CONOUT, BIOS CONST at EOF
    const cpm_stats *s = cpm_stats_get(m);
    assert_int_equal(s->end, CPM_END_EOF);  // BDOS 1 at EOF ended the run cleanly
    assert_int_equal(s->exit_code, 0);
    assert_int_equal(s->bios_calls, 2);
    assert_int_equal(s->bdos[1], 2);
    assert_int_equal(s->bdos[6], 5 + 0);
    cpm_free(m);
}

// The same program reading a pipe (read(2) and poll(2) on a real file descriptor).
static void test_console_from_pipe(void **state) {
    (void)state;
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    assert_int_equal(write(fd[1], "xy\nz", 4), 4);
    close(fd[1]);
    cpm_opts o = quiet();
    o.no_echo = 0;
    o.in_fd = fd[0];
    cpm_machine *m = machine("con", &o, NULL, NULL);
    assert_int_equal(cpm_run(m), RQ_OK);
    assert_string_equal(cpm_output(m, NULL), "22 FF x78 FF 79 0D 7A 00 00 00 05 01 00 01 Q00 ");
    assert_int_equal(cpm_stats_get(m)->end, CPM_END_EOF);
    cpm_free(m);
    close(fd[0]);
}

// ---- command tail and default FCBs ------------------------------------------------------------

static void run_tail(int argc, char **argv, const char *want) {
    cpm_machine *m = machine("tail", NULL, NULL, NULL);
    assert_int_equal(cpm_set_args(m, argc, argv), RQ_OK);
    assert_int_equal(cpm_run(m), RQ_OK);
    assert_string_equal(cpm_output(m, NULL), want);
    assert_int_equal(cpm_stats_get(m)->end, CPM_END_WBOOT);
    cpm_free(m);
}

static void test_tail_and_fcbs(void **state) {
    (void)state;
    char *a1[] = {"foo.txt", "b:Bar*.c?", "extra"};
    run_tail(3, a1, "18 [ FOO.TXT B:BAR*.C? EXTRA]00 |FOO     TXT|02 |BAR?????C? |");
    run_tail(0, NULL, "00 []00 |           |00 |           |");
    char *a2[] = {"verylongname.text", "*.*"};
    run_tail(2, a2, "16 [ VERYLONGNAME.TEXT *.*]00 |VERYLONGTEX|00 |???????????|");
    char *a3[] = {"noext"};
    run_tail(1, a3, "06 [ NOEXT]00 |NOEXT      |00 |           |");
    // A tail longer than the 127 bytes CP/M has room for is refused.
    cpm_machine *m = cpm_new(NULL);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char *a4[] = {big};
    assert_int_equal(cpm_set_args(m, 1, a4), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "127"));
    cpm_free(m);
}

// ---- files -------------------------------------------------------------------------------------

static void write_bytes(const char *dir, const char *name, const uint8_t *b, size_t n) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void make_files_dir(const char *dir) {
    uint8_t in[200];
    for (int i = 0; i < 200; i++) in[i] = (uint8_t)('a' + i % 26);
    write_bytes(dir, "in.txt", in, sizeof in);
    write_bytes(dir, "b.dat", (const uint8_t *)"!", 1);
    // Not CP/M names: must be invisible to the search.
    write_bytes(dir, "toolongname.dat", (const uint8_t *)"x", 1);
    write_bytes(dir, "x.y.dat", (const uint8_t *)"x", 1);
    write_bytes(dir, ".hidden.dat", (const uint8_t *)"x", 1);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/d.dat", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
}

static const char FILES_TRANSCRIPT[] =
    "FF 00 "                // delete a missing file, make it
    "00 00 00 00 "          // three sequential writes with three DMA addresses, close
    "00 03 "                // open through another FCB, rc = 3 records
    "00 00 00 00 02 "       // two reads, both equal to what was written; cr = 2
    "00 03 00 "             // file size: 3 records
    "00 00 00 00 00 00 01 " // random read record 1, the sequential read rereads it, record 2, EOF
    "01 06 "                // random read past the end; with r2 set
    "00 00 00 72 1A 1A 01 00 " // IN.TXT: open, 2 reads, 'r', ^Z padding, EOF, close
    "00 42 01 00 4F 03 FF " // search ????????.DAT: B.DAT (1 record), OUT.DAT (3), no more
    "00 00 06 00 05 "       // random write record 5, size now 6, set random record -> 5
    "00 00 00 00 "          // KEEP.BIN: make, 2 writes, close
    "00 FF FF FF .";        // delete, open fails, delete again fails, make with wildcards fails

static void check_files_dir(const char *dir) {
    char path[4200];
    uint8_t *data;
    size_t n;
    snprintf(path, sizeof path, "%s/KEEP.BIN", dir);  // created upper-case, whole records
    assert_int_equal(rq_read_file(path, &data, &n), RQ_OK);
    assert_int_equal(n, 256);
    for (int i = 0; i < 256; i++) assert_int_equal(data[i], i);
    free(data);
    snprintf(path, sizeof path, "%s/OUT.DAT", dir);
    assert_int_equal(access(path, F_OK), -1);  // deleted
    snprintf(path, sizeof path, "%s/in.txt", dir);  // untouched
    assert_int_equal(rq_read_file(path, &data, &n), RQ_OK);
    assert_int_equal(n, 200);
    free(data);
}

static void test_files(void **state) {
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", rq_test_tmpdir("cpm_emu_files"));
    make_files_dir(dir);
    cpm_opts o = quiet();
    o.dir = dir;
    cpm_machine *m = machine("files", &o, NULL, NULL);
    int rc = cpm_run(m);
    if (rc) fail_msg("files.com: %s", cpm_error(m));
    assert_string_equal(cpm_output(m, NULL), FILES_TRANSCRIPT);
    const cpm_stats *s = cpm_stats_get(m);
    assert_int_equal(s->end, CPM_END_WBOOT);
    assert_int_equal(s->bdos[20], 8);
    assert_int_equal(s->bdos[21], 5);
    assert_int_equal(s->bdos[26], 6);
    check_files_dir(dir);
    cpm_free(m);
}

static void test_missing_dir_is_runtime_error(void **state) {
    (void)state;
    cpm_opts o = quiet();
    o.dir = "/nonexistent/cpm-dir";
    cpm_machine *m = machine("files", &o, NULL, NULL);
    assert_int_equal(cpm_run(m), RQ_ERUNTIME);
    assert_int_equal(cpm_stats_get(m)->end, CPM_END_ERROR);
    assert_non_null(strstr(cpm_error(m), "/nonexistent/cpm-dir"));
    cpm_free(m);
}

// ---- faults -------------------------------------------------------------------------------------

static void run_fault(const char *arg, int want_rc, cpm_end want_end, int want_code, const char *want_msg) {
    cpm_opts o = quiet();
    o.max_tstates = 1000000;
    cpm_machine *m = machine("fault", &o, arg, NULL);
    assert_int_equal(cpm_run(m), want_rc);
    const cpm_stats *s = cpm_stats_get(m);
    assert_int_equal(s->end, want_end);
    assert_int_equal(s->exit_code, want_code);
    if (want_msg && !strstr(cpm_error(m), want_msg)) fail_msg("'%s': error '%s' lacks '%s'", arg, cpm_error(m), want_msg);
    cpm_free(m);
}

static void test_faults(void **state) {
    (void)state;
    run_fault("B", RQ_ERUNTIME, CPM_END_ERROR, 1, "unimplemented BDOS function 7 (C=07h) called from 01");
    run_fault("H", RQ_ERUNTIME, CPM_END_ERROR, 1, "HALT at 01");
    run_fault("W", RQ_ERUNTIME, CPM_END_ERROR, 1, "write to F000h");
    run_fault("R", RQ_ERUNTIME, CPM_END_ERROR, 1, "region 2 stopped");
    run_fault("D", RQ_ERUNTIME, CPM_END_ERROR, 1, "region 3 started again");
    run_fault("I", RQ_ERUNTIME, CPM_END_ERROR, 1, "unimplemented BIOS entry 5 (LIST)");
    run_fault("X", RQ_OK, CPM_END_EXIT, 200, NULL);
    run_fault("Z", RQ_OK, CPM_END_WBOOT, 0, NULL);  // BDOS 0
}

// BDOS 9 over memory without a '$' stops instead of printing forever.
static void test_bdos9_without_terminator(void **state) {
    (void)state;
    cpm_machine *m = cpm_new(NULL);
    const uint8_t code[] = {0x11, 0x00, 0x02, 0x0E, 0x09, 0xCD, 0x05, 0x00, 0xC7};  // LD DE,200h; LD C,9; CALL 5
    assert_int_equal(cpm_load_com(m, code, sizeof code, "S.COM"), RQ_OK);
    uint8_t *mem = cpm_mem(m);
    for (int a = 0; a < 0x10000; a++)
        if (mem[a] == '$') mem[a] = 0;
    assert_int_equal(cpm_run(m), RQ_ERUNTIME);
    assert_non_null(strstr(cpm_error(m), "no '$' terminator"));
    assert_int_equal(cpm_stats_get(m)->chars, 65536);
    cpm_free(m);
}

// ---- loading ------------------------------------------------------------------------------------

static void test_load_errors_and_tpa(void **state) {
    (void)state;
    cpm_machine *m = cpm_new(NULL);
    cpm_map map = cpm_get_map(m);
    assert_int_equal(map.top, 0xEC06);
    assert_int_equal(map.ccp, 0xE400);
    assert_int_equal(map.bios, 0xFA00);
    uint8_t *mem = cpm_mem(m);
    assert_int_equal(mem[5], 0xC3);
    assert_int_equal(mem[6] | mem[7] << 8, 0xEC06);  // programs set SP from here
    assert_int_equal(mem[0], 0xC3);
    assert_int_equal(mem[1] | mem[2] << 8, 0xFA03);  // warm boot entry
    uint8_t *big = calloc(0x10000, 1);
    assert_int_equal(cpm_load_com(m, big, 0, "E.COM"), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "E.COM: empty"));
    assert_int_equal(cpm_load_com(m, big, 0xE301, "BIG.COM"), RQ_EINPUT);  // one byte into the CCP
    assert_non_null(strstr(rq_last_error(), "BIG.COM: 58113 bytes do not fit the TPA 0100h-E3FFh (58112 bytes): 1 bytes over"));
    assert_int_equal(cpm_load_com(m, big, 0xE300, "FITS.COM"), RQ_OK);
    assert_int_equal(cpm_load_com_file(m, "/nonexistent/X.COM"), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "/nonexistent/X.COM"));
    cpm_free(m);

    // A 48K system: the top moves, and with it the TPA limit and the word at 0006h.
    cpm_opts o = {0};
    o.top = 0xAC06;
    o.in_fd = -1;
    m = cpm_new(&o);
    assert_non_null(m);
    mem = cpm_mem(m);
    assert_int_equal(mem[6] | mem[7] << 8, 0xAC06);
    assert_int_equal(cpm_load_com(m, big, 0xA301, "BIG.COM"), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "TPA 0100h-A3FFh"));
    const prog *p = get_prog("hello");
    assert_int_equal(cpm_load_com(m, p->bin, p->n, "hello"), RQ_OK);
    assert_int_equal(cpm_run(m), RQ_OK);
    assert_string_equal(cpm_output(m, NULL), "Hello, CP/M\nline 2\x80\xff!\nA\rB\nC\nD\r");
    cpm_free(m);
    free(big);
    o.top = 0xFF00;
    assert_null(cpm_new(&o));
    assert_non_null(strstr(rq_last_error(), "FF00h"));
}

// ---- the library's subroutine call (for kernels) -------------------------------------------------

static void test_call(void **state) {
    (void)state;
    cpm_machine *m = cpm_new(NULL);
    // 0100h: ADD HL,DE; RET      0102h: LD E,'A'; LD C,2; CALL 5; RET
    const uint8_t code[] = {0x19, 0xC9, 0x1E, 'A', 0x0E, 0x02, 0xCD, 0x05, 0x00, 0xC9};
    assert_int_equal(cpm_load_com(m, code, sizeof code, "K.COM"), RQ_OK);
    uint16_t sp = cpm_reg(m, CPM_SP);
    cpm_set_reg(m, CPM_HL, 1000);
    cpm_set_reg(m, CPM_DE, 234);
    uint64_t t;
    assert_int_equal(cpm_call(m, 0x100, &t), RQ_OK);
    assert_int_equal(cpm_reg(m, CPM_HL), 1234);
    assert_int_equal(t, 11 + 10);  // ADD HL,DE + RET
    assert_int_equal(cpm_reg(m, CPM_SP), sp);
    assert_int_equal(cpm_call(m, 0x102, &t), RQ_OK);
    assert_int_equal(t, 7 + 7 + 17 + 10 + 10 + 10);  // LD, LD, CALL, JP at 0005h, BDOS RET, RET
    assert_string_equal(cpm_output(m, NULL), "A");
    assert_int_equal(cpm_stats_get(m)->tstates, 21 + 61);
    assert_int_equal(cpm_stats_get(m)->end, CPM_END_NONE);
    cpm_free(m);
}

// ---- the assembler driver ---------------------------------------------------------------------

static void test_assembler_errors(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("cpm_emu_badasm");
    char src[4200];
    snprintf(src, sizeof src, "%s/bad.s", dir);
    rq_test_write(src, "\t.area PROG (ABS)\n\t.org 0x100\n\tjp nowhere\n");
    uint16_t org;
    uint8_t *bin;
    size_t n;
    assert_int_equal(z80_assemble(src, dir, &org, &bin, &n), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "undefined symbol"));
    assert_int_equal(ihx_parse(":0301000000000000\n:00000001FF\n", "x.ihx", &org, &bin, &n), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "x.ihx:1: checksum"));
    assert_int_equal(ihx_parse(":03010000010203F6\n:00000001FF\n", "y.ihx", &org, &bin, &n), RQ_OK);
    assert_int_equal(org, 0x100);
    assert_int_equal(n, 3);
    assert_int_equal(bin[2], 3);
    free(bin);
}

// ---- the CLI ----------------------------------------------------------------------------------

static void test_cli(void **state) {
    (void)state;
    const char *bin = rq_test_bin();
    char *out, *err;
    // Console output, statistics as JSON on stderr.
    int rc = rq_test_run(&out, &err, "%s run --target cpm --stats --json %s/hello.com", bin, asm_dir);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "Hello, CP/M\nline 2\x80\xff!\nA\rB\nC\nD\r");
    cJSON *j = cJSON_Parse(err);
    if (!j) fail_msg("stderr is not JSON: %s", err);
    assert_int_equal((int)cJSON_GetObjectItem(j, "chars")->valuedouble, 34);
    double t = cJSON_GetObjectItem(j, "tstates")->valuedouble;
    assert_true(t > 0);
    assert_true(cJSON_GetObjectItem(j, "tstates_per_char")->valuedouble == t / 34);
    cJSON *b = cJSON_GetObjectItem(j, "bdos");
    assert_int_equal((int)cJSON_GetObjectItem(b, "9")->valuedouble, 2);
    assert_int_equal((int)cJSON_GetObjectItem(b, "6")->valuedouble, 2);
    assert_string_equal(cJSON_GetObjectItem(j, "end")->valuestring, "wboot");
    cJSON_Delete(j);
    free(out), free(err);

    // Exit port, human statistics with the region lines.
    rc = rq_test_run(&out, &err, "%s run --target cpm --stats %s/tstates.com", bin, asm_dir);
    assert_int_equal(rc, 7);
    assert_non_null(strstr(err, "367 T-states"));
    assert_non_null(strstr(err, "region 0: 305 T-states in 1 runs"));
    free(out), free(err);

    // Piped input with echo; program arguments after PROG.COM, even ones that look like flags.
    const char *tmp = rq_test_tmpdir("cpm_emu_cli");
    char path[4200];
    snprintf(path, sizeof path, "%s/in.txt", tmp);
    rq_test_write(path, "hi\nthere\n");
    rc = rq_test_run(&out, &err, "%s run --target cpm %s/echo.com < %s", bin, asm_dir, path);
    assert_int_equal(rc, 0);  // EOF ends the run cleanly
    assert_string_equal(out, "> hi\n[hi]\n> there\n[there]\n> ");
    free(out), free(err);
    rc = rq_test_run(&out, &err, "%s run --target cpm --no-echo %s/echo.com < %s", bin, asm_dir, path);
    assert_string_equal(out, "> \n[hi]\n> \n[there]\n> ");
    free(out), free(err);
    rc = rq_test_run(&out, &err, "%s run --target cpm %s/tail.com --stats -x a:b.c", bin, asm_dir);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "11 [ --STATS -X A:B.C]00 |--STATS    |00 |-X         |");
    free(out), free(err);

    // Files in --dir, statistics into a file.
    char dir[4096], stats[4200];
    snprintf(dir, sizeof dir, "%s/files", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    make_files_dir(dir);
    snprintf(stats, sizeof stats, "%s/stats.json", tmp);
    rc = rq_test_run(&out, &err, "%s run --target cpm --dir %s --stats-file %s %s/files.com", bin, dir, stats, asm_dir);
    assert_int_equal(rc, 0);
    assert_string_equal(out, FILES_TRANSCRIPT);
    assert_string_equal(err, "");
    check_files_dir(dir);
    free(out), free(err);
    uint8_t *js;
    size_t jn;
    assert_int_equal(rq_read_file(stats, &js, &jn), RQ_OK);
    j = cJSON_Parse((char *)js);
    assert_non_null(j);
    assert_int_equal((int)cJSON_GetObjectItem(cJSON_GetObjectItem(j, "bdos"), "20")->valuedouble, 8);
    cJSON_Delete(j);
    free(js);

    // The T-state limit: a distinct exit code and a clear message.
    rc = rq_test_run(&out, &err, "%s run --target cpm --max-tstates 1e5 %s/fault.com L", bin, asm_dir);
    assert_int_equal(rc, CPM_EXIT_TLIMIT);
    assert_non_null(strstr(err, "T-state limit of 100000 reached at PC="));
    free(out), free(err);
    rc = rq_test_run(&out, &err, "%s run --target cpm %s/fault.com B", bin, asm_dir);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "unimplemented BDOS function 7"));
    free(out), free(err);

    // --top moves the BDOS: a 48K system still runs hello.
    rc = rq_test_run(&out, &err, "%s run --target cpm --top 0xAC06 %s/hello.com", bin, asm_dir);
    assert_int_equal(rc, 0);
    assert_memory_equal(out, "Hello, CP/M", 11);
    free(out), free(err);

    // Bad .COM files and bad flags: exit 2 with the reason.
    rc = rq_test_run(&out, &err, "%s run --target cpm %s/missing.com", bin, tmp);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "missing.com"));
    free(out), free(err);
    snprintf(path, sizeof path, "%s/empty.com", tmp);
    rq_test_write(path, "");
    rc = rq_test_run(&out, &err, "%s run --target cpm %s", bin, path);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "empty .COM"));
    free(out), free(err);
    snprintf(path, sizeof path, "%s/big.com", tmp);
    uint8_t *big = calloc(60000, 1);
    write_bytes(tmp, "big.com", big, 60000);
    free(big);
    rc = rq_test_run(&out, &err, "%s run --target cpm %s", bin, path);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "1888 bytes over"));
    free(out), free(err);
    rc = rq_test_run(&out, &err, "%s run --target cpm --max-tstates lots %s/hello.com", bin, asm_dir);
    assert_int_equal(rc, 2);
    free(out), free(err);
    rc = rq_test_run(&out, &err, "%s run --target cpm --top 12 %s/hello.com", bin, asm_dir);
    assert_int_equal(rc, 2);
    free(out), free(err);
    rc = rq_test_run(&out, &err, "%s run --target cpm", bin);
    assert_int_equal(rc, 2);
    free(out), free(err);
    rc = rq_test_run(&out, &err, "%s run --target cpm --help", bin);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "--max-tstates"));
    free(out), free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_output),
        cmocka_unit_test(test_tstates_by_hand),
        cmocka_unit_test(test_tstates_vs_listing),
        cmocka_unit_test(test_tstate_limit),
        cmocka_unit_test(test_line_input),
        cmocka_unit_test(test_console_functions),
        cmocka_unit_test(test_console_from_pipe),
        cmocka_unit_test(test_tail_and_fcbs),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_missing_dir_is_runtime_error),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_bdos9_without_terminator),
        cmocka_unit_test(test_load_errors_and_tpa),
        cmocka_unit_test(test_call),
        cmocka_unit_test(test_assembler_errors),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, assemble_all, free_all);
}
