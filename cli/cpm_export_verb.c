// cpm_export_verb.c: `retroqat export MODEL --target cpm -o CHAT.COM` (export/cpm.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/binio.h"
#include "base/err.h"
#include "base/rqfile.h"
#include "cli/args.h"
#include "cli/verbs.h"
#include "export/cpm.h"

static const char *USAGE =
    "usage: retroqat export MODEL --target cpm -o CHAT.COM [--json] [--probes] [--layout L] [--stream]\n"
    "Build a CP/M 2.2 program that answers like `retroqat chat MODEL`: the hand-written Z80 kernel\n"
    "(infer/z80/chat.s) with the model's weights embedded. Without arguments CHAT.COM chats at a\n"
    "'> ' prompt (an empty line or '!' exits); `CHAT QUESTION` answers once. Answers print in upper\n"
    "case. The program, its buffers and stack must fit 0100h-E3FFh (the CCP stays): a model that\n"
    "does not is refused with the number of bytes over, unless --stream.\n"
    "  MODEL        a chat checkpoint (its integer image, section CIMG) or a raw model image (RQCI)\n"
    "  -o FILE      the .COM to write\n"
    "  --json       print the summary (sizes, memory map, worst-case accumulators) as JSON\n"
    "  --layout L   weight layout per layer: auto (default: the faster one that fits), packed\n"
    "               (column-major 2-bit codes), sparse (lists of non-zero rows per column)\n"
    "  --stream     put the weights in NAME.BIN next to the .COM (NAME = the .COM's name, 8.3) and\n"
    "               read each layer's 128-byte records through BDOS when it is needed: fits models\n"
    "               whose largest layer (not all of them) fits the TPA; slow on a real disk\n"
    "  --probes     keep the T-state probes (OUT to the emulator's region ports D0h-D7h/E0h-E7h);\n"
    "               for measurements in `retroqat run --target cpm --stats` only, not real hardware\n";

// Load the integer image of MODEL into *m; *hold keeps the bytes alive (free it after use).
static int load_model(const char *path, chat_imodel *m, uint8_t **hold) {
    uint8_t *data;
    size_t n;
    *hold = NULL;
    int rc = rq_read_file(path, &data, &n);
    if (rc) return rc;
    if (n >= 4 && memcmp(data, "RQCI", 4) == 0) {
        *hold = data;
        return chat_image_parse(data, n, path, m);
    }
    rqf_file f;
    if ((rc = rqf_open_mem(&f, data, n, path, "chat"))) {  // owns data from here on success
        free(data);
        return rc;
    }
    rq_reader r;
    if ((rc = rqf_section(&f, "CIMG", &r))) {
        rqf_close(&f);
        return rc;
    }
    // Keep a private copy of the image so the checkpoint can be closed.
    uint8_t *img = rq_malloc(r.len ? r.len : 1);
    memcpy(img, r.data, r.len);
    size_t len = r.len;
    rqf_close(&f);
    *hold = img;
    return chat_image_parse(img, len, path, m);
}

static cJSON *summary(const char *out, const chat_imodel *m, const cpm_program *p) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", out);
    cJSON_AddNumberToObject(o, "com_bytes", (double)p->com_size);
    cJSON_AddNumberToObject(o, "records", (double)((p->com_size + 127) / 128));
    cJSON_AddNumberToObject(o, "code_bytes", (double)p->code_bytes);
    cJSON_AddNumberToObject(o, "weight_bytes", (double)p->weight_bytes);
    cJSON_AddNumberToObject(o, "data_bytes", (double)p->data_bytes);
    cJSON_AddNumberToObject(o, "buffer_bytes", (double)p->buffer_bytes);
    cJSON_AddNumberToObject(o, "stack_bytes", (double)p->stack_bytes);
    cJSON_AddNumberToObject(o, "end", p->end);
    cJSON_AddNumberToObject(o, "tpa_free_bytes", (double)(CPM_TPA_END - p->end));
    cJSON_AddNumberToObject(o, "bin_bytes", (double)p->bin_size);
    // The TPA as `retroqat report` draws it (report/report.h), and the names of the kernel's
    // T-state probe regions (docs/z80-kernel.md) for `run --stats --json` of a --probes build.
    cJSON_AddStringToObject(o, "target", "cpm");
    static const char *const MAP[] = {"kernel", "weights", "data", "buffers", "stack", "free TPA"};
    const double bytes[] = {(double)p->code_bytes, (double)p->weight_bytes, (double)p->data_bytes, (double)p->buffer_bytes,
                            (double)p->stack_bytes, (double)(CPM_TPA_END - p->end)};
    cJSON *mm = cJSON_AddArrayToObject(o, "memory_map");
    for (int i = 0; i < 6; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", MAP[i]);
        cJSON_AddNumberToObject(e, "bytes", bytes[i]);
        cJSON_AddItemToArray(mm, e);
    }
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
        cJSON_AddNumberToObject(e, "worst_acc_lo", lo[l]);
        cJSON_AddNumberToObject(e, "worst_acc_hi", hi[l]);
        cJSON_AddBoolToObject(e, "can_wrap", lo[l] < -32768 || hi[l] > 32767);
        cJSON_AddItemToArray(ls, e);
    }
    return o;
}

