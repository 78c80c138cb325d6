// test_chat_train.c: the trigram chat family in the shared trainer: same seed -> same checkpoint
// bytes, resume == uninterrupted (bytes), a short run on the bundled data beats the majority
// baseline by a wide margin with int_acc == fake-quant acc and no overflow, and the CLI's exit codes.
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "train/chat_family.h"
#include "train/trainer.h"

// A small synthetic dataset: 6 intents, 25 phrasings each.
static void write_small_dataset(const char *path) {
    static const char *greet[6] = {"hello", "what time", "who are you", "bye now", "tell a joke", "how much ram"};
    static const char *resp[6] = {"HI.", "NO CLOCK.", "I AM ZED.", "BYE.", "NO JOKES.", "64K."};
    static const char *fill[5] = {"", " please", " ok", " zed", " now"};
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# synthetic test data\n");
    for (int i = 0; i < 150; i++) fprintf(f, "%s%s %d|%s\n", greet[i % 6], fill[(i / 6) % 5], i / 30, resp[i % 6]);
    fclose(f);
}

static void small_config(chat_config *c, const char *data) {
    chat_config_default(c);
    snprintf(c->data, sizeof c->data, "%s", data);
    c->enc.q_buckets = 32, c->enc.k_buckets = 32;
    c->hidden[0] = 24, c->hidden[1] = 16, c->n_hidden = 2;
    c->epochs = 6, c->batch = 32, c->evals = 4;
    c->held_out = 0.1;
    c->calib_examples = 256, c->eval_examples = 256, c->eval_queries = 32;
    c->query_dropout = 0.1f;  // the augmentation draws from the trainer rng: resume must restore it
}

static int run(const chat_config *c, const char *out, int resume, float (*wrap)(rq_family *, long, pcg32 *, cJSON *)) ;

static float (*g_step)(rq_family *, long, pcg32 *, cJSON *);
static long g_stop;
static float stop_after(rq_family *f, long step, pcg32 *rng, cJSON *stats) {
    float l = g_step(f, step, rng, stats);
    if (step == g_stop) rq_interrupted = 1;  // as if Ctrl-C arrived during this step
    return l;
}

static int run(const chat_config *c, const char *out, int resume, float (*wrap)(rq_family *, long, pcg32 *, cJSON *)) {
    chat_family cf;
    rq_family f;
    int rc = chat_family_build(&cf, c, &f);
    if (rc) return rc;
    if (wrap) g_step = f.step, f.step = wrap;
    trainer_cfg t;
    chat_family_trainer_cfg(&cf, &t);
    t.out_dir = out, t.quiet = 1, t.resume = resume;
    rc = trainer_run(&f, &t);
    chat_family_free(&cf);
    return rc;
}

static uint8_t *slurp(const char *dir, const char *name, size_t *n) {
    char p[1100];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    uint8_t *d;
    assert_int_equal(rq_read_file(p, &d, n), 0);
    return d;
}

