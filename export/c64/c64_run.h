// c64_run.h: the c64 target's runner (c64_run.c) and what it shares with the exporter (c64.c).
#ifndef RQ_EXPORT_C64_RUN_H
#define RQ_EXPORT_C64_RUN_H

#include "export/target.h"

#define C64_HZ 985248L  // PAL

// target.txt of an export folder: the family ("lm" or "chat") and its files.
typedef struct {
    char family[16], prg[64], sim[64], reu[64];
} c64_manifest;
int c64_read_manifest(const char *dir, c64_manifest *mf);

extern const rq_tflag c64_run_flags[];
int c64_target_run(const char *dir, const rq_run_opts *o, rq_run_result *r);

#endif
