// qemu_user.c: build, check and run the C-built targets' programs (qemu_user.h).
#include "export/qemu_user.h"

#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"

const char *qu_source_dir(void) {
    const char *r = getenv("RQ_ROOT");
    return r && *r ? r : RQ_SOURCE_DIR;
}

// Every source of the program, relative to the source dir: the runtime over rt.h, the contract of
// infer/ (minus what the CPU folder replaces), then the CPU's own files. The linker's section
// garbage collection drops what one family does not call.
static const char *const COMMON_SRCS[] = {
    "export/rt/rt_linux.c", "export/rt/mem.c",     "export/rt/arena.c",     "export/rt/lm_main.c",
    "export/rt/chat_main.c", "base/crc32.c",       "infer/ierr.c",          "infer/lm_gen.c",
    "infer/lm_tok.c",       "infer/lm_image.c",    "infer/lm_kernel.c",     "infer/lm_ops.c",
    "infer/chat_kernel.c",  "infer/chat_image.c",  NULL,
};

static int replaced(const qu_cpu *cpu, const char *src) {
    for (int i = 0; cpu->replaces && cpu->replaces[i]; i++)
        if (strcmp(cpu->replaces[i], src) == 0) return 1;
    return 0;
}

static char *src_path(const char *rel) {
    const char *root = qu_source_dir();
    char *p = rq_malloc(strlen(root) + strlen(rel) + 2);
    sprintf(p, "%s/%s", root, rel);
    return p;
}

int qu_build(const qu_cpu *cpu, const char *main_fn, size_t arena, const char *const *defines, const char *out_bin) {
    const char *root = qu_source_dir();
    const char *argv[96];
    char *owned[64];
    int n = 0, no = 0;
    argv[n++] = cpu->cc;
    for (int i = 0; cpu->cflags[i]; i++) argv[n++] = cpu->cflags[i];
    // freestanding: the cross compilers' own stdint.h/stddef.h, our string.h, no C library
    static const char *const FLAGS[] = {"-O2", "-ffreestanding", "-nostdlib", "-nostdinc", "-static",
                                        "-fno-tree-loop-distribute-patterns", "-ffunction-sections",
                                        "-fdata-sections", "-Wl,--gc-sections", "-Wall", "-Wextra", NULL};
    for (int i = 0; FLAGS[i]; i++) argv[n++] = FLAGS[i];
    char gcc_inc[600], rt_inc[600], root_inc[600], arena_def[64], main_def[64];
    {
        const char *pa[] = {cpu->cc, "-print-file-name=include", NULL};
        rq_proc p = {.argv = pa, .timeout = 30};
        rq_proc_result r;
        if (rq_proc_run(&p, &r)) return RQ_ERUNTIME;
        size_t k = r.out_len;
        while (k && (r.out[k - 1] == '\n')) k--;
        snprintf(gcc_inc, sizeof gcc_inc, "-isystem%.*s", (int)k, r.out);
        int bad = r.exit_code != 0;
        rq_proc_result_free(&r);
        if (bad) return rq_fail(RQ_ERUNTIME, "%s -print-file-name=include failed", cpu->cc);
    }
    snprintf(rt_inc, sizeof rt_inc, "-isystem%s/export/rt/include", root);
    snprintf(root_inc, sizeof root_inc, "-I%s", root);
    snprintf(arena_def, sizeof arena_def, "-DRT_ARENA_BYTES=%zu", arena);
    snprintf(main_def, sizeof main_def, "-DRT_MAIN=%s", main_fn);
    argv[n++] = gcc_inc, argv[n++] = rt_inc, argv[n++] = root_inc, argv[n++] = arena_def, argv[n++] = main_def;
    for (int i = 0; defines && defines[i]; i++) argv[n++] = defines[i];
    argv[n++] = "-o", argv[n++] = out_bin;
    for (int i = 0; COMMON_SRCS[i]; i++)
        if (!replaced(cpu, COMMON_SRCS[i])) argv[n++] = owned[no++] = src_path(COMMON_SRCS[i]);
    // the chat encoder: infer/ once the contract moved there, data/ before
    char *enc = src_path("infer/chat_encode.c");
    if (access(enc, R_OK) != 0) free(enc), enc = src_path("data/chat_encode.c");
    argv[n++] = owned[no++] = enc;
    for (int i = 0; cpu->cpu_srcs[i]; i++) argv[n++] = owned[no++] = src_path(cpu->cpu_srcs[i]);
    for (int i = 0; cpu->libs && cpu->libs[i]; i++) argv[n++] = cpu->libs[i];
    argv[n] = NULL;

    rq_proc p = {.argv = argv, .timeout = 300, .merge_stderr = 1};
    rq_proc_result r;
    int rc = rq_proc_run(&p, &r);
    for (int i = 0; i < no; i++) free(owned[i]);
    if (rc) return rc;
    if (r.exit_code != 0) rc = rq_fail(RQ_ERUNTIME, "%s failed (exit %d) building %s:\n%s", cpu->cc, r.exit_code, out_bin, r.out);
    rq_proc_result_free(&r);
    return rc;
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

long qu_image_span(const qu_cpu *cpu, const char *bin) {
    uint32_t start = qu_symbol(cpu, bin, "__executable_start"), end = qu_symbol(cpu, bin, "_end");
    return start && end > start ? (long)(end - start) : -1;
}

long qu_isa_check(const qu_cpu *cpu, const char *bin) {
    const char *argv[] = {cpu->objdump, "-d", "-m", cpu->isa_arch, bin, NULL};
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
