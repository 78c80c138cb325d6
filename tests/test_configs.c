// test_configs.c: every config bundled in examples/ resolves its paths (`retroqat train CFG
// --check --json`, which parses the config with the family's own loader and trains nothing):
// each input file it names exists, except the story corpus that `make stories-data` writes, which
// must resolve to exactly where that rule puts it. A config whose paths are written relative to
// the repository root instead of its own folder (base/config.h's rule) fails here.
#include "tests/testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *root(void) { return getenv("RQ_ROOT") ? getenv("RQ_ROOT") : "."; }

// Lexical normalisation of an absolute or relative path: drops "." and "x/.." segments.
static void normalise(const char *in, char *out, size_t cap) {
    char tmp[4096], *seg[256];
    int n = 0;
    snprintf(tmp, sizeof tmp, "%s", in);
    for (char *s = strtok(tmp, "/"); s && n < 256; s = strtok(NULL, "/")) {
        if (strcmp(s, ".") == 0) continue;
        if (strcmp(s, "..") == 0 && n > 0 && strcmp(seg[n - 1], "..") != 0) n--;
        else seg[n++] = s;
    }
    size_t w = 0;
    out[0] = 0;
    if (in[0] == '/') w += snprintf(out + w, cap - w, "/");
    for (int i = 0; i < n && w < cap; i++) w += snprintf(out + w, cap - w, "%s%s", i ? "/" : "", seg[i]);
}

// A missing input is allowed only when it is a file of `make stories-data` (ROOT/build/stories)
// or the best checkpoint another bundled config writes (ROOT/runs/NAME/best.ckpt: int4.json's
// distillation teacher is int8.json's run).
static int generated(const char *path) {
    char want[4200], got[4200], rootn[4096];
    normalise(root(), rootn, sizeof rootn);
    normalise(path, got, sizeof got);
    snprintf(want, sizeof want, "%s/runs/", rootn);
    size_t nw = strlen(want), ng = strlen(got);
    // ROOT/runs/NAME/best.ckpt: one folder below runs/, then the file
    if (strncmp(got, want, nw) == 0 && ng > nw + 10 && strchr(got + nw, '/') == got + ng - 10 && strcmp(got + ng - 10, "/best.ckpt") == 0)
        return 1;
    const char *gen[2] = {"build/stories/train.txt", "build/stories/valid.txt"};
    for (int i = 0; i < 2; i++) {
        snprintf(want, sizeof want, "%s/%s", rootn, gen[i]);
        if (strcmp(got, want) == 0) return 1;
    }
    return 0;
}

// --check of cfg: exit 0 (or 2 for generated inputs only), every input found; returns how many
// paths it reported.
static int check_config(const char *cfg) {
    char *out, *err;
    int rc = rq_test_run(&out, &err, "%s train %s --check --json", rq_test_bin(), cfg);
    cJSON *o = cJSON_Parse(out);
    if (!o) fail_msg("%s: --check --json printed no JSON (exit %d): %s", cfg, rc, err);
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(o, "paths");
    assert_non_null(paths);
    int n = 0, missing_generated = 0;
    for (const cJSON *e = paths->child; e; e = e->next, n++) {
        const char *p = cJSON_GetObjectItemCaseSensitive(e, "path")->valuestring;
        int input = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "input"));
        int exists = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "exists"));
        if (input && !exists) {
            if (!generated(p)) fail_msg("%s: %s resolves to %s, which does not exist", cfg, e->string, p);
            missing_generated++;
        }
    }
    if (rc != (missing_generated ? 2 : 0)) fail_msg("%s: --check exit %d with %d generated inputs missing: %s", cfg, rc, missing_generated, err);
    cJSON_Delete(o);
    free(out), free(err);
    return n;
}

