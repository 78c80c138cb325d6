// coldfire.c: the ColdFire MCF5307 target (the published RTOS port's CPU: no FPU, no 64-bit
// multiply; ISA_A). The shared program of export/rt/ is built freestanding with
// `m68k-linux-gnu-gcc -mcpu=5307` around our start-up and Linux m68k system calls
// (export/coldfire/cpu/), with the matrix-vector products in hand-written ISA_A assembly
// (cpu/matvec.S), and runs under `qemu-m68k -cpu m5206`, qemu's strict ISA_A model. The export
// fails when objdump finds a word that is not a 5307 instruction. Flow: export/qemu_target.h.
#include "export/qemu_target.h"

// No jump tables: m68k gcc puts them inline in .text, where the ISA check would read their
// offsets as undecodable words.
static const char *const CFLAGS[] = {"-mcpu=5307", "-fno-jump-tables", NULL};
static const char *const SOURCES[] = {"export/coldfire/cpu/crt0.S", "export/coldfire/cpu/sys.c", "export/coldfire/cpu/ops.c",
                                      "export/coldfire/cpu/matvec.S", "export/coldfire/cpu/muldi3.c", "export/rt/rt_linux.c",
                                      "export/rt/mem.c", NULL};
static const char *const REPLACES[] = {"infer/lm_ops.c", NULL};  // cpu/ops.c includes it, matvec renamed

// Not static: tests/test_target_qemu.c builds its kernel check and plugin loop with it.
const qt_target qt_coldfire = {
    .name = "coldfire",
    .title = "ColdFire MCF5307",
    .cpu = {.cc = "m68k-linux-gnu-gcc", .cflags = CFLAGS, .sources = SOURCES, .replaces = REPLACES, .libs = NULL,
            .nm = "m68k-linux-gnu-nm", .objdump = "m68k-linux-gnu-objdump", .isa_opt = {"-m", "m68k:5307"}, .isa_bad = ".short",
            .qemu = "qemu-m68k", .qemu_cpu = "m5206"},
    .big_endian = 1,
    .default_ram = 16L << 20,
    .lm_entry = NULL,
    .readme = "The program is a static ELF for Linux on ColdFire (uClinux / m68k Linux with an ISA_A user\n"
              "space): it makes only the read, write, open, close and exit_group system calls (trap #0), and\n"
              "contains no instruction outside ISA_A (objdump -d -m m68k:5307 finds none it cannot decode).\n"
              "Copy the folder to the board and run it from the folder. On a board without Linux, keep\n"
              "export/rt/ and infer/ as they are and replace export/coldfire/cpu/crt0.S and sys.c with the\n"
              "board's start-up and console (rt_sys_read/write/open/close/exit in export/rt/rt_sys.h).\n"
              "No floating point and no 64-bit multiply are used; the MCF5307's divider is not needed.",
};

static const rq_tflag EXPORT_FLAGS[] = {QT_EXPORT_FLAGS, {NULL, NULL, NULL}};

static int cf_export(const rq_model *m, const rq_export_opts *o) { return qt_export(&qt_coldfire, EXPORT_FLAGS, m, o); }
static int cf_run(const char *dir, const rq_run_opts *o, rq_run_result *r) { return qt_run(&qt_coldfire, dir, o, 0, r); }

static const char *const EXPORT_TOOLS[] = {"m68k-linux-gnu-gcc", "m68k-linux-gnu-nm", "m68k-linux-gnu-objdump", NULL};
static const char *const RUN_TOOLS[] = {"qemu-m68k", NULL};

const rq_target rq_target_coldfire = {
    .name = "coldfire",
    .cpu = "Freescale ColdFire MCF5307 (ISA_A)",
    .machine = "ColdFire board with Linux, 16 MB",
    .clock_hz = 90000000,
    .families = RQ_FAM_CHAT | RQ_FAM_LM,
    .lm_weights = RQ_LMW_ALL,
    .artefact = RQ_TARGET_ARTEFACT_DIR,
    .artefacts = "DIR/{lm, MODEL.RQM, TOK.RQT | chat, MODEL.RQI}, README.md (big-endian images)",
    .emulator = "qemu-m68k -cpu m5206 (strict ISA_A) with the instruction-count plugin",
    .summary = "ColdFire MCF5307: the shared C program, ISA_A assembly matvec, big-endian images",
    .export_flags = EXPORT_FLAGS,
    .run_flags = NULL,
    .export_tools = EXPORT_TOOLS,
    .run_tools = RUN_TOOLS,
    .args_after_artefact = 0,
    .export_fn = cf_export,
    .run_fn = cf_run,
};
