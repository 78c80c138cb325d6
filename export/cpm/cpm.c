// cpm.c: the CP/M 2.2 target (export/target.h): a trigram chat model as a .COM for a 64K Z80
// CP/M machine, and its run in the bundled CP/M emulator (emu/cpm.h).
//   export  export/cpm/com.c lays the model out behind the Z80 kernel (export/cpm/cpu/chat.s,
//           assembled at build time) and this file writes the .COM (and the .BIN of --stream)
//   run     export/cpm/runner.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/binio.h"
#include "base/err.h"
#include "export/cpm/com.h"
#include "export/cpm/runner.h"
#include "export/target.h"

// The export flags, in the order of o->flag[].
enum { XF_LAYOUT, XF_PROBES, XF_STREAM };
static const rq_tflag EXPORT_FLAGS[] = {
    {"--layout", "L",
     "weight layout per layer: auto (default: the faster one that fits), packed (column-major 2-bit codes), "
     "sparse (lists of non-zero rows per column)"},
    {"--probes", NULL,
     "keep the T-state probes (OUT to the emulator's region ports D0h-D7h/E0h-E7h); for measurements in "
     "`retroqat run --target cpm --stats` only, not real hardware"},
    {"--stream", NULL,
     "put the weights in NAME.BIN next to the .COM (NAME = the .COM's name, 8.3) and read each layer's 128-byte "
     "records through BDOS when it is needed: fits models whose largest layer (not all of them) fits the TPA; slow "
     "on a real disk"},
    {NULL, NULL, NULL},
};

void cpm_summary_parts(cJSON *o, const chat_imodel *m, const cpm_program *p, const char *free_name, size_t free_bytes) {
    cJSON_AddNumberToObject(o, "code_bytes", (double)p->code_bytes);
    cJSON_AddNumberToObject(o, "weight_bytes", (double)p->weight_bytes);
    cJSON_AddNumberToObject(o, "data_bytes", (double)p->data_bytes);
    cJSON_AddNumberToObject(o, "buffer_bytes", (double)p->buffer_bytes);
    cJSON_AddNumberToObject(o, "stack_bytes", (double)p->stack_bytes);
    cJSON_AddNumberToObject(o, "end", p->end);
    // The generic memory map (export/target.h): from the program's start up, in order.
    cJSON *mm = cJSON_AddArrayToObject(o, "memory_map");
    const struct { const char *name; size_t bytes; } parts[] = {
        {"kernel", p->code_bytes}, {"data", p->data_bytes}, {"weights", p->weight_bytes},
        {"buffers", p->buffer_bytes}, {"stack", p->stack_bytes}, {free_name, free_bytes},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", parts[i].name);
        cJSON_AddNumberToObject(e, "bytes", (double)parts[i].bytes);
        cJSON_AddItemToArray(mm, e);
    }
    // The names of the kernel's T-state probe regions (docs/z80-kernel.md), for the report's
    // panel of `run --stats --json` on a --probes build.
    static const char *const REGION[] = {"step", "query", "context", "layer 1", "finish hidden", "biases", "columns 2..L", "argmax"};
    cJSON *rn = cJSON_AddArrayToObject(o, "region_names");
    for (int i = 0; i < 8; i++) cJSON_AddItemToArray(rn, cJSON_CreateString(REGION[i]));
    int32_t lo[CHAT_MAX_LAYERS], hi[CHAT_MAX_LAYERS];
    chat_bounds(m, lo, hi);
    cJSON *ls = cJSON_AddArrayToObject(o, "layers");
    for (int l = 0; l < m->n_layers; l++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "n_in", m->dims[l]);
        cJSON_AddNumberToObject(e, "n_out", m->dims[l + 1]);
        cJSON_AddNumberToObject(e, "shift", m->shift[l]);
        cJSON_AddStringToObject(e, "layout", p->sparse[l] ? "sparse" : "packed");
        // layer 1's query columns (run once per query) have a layout of their own
        if (l == 0) cJSON_AddStringToObject(e, "query_layout", p->qsparse ? "sparse" : "packed");
        cJSON_AddNumberToObject(e, "worst_acc_lo", lo[l]);
        cJSON_AddNumberToObject(e, "worst_acc_hi", hi[l]);
        cJSON_AddBoolToObject(e, "can_wrap", lo[l] < -32768 || hi[l] > 32767);
        cJSON_AddItemToArray(ls, e);
    }
}

static cJSON *summary(const char *out, const chat_imodel *m, const cpm_program *p) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", out);
    cJSON_AddNumberToObject(o, "com_bytes", (double)p->com_size);
    cJSON_AddNumberToObject(o, "records", (double)((p->com_size + 127) / 128));
    cJSON_AddNumberToObject(o, "tpa_free_bytes", (double)(CPM_TPA_END - p->end));
    cJSON_AddNumberToObject(o, "bin_bytes", (double)p->bin_size);
    cJSON_AddStringToObject(o, "target", "cpm");
    cpm_summary_parts(o, m, p, "free TPA", (size_t)(CPM_TPA_END - p->end));
    return o;
}

