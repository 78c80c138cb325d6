// test_report.c: `retroqat report` on real runs: a short trigram chat run with its CP/M export
// and an emulator run, and a 4-step llama QAT run with its host image export.
//
// Each page must be well-formed XML (`xmllint --noout`, libxml2-utils: a strict parser of the
// XHTML-compatible output), reference no URL and no script, give every <svg> two axes and at
// least one series, and every number it prints from a file (the elements with data-v) must be
// the printed rounding of the value at data-k in data-src (metrics.jsonl at data-step, run.json,
// the export summaries); every series' data-n must be the number of lines that have its key.
// The browser test renders both pages in headless Chromium, light and dark, and fails on a
// near-uniform image, on missing palette colours, or on any console message; it runs under CI
// (CI=true) or with RQ_BROWSER_TEST=1 and then fails when Chromium is missing.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "testutil.h"

#include "stb_image.h"  // libstb (Debian libstb-dev) has the implementation

static char chat_dir[4200], qat_dir[4200];

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) fail_msg("short read %s", path);
    s[n] = 0;
    fclose(f);
    return s;
}

static void sh(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sh(const char *what, const char *fmt, ...) {
    char cmd[20000], *err = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = rq_test_run(NULL, &err, "%s", cmd);
    if (rc) fail_msg("%s: exit %d: %s", what, rc, err ? err : "");
    free(err);
}

// A short chat run (a small net, 2 epochs) with `export --target cpm --probes --json` and
// `run --target cpm --stats-file` saved in the run folder (the report finds *.json there).
static const char *chat_run(void) {
    if (chat_dir[0]) return chat_dir;
    const char *root = getenv("RQ_ROOT") ? getenv("RQ_ROOT") : ".";
    char dir[4096], cfg[4200], text[2000];
    snprintf(dir, sizeof dir, "%s", rq_test_tmpdir("report_chat"));
    snprintf(cfg, sizeof cfg, "%s/chat.json", dir);
    snprintf(text, sizeof text,
             "{\"model\": \"chat\", \"data\": \"%s/examples/tinychat/chat.txt\", \"seed\": 3,\n"
             " \"net\": {\"q_buckets\": 64, \"k_buckets\": 64, \"hidden\": [48, 32], \"max_answer\": 32},\n"
             " \"train\": {\"epochs\": 2, \"batch\": 256, \"lr\": 0.04, \"evals\": 4, \"eval_examples\": 512, \"eval_queries\": 32},\n"
             " \"qat\": {\"blend_start\": 0.1, \"blend_end\": 0.6, \"calib_examples\": 512}}\n",
             root);
    rq_test_write(cfg, text);
    const char *bin = rq_test_bin();
    sh("train", "%s train %s --out %s/run --quiet", bin, cfg, dir);
    sh("export", "%s export %s/run/best.ckpt --target cpm --probes -o %s/run/CHATP.COM --json > %s/run/export-cpm.json", bin, dir, dir, dir);
    sh("run", "%s run --target cpm --stats-file %s/run/run-stats.json %s/run/CHATP.COM WHO ARE YOU </dev/null >/dev/null", bin, dir, dir);
    snprintf(chat_dir, sizeof chat_dir, "%s/run", dir);
    return chat_dir;
}

// A 4-step llama QAT run of stories260K (examples/stories/int8.json cut down) and its image export.
static const char *qat_run(void) {
    if (qat_dir[0]) return qat_dir;
    char model[4096], tok[4096], train[4096], valid[4096];
    snprintf(model, sizeof model, "%s", rq_test_data("llama2c/stories260K.bin"));
    snprintf(tok, sizeof tok, "%s", rq_test_data("llama2c/tok512.bin"));
    snprintf(train, sizeof train, "%s", rq_test_data("tinystories/train.txt"));
    snprintf(valid, sizeof valid, "%s", rq_test_data("tinystories/valid.txt"));
    char dir[4096], cfg[4200], text[20000];
    snprintf(dir, sizeof dir, "%s", rq_test_tmpdir("report_qat"));
    snprintf(cfg, sizeof cfg, "%s/int8.json", dir);
    snprintf(text, sizeof text,
             "{\"model\": \"llama-int8\", \"init\": \"%s\", \"tokenizer\": \"%s\",\n"
             " \"data\": {\"train\": \"%s\", \"valid\": \"%s\", \"valid_tokens\": 513},\n"
             " \"train\": {\"steps\": 4, \"batch\": 4, \"seq_len\": 64, \"lr\": 5e-5, \"warmup\": 1, \"eval_every\": 2, \"seed\": 5},\n"
             " \"qat\": {\"wbits\": 8, \"calib_tokens\": 1024}}\n",
             model, tok, train, valid);
    rq_test_write(cfg, text);
    const char *bin = rq_test_bin();
    sh("train", "%s train %s --out %s/run --quiet", bin, cfg, dir);
    sh("export", "%s export %s/run/best.ckpt --target host -o %s/run/x.rqm --json > %s/run/export-host.json", bin, dir, dir, dir);
    snprintf(qat_dir, sizeof qat_dir, "%s/run", dir);
    return qat_dir;
}

// ---- checking a page ---------------------------------------------------------------------------

// The value of attribute name in the tag that contains position p (NULL when absent).
static char *tag_attr(const char *tag_start, const char *tag_end, const char *name, char *buf, size_t n) {
    char key[64];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *a = strstr(tag_start, key);
    if (!a || a > tag_end) return NULL;
    a += strlen(key);
    const char *e = strchr(a, '"');
    snprintf(buf, n, "%.*s", (int)(e - a), a);
    return buf;
}

static const cJSON *jpath(const cJSON *o, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save, *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
        o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(k)) : cJSON_GetObjectItemCaseSensitive(o, k);
    return o;
}

