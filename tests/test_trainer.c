// test_trainer.c: the shared training loop and optimizer, on a toy least-squares family.
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "train/optim.h"
#include "train/trainer.h"

// --- optimizer -----------------------------------------------------------------------------------

static void test_adamw_matches_hand_computation(void **state) {
    (void)state;
    adamw_cfg c = adamw_defaults();
    c.lr = 0.1f;
    c.weight_decay = 0.5f;
    adamw_state s;
    adamw_build(&s, 2);
    float p[2] = {1.0f, -2.0f};
    float g[2] = {0.5f, 0.25f};
    uint8_t mask[2] = {1, 0};
    adamw_step(&s, &c, p, g, mask, c.lr);
    // t=1: m = 0.1 g, v = 0.001 g^2, mhat = g, vhat = g^2, update = g/(|g|+eps) = sign(g) (+ wd*p when masked)
    assert_float_equal(p[0], 1.0f - 0.1f * (1.0f + 0.5f * 1.0f), 1e-6);
    assert_float_equal(p[1], -2.0f - 0.1f * 1.0f, 1e-6);
    // t=2 with g' = -g: m = 0.09g - 0.1g = -0.01g... check against the formula in double
    double m0 = 0.1 * 0.5, v0 = 0.001 * 0.25;
    double m1 = 0.9 * m0 + 0.1 * -0.5, v1 = 0.999 * v0 + 0.001 * 0.25;
    double upd = (m1 / (1 - 0.81)) / (sqrt(v1 / (1 - 0.999 * 0.999)) + 1e-8) + 0.5 * p[0];
    double want = p[0] - 0.1 * upd;
    g[0] = -0.5f;
    adamw_step(&s, &c, p, g, mask, c.lr);
    assert_float_equal(p[0], (float)want, 1e-6);
    adamw_free(&s);
}

static void test_schedule_and_clipping(void **state) {
    (void)state;
    adamw_cfg c = adamw_defaults();
    c.lr = 1.0f;
    c.warmup_steps = 10;
    c.total_steps = 110;
    c.min_lr_frac = 0.1f;
    assert_float_equal(lr_at(&c, 0), 0.1f, 1e-7);
    assert_float_equal(lr_at(&c, 9), 1.0f, 1e-7);
    assert_float_equal(lr_at(&c, 10), 1.0f, 1e-6);
    assert_float_equal(lr_at(&c, 60), 0.55f, 1e-6);  // halfway down the cosine
    assert_float_equal(lr_at(&c, 110), 0.1f, 1e-6);
    assert_float_equal(lr_at(&c, 500), 0.1f, 1e-6);
    float g[4] = {3, 4, 0, 0};
    assert_float_equal(grad_clip_norm(g, 4, 1.0f), 5.0f, 1e-6);
    assert_float_equal(g[0], 0.6f, 1e-6);
    assert_float_equal(g[1], 0.8f, 1e-6);
    float h[2] = {0.3f, 0.4f};
    assert_float_equal(grad_clip_norm(h, 2, 1.0f), 0.5f, 1e-6);
    assert_float_equal(h[0], 0.3f, 0);  // under the limit: untouched
}

// --- a toy family: fit w (8) so that w.x = target on random x ------------------------------------

#define TOY_N 8
typedef struct {
    float mem[2 * TOY_N];  // params then grads: one allocation
    float target[TOY_N];
    long interrupt_at;     // raise rq_interrupted after this step (-1: never)
    int evals;
} toy;

static float toy_step(rq_family *f, long step, pcg32 *rng, cJSON *stats) {
    toy *t = f->self;
    float x[TOY_N], pred = 0, want = 0;
    for (int i = 0; i < TOY_N; i++) {
        x[i] = pcg32_normal(rng);
        pred += f->params[i] * x[i];
        want += t->target[i] * x[i];
    }
    float err = pred - want;
    for (int i = 0; i < TOY_N; i++) f->grads[i] = err * x[i];
    cJSON_AddNumberToObject(stats, "abs_err", fabsf(err));
    if (step == t->interrupt_at) rq_interrupted = 1;
    return 0.5f * err * err;
}

static double toy_eval(rq_family *f, long step, cJSON *out) {
    (void)step;
    toy *t = f->self;
    double d = 0;
    for (int i = 0; i < TOY_N; i++) d += (f->params[i] - t->target[i]) * (f->params[i] - t->target[i]);
    cJSON_AddNumberToObject(out, "dist", d);
    t->evals++;
    return -d;
}

static void toy_save(rq_family *f, rqf_writer *w) {
    toy *t = f->self;
    rq_buf *b = rqf_section_begin(w, "TOYT");
    rq_buf_f32s(b, t->target, TOY_N);
}

static int toy_load(rq_family *f, const rqf_file *file) {
    toy *t = f->self;
    rq_reader r;
    int rc = rqf_section(file, "TOYT", &r);
    return rc ? rc : rq_rd_f32s(&r, t->target, TOY_N, "target");
}

