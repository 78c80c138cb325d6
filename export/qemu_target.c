// qemu_target.c: export and run of the C-built Linux-process targets (qemu_target.h).
#include "export/qemu_target.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/binio.h"
#include "base/endian.h"
#include "base/err.h"
#include "export/lm_image_write.h"
#include "export/tok_image.h"
#include "infer/lm_tok.h"

// Prompts the transformer program has room for (its arena is sized at export), and the stack
// the memory check adds to the program's loaded size (the deepest path, the chat kernel's
// subset-sum tables and encoder counts, needs about 32 KB).
#define QT_MAX_PROMPT 1024
#define QT_STACK (64 * 1024L)

static size_t al4(size_t n) { return (n + 3) & ~(size_t)3; }

long qt_parse_bytes(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0) return -1;
    long mul = 1;
    if (*end == 'K' || *end == 'k') mul = 1024, end++;
    else if (*end == 'M' || *end == 'm') mul = 1024L * 1024, end++;
    if (*end || v > (1L << 40) / mul) return -1;
    return v * mul;
}

// ---- export ------------------------------------------------------------------------------------

typedef struct {
    const char *name;
    long bytes;
} mem_item;

static int write_file(const char *dir, const char *name, const void *p, size_t n) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return rq_write_atomic(path, p, n);
}

static int write_readme(const qt_target *t, const rq_model *m, const rq_export_opts *o, const mem_item *mm, int nmm,
                        long need, long ram) {
    int lm = m->family == RQ_FAM_LM;
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f) return rq_fail(RQ_ERUNTIME, "out of memory");
    fprintf(f, "# %s: %s for the %s\n\n", lm ? "lm" : "chat", lm ? "an integer transformer" : "the trigram chat model", t->title);
    fprintf(f, "Written by `retroqat export --target %s` from %s (%s).\n\n", t->name, m->path, m->source);
    fprintf(f, "## Files\n\n");
    if (lm) {
        fprintf(f, "- `lm`: the program (a static %s Linux executable, no C library, no heap)\n", t->title);
        char wd[96];
        fprintf(f, "- `MODEL.RQM`: the integer model image, %s layer weights, %s-endian\n", lm_weights_desc(&m->lm.c, wd, sizeof wd),
                t->big_endian ? "big" : "little");
        fprintf(f, "- `TOK.RQT`: the tokenizer image, %s-endian\n", t->big_endian ? "big" : "little");
    } else {
        fprintf(f, "- `chat`: the program (a static %s Linux executable, no C library, no heap)\n", t->title);
        fprintf(f, "- `MODEL.RQI`: the chat model's integer image\n");
    }
    fprintf(f, "- `target.txt`: what `retroqat run --target %s DIR` needs\n\n", t->name);
    fprintf(f, "## Running it\n\n%s\n\n", t->readme);
    if (lm)
        fprintf(f, "    ./lm -i \"Once upon a time\" -n 256 -T 256 -P 29491 -s 42\n\n"
                   "Flags: `-m MODEL.RQM -k TOK.RQT -i PROMPT -n STEPS -T TEMP_Q8 -P TOPP_Q15 -s SEED -d`. The\n"
                   "program has no floating point: `-T` is round(256 x temperature) (0: greedy) and `-P` is\n"
                   "round(32768 x top-p); `-d` prints the CRC-32 of every step's logits to stderr. Prompts up to\n"
                   "%d bytes fit. Under qemu: `retroqat run --target %s DIR -i PROMPT -n N -t T -s SEED --stats`.\n\n",
                QT_MAX_PROMPT, t->name);
    else
        fprintf(f, "    ./chat \"hello\" \"who are you\"\n\n"
                   "Each argument is answered on its own line; without arguments it reads queries at a `> `\n"
                   "prompt until end of input. `-d` prints the CRC-32 of every step's logits to stderr. Under\n"
                   "qemu: `retroqat run --target %s DIR QUERY... --stats`.\n\n",
                t->name);
    fprintf(f, "## Memory (all static: sized for this model at export)\n\n| part | bytes |\n|---|---:|\n");
    for (int i = 0; i < nmm; i++) fprintf(f, "| %s | %ld |\n", mm[i].name, mm[i].bytes);
    fprintf(f, "| **total** | **%ld** (of --ram %ld) |\n", need, ram);
    fclose(f);
    int rc = write_file(o->out, "README.md", s, len);
    free(s);
    return rc;
}

