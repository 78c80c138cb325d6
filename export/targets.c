// targets.c: the registry of targets (export/target.h). Adding a target = its folder
// export/NAME/ plus one line below.
#include "export/target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
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

int rq_target_lm_check(const rq_target *t, const lm_config *c) {
    int need = 0, odd = lm_midrise_count(c) > 0;
    for (int k = 0; k < LM_NMAT; k++) need |= c->mbits[k] == 8 ? RQ_LMW_8 : c->mbits[k] == 4 ? RQ_LMW_4 : RQ_LMW_2;
    if (!c->wbits) need |= RQ_LMW_MIXED;
    if (odd) need |= RQ_LMW_MIDRISE;
    if (!(need & ~t->lm_weights)) return 0;
    char has[64], takes[64] = "", all[128] = "";
    snprintf(has, sizeof has, "%s%s", c->wbits == 8 ? "int8" : c->wbits == 4 ? "int4" : c->wbits == 2 ? "2-bit" : "mixed widths",
             odd ? " on the midrise grid" : "");
    static const char *const names[] = {"int8", "int4", "2-bit"};
    for (int b = 0; b < 3; b++)
        if (t->lm_weights & (1 << b)) snprintf(takes + strlen(takes), sizeof takes - strlen(takes), "%s%s", takes[0] ? " or " : "", names[b]);
    for (int i = 0; rq_targets[i]; i++)
        if ((rq_targets[i]->lm_weights & need) == need)
            snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", all[0] ? ", " : "", rq_targets[i]->name);
    return rq_fail(RQ_EINPUT, "target %s: its kernels take %s layer weights%s%s; this model has %s (targets that run it: %s)", t->name, takes,
                   t->lm_weights & RQ_LMW_MIXED ? "" : ", one width for every matrix", t->lm_weights & RQ_LMW_MIDRISE ? "" : ", no midrise grid",
                   has, all[0] ? all : "none");
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