static rq_family toy_family(toy *t) {
    memset(t, 0, sizeof *t);
    for (int i = 0; i < TOY_N; i++) t->target[i] = (float)i - 3.5f;
    t->interrupt_at = -1;
    rq_family f = {.kind = "toy", .self = t, .params = t->mem, .grads = t->mem + TOY_N, .n_params = TOY_N,
                   .step = toy_step, .evaluate = toy_eval, .save = toy_save, .load = toy_load};
    return f;
}

static trainer_cfg toy_cfg(const char *dir) {
    trainer_cfg c;
    trainer_cfg_defaults(&c);
    c.steps = 400;
    c.eval_every = 50;
    c.opt.lr = 0.05f;
    c.opt.warmup_steps = 20;
    c.seed = 7;
    c.out_dir = dir;
    c.quiet = 1;
    return c;
}

static uint8_t *slurp(const char *dir, const char *name, size_t *len) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    uint8_t *d;
    assert_int_equal(rq_read_file(p, &d, len), 0);
    return d;
}

static void test_trainer_converges_and_writes_outputs(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("trainer_a");
    toy t;
    rq_family f = toy_family(&t);
    trainer_cfg c = toy_cfg(dir);
    assert_int_equal(trainer_run(&f, &c), 0);
    for (int i = 0; i < TOY_N; i++) assert_float_equal(f.params[i], t.target[i], 0.05);
    assert_int_equal(t.evals, 8);
    size_t n;
    char *m = (char *)slurp(dir, "metrics.jsonl", &n);
    int lines = 0, evals = 0;
    for (char *p = m; (p = strchr(p, '\n')); p++) lines++;
    for (char *p = m; (p = strstr(p, "\"type\":\"eval\"")); p++) evals++;
    assert_int_equal(evals, 8);
    assert_int_equal(lines, 8 + 400 / 2);  // log_every = eval_every / 20 = 2
    free(m);
    // best.ckpt and last.ckpt load back; the params reload exactly.
    char p[4200];
    snprintf(p, sizeof p, "%s/last.ckpt", dir);
    rqf_file file;
    assert_int_equal(rqf_open(&file, p, "toy"), 0);
    toy t2;
    rq_family f2 = toy_family(&t2);
    assert_int_equal(trainer_load_params(&f2, &file), 0);
    assert_memory_equal(f2.params, f.params, TOY_N * sizeof(float));
    rqf_close(&file);
}

static void test_trainer_deterministic_and_resume_bit_identical(void **state) {
    (void)state;
    char a[4096], b[4096], r[4096];
    snprintf(a, sizeof a, "%s", rq_test_tmpdir("trainer_det_a"));
    snprintf(b, sizeof b, "%s", rq_test_tmpdir("trainer_det_b"));
    snprintf(r, sizeof r, "%s", rq_test_tmpdir("trainer_resume"));
    toy t;
    rq_family f = toy_family(&t);
    trainer_cfg c = toy_cfg(a);
    assert_int_equal(trainer_run(&f, &c), 0);
    f = toy_family(&t);
    c.out_dir = b;
    assert_int_equal(trainer_run(&f, &c), 0);
    size_t na, nb, nr;
    uint8_t *ca = slurp(a, "last.ckpt", &na), *cb = slurp(b, "last.ckpt", &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(ca, cb, na);  // same seed, same bytes

    // Interrupt at step 137 (mid-way between evaluations), then resume: the final checkpoint is
    // byte-identical to the uninterrupted run's.
    f = toy_family(&t);
    t.interrupt_at = 136;
    c.out_dir = r;
    assert_int_equal(trainer_run(&f, &c), 0);
    assert_true(rq_interrupted);
    uint8_t *mid = slurp(r, "last.ckpt", &nr);
    assert_true(nr != na || memcmp(mid, ca, na) != 0);
    free(mid);
    f = toy_family(&t);
    for (int i = 0; i < TOY_N; i++) t.target[i] = 0;  // must come back from the checkpoint
    c.resume = 1;
    assert_int_equal(trainer_run(&f, &c), 0);
    uint8_t *cr = slurp(r, "last.ckpt", &nr);
    assert_int_equal(nr, na);
    assert_memory_equal(cr, ca, na);
    free(ca), free(cb), free(cr);

    // Resuming with a different config is refused with a clear message.
    c.seed = 8;
    f = toy_family(&t);
    assert_int_equal(trainer_run(&f, &c), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "cannot resume"));
    // Nothing to resume from.
    c.out_dir = rq_test_tmpdir("trainer_empty");
    assert_int_equal(trainer_run(&f, &c), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "nothing to resume"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_matches_hand_computation),
        cmocka_unit_test(test_schedule_and_clipping),
        cmocka_unit_test(test_trainer_converges_and_writes_outputs),
        cmocka_unit_test(test_trainer_deterministic_and_resume_bit_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