// examples/tinychat/search.json is not a config but bench-z80-search's list of them ("configs":
// each a "base" config of its folder, and the "file" it is shipped as when bundled): every one it
// names must exist. Returns 0 when cfg is not such a list.
static int check_search_spec(const char *dir, const char *cfg) {
    char *text = rq_test_read_file(cfg, NULL);
    cJSON *o = cJSON_Parse(text);
    if (!o) fail_msg("%s: not JSON", cfg);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(o, "configs");
    int is_spec = cJSON_IsArray(list) && !cJSON_GetObjectItemCaseSensitive(o, "model");
    int named = 0;
    for (const cJSON *c = is_spec ? list->child : NULL; c; c = c->next) {
        const char *keys[2] = {"base", "file"};
        for (int k = 0; k < 2; k++) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, keys[k]);
            if (!cJSON_IsString(f)) continue;
            char path[4600];
            snprintf(path, sizeof path, "%s/%s", dir, f->valuestring);
            FILE *fp = fopen(path, "rb");
            if (!fp) fail_msg("%s: \"%s\": %s does not exist", cfg, keys[k], path);
            fclose(fp);
            named++;
        }
    }
    if (is_spec && named == 0) fail_msg("%s: a search list that names no config", cfg);
    cJSON_Delete(o);
    free(text);
    return is_spec;
}

static void test_bundled_configs_resolve(void **state) {
    (void)state;
    rq_test_data("llama2c/stories260K.bin");  // the stories configs read the shared data (skip without it)
    char dir[4200], cfg[4600];
    int configs = 0;
    const char *sub[2] = {"examples/stories", "examples/tinychat"};
    for (int s = 0; s < 2; s++) {
        snprintf(dir, sizeof dir, "%s/%s", root(), sub[s]);
        DIR *d = opendir(dir);
        if (!d) fail_msg("cannot open %s", dir);
        for (struct dirent *e; (e = readdir(d));) {
            size_t len = strlen(e->d_name);
            if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
            snprintf(cfg, sizeof cfg, "%s/%s", dir, e->d_name);
            if (check_search_spec(dir, cfg)) continue;
            assert_true(check_config(cfg) >= 1);
            configs++;
        }
        closedir(d);
    }
    printf("%d bundled configs resolve their paths\n", configs);
    assert_true(configs >= 10);  // 8 stories configs, 2 tinychat configs at least
}

// The bug this guards against: paths written relative to the repository root in a config that
// lives in a subfolder. --check names the key and the path it looked for (exit 2), in both families.
static void test_check_names_a_missing_input(void **state) {
    (void)state;
    char dir[4096], sub[4200], cfg[4300];
    snprintf(dir, sizeof dir, "%s", rq_test_tmpdir("configs"));
    snprintf(sub, sizeof sub, "%s/examples", dir);
    char *out, *err;
    assert_int_equal(rq_test_run(&out, &err, "mkdir -p %s", sub), 0);
    free(out), free(err);
    snprintf(cfg, sizeof cfg, "%s/int2.json", sub);
    rq_test_write(cfg, "{\"model\": \"llama-int8\", \"init\": \"../shared/data/llama2c/stories260K.bin\", \"tokenizer\": \"builtin:chars\",\n"
                       " \"data\": {\"train\": \"../shared/data/tinystories/train.txt\", \"valid\": \"v.txt\"}, \"qat\": {}}\n");
    assert_int_equal(rq_test_run(&out, &err, "%s train %s --check", rq_test_bin(), cfg), 2);
    char want[4600];
    snprintf(want, sizeof want, "$.init: %s/../shared/data/llama2c/stories260K.bin: no such file", sub);
    if (!strstr(err, want)) fail_msg("want '%s' in: %s", want, err);
    assert_non_null(strstr(out, "$.data.valid: "));  // every path is listed, the missing ones marked
    assert_non_null(strstr(out, "/v.txt (missing)"));
    free(out), free(err);
    snprintf(cfg, sizeof cfg, "%s/chat.json", sub);
    rq_test_write(cfg, "{\"model\": \"chat\", \"data\": \"chat.txt\"}\n");
    assert_int_equal(rq_test_run(&out, &err, "%s train %s --check", rq_test_bin(), cfg), 2);
    snprintf(want, sizeof want, "$.data: %s/chat.txt: no such file", sub);
    if (!strstr(err, want)) fail_msg("want '%s' in: %s", want, err);
    free(out), free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bundled_configs_resolve),
        cmocka_unit_test(test_check_names_a_missing_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