// Write o->out (the .COM; with --stream also NAME.BIN next to it) for the chat model md.
static int cpm_export(const rq_model *md, const rq_export_opts *o) {
    const char *out = o->out, *layout = o->flag[XF_LAYOUT] ? o->flag[XF_LAYOUT] : "auto";
    int probes = o->flag[XF_PROBES] != NULL, stream = o->flag[XF_STREAM] != NULL;
    if (md->family != RQ_FAM_CHAT)
        return rq_fail(RQ_EINPUT, "%s: the cpm target runs the trigram chat model, not a %s", md->path, md->source);
    if (!out || !*out) return rq_fail(RQ_EINPUT, "export --target cpm needs -o CHAT.COM");
    int lay = !strcmp(layout, "auto") ? CPM_LAYOUT_AUTO : !strcmp(layout, "packed") ? CPM_LAYOUT_PACKED
              : !strcmp(layout, "sparse") ? CPM_LAYOUT_SPARSE : -1;
    if (lay < 0) return rq_fail(RQ_EINPUT, "--layout: expected auto, packed or sparse, got '%s'", layout);
    const chat_imodel *m = &md->chat;
    cpm_program p;
    // NAME.BIN next to the .COM: the .COM's base name, cut to 8 characters, upper case.
    char bin_name[16], bin_path[4200];
    const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
    int k = 0;
    for (; base[k] && base[k] != '.' && k < 8; k++) bin_name[k] = (char)chat_upper((uint8_t)base[k]);
    snprintf(bin_name + k, sizeof bin_name - (size_t)k, ".BIN");
    snprintf(bin_path, sizeof bin_path, "%.*s%s", (int)(base - out), out, bin_name);
    cpm_export_opts eo = {.probes = probes, .layout = lay, .stream = stream, .bin_name = bin_name};
    int rc = cpm_build(m, &eo, &p);
    if (rc == 0) rc = rq_write_atomic(out, p.com, p.com_size);
    if (rc == 0 && stream) rc = rq_write_atomic(bin_path, p.bin, p.bin_size);
    if (rc) {
        cpm_program_free(&p);
        if (rc == RQ_EINPUT && md->path && !strstr(rq_last_error(), md->path)) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", rq_last_error());
            rq_fail(RQ_EINPUT, "%s: %s", md->path, msg);
        }
        return rc;
    }
    if (o->json) {
        cJSON *j = summary(out, m, &p);
        if (stream) cJSON_AddStringToObject(j, "bin_file", bin_path);
        char *txt = cJSON_PrintUnformatted(j);
        printf("%s\n", txt);
        free(txt);
        cJSON_Delete(j);
    } else {
        if (stream) printf("%s: %zu bytes (%zu records) of weights, read one layer at a time\n", bin_path, p.bin_size, p.bin_size / 128);
        printf("%s: %zu bytes (%zu records): kernel %zu, weights %zu, data %zu; buffers %zu and stack %zu up to "
               "%04Xh, %u bytes of the TPA free\n",
               out, p.com_size, (p.com_size + 127) / 128, p.code_bytes, p.weight_bytes, p.data_bytes, p.buffer_bytes,
               p.stack_bytes, p.end - 1u, CPM_TPA_END - p.end);
    }
    cpm_program_free(&p);
    return 0;
}

static const char *const RUN_TOOLS[] = {NULL};  // the emulator is built in (libz80ex)

const rq_target rq_target_cpm = {
    .name = "cpm",
    .cpu = "Zilog Z80",
    .machine = "CP/M 2.2, 64 KB: TPA 0100h-E3FFh",
    .clock_hz = 4000000,
    .families = RQ_FAM_CHAT,
    .artefact = RQ_TARGET_ARTEFACT_FILE,
    .artefacts = "CHAT.COM [+ CHAT.BIN with --stream]",
    .emulator = "bundled CP/M 2.2 on libz80ex (emu/cpm.h), counted to the T-state",
    .summary = "trigram chat model -> CP/M .COM: the hand-written Z80 kernel with the model embedded",
    .export_flags = EXPORT_FLAGS,
    .run_flags = cpm_run_flags,
    .export_tools = NULL,  // the kernel is assembled when retroqat is built
    .run_tools = RUN_TOOLS,
    .args_after_artefact = 1,
    .upper_case = 1,
    .export_fn = cpm_export,
    .run_fn = cpm_run_artefact,
    .stats_text = cpm_stats_text,
};
