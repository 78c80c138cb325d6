// cpm_verbs.c: CLI verbs of the CP/M target.
//   run --target cpm PROG.COM [ARGS...]   the bundled CP/M 2.2 emulator (emu/cpm.h)
//   (export --target cpm lives in cli/cpm_export_verb.c)
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/err.h"
#include "cli/args.h"
#include "cli/verbs.h"
#include "emu/cpm.h"

// ---- the terminal: CP/M programs expect raw keys and echo them themselves ----------------------

static struct termios saved_tty;
static int tty_raw;

static void tty_restore(void) {
    if (tty_raw) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
    tty_raw = 0;
}

static void on_signal(int sig) {
    tty_restore();
    signal(sig, SIG_DFL);
    raise(sig);
}

// Keys arrive one at a time without the terminal's echo (the BDOS echoes, like CP/M); ^C still
// interrupts, ^D is end of input.
static void tty_make_raw(void) {
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) != 0) return;
    struct termios t = saved_tty;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) != 0) return;
    tty_raw = 1;
    atexit(tty_restore);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
}

// ---- statistics --------------------------------------------------------------------------------

static cJSON *stats_json(cpm_machine *m) {
    const cpm_stats *s = cpm_stats_get(m);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "tstates", (double)s->tstates);
    cJSON_AddNumberToObject(o, "chars", (double)s->chars);
    if (s->chars) cJSON_AddNumberToObject(o, "tstates_per_char", (double)s->tstates / (double)s->chars);
    else cJSON_AddNullToObject(o, "tstates_per_char");
    cJSON_AddNumberToObject(o, "seconds_at_4mhz", (double)s->tstates / 4e6);
    cJSON *b = cJSON_AddObjectToObject(o, "bdos");
    for (int f = 0; f < 256; f++) {
        if (!s->bdos[f]) continue;
        char k[8];
        snprintf(k, sizeof k, "%d", f);
        cJSON_AddNumberToObject(b, k, (double)s->bdos[f]);
    }
    cJSON_AddNumberToObject(o, "bios_calls", (double)s->bios_calls);
    cJSON *r = cJSON_AddArrayToObject(o, "regions");
    for (int i = 0; i < CPM_NREGIONS; i++) {
        uint64_t t, n;
        cpm_region(m, i, &t, &n);
        if (!n) continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "id", i);
        cJSON_AddNumberToObject(e, "tstates", (double)t);
        cJSON_AddNumberToObject(e, "count", (double)n);
        cJSON_AddItemToArray(r, e);
    }
    cJSON_AddStringToObject(o, "end", cpm_end_name(s->end));
    cJSON_AddNumberToObject(o, "exit_code", s->exit_code);
    char pc[8];
    snprintf(pc, sizeof pc, "%04X", s->end_pc);
    cJSON_AddStringToObject(o, "end_pc", pc);
    return o;
}

static void stats_text(cpm_machine *m, FILE *f) {
    const cpm_stats *s = cpm_stats_get(m);
    fprintf(f, "cpm: end %s, exit code %d, PC %04Xh\n", cpm_end_name(s->end), s->exit_code, s->end_pc);
    fprintf(f, "cpm: %llu T-states (%.3f s at 4 MHz), %llu console chars", (unsigned long long)s->tstates,
            (double)s->tstates / 4e6, (unsigned long long)s->chars);
    if (s->chars) fprintf(f, ", %.1f T-states per char", (double)s->tstates / (double)s->chars);
    fprintf(f, "\ncpm: BDOS calls (function:count):");
    int any = 0;
    for (int i = 0; i < 256; i++)
        if (s->bdos[i]) fprintf(f, " %d:%llu", i, (unsigned long long)s->bdos[i]), any = 1;
    fprintf(f, "%s\n", any ? "" : " none");
    if (s->bios_calls) fprintf(f, "cpm: direct BIOS calls: %llu\n", (unsigned long long)s->bios_calls);
    for (int i = 0; i < CPM_NREGIONS; i++) {
        uint64_t t, n;
        cpm_region(m, i, &t, &n);
        if (n) fprintf(f, "cpm: region %d: %llu T-states in %llu runs (%.1f per run)\n", i, (unsigned long long)t,
                       (unsigned long long)n, (double)t / (double)n);
    }
}

// ---- run ---------------------------------------------------------------------------------------

static const char *RUN_USAGE =
    "usage: retroqat run --target cpm [FLAGS] PROG.COM [ARGS...]\n"
    "Run a CP/M 2.2 program in the bundled emulator (64K system: TPA 0100h-E3FFh, BDOS at EC06h).\n"
    "The console is stdin/stdout (CR LF <-> LF); ARGS become the command tail and default FCBs;\n"
    "files are read and written in --dir. Flags go before PROG.COM; everything after it is ARGS.\n"
    "  --dir DIR           host directory that holds the CP/M files (default: .)\n"
    "  --max-tstates N     stop after N T-states (default 20e9) with exit code 124\n"
    "  --timeout S         stop after S seconds of wall-clock time with exit code 124 (default 120\n"
    "                      when stdin is not a terminal, none on a terminal; 0 = no limit)\n"
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

