// ps2.c: the PlayStation 2 target: the Emotion Engine (MIPS R5900, 294.912 MHz, 32 MB) running the
// integer transformer with its weights streamed from disc one block of rows at a time inside a
// fixed RAM budget, or the chat model resident.
//   export  DIR/PS2LM.ELF (-march=r5900, bare metal for GXemul's testmips machine),
//           DIR/PS2LMQ.ELF (-march=mips2 -mtune=r5900 Linux o32 for qemu-mipsel, `run --fast`),
//           DIR/MODEL.RQS (the streaming image, export/ps2/lm_stream.h), DIR/TOK.TOK,
//           DIR/PS2.ISO (ISO 9660 with the model files and SYSTEM.CNF, built with xorriso; the
//           GXemul build reads its files and streams its weights from this disc), README.md
//           (chat: PS2CHAT.ELF, PS2CHATQ.ELF, CHAT.RQI instead of the model and tokenizer)
//   run     ps2_run.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "export/proc.h"
#include "export/ps2/lm_stream.h"
#include "export/ps2/lm_stream_write.h"
#include "export/ps2/ps2.h"
#include "export/tok_image.h"

static const rq_tflag EXPORT_FLAGS[] = {
    {"--ram", "BYTES", "the RAM budget: the program's arena (default 32 MB minus the program and low memory)"},
    {"--ctx", "N", "positions the KV cache holds (default the model's seq_len; run -n may not exceed it)"},
    {NULL, NULL, NULL},
};
static const rq_tflag RUN_FLAGS[] = {
    {"--fast", NULL, "the -march=mips2 build under qemu-mipsel instead of the R5900 build under GXemul"},
    {NULL, NULL, NULL},
};

#define PROGRAM_RESERVE (512u << 10)  // the program image and its stack (measured after the build)
#define PROMPT_RESERVE 512u           // prompt bytes the arena leaves room for (a longer one: out of memory at run time)

static int write_file(const char *dir, const char *name, const void *p, size_t n) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return rq_write_atomic(path, p, n);
}

static long parse_bytes(const char *s, const char *flag, long dflt, long lo, long hi, int *rc) {
    if (!s) return dflt;
    char *end;
    long v = strtol(s, &end, 0);
    if (*end || v < lo || v > hi) *rc = rq_fail(RQ_EINPUT, "%s: expected a number in %ld..%ld, got '%s'", flag, lo, hi, s);
    return v;
}

// The ISO 9660 disc (xorriso's mkisofs emulation: level 1 names, which is what the PS2 reads).
static int build_iso(const char *dir, const char *const *files) {
    char iso[1100], paths[8][1100];
    snprintf(iso, sizeof iso, "%s/PS2.ISO", dir);
    const char *argv[24] = {"xorriso", "-as", "mkisofs", "-quiet", "-V", "RETROQAT", "-o", iso};
    int n = 8;
    for (int i = 0; files[i]; i++) snprintf(paths[i], sizeof paths[i], "%s/%s", dir, files[i]), argv[n++] = paths[i];
    argv[n] = NULL;
    rq_proc p = {.argv = argv, .timeout = 120};
    rq_proc_result r;
    int rc = rq_proc_run(&p, &r);
    if (!rc && r.exit_code) rc = rq_fail(RQ_ERUNTIME, "ps2: xorriso failed (exit %d): %s", r.exit_code, r.err ? r.err : "");
    rq_proc_result_free(&r);
    return rc;
}

static const char README[] =
    "# PS2 (Emotion Engine) export\n\n"
    "Files: `PS2LM.ELF` (R5900, bare metal, GXemul testmips), `PS2LMQ.ELF` (mips2 Linux o32, qemu-mipsel),\n"
    "`MODEL.RQS` (the streaming image: 2048-byte sectors, matrix table, CRC-32 per matrix checked as it\n"
    "streams), `TOK.TOK` (tokenizer image), `PS2.ISO` (ISO 9660 with the model files and SYSTEM.CNF).\n"
    "Chat exports have `PS2CHAT.ELF`, `PS2CHATQ.ELF` and `CHAT.RQI` instead.\n\n"
    "Run: `retroqat run --target ps2 DIR -i PROMPT -n N` (GXemul's R5900) or `--fast` (qemu-mipsel).\n"
    "By hand: write the argument block (\"RQAG\", u32 length, NUL-separated argv) to a file and\n"
    "`gxemul -q -E testmips -C R5900 -M 32 -d r:PS2.ISO 0x80010000:ARGS.BIN PS2LM.ELF < some-open-pipe`.\n\n"
    "On a real PS2 the same program needs a PS2SDK build of export/ps2/cpu/rt_ps2.c: ps2_open/ps2_read\n"
    "over sceCdSearchFile + sceCdRead (or fioOpen(\"cdrom0:\\\\MODEL.RQS;1\") + fioLseek/fioRead), the\n"
    "console over the SDK's printf/sio, argv from the loader, and PS2SDK's crt0 instead of start.S;\n"
    "the disc then boots through SYSTEM.CNF. None of that can be tested here (no PS2 emulator in Debian).\n";