typedef struct {
    char path[1200];
    cJSON **lines;  // a JSONL file, or one object
    int n;
} source;

static source *sources;
static int n_sources;

static source *get_source(const char *path) {
    for (int i = 0; i < n_sources; i++)
        if (strcmp(sources[i].path, path) == 0) return &sources[i];
    sources = realloc(sources, sizeof *sources * (size_t)(n_sources + 1));
    source *s = &sources[n_sources++];
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    char *text = slurp(path);
    if (strstr(path, ".jsonl")) {
        for (char *save, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            s->lines = realloc(s->lines, sizeof(cJSON *) * (size_t)(s->n + 1));
            s->lines[s->n] = cJSON_Parse(l);
            if (!s->lines[s->n]) fail_msg("%s: a line that is not JSON", path);
            s->n++;
        }
    } else {
        s->lines = malloc(sizeof(cJSON *));
        s->lines[0] = cJSON_Parse(text);
        if (!s->lines[0]) fail_msg("%s: not JSON", path);
        s->n = 1;
    }
    free(text);
    return s;
}

static void free_sources(void) {
    for (int i = 0; i < n_sources; i++) {
        for (int k = 0; k < sources[i].n; k++) cJSON_Delete(sources[i].lines[k]);
        free(sources[i].lines);
    }
    free(sources);
    sources = NULL, n_sources = 0;
}

// The file's value of key: metrics.jsonl at the line of that step (an evaluation first).
static int file_value(const char *src, const char *key, const char *step, double *v) {
    source *s = get_source(src);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < s->n; i++) {
            const cJSON *l = s->lines[i], *t = cJSON_GetObjectItemCaseSensitive(l, "type");
            if (step) {
                if (!cJSON_IsString(t) || strcmp(t->valuestring, pass == 0 ? "eval" : "train") != 0) continue;
                const cJSON *st = cJSON_GetObjectItemCaseSensitive(l, "step");
                if (!cJSON_IsNumber(st) || st->valuedouble != atof(step)) continue;
            }
            const cJSON *x = jpath(l, key);
            if (cJSON_IsNumber(x)) {
                *v = x->valuedouble;
                return 1;
            }
        }
    return 0;
}

// Lines of `type` with a number at key.
static int count_lines(const char *src, const char *type, const char *key) {
    source *s = get_source(src);
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(s->lines[i], "type");
        n += cJSON_IsString(t) && strcmp(t->valuestring, type) == 0 && cJSON_IsNumber(jpath(s->lines[i], key));
    }
    return n;
}

// |printed - exact| within half a unit of the printed text's last digit.
static void check_printed(const char *text, double exact, const char *where) {
    char clean[128];
    size_t j = 0;
    for (const char *p = text; *p && j + 1 < sizeof clean; p++)
        if (*p != ',') clean[j++] = *p;
    clean[j] = 0;
    char *end;
    double printed = strtod(clean, &end);
    if (end == clean || *end) fail_msg("%s: printed '%s' is not a number", where, text);
    const char *dot = strchr(clean, '.'), *e = strpbrk(clean, "eE");
    int dec = dot ? (int)((e ? e : clean + strlen(clean)) - dot - 1) : 0, ex = e ? atoi(e + 1) : 0;
    double tol = 0.5 * pow(10, ex - dec) * (1 + 1e-9) + 1e-12 * fabs(exact);
    if (fabs(printed - exact) > tol) fail_msg("%s: printed %s but the value is %.17g", where, text, exact);
}

