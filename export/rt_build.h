// rt_build.h: build a target program at export time with the target's cross compiler, from the
// repository's sources (found at RQ_SOURCE_DIR, baked in at build time, or $RQ_ROOT): the shared
// program (export/rt/lm_main.c or chat_main.c with io.c and arena.c), every infer/*.c, the
// portable base/crc32.c, and the target's own start-up and machine services.
#ifndef RQ_EXPORT_RT_BUILD_H
#define RQ_EXPORT_RT_BUILD_H

#include <stddef.h>

typedef struct {
    const char *cc;                // the cross compiler ("m68k-linux-gnu-gcc")
    const char *const *cflags;     // its flags (CPU, freestanding, -O), NULL terminated
    const char *const *sources;    // the target's own files, relative to the source dir, NULL terminated
    const char *const *ldflags;    // after the sources (linker script, -lgcc, ...), NULL terminated
    int family;                    // RQ_FAM_LM or RQ_FAM_CHAT: which program
    size_t arena_bytes;            // RT_ARENA_BYTES
    const char *const *defines;    // more -D flags ("-DFOO=1"), NULL terminated (may be NULL)
    const char *out;               // the executable to write
} rq_rt_build;

// The repository the exporters build from ($RQ_ROOT, else RQ_SOURCE_DIR).
const char *rq_source_dir(void);
// Run the compile. RQ_ERUNTIME with the compiler's messages when it fails or is missing.
int rq_rt_build_run(const rq_rt_build *b);

#endif