static void print_summary(const qt_target *t, const rq_model *m, const rq_export_opts *o, const mem_item *mm, int nmm,
                          long need, long ram) {
    if (!o->json) {
        printf("wrote %s: %s for %s, %ld of %ld bytes of memory\n", o->out, m->family == RQ_FAM_LM ? "transformer" : "chat model",
               t->title, need, ram);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "target", t->name);
    cJSON_AddStringToObject(j, "out", o->out);
    cJSON_AddStringToObject(j, "family", m->family == RQ_FAM_LM ? "transformer" : "chat");
    cJSON_AddStringToObject(j, "source", m->source);
    cJSON_AddStringToObject(j, "endian", t->big_endian ? "big" : "little");
    if (m->family == RQ_FAM_LM) {
        char wd[96];
        cJSON_AddNumberToObject(j, "wbits", m->lm.c.wbits);
        cJSON_AddStringToObject(j, "weights", lm_weights_desc(&m->lm.c, wd, sizeof wd));
    }
    cJSON_AddNumberToObject(j, "ram", (double)ram);
    cJSON_AddNumberToObject(j, "bytes", (double)need);
    cJSON *a = cJSON_AddArrayToObject(j, "memory_map");
    for (int i = 0; i < nmm; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", mm[i].name);
        cJSON_AddNumberToObject(e, "bytes", (double)mm[i].bytes);
        cJSON_AddItemToArray(a, e);
    }
    char *s = cJSON_PrintUnformatted(j);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(j);
}

static int refuse(const qt_target *t, long need, long ram, const char *what) {
    return rq_fail(RQ_EINPUT, "does not fit %s in --ram %ld bytes: %s needs %ld bytes, %ld bytes short", t->title, ram, what,
                   need, need - ram);
}