typedef struct {
    int svgs, series, numbers;
} page_stats;

static page_stats check_page(const char *html_path) {
    page_stats ps = {0, 0, 0};
    char *out = NULL, *err = NULL;
    int rc = rq_test_run(&out, &err, "xmllint --noout %s", html_path);
    if (rc) fail_msg("xmllint --noout %s: exit %d: %s", html_path, rc, err ? err : "");
    free(out), free(err);
    char *h = slurp(html_path);
    assert_null(strstr(h, "://"));
    assert_null(strstr(h, "url("));
    assert_null(strstr(h, "<script"));
    assert_null(strstr(h, " src="));
    assert_null(strstr(h, " href="));
    assert_non_null(strstr(h, "default-src 'none'"));
    // every chart: two axes and a series with at least one point
    for (char *p = h; (p = strstr(p, "<svg ")); p++) {
        char *e = strstr(p, "</svg>");
        assert_non_null(e);
        *e = 0;
        if (!strstr(p, "class=\"axis y\"") || !strstr(p, "class=\"axis x\"")) fail_msg("a chart without two axes: %.200s", p);
        char *s = strstr(p, "class=\"series");
        if (!s) fail_msg("a chart without a series: %.200s", p);
        char *d = strstr(p, " d=\"M"), *r = strstr(p, "<rect class=\"series");
        if (!d && !r) fail_msg("a chart whose series has no point: %.200s", p);
        // series: data-n = the lines (or entries) that have the key
        for (char *q = p; (q = strstr(q, "class=\"series")); q++) {
            char *ts = q, *te = strchr(q, '>');
            while (ts > p && *ts != '<') ts--;
            char src[1200], key[256], type[16], n[16];
            ps.series++;
            if (!tag_attr(ts, te, "data-src", src, sizeof src)) continue;  // the memory map's segments
            assert_non_null(tag_attr(ts, te, "data-k", key, sizeof key));
            assert_non_null(tag_attr(ts, te, "data-n", n, sizeof n));
            if (tag_attr(ts, te, "data-type", type, sizeof type) && !strchr(key, '*')) {
                if (count_lines(src, type, key) != atoi(n)) fail_msg("series %s of %s: data-n %s, the file has %d", key, src, n, count_lines(src, type, key));
            } else if (!strcmp(key, "phases")) {
                const cJSON *doc = get_source(src)->lines[0];
                const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, "phases");
                if (!a) a = cJSON_GetObjectItemCaseSensitive(doc, "regions");
                assert_int_equal(cJSON_GetArraySize(a), atoi(n));
            }
        }
        ps.svgs++;
        *e = '<';
    }
    // every number from a file
    for (char *p = h; (p = strstr(p, " data-v=\"")); p++) {
        char *ts = p, *te = strchr(p, '>');
        while (*ts != '<') ts--;
        char src[1200], key[256], step[32], v[64], where[1600];
        assert_non_null(tag_attr(ts, te, "data-src", src, sizeof src));
        assert_non_null(tag_attr(ts, te, "data-k", key, sizeof key));
        assert_non_null(tag_attr(ts, te, "data-v", v, sizeof v));
        int has_step = tag_attr(ts, te, "data-step", step, sizeof step) != NULL;
        snprintf(where, sizeof where, "%s %s%s%s", src, key, has_step ? " step " : "", has_step ? step : "");
        double fv = NAN;
        if (!file_value(src, key, has_step ? step : NULL, &fv)) fail_msg("%s: not in the file", where);
        if (fabs(fv - atof(v)) > 1e-12 * fabs(fv)) fail_msg("%s: data-v %s, the file has %.17g", where, v, fv);
        char text[128];
        const char *tend = strchr(te + 1, '<');
        snprintf(text, sizeof text, "%.*s", (int)(tend - te - 1), te + 1);
        check_printed(text, fv, where);
        ps.numbers++;
    }
    free(h);
    free_sources();
    return ps;
}

static char *report(const char *args, const char *html) {
    char *out = NULL, *err = NULL;
    int rc = rq_test_run(&out, &err, "%s report %s -o %s --json", rq_test_bin(), args, html);
    if (rc) fail_msg("report %s: exit %d: %s", args, rc, err ? err : "");
    free(err);
    return out;
}

static void must_have(const char *html_path, const char *const *needles) {
    char *h = slurp(html_path);
    for (int i = 0; needles[i]; i++)
        if (!strstr(h, needles[i])) fail_msg("%s: no '%s'", html_path, needles[i]);
    free(h);
}

