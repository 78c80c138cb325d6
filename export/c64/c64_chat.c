// c64_chat.c: the trigram chat model on the C64 (`retroqat export CHAT --target c64 -o DIR`).
//   DIR/chat.prg    the shared chat program (export/rt/chat_main.c over infer/chat_kernel.c, by
//                   cc65 through c89.py), KERNAL console; the model image in RAM, read from disk
//   DIR/model.rqi   the chat model's integer image (infer/chat_image.c), MODEL.RQI on the disk
//   DIR/chat.d64    program + image
//   DIR/chat.sim    the same program for sim65 (host files, stdin/stdout)
//   DIR/target.txt, DIR/README.md
// The kernel's arrays are sized to this model (CHAT_MAX_WIDTH, CHAT_MAX_BUCKETS) and static; the
// image goes into the program's arena (export/rt/arena.c) of exactly its size. A model whose
// image, code and arrays do not fit the C64's RAM is refused with the shortfall in bytes.
#include <stdio.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "export/c64/c64_build.h"
#include "export/c64/c64_run.h"
#include "export/rt_build.h"

static int write_readme(const char *dir, const rq_model *m, const long seg[4]) {
    char path[4200];
    snprintf(path, sizeof path, "%s/README.md", dir);
    FILE *f = fopen(path, "w");
    if (!f) return rq_fail(RQ_ERUNTIME, "%s: cannot write", path);
    const chat_imodel *c = &m->chat;
    fprintf(f, "# the trigram chat model on a Commodore 64\n\n"
               "Written by `retroqat export --target c64` from %s (%s): %d layers, %d -> ... -> %d, a %zu-byte image.\n\n"
               "Files: `chat.prg` (the program, cc65, loads at $0801), `model.rqi` (the model image; `MODEL.RQI`\n"
               "on the disk), `chat.d64` (both), `chat.sim` (the same program for cc65's sim65).\n\n"
               "## On a C64 (or VICE)\n\n    x64sc -autostart chat.d64        (or: LOAD \"CHAT\",8 and RUN)\n\n"
               "The program loads MODEL.RQI from drive 8 (a few seconds: %zu bytes over the serial bus), then\n"
               "answers at a `> ` prompt; an empty line ends it. Questions may also go after RUN:REM, each in\n"
               "quotes: `RUN:REM \"HELLO\" \"WHO ARE YOU\"` (the encoder lower-cases, so the shift state does not\n"
               "matter). RAM: code %ld + data %ld + bss %ld bytes (the image is in the bss).\n\n"
               "## Here\n\n    retroqat run --target c64 DIR \"hello\"                  (sim65)\n"
               "    retroqat run --target c64 DIR --machine c64 \"hello\"    (the .prg on retroqat's C64 model)\n",
            m->path, m->source, c->n_layers, c->dims[0], c->dims[c->n_layers], m->image_bytes, m->image_bytes, seg[0], seg[1] + seg[2], seg[3]);
    return fclose(f) ? rq_fail(RQ_ERUNTIME, "%s: write failed", path) : 0;
}

int c64_chat_export(const rq_model *m, const rq_export_opts *o) {
    const chat_imodel *c = &m->chat;
    int width = 0, buckets = c->enc.q_buckets > c->enc.k_buckets ? c->enc.q_buckets : c->enc.k_buckets, rc;
    for (int l = 0; l <= c->n_layers; l++)
        if (c->dims[l] > width) width = c->dims[l];
    char bdir[4200], exe[4300], defs[256];
    if ((rc = rq_mkdir_p(o->out))) return rc;
    snprintf(bdir, sizeof bdir, "%s/build", o->out);
    if ((rc = rq_mkdir_p(bdir))) return rc;
    // the arrays sized to this model; the arena holds the image and nothing else
    snprintf(defs, sizeof defs, "-DCHAT_MAX_WIDTH=%d -DCHAT_MAX_BUCKETS=%d -DRT_ARENA_BYTES=%zu", width, buckets, m->image_bytes);
    c64_build_cfg b = {.root = rq_source_dir(), .bdir = bdir, .chat_defs = defs};
    long short_c64 = 0, short_sim = 0;
    snprintf(exe, sizeof exe, "%s/chat.prg", o->out);
    if ((rc = c64_compile(&b, "c64", exe, &short_c64))) return rc;
    long seg[4];
    c64_map_segments(bdir, seg);
    snprintf(exe, sizeof exe, "%s/chat.sim", o->out);
    if ((rc = c64_compile(&b, "sim6502", exe, &short_sim))) return rc;
    static const char MANIFEST[] = "target c64\nfamily chat\nprg chat.prg\nsim chat.sim\n";
    if ((rc = c64_put_file(o->out, "model.rqi", m->image, m->image_bytes)) || (rc = c64_put_file(o->out, "target.txt", MANIFEST, sizeof MANIFEST - 1)) ||
        (rc = c64_d64(o->out, "-f chat -w chat.prg -f model.rqi -T SEQ -w model.rqi chat.d64")) || (rc = write_readme(o->out, m, seg)))
        return rc;
    if (o->json)
        printf("{\"target\":\"c64\",\"out\":\"%s\",\"family\":\"chat\",\"image_bytes\":%zu,\"memory_map\":[{\"name\":\"code\",\"bytes\":%ld},"
               "{\"name\":\"rodata\",\"bytes\":%ld},{\"name\":\"data\",\"bytes\":%ld},{\"name\":\"bss (model image, kernel arrays)\",\"bytes\":%ld}]}\n",
               o->out, m->image_bytes, seg[0], seg[1], seg[2], seg[3]);
    else
        printf("wrote %s: chat.prg (code %ld + data %ld + bss %ld bytes of RAM, the %zu-byte image among them), model.rqi, chat.d64, chat.sim\n", o->out,
               seg[0], seg[1] + seg[2], seg[3], m->image_bytes);
    return 0;
}