int qt_export(const qt_target *t, const rq_tflag *flags, const rq_model *m, const rq_export_opts *o) {
    const char *rs = rq_tflag_get(flags, o->flag, "--ram");
    long ram = rs ? qt_parse_bytes(rs) : t->default_ram;
    if (ram <= 0) return rq_fail(RQ_EINPUT, "--ram: expected a byte count like 8388608, 8192K or 8M, got '%s'", rs);
    int lm = m->family == RQ_FAM_LM, rc;
    if (lm && !o->tokenizer)
        return rq_fail(RQ_EINPUT, "target %s prints text: give the tokenizer with -z TOKENIZER (it goes into the folder)", t->name);
    rq_buf img = {0}, tok = {0};
    mem_item mm[8];
    int nmm = 0;
    size_t arena = 0;
    if (lm) {
        const lm_config *c = &m->lm.c;
        if ((rc = lm_image_write(&m->lm, t->big_endian, &img)) ||
            (rc = tok_image_build(o->tokenizer, c->vocab_size, t->big_endian, &tok))) {
            rq_buf_free(&img), rq_buf_free(&tok);
            return rc;
        }
        uint32_t maxlen = t->big_endian ? rq_rd_u32be(tok.data + 20) : rq_rd_u32le(tok.data + 20);
        size_t state = al4(lm_state_bytes(c)), P = QT_MAX_PROMPT;
        // export/rt/lm_main.c's allocations in order; the file mode (t->lm_entry) reads prompt.txt
        // into the arena and keeps a NUL-terminated copy
        size_t scratch = al4(4 * (P + 3)) + al4((P + 3) * sizeof(int) + 2 * (size_t)maxlen + 4) + al4(4 * (size_t)c->vocab_size) +
                         al4(2 * (size_t)c->vocab_size) + (t->lm_entry ? al4(P) + al4(P + 1) : 0);
        arena = al4(img.len) + al4(tok.len) + state + scratch;
        mm[nmm++] = (mem_item){"model image (MODEL.RQM)", (long)al4(img.len)};
        mm[nmm++] = (mem_item){"tokenizer image (TOK.RQT)", (long)al4(tok.len)};
        mm[nmm++] = (mem_item){"state (activations, KV cache, logits)", (long)state};
        mm[nmm++] = (mem_item){"prompt and sampler scratch", (long)scratch};
    } else {
        arena = al4(m->image_bytes);
        mm[nmm++] = (mem_item){"model image (MODEL.RQI)", (long)arena};
    }
    mm[nmm++] = (mem_item){"stack", QT_STACK};
    long need = (long)arena + QT_STACK;
    if (need > ram) {  // refused before the compile: the data alone does not fit
        rq_buf_free(&img), rq_buf_free(&tok);
        return refuse(t, need, ram, "the model's data and the stack");
    }
    if ((rc = rq_mkdir_p(o->out))) goto done;
    char bin[4200];
    snprintf(bin, sizeof bin, "%s/%s", o->out, lm ? "lm" : "chat");
    char order[32], entry[96];
    snprintf(order, sizeof order, "-DRT_IMAGE_BE=%d", t->big_endian);
    snprintf(entry, sizeof entry, "-DRT_ENTRY=%s", t->lm_entry && lm ? t->lm_entry : lm ? "rt_lm_main" : "rt_chat_main");
    const char *defs[] = {order, entry, NULL};
    if ((rc = qu_build(&t->cpu, m->family, arena, defs, bin))) goto done;
    long span = qu_image_bytes(bin), bad = qu_isa_check(&t->cpu, bin);
    uint32_t fwd = qu_symbol(&t->cpu, bin, lm ? "lm_forward" : "chat_forward");
    uint32_t tk = qu_symbol(&t->cpu, bin, lm ? "lm_tok_decode" : "chat_context_push");
    if (span < 0 || bad < 0 || !fwd || !tk) {
        rc = rq_fail(RQ_ERUNTIME, "%s: cannot read the program's symbols with %s / %s", bin, t->cpu.nm, t->cpu.objdump);
        goto done;
    }
    if (bad > 0) {
        rc = rq_fail(RQ_ERUNTIME, "%s: %ld words that are not %s instructions (objdump -d %s %s prints %s)", bin, bad,
                     t->title, t->cpu.isa_opt[0], t->cpu.isa_opt[1], t->cpu.isa_bad);
        goto done;
    }
    memmove(mm + 1, mm, sizeof mm[0] * (size_t)nmm++);
    mm[0] = (mem_item){"program (code, tables, data)", span - (long)arena};
    need = span + QT_STACK;
    if (need > ram) {
        unlink(bin);
        rc = refuse(t, need, ram, "the program with its data and stack");
        goto done;
    }
    if (lm) rc = write_file(o->out, "MODEL.RQM", img.data, img.len);
    if (!rc && lm) rc = write_file(o->out, "TOK.RQT", tok.data, tok.len);
    if (!rc && !lm) rc = write_file(o->out, "MODEL.RQI", m->image, m->image_bytes);
    if (!rc) {
        char man[512];
        int n = snprintf(man, sizeof man, "target %s\nfamily %s\nprogram %s\nforward %x\ntoken %x\n", t->name, lm ? "lm" : "chat",
                         lm ? "lm" : "chat", fwd, tk);
        rc = write_file(o->out, "target.txt", man, (size_t)n);
    }
    if (!rc) rc = write_readme(t, m, o, mm, nmm, need, ram);
    if (!rc) print_summary(t, m, o, mm, nmm, need, ram);
done:
    rq_buf_free(&img), rq_buf_free(&tok);
    return rc;
}

// ---- run ---------------------------------------------------------------------------------------

typedef struct {
    char target[64], family[64], program[64];
    uint32_t forward, token;
} manifest;

static int read_manifest(const qt_target *t, const char *dir, manifest *mf) {
    char path[4200];
    snprintf(path, sizeof path, "%s/target.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) return rq_fail(RQ_EINPUT, "%s: no target.txt: not a folder written by `retroqat export --target %s`", dir, t->name);
    memset(mf, 0, sizeof *mf);
    char line[256];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char key[32], val[64];
        if (sscanf(line, "%31s %63s", key, val) != 2) rc = rq_fail_line(RQ_EINPUT, path, lineno, 1, "expected 'KEY VALUE'");
        else if (!strcmp(key, "target")) snprintf(mf->target, sizeof mf->target, "%s", val);
        else if (!strcmp(key, "family")) snprintf(mf->family, sizeof mf->family, "%s", val);
        else if (!strcmp(key, "program")) snprintf(mf->program, sizeof mf->program, "%s", val);
        else if (!strcmp(key, "forward")) mf->forward = (uint32_t)strtoul(val, NULL, 16);
        else if (!strcmp(key, "token")) mf->token = (uint32_t)strtoul(val, NULL, 16);
    }
    fclose(f);
    if (rc) return rc;
    if (strcmp(mf->target, t->name) != 0)
        return rq_fail(RQ_EINPUT, "%s: exported for target '%s', not %s", path, mf->target, t->name);
    if ((strcmp(mf->family, "lm") && strcmp(mf->family, "chat")) || !mf->program[0] || strchr(mf->program, '/') || !mf->forward ||
        !mf->token)
        return rq_fail(RQ_EINPUT, "%s: incomplete (family, program, forward, token)", path);
    return 0;
}