static void test_chat_report(void **state) {
    (void)state;
    const char *dir = chat_run();
    char html[4400];
    snprintf(html, sizeof html, "%s/report.html", dir);
    char *out = report(dir, html);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "exports")), 2);  // found in the folder
    cJSON_Delete(j);
    free(out);
    page_stats ps = check_page(html);
    printf("  chat report: %d charts, %d series, %d numbers checked against the files\n", ps.svgs, ps.series, ps.numbers);
    assert_true(ps.svgs >= 12);
    assert_true(ps.numbers >= 40);
    static const char *const NEED[] = {"Accumulator headroom", "int16 limit 32767", "Weight codes per layer", "Non-zero weight share",
                                       "Active hidden units", "Z80 T-states per generation step", "Blend schedule",
                                       "Memory map for target cpm", "free TPA", "T-states per probe region", "columns 2..L",
                                       "data-k=\"held_out.int_exact\"", "data-k=\"held_out.overflows\"", "data-k=\"seed\"",
                                       "data-k=\"wall_s\"", "data-k=\"cpu_s\"", "data-k=\"cores\"", "commit", NULL};
    must_have(html, NEED);
}

static void test_qat_report(void **state) {
    (void)state;
    const char *dir = qat_run();
    char html[4400];
    snprintf(html, sizeof html, "%s/report.html", dir);
    free(report(dir, html));
    page_stats ps = check_page(html);
    printf("  llama QAT report: %d charts, %d series, %d numbers checked against the files\n", ps.svgs, ps.series, ps.numbers);
    assert_true(ps.svgs >= 14);
    static const char *const NEED[] = {"valid, integer model", "Top-1 agreement", "clip: q", "clip: final RMSNorm out",
                                       "tokens per second", "Memory map for target host", "LYR0", "data-k=\"valid_int_loss\"",
                                       "data-k=\"valid_top1_agree\"", NULL};
    must_have(html, NEED);
}

static void test_overlay_and_bad_input(void **state) {
    (void)state;
    const char *a = chat_run();
    char dir[4096], args[9000], html[4200], bad[4200];
    snprintf(dir, sizeof dir, "%s", rq_test_tmpdir("report_bad"));
    // two runs overlaid (the same one twice: every series twice, dashed the second time)
    snprintf(args, sizeof args, "%s %s", a, a);
    snprintf(html, sizeof html, "%s/overlay.html", dir);
    free(report(args, html));
    page_stats ps = check_page(html);
    assert_true(ps.svgs >= 12);
    must_have(html, (const char *const[]){"(run 2)", "stroke-dasharray=\"7 4\"", NULL});
    // a folder without metrics.jsonl; a bad metrics line; a summary that is not JSON
    char *err = NULL;
    assert_int_equal(rq_test_run(NULL, &err, "%s report %s -o %s/x.html", rq_test_bin(), dir, dir), 2);
    assert_non_null(strstr(err, "no metrics.jsonl"));
    free(err);
    snprintf(bad, sizeof bad, "%s/m/metrics.jsonl", dir);
    rq_test_run(NULL, NULL, "mkdir -p %s/m", dir);
    rq_test_write(bad, "{\"type\":\"train\",\"step\":1,\"loss\":2}\n{\"type\":\"train\",\"step\":2,\"loss\":\n{\"type\":\"eval\"}\n");
    assert_int_equal(rq_test_run(NULL, &err, "%s report %s/m -o %s/x.html", rq_test_bin(), dir, dir), 2);
    assert_non_null(strstr(err, "metrics.jsonl:2:"));
    free(err);
    snprintf(bad, sizeof bad, "%s/bad.json", dir);
    rq_test_write(bad, "{\"memory_map\": [1, 2,\n");
    assert_int_equal(rq_test_run(NULL, &err, "%s report %s --export %s -o %s/x.html", rq_test_bin(), a, bad, dir), 2);
    assert_non_null(strstr(err, "bad.json: byte"));
    free(err);
    assert_int_equal(rq_test_run(NULL, NULL, "%s report %s -o /nonexistent/dir/x.html", rq_test_bin(), a), 1);
}

// ---- headless Chromium ---------------------------------------------------------------------------

static int browser_wanted(void) {
    const char *ci = getenv("CI"), *bt = getenv("RQ_BROWSER_TEST");
    return (bt && strcmp(bt, "1") == 0) || (ci && *ci && strcmp(ci, "false") != 0);
}

