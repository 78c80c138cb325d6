// c64.c: the Commodore 64 target (export/target.h): the integer transformer on a 6502 with the
// weights and the KV cache in a RAM Expansion Unit.
//   export  DIR/retroqat.prg (cl65 -t c64: KERNAL console, REU weight source), DIR/model.reu (the
//           little-endian model image padded to the smallest REU size that also holds the KV
//           cache), DIR/tok.tok (the tokenizer image), DIR/retroqat.d64 (program + tokenizer;
//           the model too when it fits a disk), DIR/c64.sim (the same program for sim65, its
//           weight source the REU image as a host file), README.md (VICE flags, real hardware)
//   run     c64_run.c: the sim65 program under `sim65 -c` (or retroqat's own 6502 with sim65's
//           rules), or the .prg with the REU image in retroqat's C64 model
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/binio.h"
#include "base/err.h"
#include "export/c64/c64_build.h"
#include "export/c64/c64_run.h"
#include "export/lm_image_write.h"
#include "export/proc.h"
#include "export/rt_build.h"
#include "export/target.h"
#include "export/tok_image.h"
#include "qat/image_open.h"

#define REU_MIN (128L << 10)
#define REU_MAX (16L << 20)
#define PROMPT_MAX 256

static const rq_tflag EXPORT_FLAGS[] = {
    {"--c-kernels", NULL, "(export) use infer/'s C loops instead of the 6502 routines (MAC kernels; the chat layer)"},
    {"--chat-reu", NULL, "(export, chat) keep the weights in an REU even when they fit the C64's RAM"},
    {NULL, NULL, NULL},
};

static int write_readme(const char *dir, long reu_bytes, size_t image, int on_disk) {
    char path[4096];
    snprintf(path, sizeof path, "%s/README.md", dir);
    FILE *f = fopen(path, "w");
    if (!f) return rq_fail(RQ_ERUNTIME, "%s: cannot write", path);
    fprintf(f, "# retroqat on a Commodore 64 + REU\n\n"
               "Files: `retroqat.prg` (the program, cc65, loads at $0801), `model.reu` (the integer model\n"
               "image, %zu bytes, padded to a %ld KB REU; the KV cache lives in the REU after it),\n"
               "`tok.tok` (the tokenizer image), `retroqat.d64` (program + tokenizer%s), `c64.sim` (the same\n"
               "program for cc65's sim65, used by `retroqat run --target c64`).\n\n"
               "## VICE\n\n    x64sc -reu -reusize %ld -reuimage model.reu -autostart retroqat.d64\n\n"
               "then, at the READY prompt, arguments go after a REM (cc65's argv):\n\n"
               "    RUN:REM -i \"ONCE UPON A TIME\" -n 20\n\n"
               "(the program reads `tok.tok` from drive 8; the REU must already hold `model.reu`: the program\n"
               "checks its header and CRC first, about a minute at 1 MHz).\n\n"
               "## Real hardware\n\nA 1764/1750/17xx REU (or a compatible cartridge: Ultimate 1541-II, 1541U, Turbo Chameleon)\n"
               "of at least %ld KB. Load `model.reu` into the REU with the cartridge's REU-image loader (the\n"
               "Ultimate's menu: \"Load REU\"), then `LOAD \"RETROQAT\",8` and `RUN:REM -i \"...\" -n N`.\n",
            image, reu_bytes >> 10, on_disk ? ", and the model image" : "; the model does not fit a 170 KB disk", reu_bytes >> 10, reu_bytes >> 10);
    return fclose(f) ? rq_fail(RQ_ERUNTIME, "%s: write failed", path) : 0;
}

extern const rq_target rq_target_c64;

