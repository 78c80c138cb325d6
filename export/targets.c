// targets.c: the registry of targets (export/target.h). Adding a target = its folder
// export/NAME/ plus one line below.
#include "export/target.h"

#include <stdlib.h>
#include <string.h>

#include "export/proc.h"

extern const rq_target rq_target_host;
extern const rq_target rq_target_cpm;
extern const rq_target rq_target_coldfire;
extern const rq_target rq_target_ppc;
extern const rq_target rq_target_c64;
extern const rq_target rq_target_ps2;
extern const rq_target rq_target_zx48;

const rq_target *const rq_targets[] = {
    &rq_target_host,
    &rq_target_cpm,
    &rq_target_coldfire,
    &rq_target_ppc,
    &rq_target_c64,
    &rq_target_ps2,
    &rq_target_zx48,
    NULL,
};

const rq_target *rq_target_find(const char *name) {
    for (int i = 0; rq_targets[i]; i++)
        if (strcmp(rq_targets[i]->name, name) == 0) return rq_targets[i];
    return NULL;
}

int rq_tools_present(const char *const *tools) {
    for (int i = 0; tools && tools[i]; i++)
        if (!rq_have_program(tools[i])) return 0;
    return 1;
}

const char *rq_tflag_get(const rq_tflag *flags, const char *const *values, const char *name) {
    for (int i = 0; flags && flags[i].name; i++)
        if (strcmp(flags[i].name, name) == 0) return values ? values[i] : NULL;
    return NULL;
}

void rq_run_result_free(rq_run_result *r) {
    free(r->logit_crc);
    cJSON_Delete(r->stats);
    memset(r, 0, sizeof *r);
}