static int export_chat(const rq_model *m, const rq_export_opts *o, size_t budget) {
    int rc;
    if ((rc = write_file(o->out, "CHAT.RQI", m->image, m->image_bytes))) return rc;
    size_t arena = m->image_bytes + 64 * 1024;
    if (arena > budget) return rq_fail(RQ_EINPUT, "ps2: the chat model needs %zu bytes, the budget is %zu (%zu short)", arena, budget, arena - budget);
    char elf[1100];
    snprintf(elf, sizeof elf, "%s/PS2CHAT.ELF", o->out);
    if ((rc = ps2_build(elf, 0, 1, arena, 0, 0))) return rc;
    snprintf(elf, sizeof elf, "%s/PS2CHATQ.ELF", o->out);
    if ((rc = ps2_build(elf, 1, 1, arena, 0, 0))) return rc;
    static const char cnf[] = "BOOT2 = cdrom0:\\PS2CHAT.ELF;1\nVER = 1.00\nVMODE = NTSC\n";
    if ((rc = write_file(o->out, "SYSTEM.CNF", cnf, sizeof cnf - 1))) return rc;
    const char *files[] = {"SYSTEM.CNF", "PS2CHAT.ELF", "CHAT.RQI", NULL};
    if ((rc = build_iso(o->out, files)) || (rc = write_file(o->out, "README.md", README, sizeof README - 1))) return rc;
    if (o->json)
        printf("{\"target\":\"ps2\",\"family\":\"chat\",\"out\":\"%s\",\"arena\":%zu,\"budget\":%zu,"
               "\"memory_map\":[{\"name\":\"model image\",\"bytes\":%zu},{\"name\":\"arena\",\"bytes\":%zu}]}\n",
               o->out, arena, budget, m->image_bytes, arena);
    else printf("wrote %s: PS2CHAT.ELF, PS2CHATQ.ELF, CHAT.RQI (%zu bytes), PS2.ISO\n", o->out, m->image_bytes);
    return 0;
}

extern const rq_target rq_target_ps2;