static int c64_export(const rq_model *m, const rq_export_opts *o) {
    if (m->family == RQ_FAM_CHAT)
        return c64_chat_export(m, o, rq_tflag_get(EXPORT_FLAGS, o->flag, "--chat-reu") != NULL,
                               rq_tflag_get(EXPORT_FLAGS, o->flag, "--c-kernels") != NULL);
    if (!o->tokenizer) return rq_fail(RQ_EINPUT, "target c64: the program prints text: give the tokenizer with -z TOK.bin");
    int rc = rq_target_lm_check(&rq_target_c64, &m->lm.c);
    if (rc) return rc;
    rq_buf img = {0}, tok = {0}, side = {0};
    uint8_t *copy = NULL;
    char bdir[4096];
    const char *ck = rq_tflag_get(EXPORT_FLAGS, o->flag, "--c-kernels");
    if ((rc = lm_image_write(&m->lm, 0, &img)) || (rc = tok_image_build(o->tokenizer, m->lm.c.vocab_size, 0, &tok))) goto done;
    lm_model lay;
    copy = rq_malloc(img.len);
    memcpy(copy, img.data, img.len);
    if ((rc = lm_image_open(copy, img.len, "c64 image", &lay))) goto done;
    int hs = lm_head_size(&lay.c);
    if (!ck && (hs < 2 || hs > C64_MAX_HS || hs % 2)) {
        rc = rq_fail(RQ_EINPUT, "target c64: the 6502 attention kernels take heads of 2..%d values (an even number); this model's have %d: "
                                "export with --c-kernels",
                     C64_MAX_HS, hs);
        goto done;
    }
    // the sidecar: every matrix row's record for the 6502 kernels (and their 24-bit bound check)
    if ((rc = c64_side_build(&lay, copy[12] | copy[13] << 8 | copy[14] << 16 | (uint32_t)copy[15] << 24, ck != NULL, &side))) goto done;
    // the REU: image, sidecar, then the KV cache (each 256-aligned), in the smallest REU size that holds them
    long need = (long)c64_kv_base((uint32_t)img.len, (uint32_t)side.len) + (long)c64_kv_bytes(&m->lm.c) + (long)tok.len, reu = REU_MIN;
    while (reu < need && reu < REU_MAX) reu <<= 1;
    if (need > REU_MAX) {
        rc = rq_fail(RQ_EINPUT,
                     "target c64: the model image (%zu bytes), its C64 sidecar (%zu), its KV cache (%lu) and the tokenizer (%zu) need %ld bytes of REU, the largest REU has %ld: %ld bytes short",
                     img.len, side.len, (unsigned long)c64_kv_bytes(&m->lm.c), tok.len, need, REU_MAX, need - REU_MAX);
        goto done;
    }
    if ((rc = rq_mkdir_p(o->out))) goto done;
    snprintf(bdir, sizeof bdir, "%s/build", o->out);
    if ((rc = rq_mkdir_p(bdir))) goto done;
    int wide = lay.c.dim > lay.c.hidden_dim ? lay.c.dim : lay.c.hidden_dim;
    c64_build_cfg b = {.root = rq_source_dir(), .bdir = bdir, .tok_bytes = tok.len, .prompt_max = PROMPT_MAX, .c_kernels = ck != NULL,
                       .wbits = lay.c.wbits, .maxc8 = lay.c.wbits == 4 ? lay.c.dim : wide, .maxb4 = lay.c.wbits == 4 ? (wide + 1) / 2 : 0, .hs = hs};
    {  // the block buffer for this model's rows: dim and hidden wide (int8 or int4), the int8 classifier
        int rows[2] = {lay.c.dim, lay.c.hidden_dim};
        b.blk_bytes = c64_blk_bytes(b.maxc8, lay.c.dim);
        for (int i = 0; i < 2; i++) {
            int need = lay.c.wbits == 4 ? c64_blk_bytes(b.maxb4, (rows[i] + 1) / 2) : c64_blk_bytes(b.maxc8, rows[i]);
            if (need > b.blk_bytes) b.blk_bytes = need;
        }
    }
    char exe[4200];
    long short_c64 = 0, short_sim = 0;
    if ((rc = c64_gen_model(&b, &lay, copy, img.len, &side))) goto done;
    // the C64 first: its RAM (smaller than sim65's) decides whether the model is refused
    snprintf(exe, sizeof exe, "%s/retroqat.prg", o->out);
    if ((rc = c64_compile(&b, "c64", exe, &short_c64))) goto done;
    snprintf(exe, sizeof exe, "%s/c64.sim", o->out);
    if ((rc = c64_compile(&b, "sim6502", exe, &short_sim))) goto done;
    // model.reu: the image, the sidecar, zero-padded to the REU's size
    size_t image_bytes = img.len;
    rq_buf_zeros(&img, c64_side_base((uint32_t)image_bytes) - image_bytes);
    rq_buf_put(&img, side.data, side.len);
    rq_buf_zeros(&img, (size_t)reu - img.len);
    if ((rc = c64_put_file(o->out, "model.reu", img.data, img.len)) || (rc = c64_put_file(o->out, "tok.tok", tok.data, tok.len))) goto done;
    // the disk: program and tokenizer, and the unpadded model image when it fits (664 blocks of 254 bytes)
    int on_disk = image_bytes + tok.len + 50000 < 664 * 254;
    char files[512];
    snprintf(files, sizeof files, "-f retroqat -w retroqat.prg -f tok.tok -T SEQ -w tok.tok %s retroqat.d64",
             on_disk ? "-f model.rqm -T SEQ -w build/model.rqm" : "");
    if (on_disk && (rc = c64_put_file(bdir, "model.rqm", copy, image_bytes))) goto done;
    if ((rc = c64_d64(o->out, files))) goto done;
    static const char MANIFEST[] = "target c64\nfamily lm\nprg retroqat.prg\nsim c64.sim\nreu model.reu\n";
    if ((rc = c64_put_file(o->out, "target.txt", MANIFEST, sizeof MANIFEST - 1))) goto done;
    if ((rc = write_readme(o->out, reu, image_bytes, on_disk))) goto done;
    {
        long seg[5];
        c64_map_segments(bdir, seg);
        unsigned long kvb = (unsigned long)c64_kv_bytes(&lay.c);
        if (o->json)
            printf("{\"target\":\"c64\",\"out\":\"%s\",\"family\":\"transformer\",\"image_bytes\":%zu,\"side_bytes\":%zu,\"reu_bytes\":%ld,"
                   "\"kv_bytes\":%lu,\"wbits\":%d,\"memory_map\":["
                   "{\"name\":\"code\",\"bytes\":%ld},{\"name\":\"rodata\",\"bytes\":%ld},{\"name\":\"data\",\"bytes\":%ld},"
                   "{\"name\":\"square tables (page-aligned)\",\"bytes\":%ld},"
                   "{\"name\":\"bss (forward buffers / tokenizer, kernel buffers)\",\"bytes\":%ld},{\"name\":\"REU: model image\",\"bytes\":%zu},"
                   "{\"name\":\"REU: C64 sidecar (row records)\",\"bytes\":%zu},{\"name\":\"REU: KV cache\",\"bytes\":%lu},"
                   "{\"name\":\"REU: tokenizer stash\",\"bytes\":%zu}]}\n",
                   o->out, image_bytes, side.len, reu, kvb, lay.c.wbits, seg[0], seg[1], seg[2], seg[4], seg[3], image_bytes, side.len, kvb, tok.len);
        else
            printf("wrote %s: retroqat.prg (code %ld + data %ld + tables %ld + bss %ld bytes of RAM), model.reu (%ld KB REU: image %zu + sidecar %zu + "
                   "KV cache %lu + tokenizer %zu bytes), tok.tok, retroqat.d64, c64.sim\n",
                   o->out, seg[0], seg[1] + seg[2], seg[4], seg[3], reu >> 10, image_bytes, side.len, kvb, tok.len);
    }
done:
    free(copy);
    rq_buf_free(&img);
    rq_buf_free(&tok);
    rq_buf_free(&side);
    return rc;
}