int cpm_export_main(int argc, char **argv) {
    const char *target = "cpm", *out = NULL, *pos[1], *layout = "auto";
    int json = 0, probes = 0, npos = 0, stream = 0;
    const rq_arg opts[] = {{"--target", NULL, ARG_STR, &target, NULL}, {"--out", "-o", ARG_STR, &out, NULL},
                           {"--json", NULL, ARG_FLAG, &json, NULL},     {"--probes", NULL, ARG_FLAG, &probes, NULL},
                           {"--layout", NULL, ARG_STR, &layout, NULL},
                           {"--stream", NULL, ARG_FLAG, &stream, NULL},
                           {NULL, NULL, 0, NULL, NULL}};
    int rc = rq_args_parse(argc, argv, opts, pos, 1, &npos, USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (npos != 1 || !out) {
        fprintf(stderr, "retroqat: export --target cpm needs a MODEL and -o CHAT.COM\n%s", USAGE);
        return RQ_EINPUT;
    }
    int lay = !strcmp(layout, "auto") ? CPM_LAYOUT_AUTO : !strcmp(layout, "packed") ? CPM_LAYOUT_PACKED
              : !strcmp(layout, "sparse") ? CPM_LAYOUT_SPARSE : -1;
    if (lay < 0) {
        fprintf(stderr, "retroqat: --layout: expected auto, packed or sparse, got '%s'\n%s", layout, USAGE);
        return RQ_EINPUT;
    }
    chat_imodel m;
    uint8_t *hold;
    if ((rc = load_model(pos[0], &m, &hold))) {
        free(hold);
        return rq_report(rc);
    }
    cpm_program p;
    // NAME.BIN next to the .COM: the .COM's base name, cut to 8 characters, upper case.
    char bin_name[16], bin_path[4200];
    const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
    int k = 0;
    for (; base[k] && base[k] != '.' && k < 8; k++) bin_name[k] = (char)chat_upper((uint8_t)base[k]);
    snprintf(bin_name + k, sizeof bin_name - (size_t)k, ".BIN");
    snprintf(bin_path, sizeof bin_path, "%.*s%s", (int)(base - out), out, bin_name);
    cpm_export_opts eo = {.probes = probes, .layout = lay, .stream = stream, .bin_name = bin_name};
    if ((rc = cpm_build(&m, &eo, &p)) == 0) rc = rq_write_atomic(out, p.com, p.com_size);
    if (rc == 0 && stream) rc = rq_write_atomic(bin_path, p.bin, p.bin_size);
    if (rc) {
        free(hold);
        cpm_program_free(&p);
        if (rc == RQ_EINPUT && !strstr(rq_last_error(), pos[0])) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", rq_last_error());
            rq_fail(RQ_EINPUT, "%s: %s", pos[0], msg);
        }
        return rq_report(rc);
    }
    if (json) {
        cJSON *o = summary(out, &m, &p);
        if (stream) cJSON_AddStringToObject(o, "bin_file", bin_path);
        char *txt = cJSON_PrintUnformatted(o);
        printf("%s\n", txt);
        free(txt);
        cJSON_Delete(o);
    } else {
        if (stream) printf("%s: %zu bytes (%zu records) of weights, read one layer at a time\n", bin_path, p.bin_size, p.bin_size / 128);
        printf("%s: %zu bytes (%zu records): kernel %zu, weights %zu, data %zu; buffers %zu and stack %zu up to "
               "%04Xh, %u bytes of the TPA free\n",
               out, p.com_size, (p.com_size + 127) / 128, p.code_bytes, p.weight_bytes, p.data_bytes, p.buffer_bytes,
               p.stack_bytes, p.end - 1u, CPM_TPA_END - p.end);
    }
    free(hold);
    cpm_program_free(&p);
    return 0;
}
