// ps2_build.c: the cross build of the PS2 programs at export time (ps2.h). The sources are the
// repository's (RQ_SOURCE_DIR baked into retroqat, or $RQ_ROOT): infer/, export/rt/, the
// streaming reader export/ps2/lm_stream.c and the machine layer export/ps2/cpu/. No libc: the
// build is freestanding with the few string functions of cpu/libc.c.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "export/ps2/ps2.h"
#include "export/rt_build.h"
#include "qat/model_open.h"

// The PS2 program's own files (rt_build adds the shared program, infer/ and base/crc32.c).
static const char *const LM_SRC[] = {"export/ps2/cpu/start.S", "export/ps2/cpu/rt_ps2.c", "export/ps2/cpu/libc.c",
                                     "export/ps2/cpu/ps2_lm.c", "export/ps2/lm_stream.c", NULL};
static const char *const CHAT_SRC[] = {"export/ps2/cpu/start.S", "export/ps2/cpu/rt_ps2.c", "export/ps2/cpu/libc.c",
                                       "export/ps2/cpu/ps2_chat.c", NULL};

int ps2_build(const char *out, int fast, int chat, size_t arena, size_t stream_buf, long ctx) {
    const char *root = rq_source_dir();
    char inc_libc[1100], ld[1100], def_buf[64], def_ctx[64], gccinc[1024] = "";
    snprintf(inc_libc, sizeof inc_libc, "-I%s/export/ps2/cpu/include", root);
    snprintf(ld, sizeof ld, "-Wl,-T,%s/export/ps2/cpu/link.ld", root);
    snprintf(def_buf, sizeof def_buf, "-DPS2_STREAM_BUF=%zu", stream_buf);
    snprintf(def_ctx, sizeof def_ctx, "-DPS2_CTX=%ld", ctx);
    // gcc's own freestanding headers (stdint.h, stddef.h), never the host's /usr/include
    FILE *p = popen("mipsel-linux-gnu-gcc -print-file-name=include 2>/dev/null", "r");
    if (p) {
        if (fgets(gccinc, sizeof gccinc, p)) gccinc[strcspn(gccinc, "\n")] = 0;
        pclose(p);
    }
    if (gccinc[0] != '/') return rq_fail(RQ_ERUNTIME, "ps2: cannot run mipsel-linux-gnu-gcc (install gcc-mipsel-linux-gnu)");
    const char *cflags[32];
    int n = 0;
    if (fast) cflags[n++] = "-march=mips2", cflags[n++] = "-mtune=r5900", cflags[n++] = "-DPS2_QEMU";
    else cflags[n++] = "-march=r5900";
    const char *common[] = {"-mabi=32", "-msoft-float", "-mno-abicalls", "-fno-pic", "-G0", "-ffreestanding", "-fno-builtin",
                            "-nostdlib", "-nostdinc", "-static", "-O2", "-ffunction-sections", "-fdata-sections", "-isystem", gccinc,
                            inc_libc, NULL};
    for (int i = 0; common[i]; i++) cflags[n++] = common[i];
    cflags[n] = NULL;
    const char *ldflags[] = {"-Wl,--gc-sections", fast ? "-Wl,-e,_start" : ld, "-lgcc", NULL};
    const char *defines[] = {def_buf, def_ctx, NULL};
    rq_rt_build b = {.cc = "mipsel-linux-gnu-gcc", .cflags = cflags, .sources = chat ? CHAT_SRC : LM_SRC, .ldflags = ldflags,
                     .family = chat ? RQ_FAM_CHAT : RQ_FAM_LM, .arena_bytes = arena, .defines = defines, .out = out};
    return rq_rt_build_run(&b);
}

size_t ps2_program_bytes(const char *elf, size_t arena) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mipsel-linux-gnu-nm '%s' 2>/dev/null", elf);
    FILE *p = popen(cmd, "r");
    if (!p) return 0;
    char line[256];
    unsigned long top = 0;
    while (fgets(line, sizeof line, p)) {
        unsigned long a;
        char t, name[200];
        if (sscanf(line, "%lx %c %199s", &a, &t, name) == 3 && strcmp(name, "_stack_top") == 0) top = a & 0xFFFFFFFFul;  // nm prints kseg0 sign-extended
    }
    pclose(p);
    return top > 0x80020000ul + arena ? top - 0x80020000ul - arena : 0;
}
