// qemu_user.c: build, check and run the C-built targets' programs (qemu_user.h).
#include "export/qemu_user.h"

#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/binio.h"
#include "base/endian.h"
#include "base/err.h"
#include "export/rt_build.h"

// Freestanding: the cross compiler's own stdint.h / stddef.h, export/rt/include's string.h, no C
// library (none of these toolchains has a usable one); sections per function so that the linker
// drops what the program does not call.
static const char *const FREESTANDING[] = {"-O2", "-ffreestanding", "-nostdlib", "-nostdinc", "-static",
                                           "-fno-tree-loop-distribute-patterns", "-ffunction-sections",
                                           "-fdata-sections", "-Wl,--gc-sections", "-Wall", "-Wextra", NULL};

int qu_build(const qu_cpu *cpu, int family, size_t arena, const char *const *defines, const char *out_bin) {
    char gcc_inc[4200], rt_inc[4200];
    const char *pa[] = {cpu->cc, "-print-file-name=include", NULL};
    rq_proc p = {.argv = pa, .timeout = 30};
    rq_proc_result r;
    if (rq_proc_run(&p, &r)) return RQ_ERUNTIME;
    size_t k = r.out_len;
    while (k && r.out[k - 1] == '\n') k--;
    snprintf(gcc_inc, sizeof gcc_inc, "-isystem%.*s", (int)k, r.out);
    int bad = r.exit_code != 0;
    rq_proc_result_free(&r);
    if (bad) return rq_fail(RQ_ERUNTIME, "%s -print-file-name=include failed", cpu->cc);
    snprintf(rt_inc, sizeof rt_inc, "-isystem%s/export/rt/include", rq_source_dir());
    const char *cflags[48];
    int n = 0;
    for (int i = 0; cpu->cflags[i] && n < 16; i++) cflags[n++] = cpu->cflags[i];
    for (int i = 0; FREESTANDING[i]; i++) cflags[n++] = FREESTANDING[i];
    cflags[n++] = gcc_inc, cflags[n++] = rt_inc, cflags[n] = NULL;
    rq_rt_build b = {.cc = cpu->cc, .cflags = cflags, .sources = cpu->sources, .replaces = cpu->replaces,
                     .ldflags = cpu->libs, .family = family, .arena_bytes = arena, .defines = defines, .out = out_bin};
    return rq_rt_build_run(&b);
}

// Run a binutils tool on bin and return its stdout (malloc'd), NULL on failure.
static char *tool_output(const char *const *argv) {
    rq_proc p = {.argv = argv, .timeout = 60};
    rq_proc_result r;
    if (rq_proc_run(&p, &r)) return NULL;
    char *out = r.exit_code == 0 ? r.out : NULL;
    if (!out) free(r.out);
    free(r.err);
    return out;
}

