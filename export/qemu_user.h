// qemu_user.h: what the C-built targets that run as Linux processes share (ColdFire and PowerPC
// today; the PS2's qemu substitute later): building the target program with the cross compiler
// at export time, the static ISA check, and running the program under qemu-user with the
// instruction-count plugin (emu/qemu_insn/insn_count.c).
//
// A target describes its CPU in one qu_cpu; the program is the shared one of export/rt/
// (rt_lm_main / rt_chat_main over rt.h, export/rt_build.h) with the Linux machine services of
// export/rt/rt_linux.c, plus the target's start-up, system calls and kernels in export/NAME/cpu/,
// compiled freestanding with RT_ARENA_BYTES chosen at export time.
#ifndef RQ_EXPORT_QEMU_USER_H
#define RQ_EXPORT_QEMU_USER_H

#include <stddef.h>
#include <stdint.h>

#include "export/proc.h"
#include "qat/model_open.h"

typedef struct {
    const char *cc;                 // "m68k-linux-gnu-gcc"
    const char *const *cflags;      // CPU flags: {"-mcpu=5307", NULL}
    const char *const *sources;     // start-up, system calls, kernels (relative to the source dir;
                                    // with export/rt/rt_linux.c and export/rt/mem.c)
    const char *const *replaces;    // infer/ files that sources wrap (e.g. infer/lm_ops.c), or NULL
    const char *const *libs;        // after the sources: {"-lgcc", NULL}, or NULL for none
    const char *nm, *objdump;       // "m68k-linux-gnu-nm", "m68k-linux-gnu-objdump"
    const char *isa_opt[3];         // objdump options of the ISA check: {"-m", "m68k:5307"}
    const char *isa_bad;            // what objdump prints for a word it cannot decode (".short")
    const char *qemu, *qemu_cpu;    // "qemu-m68k", "m5206"
} qu_cpu;

// Build the program of family (RQ_FAM_LM / RQ_FAM_CHAT) for cpu into out_bin (export/rt_build.h),
// freestanding, with RT_ARENA_BYTES = arena and the extra -D defines (NULL terminated, or NULL;
// -DRT_ENTRY=f runs a target's wrapper f instead of the program). RQ_ERUNTIME with the
// compiler's messages when it fails.
int qu_build(const qu_cpu *cpu, int family, size_t arena, const char *const *defines, const char *out_bin);
// Address of symbol sym in bin (nm), 0 when absent.
uint32_t qu_symbol(const qu_cpu *cpu, const char *bin, const char *sym);
// Bytes the program occupies when loaded: the sizes of its loadable segments (text, data, bss)
// in the ELF program headers; -1 when bin is not a readable ELF32.
long qu_image_bytes(const char *bin);
// The ISA check: how many words `objdump -d ISA_OPT` cannot decode as this CPU's instructions
// (0 for a good build); -1 when objdump could not run.
long qu_isa_check(const qu_cpu *cpu, const char *bin);

// One run of a program under qemu-user with the counting plugin.
#define QU_MAX_MARKS 4
typedef struct {
    const char *bin;                // the program (absolute, or relative to cwd)
    const char *const *args;        // its arguments after argv[0], NULL terminated
    const char *cwd;                // its working directory
    const void *in;                 // stdin bytes
    size_t in_len;
    double timeout;
    int n_marks;
    uint32_t marks[QU_MAX_MARKS];   // addresses whose first execution and call count are reported
} qu_run;

typedef struct {
    rq_proc_result p;               // exit code, captured stdout / stderr
    int counted;                    // the plugin ran and reported
    uint64_t insns;
    uint64_t mark_first[QU_MAX_MARKS], mark_calls[QU_MAX_MARKS];
} qu_result;

// The plugin: $RQ_QEMU_PLUGIN, else qemu_insn.so next to the running executable or one folder
// up (build/retroqat, build/tests/test_*). NULL when not built.
const char *qu_plugin_path(void);
// Run it. 0 when qemu ran (the program's exit code is in r->p.exit_code), RQ_ERUNTIME when it
// could not be started or the plugin is missing.
int qu_run_program(const qu_cpu *cpu, const qu_run *run, qu_result *r);
void qu_result_free(qu_result *r);

#endif