// stderr of the program: "#logits STEP CRC" lines into r, everything else to our stderr.
static void split_stderr(const char *err, rq_run_result *r) {
    int cap = 0;
    for (const char *s = err; s && *s;) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s + 1) : strlen(s);
        int step;
        unsigned crc;
        if (sscanf(s, "#logits %d %8x", &step, &crc) == 2) {
            if (r->n_crc == cap) cap = cap ? 2 * cap : 64, r->logit_crc = rq_realloc(r->logit_crc, (size_t)cap * sizeof(uint32_t));
            r->logit_crc[r->n_crc++] = crc;
        } else {
            fwrite(s, 1, n, stderr);
        }
        s += n;
    }
}

int qt_run(const qt_target *t, const char *dir, const rq_run_opts *o, int files, rq_run_result *r) {
    manifest mf;
    int rc = read_manifest(t, dir, &mf);
    if (rc) return rc;
    int lm = strcmp(mf.family, "lm") == 0;
    char prog[80], steps[24], temp[24], topp[24], seed[24];
    snprintf(prog, sizeof prog, "./%s", mf.program);
    const char *args[300];
    int n = 0;
    char *in = NULL;
    size_t in_len = 0;
    if (lm) {
        // run.c's -t / -p as the host runtime converts them (export/host/host.c)
        uint32_t tq = (uint32_t)(o->temp * 256 + 0.5), pq = o->topp <= 0 || o->topp >= 1 ? 32768 : (uint32_t)(o->topp * 32768 + 0.5);
        if (o->temp > 0 && tq == 0) tq = 1;
        snprintf(steps, sizeof steps, "%d", o->steps > 0 ? o->steps : 0);
        snprintf(temp, sizeof temp, "%u", tq);
        snprintf(topp, sizeof topp, "%u", pq);
        snprintf(seed, sizeof seed, "%ld", (long)(int32_t)(uint32_t)o->seed);
        if (files) {
            const char *p = o->prompt ? o->prompt : "";
            if ((rc = write_file(dir, "prompt.txt", p, strlen(p)))) return rc;
        } else {
            args[n++] = "-i", args[n++] = o->prompt ? o->prompt : "";
        }
        args[n++] = "-n", args[n++] = steps, args[n++] = "-T", args[n++] = temp;
        args[n++] = "-P", args[n++] = topp, args[n++] = "-s", args[n++] = seed;
        if (o->debug_logits) args[n++] = "-d";
    } else {
        if (o->debug_logits) args[n++] = "-d";
        args[n++] = "--";
        if (o->nargs > 280) return rq_fail(RQ_EINPUT, "run: at most 280 queries");
        for (int i = 0; i < o->nargs; i++) args[n++] = o->args[i];
        if (o->nargs == 0) in = rq_read_all_stdin(&in_len);  // the "> " loop reads the queries
    }
    args[n] = NULL;
    qu_run run = {.bin = prog, .args = args, .cwd = dir, .in = in, .in_len = in_len, .timeout = o->timeout > 0 ? o->timeout : 600,
                  .n_marks = 2, .marks = {mf.forward, mf.token}};
    qu_result q;
    rc = qu_run_program(&t->cpu, &run, &q);
    free(in);
    if (rc) return rc;
    fwrite(q.p.out, 1, q.p.out_len, o->out);
    fflush(o->out);
    split_stderr(q.p.err, r);
    if (!o->debug_logits) free(r->logit_crc), r->logit_crc = NULL, r->n_crc = 0;
    r->exit_code = q.p.exit_code;
    r->unit = "insns";
    r->count = q.insns;
    r->tokens = q.mark_calls[1];
    r->stats = cJSON_CreateObject();
    uint64_t fwd = q.mark_calls[0], setup = q.mark_first[0];
    cJSON_AddNumberToObject(r->stats, "setup_insns", (double)(fwd ? setup : q.insns));
    cJSON_AddNumberToObject(r->stats, "forwards", (double)fwd);
    if (fwd) cJSON_AddNumberToObject(r->stats, "insns_per_forward", (double)(q.insns - setup) / (double)fwd);
    qu_result_free(&q);
    return 0;
}
