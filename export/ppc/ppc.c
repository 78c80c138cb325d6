// ppc.c: the PowerPC 750 target (the iMac G3's CPU, big-endian). The shared program of export/rt/
// is built freestanding with `powerpc-linux-gnu-gcc -mcpu=750` around our start-up and Linux
// PowerPC system calls (export/ppc/cpu/), with matrix-vector products shaped for gcc on this CPU
// (cpu/ops.c), and runs under `qemu-ppc -cpu 750`. Its default usage is the published port's:
// without -i the prompt comes from prompt.txt and the text is appended to output.txt
// (cpu/files.c); `retroqat run --target ppc DIR --files` uses that mode. Images are exported
// big-endian and a little-endian one is refused by the program (not converted): the folder is
// always written for this CPU, so another order means a file from another target's folder.
// The ISA check disassembles with `objdump -M 603` (the 750's user instruction set: 32-bit
// PowerPC with FPU, no AltiVec); an undecodable word shows as ".long".
// Everything is static, sized at export for the model, and must fit --ram (default 8 MB, a small
// fixed memory partition): export refuses a bigger model with the shortfall in bytes.
#include "export/qemu_target.h"

static const char *const CFLAGS[] = {"-mcpu=750", NULL};
static const char *const SOURCES[] = {"export/ppc/cpu/crt0.S", "export/ppc/cpu/sys.c", "export/ppc/cpu/ops.c",
                                      "export/ppc/cpu/files.c", "export/rt/rt_linux.c", "export/rt/mem.c", NULL};
static const char *const REPLACES[] = {"infer/lm_ops.c", NULL};  // cpu/ops.c includes it, matvec renamed
static const char *const LIBS[] = {"-lgcc", NULL};

// Not static: tests/test_target_qemu.c builds its kernel check and plugin loop with it.
const qt_target qt_ppc = {
    .name = "ppc",
    .title = "PowerPC 750",
    .cpu = {.cc = "powerpc-linux-gnu-gcc", .cflags = CFLAGS, .sources = SOURCES, .replaces = REPLACES, .libs = LIBS,
            .nm = "powerpc-linux-gnu-nm", .objdump = "powerpc-linux-gnu-objdump", .isa_opt = {"-M", "603"},
            .isa_bad = ".long", .qemu = "qemu-ppc", .qemu_cpu = "750"},
    .big_endian = 1,
    .default_ram = 8L << 20,
    .lm_entry = "rt_ppc_files_main",
    .readme = "The program is a static ELF for Linux on PowerPC (e.g. Debian powerpc on an iMac G3): it makes\n"
              "only the read, write, open, close and exit_group system calls and needs no C library. Like the\n"
              "published iMac G3 port, started without -i it reads the prompt from `prompt.txt` in the current\n"
              "folder and appends what it prints (the prompt's text and the continuation, then a newline) to\n"
              "`output.txt`, besides the console:\n\n"
              "    echo \"Once upon a time\" > prompt.txt && ./lm && cat output.txt\n\n"
              "With -i it prints to the console only. Images are big-endian; a little-endian image (from\n"
              "another target's folder) is refused with a message, not converted. For Mac OS 9, keep\n"
              "export/rt/ and infer/ and replace export/ppc/cpu/crt0.S and sys.c with the Toolbox's file and\n"
              "console calls (export/rt/rt_sys.h).",
};

static const rq_tflag EXPORT_FLAGS[] = {QT_EXPORT_FLAGS, {NULL, NULL, NULL}};
static const rq_tflag RUN_FLAGS[] = {
    {"--files", NULL, "the published port's usage: the prompt via DIR/prompt.txt, the text appended to DIR/output.txt"},
    {NULL, NULL, NULL},
};

static int ppc_export(const rq_model *m, const rq_export_opts *o) { return qt_export(&qt_ppc, EXPORT_FLAGS, m, o); }
static int ppc_run(const char *dir, const rq_run_opts *o, rq_run_result *r) {
    return qt_run(&qt_ppc, dir, o, rq_tflag_get(RUN_FLAGS, o->flag, "--files") != NULL, r);
}

static const char *const EXPORT_TOOLS[] = {"powerpc-linux-gnu-gcc", "powerpc-linux-gnu-nm", "powerpc-linux-gnu-objdump", NULL};
static const char *const RUN_TOOLS[] = {"qemu-ppc", NULL};

const rq_target rq_target_ppc = {
    .name = "ppc",
    .cpu = "IBM/Motorola PowerPC 750 (G3)",
    .machine = "iMac G3 with Linux, an 8 MB partition",
    .clock_hz = 233000000,
    .families = RQ_FAM_CHAT | RQ_FAM_LM,
    .lm_weights = RQ_LMW_ALL,
    .artefact = RQ_TARGET_ARTEFACT_DIR,
    .artefacts = "DIR/{lm, MODEL.RQM, TOK.RQT | chat, MODEL.RQI}, README.md (big-endian images)",
    .emulator = "qemu-ppc -cpu 750 with the instruction-count plugin",
    .summary = "PowerPC 750 (iMac G3): the shared C program, prompt.txt -> output.txt, static memory in --ram",
    .export_flags = EXPORT_FLAGS,
    .run_flags = RUN_FLAGS,
    .export_tools = EXPORT_TOOLS,
    .run_tools = RUN_TOOLS,
    .args_after_artefact = 0,
    .export_fn = ppc_export,
    .run_fn = ppc_run,
};