static int ps2_export(const rq_model *m, const rq_export_opts *o) {
    int rc = 0;
    long dflt = (long)(PS2_RAM - PS2_LOW_RESERVED - PROGRAM_RESERVE);
    size_t budget = (size_t)parse_bytes(rq_tflag_get(EXPORT_FLAGS, o->flag, "--ram"), "--ram", dflt, 4096, dflt, &rc);
    if (rc) return rc;
    if ((rc = rq_mkdir_p(o->out))) return rc;
    if (m->family == RQ_FAM_CHAT) return export_chat(m, o, budget);

    lm_model lm = m->lm;
    long ctx = parse_bytes(rq_tflag_get(EXPORT_FLAGS, o->flag, "--ctx"), "--ctx", lm.c.seq_len, 1, lm.c.seq_len, &rc);
    if (rc) return rc;
    if (!o->tokenizer) return rq_fail(RQ_EINPUT, "ps2: the program prints text: give the tokenizer with -z TOK.bin");
    if ((rc = rq_target_lm_check(&rq_target_ps2, &lm.c))) return rc;
    rq_buf img = {0}, tok = {0};
    lmst_sizes sz;
    if ((rc = lmst_write(&lm, 0, &img, &sz)) || (rc = tok_image_build(o->tokenizer, lm.c.vocab_size, 0, &tok))) goto out;

    // The arena, in the program's order: header, matrix table, resident part, stream buffer,
    // tokenizer, state (KV cache for ctx positions), prompt and sampler scratch; what is left
    // keeps matrices resident.
    lm_config c = lm.c;
    c.seq_len = (int32_t)ctx;
    size_t V = (size_t)c.vocab_size, nm = (size_t)(7 * c.n_layers + !c.shared_classifier);
    size_t fixed = LMST_SECTOR + (sz.header > LMST_SECTOR ? sz.header : 0) + 12 * nm + sz.resident + ((tok.len + 3) & ~3u) +
                   lm_state_bytes(&c) + 2 * (PROMPT_RESERVE + 3) * 4 + 2 * 256 + 16 + V * 4 + ((V * 2 + 3) & ~3u) + 64;
    size_t need = fixed + sz.max_row;
    if (need > budget) {
        rc = rq_fail(RQ_EINPUT,
                     "ps2: the resident part does not fit the RAM budget: %zu bytes needed (embedding and tables %u, state for %ld positions "
                     "%zu, tokenizer %zu, one streamed row %u), budget %zu: %zu bytes short",
                     need, sz.resident, ctx, lm_state_bytes(&c), tok.len, sz.max_row, budget, need - budget);
        goto out;
    }
    size_t left = budget - fixed, buf;
    if (left >= (size_t)sz.matrices + sz.max_row) buf = sz.max_row;  // everything will be cached
    else buf = left < sz.max_mat ? left : sz.max_mat;
    buf &= ~(size_t)3;
    if (buf < sz.max_row) buf += 4;
    size_t cacheable = left - buf;

    char elf[1100];
    if ((rc = write_file(o->out, "MODEL.RQS", img.data, img.len)) || (rc = write_file(o->out, "TOK.TOK", tok.data, tok.len))) goto out;
    snprintf(elf, sizeof elf, "%s/PS2LM.ELF", o->out);
    if ((rc = ps2_build(elf, 0, 0, budget, buf, ctx))) goto out;
    size_t prog = ps2_program_bytes(elf, budget);
    if (prog + budget > PS2_RAM - PS2_LOW_RESERVED) {
        rc = rq_fail(RQ_EINPUT, "ps2: program %zu + budget %zu bytes exceed the 32 MB RAM (%zu short)", prog, budget,
                     prog + budget - (PS2_RAM - PS2_LOW_RESERVED));
        goto out;
    }
    snprintf(elf, sizeof elf, "%s/PS2LMQ.ELF", o->out);
    if ((rc = ps2_build(elf, 1, 0, budget, buf, ctx))) goto out;
    char cnf[128];
    snprintf(cnf, sizeof cnf, "BOOT2 = cdrom0:\\PS2LM.ELF;1\nVER = 1.00\nVMODE = NTSC\n");
    if ((rc = write_file(o->out, "SYSTEM.CNF", cnf, strlen(cnf)))) goto out;
    const char *files[] = {"SYSTEM.CNF", "PS2LM.ELF", "MODEL.RQS", "TOK.TOK", NULL};
    if ((rc = build_iso(o->out, files)) || (rc = write_file(o->out, "README.md", README, sizeof README - 1))) goto out;
    size_t cached = cacheable >= sz.matrices ? sz.matrices : 0;
    if (o->json)
        printf("{\"target\":\"ps2\",\"family\":\"lm\",\"out\":\"%s\",\"wbits\":%d,\"budget\":%zu,\"program\":%zu,\"ctx\":%ld,"
               "\"image_bytes\":%zu,\"matrices\":%u,\"stream_buffer\":%zu,\"cacheable\":%zu,\"all_cached\":%s,"
               "\"memory_map\":[{\"name\":\"program\",\"bytes\":%zu},{\"name\":\"resident weights and tables\",\"bytes\":%u},"
               "{\"name\":\"state (KV cache)\",\"bytes\":%zu},{\"name\":\"tokenizer\",\"bytes\":%zu},{\"name\":\"stream buffer\",\"bytes\":%zu},"
               "{\"name\":\"free for cached matrices\",\"bytes\":%zu},{\"name\":\"streamed from disc\",\"bytes\":%u}]}\n",
               o->out, lm.c.wbits, budget, prog, ctx, img.len, sz.matrices, buf, cacheable, cached ? "true" : "false", prog, sz.resident,
               lm_state_bytes(&c), tok.len, buf, cacheable, sz.matrices);
    else
        printf("wrote %s: PS2LM.ELF, PS2LMQ.ELF, MODEL.RQS (%zu bytes, %u of matrices), TOK.TOK, PS2.ISO; budget %zu bytes, "
               "stream buffer %zu, %s\n",
               o->out, img.len, sz.matrices, budget, buf, cached ? "every matrix fits and is kept resident" : "matrices stream per token");
out:
    rq_buf_free(&img);
    rq_buf_free(&tok);
    return rc;
}

static const char *const EXPORT_TOOLS[] = {"mipsel-linux-gnu-gcc", "xorriso", NULL};
static const char *const RUN_TOOLS[] = {"gxemul", "qemu-mipsel", "stdbuf", NULL};

const rq_target rq_target_ps2 = {
    .name = "ps2",
    .cpu = "MIPS R5900 (Emotion Engine)",
    .machine = "PlayStation 2, 32 MB, weights streamed from disc",
    .clock_hz = 294912000,
    .families = RQ_FAM_CHAT | RQ_FAM_LM,
    .lm_weights = RQ_LMW_8 | RQ_LMW_4,
    .artefact = RQ_TARGET_ARTEFACT_DIR,
    .artefacts = "DIR: PS2LM.ELF, PS2LMQ.ELF, MODEL.RQS, TOK.TOK, PS2.ISO, README.md (chat: PS2CHAT.ELF, CHAT.RQI)",
    .emulator = "GXemul testmips -C R5900 (default) or qemu-mipsel -cpu 24Kc (--fast)",
    .summary = "Emotion Engine: streams weights from disc one block of rows at a time under a RAM budget (--ram)",
    .export_flags = EXPORT_FLAGS,
    .run_flags = RUN_FLAGS,
    .export_tools = EXPORT_TOOLS,
    .run_tools = RUN_TOOLS,
    .args_after_artefact = 0,
    .export_fn = ps2_export,
    .run_fn = ps2_run,
};
