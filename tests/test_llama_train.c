// test_llama_train.c: training through the shared trainer, end to end through the CLI.
//   - a short fine-tune of stories260K on a slice of TinyStories train.txt does not make the loss
//     on a slice of valid.txt worse (beyond noise: +0.01 nats), and the exported model.bin, the
//     best checkpoint and eval agree;
//   - from scratch, the same seed gives byte-identical checkpoints, and the loss goes down;
//   - Ctrl-C then --resume ends in the same checkpoint bytes as an uninterrupted run;
//   - config errors are exit-2 messages naming the key.
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/binio.h"
#include "base/err.h"

// Write the first n bytes of a shared text file, cut at a paragraph break, to dst.
static void slice(const char *src, const char *dst, size_t n) {
    uint8_t *data;
    size_t len;
    assert_int_equal(rq_read_file(src, &data, &len), 0);
    if (n > len) n = len;
    char *cut = strstr((char *)data + n / 2, "\n\n");
    if (cut && (size_t)(cut - (char *)data) < n) n = cut - (char *)data;
    data[n] = 0;
    rq_test_write(dst, (char *)data);
    free(data);
}

static double eval_loss(const char *model, const char *tok, const char *text) {
    char *out = NULL;
    int rc = rq_test_run(&out, NULL, "%s eval %s --text %s -z %s --window 256 --max-tokens 8192 --float-only --json", rq_test_bin(), model, text, tok);
    assert_int_equal(rc, 0);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_true(cJSON_GetObjectItem(j, "tokens")->valuedouble > 1000);
    double l = cJSON_GetObjectItem(j, "float_loss")->valuedouble;
    cJSON_Delete(j);
    free(out);
    return l;
}

static void test_finetune_stories260K(void **state) {
    (void)state;
    char model[512], tok[512], train[512], valid[512];
    const char *p;
    if (!(p = rq_test_data("llama2c/stories260K.bin"))) return;
    snprintf(model, sizeof model, "%s", p);
    if (!(p = rq_test_data("llama2c/tok512.bin"))) return;
    snprintf(tok, sizeof tok, "%s", p);
    const char *dir = rq_test_tmpdir("llama_finetune");
    snprintf(train, sizeof train, "%s/train.txt", dir);
    snprintf(valid, sizeof valid, "%s/valid.txt", dir);
    if (!(p = rq_test_data("tinystories/train.txt"))) return;
    slice(p, train, 200000);
    if (!(p = rq_test_data("tinystories/valid.txt"))) return;
    slice(p, valid, 60000);
    char cfg[512], json[4096];
    snprintf(cfg, sizeof cfg, "%s/ft.json", dir);
    snprintf(json, sizeof json,
             "{\"model\": \"llama\", \"init\": \"%s\", \"tokenizer\": \"%s\",\n"
             " \"data\": {\"train\": \"%s\", \"valid\": \"%s\", \"valid_tokens\": 8192},\n"
             " \"train\": {\"steps\": 24, \"batch\": 8, \"seq_len\": 128, \"lr\": 2e-4, \"warmup\": 4,\n"
             "           \"weight_decay\": 0.1, \"eval_every\": 12, \"seed\": 5},\n"
             " \"out\": \"%s/run\"}\n",
             model, tok, train, valid, dir);
    rq_test_write(cfg, json);
    char *err = NULL;
    int rc = rq_test_run(NULL, &err, "%s train %s --quiet", rq_test_bin(), cfg);
    if (rc) fail_msg("train exit %d: %s", rc, err);
    free(err);

    char bin[600], best[600];
    snprintf(bin, sizeof bin, "%s/run/model.bin", dir);
    snprintf(best, sizeof best, "%s/run/best.ckpt", dir);
    double before = eval_loss(model, tok, valid);
    double after = eval_loss(bin, tok, valid);
    double from_ckpt = eval_loss(best, tok, valid);
    printf("  valid loss on the slice: stories260K %.4f, fine-tuned %.4f\n", before, after);
    assert_true(isfinite(before) && before > 0.5 && before < 4.0);
    assert_true(after <= before + 0.01);
    assert_float_equal(after, from_ckpt, 1e-9);  // the .bin export is the best checkpoint

    // metrics.jsonl has train lines and the evaluations with valid_loss.
    char metrics[600];
    snprintf(metrics, sizeof metrics, "%s/run/metrics.jsonl", dir);
    uint8_t *m;
    size_t mlen;
    assert_int_equal(rq_read_file(metrics, &m, &mlen), 0);
    assert_non_null(strstr((char *)m, "\"valid_loss\""));
    assert_non_null(strstr((char *)m, "\"type\":\"train\""));
    free(m);
    // generate runs on the checkpoint and the export alike.
    char *g1, *g2;
    assert_int_equal(rq_test_run(&g1, NULL, "%s generate %s -z %s -i 'Once' -n 40 -t 0", rq_test_bin(), bin, tok), 0);
    assert_int_equal(rq_test_run(&g2, NULL, "%s generate %s -z %s -i 'Once' -n 40 -t 0", rq_test_bin(), best, tok), 0);
    assert_string_equal(g1, g2);
    free(g1), free(g2);
}

