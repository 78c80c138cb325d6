// rt_build.c: compile the shared target program for a CPU (rt_build.h).
#include "export/rt_build.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "export/proc.h"
#include "qat/model_open.h"

#ifndef RQ_SOURCE_DIR
#define RQ_SOURCE_DIR "."
#endif

const char *rq_source_dir(void) {
    const char *r = getenv("RQ_ROOT");
    return r && *r ? r : RQ_SOURCE_DIR;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int rq_rt_build_run(const rq_rt_build *b) {
    const char *root = rq_source_dir();
    char *argv[512];
    char *owned[512];
    int n = 0, no = 0;
#define ADD(s) (argv[n++] = (char *)(s))
#define ADDF(...) (owned[no] = malloc(4200), snprintf(owned[no], 4200, __VA_ARGS__), argv[n++] = owned[no++])
    ADD(b->cc);
    for (int i = 0; b->cflags && b->cflags[i]; i++) ADD(b->cflags[i]);
    ADDF("-I%s", root);
    ADDF("-DRT_ARENA_BYTES=%zuu", b->arena_bytes);
    ADDF("-DRT_PROGRAM=%s", b->family == RQ_FAM_CHAT ? "rt_chat_main" : "rt_lm_main");
    for (int i = 0; b->defines && b->defines[i]; i++) ADD(b->defines[i]);
    ADD("-o");
    ADD(b->out);
    for (int i = 0; b->sources && b->sources[i]; i++) ADDF("%s/%s", root, b->sources[i]);
    ADDF("%s/export/rt/%s", root, b->family == RQ_FAM_CHAT ? "chat_main.c" : "lm_main.c");
    ADDF("%s/export/rt/io.c", root);
    ADDF("%s/export/rt/arena.c", root);
    ADDF("%s/base/crc32.c", root);
    // every infer/*.c (sorted, so builds are reproducible), and the chat encoder wherever it lives
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/infer", root);
    DIR *d = opendir(dir);
    if (!d) {
        for (int i = 0; i < no; i++) free(owned[i]);
        return rq_fail(RQ_ERUNTIME, "%s: cannot read the target sources (set RQ_ROOT to the retroqat source tree)", dir);
    }
    char *names[256];
    int nn = 0;
    for (struct dirent *e; (e = readdir(d)) && nn < 256;) {
        size_t l = strlen(e->d_name);
        if (l > 2 && strcmp(e->d_name + l - 2, ".c") == 0) names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof names[0], cmp_str);
    for (int i = 0; i < nn; i++) {
        ADDF("%s/infer/%s", root, names[i]);
        free(names[i]);
    }
    char enc[4200];
    struct stat st;
    snprintf(enc, sizeof enc, "%s/data/chat_encode.c", root);
    if (stat(enc, &st) == 0) ADDF("%s", enc);
    for (int i = 0; b->ldflags && b->ldflags[i]; i++) ADD(b->ldflags[i]);
    argv[n] = NULL;
#undef ADD
#undef ADDF
    rq_proc p = {.argv = (const char *const *)argv, .timeout = 300, .merge_stderr = 1};
    rq_proc_result r;
    int rc = rq_proc_run(&p, &r);
    if (!rc && r.exit_code != 0) {
        rc = rq_fail(RQ_ERUNTIME, "building %s with %s failed (exit %d):\n%.*s", b->out, b->cc, r.exit_code,
                     (int)(r.out_len > 3000 ? 3000 : r.out_len), r.out);
    }
    rq_proc_result_free(&r);
    for (int i = 0; i < no; i++) free(owned[i]);
    return rc;
}