// Render url to png (1280 x height); returns Chromium's stderr (the console log is in it).
static char *screenshot(const char *chromium, const char *html, const char *png, int dark, int height) {
    char *err = NULL;
    unlink(png);
    int rc = rq_test_run(NULL, &err,
                         "timeout 120 %s --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run "
                         "--enable-logging=stderr --v=0 %s --window-size=1280,%d --screenshot=%s file://%s",
                         chromium, dark ? "--force-dark-mode" : "", height, png, html);
    if (rc || access(png, R_OK) != 0) fail_msg("chromium on %s: exit %d: %s", html, rc, err ? err : "");
    return err;
}

static int console_lines(const char *log) {
    int n = 0;
    for (const char *p = log; p && (p = strstr(p, ":CONSOLE")); p++) n++;
    return n;
}

// Share of pixels that differ from the most common colour, and pixels near an sRGB colour.
static void image_stats(const char *png, double *ink, long *near, unsigned rgb) {
    int w, h, ch;
    unsigned char *p = stbi_load(png, &w, &h, &ch, 3);
    if (!p) fail_msg("%s: not a PNG stbi can read", png);
    static long hist[1 << 15];
    memset(hist, 0, sizeof hist);
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++) hist[(p[3 * i] >> 3) << 10 | (p[3 * i + 1] >> 3) << 5 | p[3 * i + 2] >> 3]++;
    long top = 0;
    for (int k = 0; k < 1 << 15; k++)
        if (hist[k] > top) top = hist[k];
    *ink = 1.0 - (double)top / (double)n;
    int r = rgb >> 16, g = rgb >> 8 & 255, b = rgb & 255;
    *near = 0;
    for (size_t i = 0; i < n; i++) *near += abs(p[3 * i] - r) < 12 && abs(p[3 * i + 1] - g) < 12 && abs(p[3 * i + 2] - b) < 12;
    stbi_image_free(p);
}

static void test_browser_renders(void **state) {
    (void)state;
    if (!browser_wanted()) {
        fprintf(stderr, "SKIP: the headless Chromium test runs under CI or with RQ_BROWSER_TEST=1\n");
        skip();
    }
    const char *chromium = getenv("RQ_CHROMIUM") ? getenv("RQ_CHROMIUM") : "chromium";
    if (rq_test_run(NULL, NULL, "command -v %s", chromium) != 0)
        fail_msg("%s not found: the browser test is required here (scripts/deps.sh --browser installs it)", chromium);
    const char *pages[2] = {chat_run(), qat_run()};
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", rq_test_tmpdir("report_browser"));
    // the console check must be able to fail: a page that logs an error
    char bad[4200], png[4200];
    snprintf(bad, sizeof bad, "%s/console.html", dir);
    rq_test_write(bad, "<!DOCTYPE html><html><body><p>x</p><script>console.error('rq-console-check')</script></body></html>\n");
    snprintf(png, sizeof png, "%s/console.png", dir);
    char *log = screenshot(chromium, bad, png, 0, 400);
    if (!strstr(log, "rq-console-check") || console_lines(log) < 1) fail_msg("Chromium's console log is not where the test reads it:\n%s", log);
    free(log);
    for (int i = 0; i < 2; i++)
        for (int dark = 0; dark < 2; dark++) {
            char html[4400];
            snprintf(html, sizeof html, "%s/report.html", pages[i]);
            if (html[0] != '/') fail_msg("RQ_TMP must be absolute for file:// URLs: %s", html);
            free(report(pages[i], html));
            snprintf(png, sizeof png, "%s/%s-%s.png", dir, i ? "qat" : "chat", dark ? "dark" : "light");
            log = screenshot(chromium, html, png, dark, 3000);
            if (console_lines(log)) fail_msg("%s: Chromium logged console messages:\n%s", html, log);
            free(log);
            double ink;
            long near;
            // the first series colour of the palette (report/page.c): light #0072b2, dark #4ea8ff
            image_stats(png, &ink, &near, dark ? 0x4ea8ffu : 0x0072b2u);
            printf("  %s: %.1f%% of the pixels off the background, %ld in the palette's first colour\n", png, 100 * ink, near);
            if (ink < 0.05) fail_msg("%s is nearly uniform (%.2f%% ink)", png, 100 * ink);
            if (near < 200) fail_msg("%s: the charts' colours are missing (%ld pixels of the first series colour)", png, near);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_report),
        cmocka_unit_test(test_qat_report),
        cmocka_unit_test(test_overlay_and_bad_input),
        cmocka_unit_test(test_browser_renders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
