// host.c: the host target — the integer contract run natively by this machine. It is the
// reference every other target is compared with, and the smallest example of target.h:
//   export  transformer: the .rqm integer image (either byte order); chat: the RQCI image
//   run     transformer: `retroqat run MODEL.rqm -z TOK ...` (qat/lm_intgen.c); chat: one
//           answer per argument, or a "> " loop on stdin, like `retroqat chat`
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/binio.h"
#include "base/err.h"
#include "data/tokenizer.h"
#include "export/lm_image_write.h"
#include "export/target.h"
#include "infer/lm_gen.h"
#include "infer/lm_image.h"
#include "qat/image_open.h"
#include "qat/lm_intgen.h"

static const rq_tflag EXPORT_FLAGS[] = {
    {"--endian", "E", "byte order of a transformer image: little (default) or big"},
    {NULL, NULL, NULL},
};

// The --json summary: the image's bytes per section as the "memory_map" that `retroqat report`
// draws (the header with its section table first, then the sections in file order).
static void export_json(const char *out, const lm_model *m, size_t bytes, const char *endian, const char *source) {
    lm_section secs[LM_MAX_LAYERS + 5];
    int ns = lm_image_sections(&m->c, secs);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "image", out);
    cJSON_AddNumberToObject(o, "bytes", (double)bytes);
    cJSON_AddStringToObject(o, "endian", endian);
    char wd[96];
    cJSON_AddNumberToObject(o, "wbits", m->c.wbits);
    cJSON_AddStringToObject(o, "weights", lm_weights_desc(&m->c, wd, sizeof wd));
    cJSON_AddStringToObject(o, "source", source);
    cJSON_AddStringToObject(o, "target", "host");
    cJSON *mm = cJSON_AddArrayToObject(o, "memory_map");
    double rest = (double)bytes;
    for (int i = 0; i < ns; i++) rest -= secs[i].bytes;
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "name", "header");
    cJSON_AddNumberToObject(h, "bytes", rest);  // header, section table and alignment
    cJSON_AddItemToArray(mm, h);
    for (int i = 0; i < ns; i++) {
        // tags are 4 bytes: "EMB ", "ROPE", ... and "LYR" + the layer's index as a byte
        char name[16];
        if ((unsigned char)secs[i].tag[3] < 32) snprintf(name, sizeof name, "%.3s%d", secs[i].tag, secs[i].tag[3]);
        else snprintf(name, sizeof name, "%.4s", secs[i].tag);
        for (size_t k = strlen(name); k > 0 && name[k - 1] == ' '; k--) name[k - 1] = 0;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", name);
        cJSON_AddNumberToObject(e, "bytes", secs[i].bytes);
        cJSON_AddItemToArray(mm, e);
    }
    char *txt = cJSON_PrintUnformatted(o);
    printf("%s\n", txt);
    cJSON_free(txt);
    cJSON_Delete(o);
}

static int host_export(const rq_model *m, const rq_export_opts *o) {
    const char *endian = rq_tflag_get(EXPORT_FLAGS, o->flag, "--endian");
    if (!endian) endian = "little";
    if (strcmp(endian, "little") && strcmp(endian, "big")) return rq_fail(RQ_EINPUT, "--endian must be little or big, not '%s'", endian);
    int rc;
    if (m->family == RQ_FAM_CHAT) {
        if ((rc = rq_write_atomic(o->out, m->image, m->image_bytes))) return rc;
        if (o->json) printf("{\"image\":\"%s\",\"bytes\":%zu,\"family\":\"chat\",\"source\":\"%s\"}\n", o->out, m->image_bytes, m->source);
        else printf("wrote %s: %zu bytes, the chat model's integer image (from the %s)\n", o->out, m->image_bytes, m->source);
        return 0;
    }
    rq_buf b = {0};
    if (!(rc = lm_image_write(&m->lm, endian[0] == 'b', &b)) && !(rc = rq_write_atomic(o->out, b.data, b.len))) {
        char wd[96];
        if (o->json)
            export_json(o->out, &m->lm, b.len, endian, m->source);
        else
            printf("wrote %s: %zu bytes, %s weights, %s-endian, from the %s\n", o->out, b.len, lm_weights_desc(&m->lm.c, wd, sizeof wd), endian,
                   m->source);
    }
    rq_buf_free(&b);
    return rc;
}

typedef struct {
    uint32_t *crc;
    int n, cap;
} crc_list;