static void test_scratch_deterministic(void **state) {
    (void)state;
    char tok[512], train[512];
    const char *p;
    if (!(p = rq_test_data("llama2c/tok512.bin"))) return;
    snprintf(tok, sizeof tok, "%s", p);
    const char *dir = rq_test_tmpdir("llama_scratch");
    snprintf(train, sizeof train, "%s/train.txt", dir);
    if (!(p = rq_test_data("tinystories/train.txt"))) return;
    slice(p, train, 60000);
    char cfg[512], json[4096];
    snprintf(cfg, sizeof cfg, "%s/s.json", dir);
    snprintf(json, sizeof json,
             "{\"model\": \"llama\", \"tokenizer\": \"%s\",\n"
             " \"arch\": {\"dim\": 32, \"hidden_dim\": 64, \"n_layers\": 2, \"n_heads\": 4, \"n_kv_heads\": 2,\n"
             "          \"vocab_size\": 512, \"seq_len\": 64, \"shared_classifier\": true},\n"
             " \"data\": {\"train\": \"%s\", \"valid\": \"%s\", \"valid_tokens\": 4096},\n"
             " \"train\": {\"steps\": 30, \"batch\": 8, \"seq_len\": 64, \"lr\": 3e-3, \"warmup\": 3, \"eval_every\": 15,\n"
             "           \"grad_accum\": 2, \"seed\": 9}}\n",
             tok, train, train);
    rq_test_write(cfg, json);
    uint8_t *a, *b;
    size_t alen, blen;
    char path[600];
    for (int run = 0; run < 2; run++) {
        char *err = NULL;
        int rc = rq_test_run(NULL, &err, "%s train %s --quiet --out %s/run%d", rq_test_bin(), cfg, dir, run);
        if (rc) fail_msg("train exit %d: %s", rc, err);
        free(err);
        snprintf(path, sizeof path, "%s/run%d/last.ckpt", dir, run);
        assert_int_equal(rq_read_file(path, run ? &b : &a, run ? &blen : &alen), 0);
    }
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    free(a), free(b);
    // From random init (loss ~ ln 512 = 6.24) the validation loss must have come down clearly.
    snprintf(path, sizeof path, "%s/run0/metrics.jsonl", dir);
    uint8_t *m;
    size_t mlen;
    assert_int_equal(rq_read_file(path, &m, &mlen), 0);
    double last = NAN;
    for (char *line = strtok((char *)m, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *v = cJSON_GetObjectItem(j, "valid_loss");
        if (v) last = v->valuedouble;
        cJSON_Delete(j);
    }
    free(m);
    printf("  from scratch, 30 steps: valid loss %.3f\n", last);
    assert_true(last < 5.6);  // ln 512 = 6.24 at random init
}

// Ctrl-C (SIGINT) saves last.ckpt; --resume continues to the same bytes as an uninterrupted run.
static void test_interrupt_and_resume(void **state) {
    (void)state;
    char tok[512], train[512];
    const char *p;
    if (!(p = rq_test_data("llama2c/tok512.bin"))) return;
    snprintf(tok, sizeof tok, "%s", p);
    const char *dir = rq_test_tmpdir("llama_resume");
    snprintf(train, sizeof train, "%s/train.txt", dir);
    if (!(p = rq_test_data("tinystories/train.txt"))) return;
    slice(p, train, 60000);
    char cfg[512], json[4096];
    snprintf(cfg, sizeof cfg, "%s/r.json", dir);
    snprintf(json, sizeof json,
             "{\"model\": \"llama\", \"tokenizer\": \"%s\",\n"
             " \"arch\": {\"dim\": 32, \"hidden_dim\": 64, \"n_layers\": 2, \"n_heads\": 4, \"n_kv_heads\": 2,\n"
             "          \"vocab_size\": 512, \"seq_len\": 64, \"shared_classifier\": true},\n"
             " \"data\": {\"train\": \"%s\", \"valid\": \"%s\", \"valid_tokens\": 2048},\n"
             " \"train\": {\"steps\": 120, \"batch\": 8, \"seq_len\": 64, \"lr\": 3e-3, \"warmup\": 3, \"eval_every\": 5,\n"
             "           \"seed\": 4}}\n",
             tok, train, train);
    rq_test_write(cfg, json);
    char *err = NULL;
    int rc = rq_test_run(NULL, &err, "%s train %s --quiet --out %s/full", rq_test_bin(), cfg, dir);
    if (rc) fail_msg("train exit %d: %s", rc, err);
    free(err);
    // Interrupt once the first evaluation is written, then resume.
    char *out = NULL;
    rc = rq_test_run(&out, &err,
                     "%s train %s --quiet --out %s/cut & pid=$!; "
                     "while ! grep -q eval %s/cut/metrics.jsonl 2>/dev/null; do sleep 0.02; done; kill -INT $pid; wait $pid",
                     rq_test_bin(), cfg, dir, dir);
    int interrupted = strstr(err, "interrupted at step") != NULL;
    assert_int_equal(rc, interrupted ? 130 : 0);  // 130: saved, but not finished
    printf("  interrupted: %s\n", interrupted ? "yes" : "no (finished first)");
    free(out), free(err);
    rc = rq_test_run(NULL, &err, "%s train %s --quiet --resume --out %s/cut", rq_test_bin(), cfg, dir);
    if (rc) fail_msg("resume exit %d: %s", rc, err);
    free(err);
    uint8_t *a, *b;
    size_t alen, blen;
    char path[600];
    snprintf(path, sizeof path, "%s/full/last.ckpt", dir);
    assert_int_equal(rq_read_file(path, &a, &alen), 0);
    snprintf(path, sizeof path, "%s/cut/last.ckpt", dir);
    assert_int_equal(rq_read_file(path, &b, &blen), 0);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    free(a), free(b);
}

static void test_config_errors(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("llama_cfg");
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/bad.json", dir);
    char *err = NULL;
    rq_test_write(cfg, "{\"model\": \"llama\", \"tokenizer\": \"t.bin\", \"data\": {\"train\": \"a\", \"valid\": \"b\"},"
                       " \"arch\": {\"dim\": 30, \"hidden_dim\": 8, \"n_layers\": 1, \"n_heads\": 4, \"n_kv_heads\": 4,"
                       " \"vocab_size\": 10, \"seq_len\": 8}}");
    assert_int_equal(rq_test_run(NULL, &err, "%s train %s --quiet", rq_test_bin(), cfg), 2);
    assert_non_null(strstr(err, "n_heads does not divide dim"));
    free(err);
    rq_test_write(cfg, "{\"model\": \"llama\", \"tokenizer\": \"t.bin\", \"data\": {\"train\": \"a\", \"valid\": \"b\"},"
                       " \"train\": {\"lrr\": 1}}");
    assert_int_equal(rq_test_run(NULL, &err, "%s train %s --quiet", rq_test_bin(), cfg), 2);
    assert_non_null(strstr(err, "$.train.lrr"));
    free(err);
    rq_test_write(cfg, "{\"model\": \"llama\", \"data\": {\"train\": \"a\", \"valid\": \"b\"}}");
    assert_int_equal(rq_test_run(NULL, &err, "%s train %s --quiet", rq_test_bin(), cfg), 2);
    assert_non_null(strstr(err, "$.tokenizer"));
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finetune_stories260K),
        cmocka_unit_test(test_scratch_deterministic),
        cmocka_unit_test(test_interrupt_and_resume),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
