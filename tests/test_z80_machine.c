// test_z80_machine.c: the Z80 machine without an OS (emu/z80_machine.h), on hand-assembled code:
// exact T-states, the OS hooks (traps, ports, the stop hook), write protection, the test ports,
// the watch point and subroutine calls. The CP/M tests (test_cpm_emu.c) cover it with an OS.
#include "tests/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "emu/z80_machine.h"

static const uint8_t PROG[] = {
    0x3E, 0x42,        // 0000 LD A,42h        7 T
    0xD3, 0xFE,        // 0002 OUT (FEh),A    11 T  (port 42FEh)
    0xDB, 0x10,        // 0004 IN A,(10h)     11 T  (port 4210h), A = 99h from the hook
    0x32, 0x00, 0x80,  // 0006 LD (8000h),A   13 T
    0x32, 0x00, 0xC0,  // 0009 LD (C000h),A   13 T
    0x76,              // 000C HALT (trapped: the "OS" ends the run here)
};

typedef struct {
    uint16_t out_port, in_port;
    uint8_t out_val;
    int outs, ins, stops, watched;
} hooks;

static void on_trap(z80_machine *z, uint16_t pc, void *ud) {
    (void)ud;
    z80m_end(z, 1, pc);  // an OS-defined end, exit code = where
}
static uint8_t on_in(z80_machine *z, uint16_t port, void *ud) {
    (void)z;
    hooks *h = ud;
    h->in_port = port, h->ins++;
    return 0x99;
}
static void on_out(z80_machine *z, uint16_t port, uint8_t v, void *ud) {
    (void)z;
    hooks *h = ud;
    h->out_port = port, h->out_val = v, h->outs++;
}
static void on_stop(z80_machine *z, void *ud) {
    (void)z;
    ((hooks *)ud)->stops++;
}
static void on_watch(z80_machine *z, void *ud) {
    (void)z;
    ((hooks *)ud)->watched++;
}

static z80_machine *machine(hooks *h, int test_ports, uint16_t ro_from) {
    z80_machine *z = calloc(1, sizeof *z);
    assert_int_equal(z80m_init(z), 0);
    memcpy(z->mem, PROG, sizeof PROG);
    z->max_tstates = 1000000;
    z->test_ports = test_ports, z->ro_from = ro_from, z->ro_name = "ROM";
    z->trap_fn = on_trap, z->port_in = on_in, z->port_out = on_out, z->on_stop = on_stop, z->ud = h;
    z80m_trap(z, 0x000C);
    z80m_set_watch(z, 0x0006, on_watch, h);
    return z;
}

static void done(z80_machine *z) {
    z80m_free(z);
    free(z);
}

static void test_hooks_and_tstates(void **state) {
    (void)state;
    hooks h = {0};
    z80_machine *z = machine(&h, 0, 0);
    assert_int_equal(z80m_run(z), RQ_OK);
    assert_int_equal(z->end, 1);
    assert_int_equal(z->exit_code, 0x0C);
    assert_int_equal(z->tstates, 7 + 11 + 11 + 13 + 13);
    assert_int_equal(h.outs, 1);
    assert_int_equal(h.out_port, 0x42FE);  // OUT (n),A puts A on the high address byte
    assert_int_equal(h.out_val, 0x42);
    assert_int_equal(h.ins, 1);
    assert_int_equal(h.in_port, 0x4210);
    assert_int_equal(z->mem[0x8000], 0x99);
    assert_int_equal(z->mem[0xC000], 0x99);
    assert_int_equal(h.stops, 1);
    assert_int_equal(h.watched, 1);
    done(z);
}

static void test_protection(void **state) {
    (void)state;
    hooks h = {0};
    z80_machine *z = machine(&h, 0, 0xC000);
    assert_int_equal(z80m_run(z), RQ_ERUNTIME);
    assert_int_equal(z->end, Z80M_END_ERROR);
    assert_int_equal(z->mem[0xC000], 0);
    assert_non_null(strstr(z->err, "write to C000h (ROM at or above C000h) by the instruction at 0009h"));
    done(z);
}

static void test_test_ports_and_limit(void **state) {
    (void)state;
    hooks h = {0};
    z80_machine *z = machine(&h, 1, 0);
    assert_int_equal(z80m_run(z), RQ_OK);
    assert_int_equal(z->end, Z80M_END_EXIT);
    assert_int_equal(z->exit_code, 0x42);
    assert_int_equal(h.outs, 0);  // the exit port is the machine's, not the OS's
    assert_int_equal(z->tstates, 7 + 11);
    done(z);
    // The T-state limit stops at the first boundary at or past it; a higher one continues.
    z = machine(&h, 0, 0);
    z->max_tstates = 10;
    assert_int_equal(z80m_run(z), RQ_ERUNTIME);
    assert_int_equal(z->end, Z80M_END_TLIMIT);
    assert_int_equal(z->exit_code, Z80M_EXIT_TLIMIT);
    assert_int_equal(z->tstates, 7 + 11);
    z->max_tstates = 1000;
    assert_int_equal(z80m_run(z), RQ_OK);
    assert_int_equal(z->end, 1);
    assert_int_equal(z->tstates, 55);
    done(z);
}

static void test_call(void **state) {
    (void)state;
    hooks h = {0};
    z80_machine *z = machine(&h, 1, 0xF000);
    z->mem[0x100] = 0x00, z->mem[0x101] = 0xC9;  // NOP; RET
    z80ex_set_reg(z->cpu, regSP, 0xE000);
    uint64_t t;
    assert_int_equal(z80m_call(z, 0x100, 0x0050, &t), RQ_OK);
    assert_int_equal(t, 4 + 10);
    assert_int_equal(z->end, Z80M_END_NONE);
    assert_int_equal(z80ex_get_reg(z->cpu, regSP), 0xE000);
    assert_int_equal(z80m_call(z, 0x100, 0x0050, &t), RQ_OK);  // ready for the next call
    // A stack that would push into the protected area is refused.
    z80ex_set_reg(z->cpu, regSP, 0xF001);
    assert_int_equal(z80m_call(z, 0x100, 0x0050, &t), RQ_ERUNTIME);
    assert_non_null(strstr(z->err, "would push into the ROM"));
    done(z);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hooks_and_tstates),
        cmocka_unit_test(test_protection),
        cmocka_unit_test(test_test_ports_and_limit),
        cmocka_unit_test(test_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