static void test_same_seed_same_bytes_and_resume_is_bit_identical(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("chat_det");
    char data[512], a[512], b[512], r[512], s2[512];
    snprintf(data, sizeof data, "%s/small.txt", dir);
    snprintf(a, sizeof a, "%s/a", dir), snprintf(b, sizeof b, "%s/b", dir), snprintf(r, sizeof r, "%s/r", dir);
    snprintf(s2, sizeof s2, "%s/s2", dir);
    write_small_dataset(data);
    chat_config c;
    small_config(&c, data);
    assert_int_equal(run(&c, a, 0, NULL), 0);
    assert_int_equal(run(&c, b, 0, NULL), 0);
    size_t na, nb, nr;
    uint8_t *A = slurp(a, "last.ckpt", &na), *B = slurp(b, "last.ckpt", &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(A, B, na);
    free(B);
    B = slurp(a, "best.ckpt", &nb);
    uint8_t *B2 = slurp(b, "best.ckpt", &nr);
    assert_int_equal(nb, nr);
    assert_memory_equal(B, B2, nb);
    free(B), free(B2);
    // Interrupt in the middle of the blend (not at an evaluation), resume, compare with a.
    chat_family cf;
    rq_family f;
    assert_int_equal(chat_family_build(&cf, &c, &f), 0);
    g_stop = cf.total_steps / 3 + 1;
    assert_true(g_stop % cf.eval_every != 0);
    chat_family_free(&cf);
    assert_int_equal(run(&c, r, 0, stop_after), 0);
    size_t nmid;
    uint8_t *M = slurp(r, "last.ckpt", &nmid);  // the interrupted state differs from the final one
    assert_true(nmid != na || memcmp(M, A, na) != 0);
    free(M);
    assert_int_equal(run(&c, r, 1, NULL), 0);
    uint8_t *R = slurp(r, "last.ckpt", &nr);
    assert_int_equal(nr, na);
    assert_memory_equal(R, A, na);
    free(R);
    // A different seed gives a different model.
    c.seed = 2;
    assert_int_equal(run(&c, s2, 0, NULL), 0);
    uint8_t *S = slurp(s2, "last.ckpt", &nr);
    assert_true(nr != na || memcmp(S, A, na) != 0);
    free(S), free(A);
}

// A short run on the bundled dataset (small network, 2 epochs): the integer model beats the
// majority baseline (13.7%) by a wide margin on held-out queries, agrees with the fake-quant graph
// exactly, and never overflows.
static void test_short_run_on_bundled_data_beats_majority(void **state) {
    (void)state;
    const char *root = getenv("RQ_ROOT") ? getenv("RQ_ROOT") : ".";
    const char *dir = rq_test_tmpdir("chat_short");
    chat_config c;
    chat_config_default(&c);
    snprintf(c.data, sizeof c.data, "%s/examples/tinychat/chat.txt", root);
    c.hidden[0] = 64, c.hidden[1] = 48, c.n_hidden = 2;
    c.epochs = 2, c.batch = 256, c.evals = 2, c.lr = 0.02f;
    chat_family cf;
    rq_family f;
    assert_int_equal(chat_family_build(&cf, &c, &f), 0);
    trainer_cfg t;
    chat_family_trainer_cfg(&cf, &t);
    t.out_dir = dir, t.quiet = 1;
    assert_int_equal(trainer_run(&f, &t), 0);
    chat_stats st;
    chat_data_stats(&cf.data, cf.held_idx, cf.n_held_pairs, 8, &st);
    chat_family_image(&cf);
    cJSON *o = cJSON_CreateObject();
    chat_measure(&cf, &cf.held, NULL, 0, &cf.held_q, o);
    double int_acc = cJSON_GetObjectItem(o, "int_acc")->valuedouble, fq_acc = cJSON_GetObjectItem(o, "fq_acc")->valuedouble;
    print_message("held out: majority %.3f, int_acc %.3f, int_exact %.3f\n", st.majority_acc, int_acc,
                  cJSON_GetObjectItem(o, "int_exact")->valuedouble);
    assert_true(int_acc > st.majority_acc + 0.4);
    assert_true(int_acc == fq_acc);
    assert_true(cJSON_GetObjectItem(o, "fq_int_mismatch")->valuedouble == 0);
    assert_true(cJSON_GetObjectItem(o, "overflows")->valuedouble == 0);
    cJSON_Delete(o);
    chat_family_free(&cf);
}

// Train c into a; train it into r interrupted after the blend (between dead-zone updates) and
// resumed: the last checkpoints must be the same bytes.
static void resume_matches(const chat_config *c, const char *a, const char *r) {
    assert_int_equal(run(c, a, 0, NULL), 0);
    chat_family cf;
    rq_family f;
    assert_int_equal(chat_family_build(&cf, c, &f), 0);
    g_stop = cf.total_steps / 2 + 3;
    chat_family_free(&cf);
    assert_int_equal(run(c, r, 0, stop_after), 0);
    assert_int_equal(run(c, r, 1, NULL), 0);
    size_t na, nr;
    uint8_t *A = slurp(a, "last.ckpt", &na), *R = slurp(r, "last.ckpt", &nr);
    assert_int_equal(na, nr);
    assert_memory_equal(A, R, na);
    free(A), free(R);
}

// qat.zero_frac + qat.act_l1: an interrupted and resumed run equals the uninterrupted one (the
// dead zones are checkpointed), the checkpoint reopens (its stored image equals the parameters'
// image under the stored dead zones), and every layer ends with the target share of zero codes.
static void test_sparse_training_reaches_zero_share_and_resumes(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("chat_sparse");
    char data[512], a[512], r[512], ck[600];
    snprintf(data, sizeof data, "%s/small.txt", dir);
    snprintf(a, sizeof a, "%s/a", dir), snprintf(r, sizeof r, "%s/r", dir);
    write_small_dataset(data);
    chat_config c;
    small_config(&c, data);
    c.zero_frac[0] = 0.75f, c.n_zero_frac = 1, c.act_l1 = 0.05f, c.blend_end = 0.5f;
    resume_matches(&c, a, r);
    chat_family cf;
    rq_family f;
    snprintf(ck, sizeof ck, "%s/last.ckpt", a);
    assert_int_equal(chat_family_open(&cf, ck, &f), 0);
    chatnet_prepare(&cf.evnet, cf.params, &cf.q, 1.0f);  // weff = the image's weights
    const float *w = cf.evnet.weff;
    for (int l = 0; l < cf.L; l++) {
        size_t n = (size_t)cf.dims[l + 1] * cf.dims[l], z = 0;
        for (size_t i = 0; i < n; i++) z += w[i] == 0.0f;
        double share = (double)z / (double)n;
        print_message("layer %d: dead zone %.3f, zero share %.3f\n", l, (double)cf.q.dz[l], share);
        assert_true(cf.q.dz[l] > 0.5f);  // the dead zone is wider than the plain grid's
        assert_true(fabs(share - 0.75) < 0.05);  // the last update was at most 3 steps earlier
        w += n;
    }
    chat_family_free(&cf);
}

// The Z80 speed options together: per-layer zero shares with layer 1's query columns apart
// (qat.zero_frac list, qat.query_zero_frac), the cost penalty (qat.cost) and distillation from a
// teacher checkpoint (qat.distill). Resume is bit-identical (the query dead zone is checkpointed),
// each part ends at its own zero share, and a teacher trained on another split is refused.
static void test_speed_options(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("chat_speed");
    char data[512], t[512], a[512], r[512], ck[600];
    snprintf(data, sizeof data, "%s/small.txt", dir);
    snprintf(t, sizeof t, "%s/t", dir), snprintf(a, sizeof a, "%s/a", dir), snprintf(r, sizeof r, "%s/r", dir);
    write_small_dataset(data);
    chat_config c;
    small_config(&c, data);
    assert_int_equal(run(&c, t, 0, NULL), 0);  // the teacher
    c.hidden[0] = 32, c.n_hidden = 1;
    c.zero_frac[0] = 0.8f, c.zero_frac[1] = 0.6f, c.n_zero_frac = 2, c.query_zero_frac = 0.2f;
    c.zero_decay = 0.01f, c.cost = 2.0f, c.distill = 0.5f, c.blend_end = 0.5f;
    snprintf(c.teacher, sizeof c.teacher, "%s/best.ckpt", t);
    resume_matches(&c, a, r);
    chat_family cf;
    rq_family f;
    assert_int_equal(chat_family_build(&cf, &c, &f), 0);
    assert_non_null(cf.soft);
    chat_family_free(&cf);
    snprintf(ck, sizeof ck, "%s/last.ckpt", a);
    assert_int_equal(chat_family_open(&cf, ck, &f), 0);
    assert_int_equal(cf.q.nq, 32);
    chatnet_prepare(&cf.evnet, cf.params, &cf.q, 1.0f);
    const float *w = cf.evnet.weff;
    for (int l = 0; l < cf.L; l++) {
        int din = cf.dims[l], zq = 0, zk = 0;
        for (int j = 0; j < cf.dims[l + 1]; j++)
            for (int i = 0; i < din; i++) *(l == 0 && i < 32 ? &zq : &zk) += w[(size_t)j * din + i] == 0.0f;
        double nq = l == 0 ? 32.0 * cf.dims[1] : 0.0, nk = (double)cf.dims[l + 1] * din - nq;
        print_message("layer %d: zero share %.3f (query columns %.3f)\n", l, zk / nk, nq ? zq / nq : 0.0);
        // the dead zones hold the target shares; the plain grid (and the cost penalty) may zero more
        assert_true(zk / nk >= (l == 0 ? 0.8 : 0.6) - 0.03);
        if (l == 0) assert_true(zq / nq >= 0.2 - 0.03 && zq / nq < zk / nk);
        w += (size_t)cf.dims[l + 1] * din;
    }
    chat_family_free(&cf);
    // a teacher trained on another split would leak the held-out answers
    c.seed = 3;
    assert_int_equal(chat_family_build(&cf, &c, &f), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "another split"));
    chat_family_free(&cf);
}