static void on_chat_step(void *ctx, const int16_t *logits, int n) {
    crc_list *l = ctx;
    if (l->n == l->cap) l->cap = l->cap ? 2 * l->cap : 64, l->crc = rq_realloc(l->crc, l->cap * sizeof(uint32_t));
    l->crc[l->n++] = chat_logits_crc(logits, n);
}

static int run_chat(const rq_model *m, const rq_run_opts *o, rq_run_result *r) {
    crc_list l = {0};
    char ans[256];
    uint64_t chars = 0;
    if (o->nargs > 0) {
        for (int i = 0; i < o->nargs; i++) {
            chars += (uint64_t)chat_generate_steps(&m->chat, o->args[i], (int)strlen(o->args[i]), ans, sizeof ans,
                                                   o->debug_logits ? on_chat_step : NULL, &l);
            fprintf(o->out, "%s\n", ans);
        }
    } else {
        int tty = isatty(0);
        char line[1024];
        for (;;) {
            if (tty) fputs("> ", o->out), fflush(o->out);
            if (!fgets(line, sizeof line, stdin)) break;
            size_t n = strlen(line);
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
            if (!n) continue;
            chars += (uint64_t)chat_generate_steps(&m->chat, line, (int)n, ans, sizeof ans, o->debug_logits ? on_chat_step : NULL, &l);
            fprintf(o->out, "%s\n", ans);
            fflush(o->out);
        }
        if (tty) fputc('\n', o->out);
    }
    r->tokens = chars;
    r->logit_crc = l.crc, r->n_crc = l.n;
    return 0;
}

static int run_lm(const rq_model *m, const rq_run_opts *o, rq_run_result *r) {
    if (!o->tokenizer) return rq_fail(RQ_EINPUT, "run: a transformer image needs -z TOKENIZER");
    tokenizer tok;
    int rc = tokenizer_load(&tok, o->tokenizer, m->lm.c.vocab_size);
    if (rc) return rc;
    // top-p 0 or 1: no nucleus cut, as run.c (topp_q15 = 32768 keeps every token)
    uint32_t topp_q15 = o->topp <= 0 || o->topp >= 1 ? 32768 : (uint32_t)(o->topp * 32768 + 0.5);
    lm_intgen_cfg g = {o->prompt, o->steps, (uint32_t)(o->temp * 256 + 0.5), topp_q15, (uint32_t)o->seed};
    if (o->temp > 0 && g.temp_q8 == 0) g.temp_q8 = 1;
    double secs = 0;
    uint32_t *crc = o->debug_logits ? rq_malloc(((size_t)m->lm.c.seq_len + 1) * sizeof(uint32_t)) : NULL;
    int nc = 0;
    clock_t c0 = clock();
    int n = lm_int_generate_crc(&m->lm, &tok, &g, o->out, NULL, &secs, crc, &nc);
    tokenizer_free(&tok);
    if (n < 0) {
        free(crc);
        return RQ_EINPUT;
    }
    if (n > 2 && secs > 0) fprintf(stderr, "achieved tok/s: %f\n", (n - 2) / secs);
    r->tokens = (uint64_t)(n > 0 ? n - 1 : 0);
    r->logit_crc = crc, r->n_crc = nc;
    r->stats = cJSON_CreateObject();
    cJSON_AddNumberToObject(r->stats, "cpu_seconds", (double)(clock() - c0) / CLOCKS_PER_SEC);
    return 0;
}

static int host_run(const char *artefact, const rq_run_opts *o, rq_run_result *r) {
    rq_model m;
    int rc = rq_model_open(artefact, NULL, &m);
    if (rc) {
        rq_model_close(&m);
        return rc;
    }
    r->unit = "none";
    rc = m.family == RQ_FAM_CHAT ? run_chat(&m, o, r) : run_lm(&m, o, r);
    rq_model_close(&m);
    return rc;
}

const rq_target rq_target_host = {
    .name = "host",
    .cpu = "this machine's",
    .machine = "the host running retroqat",
    .clock_hz = 0,
    .families = RQ_FAM_CHAT | RQ_FAM_LM,
    .lm_weights = RQ_LMW_ALL,
    .artefact = RQ_TARGET_ARTEFACT_FILE,
    .artefacts = "MODEL.rqm (transformer integer image) or MODEL.rqi (chat integer image)",
    .emulator = "none: infer/ compiled for the host",
    .summary = "the integer contract on the host: the reference for every other target",
    .export_flags = EXPORT_FLAGS,
    .run_flags = NULL,
    .export_tools = NULL,
    .run_tools = NULL,
    .args_after_artefact = 0,
    .export_fn = host_export,
    .run_fn = host_run,
};