static int parse_u64(const char *s, uint64_t *v) {
    char *end;
    double d = strtod(s, &end);
    if (*s == 0 || *end || !(d >= 1) || d > 1.8e19) return 0;
    *v = (uint64_t)d;
    return 1;
}

// cpm_run in slices of RUN_SLICE T-states (a fraction of a second of emulation) up to `limit`,
// checking the wall clock between slices: an endless loop stops after `timeout` seconds (0 = never)
// as a T-state stop does (end "tlimit", exit 124), instead of spinning through 20e9 T-states.
#define RUN_SLICE 50000000ull
static int run_with_timeout(cpm_machine *m, uint64_t limit, double timeout) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        uint64_t t = cpm_stats_get(m)->tstates;
        cpm_set_max_tstates(m, timeout > 0 && limit - t > RUN_SLICE ? t + RUN_SLICE : limit);
        int rc = cpm_run(m);
        const cpm_stats *s = cpm_stats_get(m);
        if (s->end != CPM_END_TLIMIT || s->tstates >= limit) return rc;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double el = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (el >= timeout)
            return rq_fail(RQ_ERUNTIME, "wall-clock timeout of %g s reached after %llu T-states at PC=%04Xh (--timeout)", timeout,
                           (unsigned long long)s->tstates, s->end_pc);
    }
}

static int parse_addr(const char *s, uint16_t *v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%s", s);
    size_t n = strlen(buf);
    int base = 10;
    char *p = buf;
    if (n > 1 && (buf[n - 1] == 'h' || buf[n - 1] == 'H')) buf[--n] = 0, base = 16;
    else if (n > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) p += 2, base = 16;
    char *end;
    unsigned long x = strtoul(p, &end, base);
    if (*p == 0 || *end || x > 0xFFFF) return 0;
    *v = (uint16_t)x;
    return 1;
}

int cpm_run_main(int argc, char **argv) {
    // Our flags come before PROG.COM; the program's arguments after it are passed untouched.
    static const char *value_flags[] = {"--target", "--dir", "--max-tstates", "--timeout", "--top", "--stats-file", NULL};
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
    const char *target = "cpm", *dir = ".", *max_s = NULL, *top_s = NULL, *stats_file = NULL, *timeout_s = NULL;
    int stats = 0, json = 0, no_echo = 0;
    rq_arg opts[] = {
        {"--target", NULL, ARG_STR, &target, NULL},   {"--dir", NULL, ARG_STR, &dir, NULL},
        {"--max-tstates", NULL, ARG_STR, &max_s, NULL}, {"--top", NULL, ARG_STR, &top_s, NULL},
        {"--timeout", NULL, ARG_STR, &timeout_s, NULL},
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
    cpm_opts o = {.dir = dir, .in_fd = STDIN_FILENO, .out = stdout, .no_echo = no_echo};
    if (max_s && !parse_u64(max_s, &o.max_tstates))
        return rq_report(rq_fail(RQ_EINPUT, "--max-tstates: expected a positive number of T-states, got '%s'", max_s));
    double timeout = isatty(STDIN_FILENO) ? 0 : 120;
    char *tend;
    if (timeout_s && (timeout = strtod(timeout_s, &tend), !*timeout_s || *tend || !(timeout >= 0) || timeout > 1e9))
        return rq_report(rq_fail(RQ_EINPUT, "--timeout: expected seconds >= 0 (0 = no limit), got '%s'", timeout_s));
    if (top_s && !parse_addr(top_s, &o.top))
        return rq_report(rq_fail(RQ_EINPUT, "--top: expected an address like EC06h or 0xEC06, got '%s'", top_s));
    cpm_machine *m = cpm_new(&o);
    if (!m) return rq_report(RQ_EINPUT);
    const char *prog = argv[split];
    rc = cpm_load_com_file(m, prog);
    if (!rc) rc = cpm_set_args(m, argc - split - 1, argv + split + 1);
    if (rc) {
        cpm_free(m);
        return rq_report(rc);
    }
    tty_make_raw();
    rc = run_with_timeout(m, o.max_tstates ? o.max_tstates : CPM_MAX_TSTATES_DEFAULT, timeout);
    tty_restore();
    fflush(stdout);
    if (rc) rq_report(rc);
    const cpm_stats *s = cpm_stats_get(m);
    int code = s->end == CPM_END_ERROR ? RQ_ERUNTIME : s->exit_code;
    if (stats || json || stats_file) {
        cJSON *j = stats_json(m);
        if (json) {
            char *txt = cJSON_PrintUnformatted(j);
            fprintf(stderr, "%s\n", txt);
            free(txt);
        } else if (stats) {
            stats_text(m, stderr);
        }
        if (stats_file) {
            char *txt = cJSON_Print(j);
            FILE *f = fopen(stats_file, "w");
            if (!f || fprintf(f, "%s\n", txt) < 0 || fclose(f) != 0) {
                rq_fail(RQ_ERUNTIME, "%s: cannot write the statistics", stats_file);
                rq_report(RQ_ERUNTIME);
                if (code == 0) code = RQ_ERUNTIME;
            }
            free(txt);
        }
        cJSON_Delete(j);
    }
    cpm_free(m);
    return code;
}
