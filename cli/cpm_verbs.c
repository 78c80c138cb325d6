// cpm_verbs.c: TEMPORARY bridge from the old `export --target cpm` / `run --target cpm` verbs to
// the cpm target (export/cpm/cpm.c, rq_target_cpm), until the generic export/run verbs that walk
// the registry (export/targets.c) replace it. It parses the same flags as before, opens the model
// (the chat family only: rq_model_open replaces load_model) and prints the run's statistics.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/binio.h"
#include "base/err.h"
#include "base/rqfile.h"
#include "cli/args.h"
#include "cli/verbs.h"
#include "export/cpm/runner.h"
#include "export/target.h"
#include "qat/image_open.h"

extern const rq_target rq_target_cpm;

static const char *EXPORT_USAGE =
    "usage: retroqat export MODEL --target cpm -o CHAT.COM [--json] [--probes] [--layout L] [--stream]\n"
    "Build a CP/M 2.2 program that answers like `retroqat chat MODEL`: the hand-written Z80 kernel\n"
    "(export/cpm/cpu/chat.s) with the model's weights embedded. Without arguments CHAT.COM chats at a\n"
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

// The chat model of path (a chat checkpoint's CIMG section or a raw RQCI image) as an rq_model.
static int load_model(const char *path, rq_model *md) {
    uint8_t *data;
    size_t n;
    memset(md, 0, sizeof *md);
    md->family = RQ_FAM_CHAT, md->path = path;
    int rc = rq_read_file(path, &data, &n);
    if (rc) return rc;
    if (n >= 4 && memcmp(data, "RQCI", 4) == 0) {
        md->hold = data, md->image = data, md->image_bytes = n, md->source = "chat image";
        return chat_image_parse(data, n, path, &md->chat);
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
    md->hold = rq_malloc(r.len ? r.len : 1);
    memcpy(md->hold, r.data, r.len);
    md->image = md->hold, md->image_bytes = r.len, md->source = "chat checkpoint";
    rqf_close(&f);
    return chat_image_parse(md->hold, md->image_bytes, path, &md->chat);
}

int cpm_export_main(int argc, char **argv) {
    const char *target = "cpm", *out = NULL, *pos[1], *layout = NULL;
    int json = 0, probes = 0, npos = 0, stream = 0;
    const rq_arg opts[] = {{"--target", NULL, ARG_STR, &target, NULL}, {"--out", "-o", ARG_STR, &out, NULL},
                           {"--json", NULL, ARG_FLAG, &json, NULL},     {"--probes", NULL, ARG_FLAG, &probes, NULL},
                           {"--layout", NULL, ARG_STR, &layout, NULL},
                           {"--stream", NULL, ARG_FLAG, &stream, NULL},
                           {NULL, NULL, 0, NULL, NULL}};
    int rc = rq_args_parse(argc, argv, opts, pos, 1, &npos, EXPORT_USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (npos != 1 || !out) {
        fprintf(stderr, "retroqat: export --target cpm needs a MODEL and -o CHAT.COM\n%s", EXPORT_USAGE);
        return RQ_EINPUT;
    }
    if (layout && strcmp(layout, "auto") && strcmp(layout, "packed") && strcmp(layout, "sparse")) {
        fprintf(stderr, "retroqat: --layout: expected auto, packed or sparse, got '%s'\n%s", layout, EXPORT_USAGE);
        return RQ_EINPUT;
    }
    rq_model m;
    if ((rc = load_model(pos[0], &m))) {
        free(m.hold);
        return rq_report(rc);
    }
    const char *flag[] = {layout, probes ? "1" : NULL, stream ? "1" : NULL};
    rq_export_opts eo = {.out = out, .json = json, .flag = flag};
    rc = rq_target_cpm.export_fn(&m, &eo);
    free(m.hold);
    return rc ? rq_report(rc) : 0;
}

static const char *RUN_USAGE =
    "usage: retroqat run --target cpm [FLAGS] PROG.COM [ARGS...]\n"
    "Run a CP/M 2.2 program in the bundled emulator (64K system: TPA 0100h-E3FFh, BDOS at EC06h).\n"
    "The console is stdin/stdout (CR LF <-> LF); ARGS become the command tail and default FCBs;\n"
    "files are read and written in --dir. Flags go before PROG.COM; everything after it is ARGS.\n"
    "  --dir DIR           host directory that holds the CP/M files (default: .)\n"
    "  --max-tstates N     stop after N T-states (default 20e9) with exit code 124\n"
    "  --top ADDR          BDOS entry address, i.e. the top of the TPA (default EC06h; hex as\n"
    "                      0xE406 or E406h): the CCP sits 806h below it\n"
    "  --no-echo           do not echo console input (for clean transcripts of piped input)\n"
    "  --stats             print T-states, console chars, T-states per char, BDOS histogram and\n"
    "                      T-state regions to stderr at the end\n"
    "  --json              with or without --stats: the statistics as one JSON object on stderr\n"
    "  --stats-file FILE   also write the JSON statistics to FILE\n"
    "Exit code: the program's (OUT (0FEh),A), 0 on warm boot / BDOS 0 / console EOF, 124 when the\n"
    "T-state limit stops it, 1 on a runtime error (unimplemented BDOS call, HALT, ...), 2 for a bad\n"
    ".COM or bad flags. See docs/cpm-emulator.md.\n";

int cpm_run_main(int argc, char **argv) {
    // Our flags come before PROG.COM; the program's arguments after it are passed untouched.
    static const char *value_flags[] = {"--target", "--dir", "--max-tstates", "--top", "--stats-file", NULL};
    int split = argc;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            split = i + 1 < argc ? i + 1 : argc;
            break;
        }
        if (a[0] != '-' || a[1] == 0) {
            split = i;
            break;
        }
        for (int k = 0; value_flags[k]; k++)
            if (strcmp(a, value_flags[k]) == 0) i++;
    }
    const char *target = "cpm", *dir = NULL, *max_s = NULL, *top_s = NULL, *stats_file = NULL;
    int stats = 0, json = 0, no_echo = 0;
    rq_arg opts[] = {
        {"--target", NULL, ARG_STR, &target, NULL},   {"--dir", NULL, ARG_STR, &dir, NULL},
        {"--max-tstates", NULL, ARG_STR, &max_s, NULL}, {"--top", NULL, ARG_STR, &top_s, NULL},
        {"--stats-file", NULL, ARG_STR, &stats_file, NULL}, {"--stats", NULL, ARG_FLAG, &stats, NULL},
        {"--json", NULL, ARG_FLAG, &json, NULL},      {"--no-echo", NULL, ARG_FLAG, &no_echo, NULL},
        {NULL, NULL, 0, NULL, NULL},
    };
    int npos;
    int nflags = split < argc ? split : argc;
    if (nflags > 0 && strcmp(argv[nflags - 1], "--") == 0) nflags--;
    int rc = rq_args_parse(nflags, argv, opts, NULL, 0, &npos, RUN_USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (strcmp(target, "cpm") != 0) {
        fprintf(stderr, "retroqat: run: this verb runs --target cpm, not '%s'\n%s", target, RUN_USAGE);
        return RQ_EINPUT;
    }
    if (split >= argc) {
        fprintf(stderr, "retroqat: run --target cpm needs a PROG.COM\n%s", RUN_USAGE);
        return RQ_EINPUT;
    }
    const char *flag[] = {dir, max_s, top_s, no_echo ? "1" : NULL, stats_file};
    rq_run_opts o = {.prompt = "", .nargs = argc - split - 1, .args = argv + split + 1, .stats = stats, .json = json,
                     .out = stdout, .flag = flag};
    rq_run_result r;
    if ((rc = rq_target_cpm.run_fn(argv[split], &o, &r))) return rq_report(rc);
    if (stats || json) cpm_print_stats(r.stats, json, stderr);
    cJSON_Delete(r.stats);
    free(r.logit_crc);
    return r.exit_code;
}