// CLI: train, eval --json, chat on a tiny run; bad input exits 2 with file:line messages.
static void test_cli(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("chat_cli"), *bin = rq_test_bin();
    char p[512], cfg[512], out[512];
    snprintf(p, sizeof p, "%s/small.txt", dir);
    write_small_dataset(p);
    snprintf(cfg, sizeof cfg, "%s/c.json", dir);
    rq_test_write(cfg, "{\"model\":\"chat\",\"data\":\"small.txt\",\"net\":{\"q_buckets\":32,\"k_buckets\":32,\"hidden\":[24,16]},"
                       "\"train\":{\"epochs\":3,\"batch\":32,\"evals\":2}}\n");
    snprintf(out, sizeof out, "%s/run", dir);
    char *o = NULL, *e = NULL;
    assert_int_equal(rq_test_run(&o, &e, "%s train %s --out %s --quiet", bin, cfg, out), 0);
    free(o), free(e);
    assert_int_equal(rq_test_run(&o, &e, "%s eval %s/best.ckpt --json", bin, out), 0);
    cJSON *j = cJSON_Parse(o);
    assert_non_null(j);
    const char *keys[] = {"examples", "float_acc", "int_acc", "int_exact", "held_out", "max_abs_acc", "overflows", "worst_case_acc"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) assert_non_null(cJSON_GetObjectItem(j, keys[k]));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "max_abs_acc")), 3);
    assert_true(cJSON_GetObjectItem(j, "int_acc")->valuedouble == cJSON_GetObjectItem(j, "fq_acc")->valuedouble);
    cJSON_Delete(j);
    free(o), free(e);
    assert_int_equal(rq_test_run(&o, &e, "%s chat %s/best.ckpt 'hello 1' 'bye now 2'", bin, out), 0);
    int lines = 0;
    for (char *s = o; *s; s++) lines += *s == '\n';
    assert_int_equal(lines, 2);
    free(o), free(e);
    assert_int_equal(rq_test_run(&o, &e, "printf 'hello 1\\n' | %s chat %s/best.ckpt", bin, out), 0);
    assert_true(strlen(o) > 1);
    free(o), free(e);
    // bad input -> exit 2 with file:line
    snprintf(p, sizeof p, "%s/bad.txt", dir);
    rq_test_write(p, "a|B\nno bar\n");
    assert_int_equal(rq_test_run(&o, &e, "%s data-stats %s", bin, p), 2);
    assert_non_null(strstr(e, "bad.txt:2: expected 'query|response'"));
    free(o), free(e);
    assert_int_equal(rq_test_run(&o, &e, "%s data-stats %s --json --lenient", bin, p), 0);
    assert_non_null(strstr(o, "\"skipped_lines\":1"));
    free(o), free(e);
    assert_int_equal(rq_test_run(&o, &e, "%s data-stats %s/missing.txt", bin, dir), 2);
    free(o), free(e);
    assert_int_equal(rq_test_run(&o, &e, "%s data-stats %s --bogus", bin, p), 2);
    free(o), free(e);
    assert_int_equal(rq_test_run(&o, &e, "%s chat %s", bin, p), 2);  // not a checkpoint
    free(o), free(e);
    rq_test_write(cfg, "{\"model\":\"chat\",\"data\":\"small.txt\",\"net\":{\"q_buckets\":30}}\n");
    assert_int_equal(rq_test_run(&o, &e, "%s train %s --out %s/x --quiet", bin, cfg, dir), 2);
    assert_non_null(strstr(e, "powers of two"));
    free(o), free(e);
    rq_test_write(cfg, "{\"model\":\"chat\",\"data\":\"small.txt\",\"net\":{\"hidden\":[8,8]},\"qat\":{\"zero_frac\":[0.5,0.5]}}\n");
    assert_int_equal(rq_test_run(&o, &e, "%s train %s --out %s/x --quiet", bin, cfg, dir), 2);
    assert_non_null(strstr(e, "$.qat.zero_frac: one number, or one per layer (3), got 2"));
    free(o), free(e);
    rq_test_write(cfg, "{\"model\":\"chat\",\"data\":\"small.txt\",\"qat\":{\"distill\":0.5}}\n");
    assert_int_equal(rq_test_run(&o, &e, "%s train %s --out %s/x --quiet", bin, cfg, dir), 2);
    assert_non_null(strstr(e, "$.qat.distill: needs $.qat.teacher"));
    free(o), free(e);
    rq_test_write(cfg, "{\"model\":\"chat\",\"data\":\"small.txt\",\"qat\":{\"distill\":0.5,\"teacher\":\"nope.ckpt\"}}\n");
    assert_int_equal(rq_test_run(&o, &e, "%s train %s --out %s/x --quiet", bin, cfg, dir), 2);
    assert_non_null(strstr(e, "nope.ckpt"));
    free(o), free(e);
    rq_test_write(cfg, "{\"model\":\"chat\",\"data\":\"small.txt\",\"train\":{\"epochz\":3}}\n");
    assert_int_equal(rq_test_run(&o, &e, "%s train %s --out %s/x --quiet", bin, cfg, dir), 2);
    assert_non_null(strstr(e, "$.train.epochz: unknown key"));
    free(o), free(e);
    // a flipped byte in the checkpoint: CRC error, exit 2
    char ck[600];
    snprintf(ck, sizeof ck, "%s/best.ckpt", out);
    uint8_t *d;
    size_t n;
    assert_int_equal(rq_read_file(ck, &d, &n), 0);
    d[n / 2] ^= 0x40;
    snprintf(ck, sizeof ck, "%s/flipped.ckpt", dir);
    assert_int_equal(rq_write_atomic(ck, d, n), 0);
    free(d);
    assert_int_equal(rq_test_run(&o, &e, "%s chat %s hello", bin, ck), 2);
    free(o), free(e);
    assert_int_equal(rq_test_run(&o, &e, "%s train %s --out %s --resume --quiet", bin, cfg, dir), 2);
    free(o), free(e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_bytes_and_resume_is_bit_identical),
        cmocka_unit_test(test_short_run_on_bundled_data_beats_majority),
        cmocka_unit_test(test_speed_options),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_sparse_training_reaches_zero_share_and_resumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
