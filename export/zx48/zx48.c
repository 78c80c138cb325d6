// zx48.c: the ZX Spectrum 48K target (export/target.h): a trigram chat model as a .TAP (BASIC
// loader + the Z80 kernel with the model), and its run in the Spectrum model (emu/zx48.h).
//   export  export/zx48/zx48_build.c (kernel choice and relocation, layout, loader, tape)
//   run     export/zx48/runner.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/binio.h"
#include "base/err.h"
#include "export/emu_run.h"
#include "export/target.h"
#include "export/zx48/runner.h"
#include "export/zx48/zx48.h"

enum { XF_LAYOUT, XF_ORG, XF_PROBES };
static const rq_tflag EXPORT_FLAGS[] = {
    {"--layout", "L",
     "weight layout per layer: auto (default: the faster kernel and layouts that fit), packed (needs the 12 KB kernel "
     "with the byte handlers), sparse (lists of non-zero rows; the 1.5 KB kernel)"},
    {"--org", "ADDR",
     "code address, a page from 6000h (hex as 6000h or 0x6000): default 8000h, or the highest page below it where the "
     "model fits (below 8000h the memory is contended: slower)"},
    {"--probes", NULL,
     "keep the T-state probes (OUT to ports D0h-E7h, which on a Spectrum are the ULA's border and speaker); for "
     "`retroqat run --target zx48 --stats` only, not real hardware"},
    {NULL, NULL, NULL},
};

static cJSON *summary(const char *out, const chat_imodel *m, const zx48_program *pr) {
    const cpm_program *p = &pr->p;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", out);
    cJSON_AddStringToObject(o, "target", "zx48");
    cJSON_AddNumberToObject(o, "tap_bytes", (double)pr->tap_size);
    cJSON_AddNumberToObject(o, "org", p->org);
    cJSON_AddNumberToObject(o, "usr_chat", p->org);
    cJSON_AddNumberToObject(o, "usr_oneshot", p->org + ZX48_K_ONESHOT);
    cJSON_AddStringToObject(o, "kernel", zx48_kernels[pr->kernel].packed ? "packed+sparse" : "sparse");
    cJSON_AddNumberToObject(o, "code_block_bytes", (double)p->com_size);
    cJSON_AddNumberToObject(o, "free_bytes", (double)(ZX48_MEM_END - p->end));
    cJSON_AddNumberToObject(o, "contended_bytes", p->org < 0x8000 ? 0x8000 - p->org : 0);
    cpm_summary_parts(o, m, p, "free", (size_t)(ZX48_MEM_END - p->end));
    return o;
}

static int zx48_export(const rq_model *md, const rq_export_opts *o) {
    const char *out = o->out, *layout = o->flag[XF_LAYOUT] ? o->flag[XF_LAYOUT] : "auto";
    if (md->family != RQ_FAM_CHAT)
        return rq_fail(RQ_EINPUT, "%s: the zx48 target runs the trigram chat model, not a %s", md->path, md->source);
    if (!out || !*out) return rq_fail(RQ_EINPUT, "export --target zx48 needs -o CHAT.TAP");
    zx48_export_opts zo = {.probes = o->flag[XF_PROBES] != NULL};
    zo.layout = !strcmp(layout, "auto") ? CPM_LAYOUT_AUTO : !strcmp(layout, "packed") ? CPM_LAYOUT_PACKED
                : !strcmp(layout, "sparse") ? CPM_LAYOUT_SPARSE : -1;
    if (zo.layout < 0) return rq_fail(RQ_EINPUT, "--layout: expected auto, packed or sparse, got '%s'", layout);
    uint16_t org = 0;
    if (o->flag[XF_ORG] && (!rq_parse_addr(o->flag[XF_ORG], &org) || !org))
        return rq_fail(RQ_EINPUT, "--org: expected an address like 8000h or 0x8000, got '%s'", o->flag[XF_ORG]);
    zo.org = org;
    zx48_program pr;
    int rc = zx48_build(&md->chat, &zo, &pr);
    if (rc == 0) rc = rq_write_atomic(out, pr.tap, pr.tap_size);
    if (rc) {
        zx48_program_free(&pr);
        if (rc == RQ_EINPUT && md->path && !strstr(rq_last_error(), md->path)) {
            char msg[2048];
            snprintf(msg, sizeof msg, "%s", rq_last_error());
            rq_fail(RQ_EINPUT, "%s: %s", md->path, msg);
        }
        return rc;
    }
    const cpm_program *p = &pr.p;
    if (o->json) {
        cJSON *j = summary(out, &md->chat, &pr);
        char *txt = cJSON_PrintUnformatted(j);
        printf("%s\n", txt);
        free(txt);
        cJSON_Delete(j);
    } else {
        printf("%s: %zu bytes: BASIC loader (10 CLEAR %u: LOAD \"\" CODE, 20 RANDOMIZE USR %u), CODE %zu bytes at %04Xh: %s "
               "kernel %zu, weights %zu, data %zu; buffers %zu and stack %zu up to %04Xh, %u bytes free%s\n",
               out, pr.tap_size, p->org - 1u, (unsigned)p->org, p->com_size, (unsigned)p->org,
               zx48_kernels[pr.kernel].packed ? "packed+sparse" : "sparse-only", p->code_bytes, p->weight_bytes, p->data_bytes,
               p->buffer_bytes, p->stack_bytes, p->end - 1u, ZX48_MEM_END - p->end,
               p->org < 0x8000 ? " (below 8000h: contended memory)" : "");
    }
    zx48_program_free(&pr);
    return 0;
}

static const char *const RUN_TOOLS[] = {NULL};  // the Spectrum model is built in (libz80ex, libspectrum)

const rq_target rq_target_zx48 = {
    .name = "zx48",
    .cpu = "Zilog Z80A, 3.5 MHz",
    .machine = "ZX Spectrum 48K: RAM 4000h-FFFFh, ROM console and keyboard",
    .clock_hz = 3500000,
    .families = RQ_FAM_CHAT,
    .artefact = RQ_TARGET_ARTEFACT_FILE,
    .artefacts = "CHAT.TAP (BASIC loader + CODE)",
    .emulator = "bundled Spectrum 48K model on libz80ex (emu/zx48.h): ROM entries trapped, no ROM image, counted to the T-state",
    .summary = "trigram chat model -> ZX Spectrum .TAP: the CP/M target's Z80 kernel relocated, ROM printing and keyboard",
    .export_flags = EXPORT_FLAGS,
    .run_flags = zx48_run_flags,
    .export_tools = NULL,  // the kernels are assembled when retroqat is built
    .run_tools = RUN_TOOLS,
    .args_after_artefact = 0,
    .upper_case = 0,
    .export_fn = zx48_export,
    .run_fn = zx48_run_artefact,
    .stats_text = zx48_stats_text,
};