static const char *const TOOLS_EXPORT[] = {"cl65", "ca65", "gcc", "python3", "cc1541", NULL};
static const char *const TOOLS_RUN[] = {"sim65", NULL};

const rq_target rq_target_c64 = {
    .name = "c64",
    .cpu = "MOS 6510",
    .machine = "Commodore 64 (PAL, 0.985 MHz) with a RAM Expansion Unit",
    .clock_hz = C64_HZ,
    .families = RQ_FAM_LM | RQ_FAM_CHAT,
    .lm_weights = RQ_LMW_8 | RQ_LMW_4,
    .artefact = RQ_TARGET_ARTEFACT_DIR,
    .artefacts = "retroqat.prg, model.reu, tok.tok, retroqat.d64, c64.sim (chat: chat.prg, model.rqi, chat.d64, chat.sim), README.md",
    .emulator = "cc65's sim65 (the REU image as a host file); --machine c64: retroqat's C64 + REU model runs the .prg",
    .summary = "integer TinyStories and the chat model on a 6502: weights (and the KV cache) in an REU, streamed by DMA",
    .export_flags = EXPORT_FLAGS,
    .run_flags = c64_run_flags,
    .export_tools = TOOLS_EXPORT,
    .run_tools = TOOLS_RUN,
    .args_after_artefact = 0,
    .export_fn = c64_export,
    .run_fn = c64_target_run,
};
