// insn_count.c: a qemu TCG plugin (qemu-user, plugin API version 1) that counts executed guest
// instructions: the coldfire and ppc targets' `--stats`, and any other qemu-user target.
//
//   qemu-CPU -d plugin -D LOG -plugin insn_count.so[,mark=HEX][,mark=HEX]... PROGRAM ARGS
//
// At exit it writes to qemu's log (LOG; output appears only with -d plugin):
//   insns TOTAL
//   mark ADDR first FIRST calls CALLS     for each mark=ADDR: the instruction count when the
//                                         instruction at ADDR first ran, and how often it ran
// The count is exact per translation block: each block adds its instruction count when it starts
// executing (an inline add, no callback), so a block left early by a fault would be counted whole;
// the programs measured here leave blocks only at their ends (branches, syscalls). FIRST counts
// the instructions executed before the marked one. Marks are function entry points (the exporter looks them up with nm):
// "instructions before the first forward" separates start-up from per-token work.
//
// Debian ships no qemu-plugin.h, so the few functions and types used are declared here exactly
// as qemu 7.2's include/qemu/qemu-plugin.h declares them (API version 1).
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- qemu-plugin.h, API version 1 (the subset used) --------------------------------------------
typedef uint64_t qemu_plugin_id_t;
typedef struct {
    const char *target_name;
    struct {
        int min, cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus, max_vcpus;
        } system;
    };
} qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op, void *ptr,
                                                uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);
#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
QEMU_PLUGIN_EXPORT int qemu_plugin_version = 1;
// -------------------------------------------------------------------------------------------------

#define MAX_MARKS 8

typedef struct {
    uint64_t addr, first, calls;
} mark;

// qemu-user runs one vCPU per guest thread; the programs measured are single-threaded.
static uint64_t insns;
static mark marks[MAX_MARKS];
static int n_marks;

// udata = mark index << 16 | instructions of the block from the marked one to the block's end
// (already added by the block's inline count, so subtracted: FIRST is exact).
static void on_mark(unsigned int vcpu, void *udata) {
    (void)vcpu;
    uintptr_t u = (uintptr_t)udata;
    mark *m = &marks[u >> 16];
    if (m->calls++ == 0) m->first = insns - (u & 0xFFFF);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insns, n);
    for (size_t i = 0; i < n && n_marks; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t va = qemu_plugin_insn_vaddr(insn);
        for (int k = 0; k < n_marks; k++)
            if (marks[k].addr == va)
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS,
                                                       (void *)(((uintptr_t)k << 16) | (n - i)));
    }
}

static void at_exit(qemu_plugin_id_t id, void *udata) {
    (void)id, (void)udata;
    char line[128];
    snprintf(line, sizeof line, "insns %" PRIu64 "\n", insns);
    qemu_plugin_outs(line);
    for (int k = 0; k < n_marks; k++) {
        snprintf(line, sizeof line, "mark %" PRIx64 " first %" PRIu64 " calls %" PRIu64 "\n", marks[k].addr,
                 marks[k].first, marks[k].calls);
        qemu_plugin_outs(line);
    }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; i++) {
        char *end;
        if (strncmp(argv[i], "mark=", 5) != 0 || n_marks == MAX_MARKS) goto bad;
        marks[n_marks].addr = strtoull(argv[i] + 5, &end, 16);
        if (end == argv[i] + 5 || *end) goto bad;
        n_marks++;
        continue;
    bad:
        fprintf(stderr, "insn_count: bad argument '%s' (mark=HEXADDR, at most %d)\n", argv[i], MAX_MARKS);
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