uint32_t qu_symbol(const qu_cpu *cpu, const char *bin, const char *sym) {
    const char *argv[] = {cpu->nm, bin, NULL};
    char *out = tool_output(argv);
    uint32_t addr = 0;
    for (char *line = out ? strtok(out, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        unsigned long a;
        char type, name[256];
        if (sscanf(line, "%lx %c %255s", &a, &type, name) == 3 && strcmp(name, sym) == 0) {
            addr = (uint32_t)a;
            break;
        }
    }
    free(out);
    return addr;
}

long qu_image_bytes(const char *bin) {
    // ELF32 program headers: the memory sizes of the PT_LOAD segments (memsz includes .bss, where
    // the arena is; the page-alignment gaps between segments are not counted)
    uint8_t *d;
    size_t n;
    if (rq_read_file(bin, &d, &n)) return -1;
    long bytes = -1;
    if (n >= 52 && memcmp(d, "\177ELF", 4) == 0 && d[4] == 1 && (d[5] == 1 || d[5] == 2)) {
        int be = d[5] == 2;
        uint32_t phoff = be ? rq_rd_u32be(d + 28) : rq_rd_u32le(d + 28);
        unsigned phent = be ? rq_rd_u16be(d + 42) : rq_rd_u16le(d + 42), phnum = be ? rq_rd_u16be(d + 44) : rq_rd_u16le(d + 44);
        uint64_t sum = 0;
        for (unsigned i = 0; i < phnum && phent >= 32 && (uint64_t)phoff + (uint64_t)(i + 1) * phent <= n; i++) {
            const uint8_t *p = d + phoff + (size_t)i * phent;
            uint32_t type = be ? rq_rd_u32be(p) : rq_rd_u32le(p), memsz = be ? rq_rd_u32be(p + 20) : rq_rd_u32le(p + 20);
            if (type == 1) sum += memsz;  // PT_LOAD
        }
        if (sum) bytes = (long)sum;
    }
    free(d);
    return bytes;
}

long qu_isa_check(const qu_cpu *cpu, const char *bin) {
    const char *argv[] = {cpu->objdump, "-d", cpu->isa_opt[0], cpu->isa_opt[1], bin, NULL};
    char *out = tool_output(argv);
    if (!out) return -1;
    long bad = 0;
    for (char *s = out; (s = strstr(s, cpu->isa_bad)); s += strlen(cpu->isa_bad)) bad++;
    free(out);
    return bad;
}

const char *qu_plugin_path(void) {
    static char path[4200];
    const char *env = getenv("RQ_QEMU_PLUGIN");
    if (env && *env) return access(env, R_OK) == 0 ? env : NULL;
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) return NULL;
    exe[k] = 0;
    char *dir = dirname(exe);
    snprintf(path, sizeof path, "%s/qemu_insn.so", dir);
    if (access(path, R_OK) == 0) return path;
    snprintf(path, sizeof path, "%s/../qemu_insn.so", dir);
    if (access(path, R_OK) == 0) return path;
    return NULL;
}

// The plugin's report (insn_count.c): "insns N" and "mark ADDR first F calls C" lines.
static void parse_log(const char *text, const qu_run *run, qu_result *r) {
    for (const char *s = text; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL) {
        uint64_t v, first, calls, addr;
        if (sscanf(s, "insns %" SCNu64, &v) == 1) r->insns = v, r->counted = 1;
        else if (sscanf(s, "mark %" SCNx64 " first %" SCNu64 " calls %" SCNu64, &addr, &first, &calls) == 3)
            for (int k = 0; k < run->n_marks; k++)
                if (run->marks[k] == addr) r->mark_first[k] = first, r->mark_calls[k] = calls;
    }
}

int qu_run_program(const qu_cpu *cpu, const qu_run *run, qu_result *r) {
    memset(r, 0, sizeof *r);
    const char *plugin = qu_plugin_path();
    if (!plugin)
        return rq_fail(RQ_ERUNTIME, "the instruction-count plugin qemu_insn.so is not built (make; or set RQ_QEMU_PLUGIN)");
    char log[] = "/tmp/rq_qemu_logXXXXXX";
    int fd = mkstemp(log);
    if (fd < 0) return rq_fail(RQ_ERUNTIME, "cannot create a temporary file for qemu's log");
    close(fd);
    char plug[4400];
    int m = snprintf(plug, sizeof plug, "%s", plugin);
    for (int k = 0; k < run->n_marks; k++) m += snprintf(plug + m, sizeof plug - (size_t)m, ",mark=%" PRIx32, run->marks[k]);
    const char *argv[64];
    int n = 0;
    argv[n++] = cpu->qemu, argv[n++] = "-cpu", argv[n++] = cpu->qemu_cpu;
    argv[n++] = "-d", argv[n++] = "plugin", argv[n++] = "-D", argv[n++] = log, argv[n++] = "-plugin", argv[n++] = plug;
    argv[n++] = run->bin;
    for (int i = 0; run->args && run->args[i] && n < 63; i++) argv[n++] = run->args[i];
    argv[n] = NULL;
    rq_proc p = {.argv = argv, .cwd = run->cwd, .in = run->in, .in_len = run->in_len, .timeout = run->timeout};
    int rc = rq_proc_run(&p, &r->p);
    if (!rc) {
        FILE *f = fopen(log, "r");
        if (f) {
            char buf[4096];
            size_t k = fread(buf, 1, sizeof buf - 1, f);
            buf[k] = 0;
            fclose(f);
            parse_log(buf, run, r);
        }
    }
    unlink(log);
    return rc;
}

void qu_result_free(qu_result *r) { rq_proc_result_free(&r->p); }
