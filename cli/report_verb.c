// report_verb.c: `retroqat report RUN_DIR... [-o report.html] [--json] [--export FILE]...`
// (report/report.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/args.h"
#include "cli/verbs.h"
#include "report/report.h"

static const char USAGE[] =
    "usage: retroqat report RUN_DIR... [-o report.html] [--export FILE]... [--json]\n"
    "One self-contained HTML page (inline SVG and CSS, no script, no network) with the plots of the\n"
    "training runs in RUN_DIR (metrics.jsonl, run.json; several folders are overlaid) and of export\n"
    "summaries. See report/report.h for the panels.\n"
    "  -o, --out FILE   the page to write (default RUN_DIR/report.html of the first folder)\n"
    "  --export FILE    a JSON summary to draw: `export --json` output (memory map) or\n"
    "                   `run --target cpm --stats --json` output (T-states per probe region); may be\n"
    "                   repeated. *.json summaries saved in a run folder are found by themselves.\n"
    "  --json           print a JSON summary of the report (charts, numbers, runs) to stdout\n";

#define MAX_EXPORTS 32

int verb_report(int argc, char **argv) {
    // --export may repeat: collect its values, hand the rest to the flag parser
    const char *exports[MAX_EXPORTS];
    int n_exports = 0, n_rest = 0;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--export") == 0 || strncmp(argv[i], "--export=", 9) == 0) {
            const char *v = argv[i][8] == '=' ? argv[i] + 9 : i + 1 < argc ? argv[++i] : NULL;
            if (!v || n_exports == MAX_EXPORTS) {
                free(rest);
                fprintf(stderr, "retroqat: report: --export needs a FILE (at most %d)\n%s", MAX_EXPORTS, USAGE);
                return RQ_EINPUT;
            }
            exports[n_exports++] = v;
        } else {
            rest[n_rest++] = argv[i];
        }
    }
    const char *out = NULL, *pos[64];
    int json = 0, npos = 0;
    const rq_arg opts[] = {{"--out", "-o", ARG_STR, &out, NULL}, {"--json", NULL, ARG_FLAG, &json, NULL}, {NULL, NULL, 0, NULL, NULL}};
    int rc = rq_args_parse(n_rest, rest, opts, pos, 64, &npos, USAGE);
    if (rc == RQ_ARGS_HELP || rc) {
        free(rest);
        return rc == RQ_ARGS_HELP ? 0 : rc;
    }
    if (npos < 1) {
        free(rest);
        fprintf(stderr, "retroqat: report needs a RUN_DIR\n%s", USAGE);
        return RQ_EINPUT;
    }
    char def[4200];
    if (!out) {
        snprintf(def, sizeof def, "%s/report.html", pos[0]);
        out = def;
    }
    report_opts o = {.out = out, .exports = exports, .n_exports = n_exports, .json = json};
    rc = report_write(pos, npos, &o);
    free(rest);
    if (rc) return rq_report(rc);
    if (!json) printf("wrote %s\n", out);
    return 0;
}
