// trainer.c: the one training loop (see trainer.h for the contract with the families).
//
// Checkpoint sections written here (the family adds its own):
//   TRNR  u32 layout version; u64 next step; u64 rng state, rng inc; f64 best score;
//         u64 best step; u64 total steps; u64 seed; f32 lr, weight decay, clip; u64 warmup
//   PARM  u64 n; n x f32 parameters
//   ADAM  u64 n; u64 t; n x f32 m; n x f32 v
// Everything in it is a function of (config, seed, data, steps done): no clocks, no pointers,
// so two runs with the same seed write identical bytes, and a resumed run matches an
// uninterrupted one bit for bit.
#include "train/trainer.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/dirlock.h"
#include "base/err.h"
#include "base/progress.h"
#include "train/run_info.h"

#define TRNR_VERSION 1

volatile int rq_interrupted = 0;

static void on_sigint(int sig) {
    (void)sig;
    rq_interrupted = 1;
    signal(SIGINT, SIG_DFL);  // a second Ctrl-C kills at once
}

void trainer_cfg_defaults(trainer_cfg *c) {
    memset(c, 0, sizeof *c);
    c->steps = 1000;
    c->eval_every = 100;
    c->opt = adamw_defaults();
    c->seed = 1337;
    c->out_dir = "runs/default";
    c->units_per_step = 1;
}

typedef struct {
    long next_step;
    pcg32 rng;
    double best;
    long best_step;
} run_state;

static int save_ckpt(rq_family *f, const trainer_cfg *c, const adamw_state *opt, const run_state *st, const char *path) {
    rqf_writer w;
    rqf_writer_init(&w, f->kind, TRNR_VERSION);
    rq_buf *b = rqf_section_begin(&w, "TRNR");
    rq_buf_u32(b, TRNR_VERSION);
    rq_buf_u64(b, (uint64_t)st->next_step);
    rq_buf_u64(b, st->rng.state);
    rq_buf_u64(b, st->rng.inc);
    uint64_t best_bits;
    memcpy(&best_bits, &st->best, 8);
    rq_buf_u64(b, best_bits);
    rq_buf_u64(b, (uint64_t)st->best_step);
    rq_buf_u64(b, (uint64_t)c->steps);
    rq_buf_u64(b, c->seed);
    rq_buf_f32(b, c->opt.lr);
    rq_buf_f32(b, c->opt.weight_decay);
    rq_buf_f32(b, c->opt.grad_clip);
    rq_buf_u64(b, (uint64_t)c->opt.warmup_steps);
    rqf_put_floats(&w, "PARM", f->params, f->n_params);
    b = rqf_section_begin(&w, "ADAM");
    rq_buf_u64(b, opt->n);
    rq_buf_u64(b, (uint64_t)opt->t);
    rq_buf_f32s(b, opt->m, opt->n);
    rq_buf_f32s(b, opt->v, opt->n);
    if (f->save) f->save(f, &w);
    return rqf_write(&w, path);
}

int trainer_load_params(rq_family *f, const rqf_file *file) { return rqf_get_floats(file, "PARM", f->params, f->n_params); }

static int load_resume(rq_family *f, const trainer_cfg *c, adamw_state *opt, run_state *st, const char *path) {
    rqf_file file;
    int rc = rqf_open(&file, path, f->kind);
    if (rc) return rc;
    rq_reader r;
    if ((rc = rqf_section(&file, "TRNR", &r))) goto done;
    uint32_t ver = rq_rd_u32(&r, "trainer version");
    st->next_step = (long)rq_rd_u64(&r, "step");
    st->rng.state = rq_rd_u64(&r, "rng state");
    st->rng.inc = rq_rd_u64(&r, "rng inc");
    uint64_t best_bits = rq_rd_u64(&r, "best score");
    memcpy(&st->best, &best_bits, 8);
    st->best_step = (long)rq_rd_u64(&r, "best step");
    long steps = (long)rq_rd_u64(&r, "total steps");
    uint64_t seed = rq_rd_u64(&r, "seed");
    float lr = rq_rd_f32(&r, "lr"), wd = rq_rd_f32(&r, "weight decay"), clip = rq_rd_f32(&r, "clip");
    long warm = (long)rq_rd_u64(&r, "warmup");
    if ((rc = r.err)) goto done;
    if (ver != TRNR_VERSION) {
        rc = rq_fail(RQ_EINPUT, "%s: trainer state version %u, this build reads %d", path, ver, TRNR_VERSION);
        goto done;
    }
    if (steps != c->steps || seed != c->seed || lr != c->opt.lr || wd != c->opt.weight_decay ||
        clip != c->opt.grad_clip || warm != c->opt.warmup_steps) {
        rc = rq_fail(RQ_EINPUT, "%s: cannot resume: the checkpoint was trained with steps=%ld seed=%llu lr=%g wd=%g clip=%g warmup=%ld, "
                     "this run asks for steps=%ld seed=%llu lr=%g wd=%g clip=%g warmup=%ld",
                     path, steps, (unsigned long long)seed, lr, wd, clip, warm, c->steps, (unsigned long long)c->seed,
                     c->opt.lr, c->opt.weight_decay, c->opt.grad_clip, c->opt.warmup_steps);
        goto done;
    }
    if ((rc = trainer_load_params(f, &file))) goto done;
    if ((rc = rqf_section(&file, "ADAM", &r))) goto done;
    uint64_t n = rq_rd_u64(&r, "optimizer size");
    opt->t = (long)rq_rd_u64(&r, "optimizer step");
    if (!r.err && n != opt->n) {
        rc = rq_fail(RQ_EINPUT, "%s: optimizer state has %llu entries, expected %zu", path, (unsigned long long)n, opt->n);
        goto done;
    }
    rq_rd_f32s(&r, opt->m, opt->n, "adam m");
    rq_rd_f32s(&r, opt->v, opt->n, "adam v");
    if ((rc = r.err)) goto done;
    if (f->load) rc = f->load(f, &file);
done:
    rqf_close(&file);
    return rc;
}

// One metrics line; RQ_ERUNTIME naming the file when it cannot be written (a full disk).
static int write_jsonl(FILE *fp, cJSON *obj, const char *path) {
    if (!fp) return 0;
    char *s = cJSON_PrintUnformatted(obj);
    int bad = fprintf(fp, "%s\n", s) < 0 || fflush(fp) != 0;
    cJSON_free(s);
    return bad ? rq_fail(RQ_ERUNTIME, "%s: write failed: %s", path, strerror(errno)) : 0;
}

// Copy every number/string of src into dst (train stats into the metrics line).
static void merge_into(cJSON *dst, const cJSON *src) {
    for (const cJSON *v = src ? src->child : NULL; v; v = v->next) cJSON_AddItemToObject(dst, v->string, cJSON_Duplicate(v, 1));
}

int trainer_run(rq_family *f, const trainer_cfg *c) {
    int rc = rq_mkdir_p(c->out_dir), lock;
    if (rc) return rc;
    if ((rc = rq_dir_lock(c->out_dir, &lock))) return rc;  // one training per folder
    char last_path[4200], best_path[4200], metrics_path[4200];
    snprintf(last_path, sizeof last_path, "%s/last.ckpt", c->out_dir);
    snprintf(best_path, sizeof best_path, "%s/best.ckpt", c->out_dir);
    snprintf(metrics_path, sizeof metrics_path, "%s/metrics.jsonl", c->out_dir);

    adamw_cfg opt_cfg = c->opt;
    opt_cfg.total_steps = c->steps;
    adamw_state opt;
    adamw_build(&opt, f->n_params);
    run_state st = {.next_step = 0, .best = -INFINITY, .best_step = -1};
    pcg32_seed(&st.rng, c->seed, 0x7472616eu /* "tran" */);
    if (c->resume) {
        if (access(last_path, R_OK) != 0) {
            adamw_free(&opt);
            rq_dir_unlock(lock);
            return rq_fail(RQ_EINPUT, "%s: nothing to resume (no checkpoint there)", last_path);
        }
        if ((rc = load_resume(f, c, &opt, &st, last_path))) {
            adamw_free(&opt);
            rq_dir_unlock(lock);
            return rc;
        }
    }
    FILE *metrics = fopen(metrics_path, c->resume ? "a" : "w");
    if (!metrics) {
        adamw_free(&opt);
        rq_dir_unlock(lock);
        return rq_fail(RQ_ERUNTIME, "%s: cannot open: %s", metrics_path, strerror(errno));
    }

    rq_progress pg;
    rq_progress_start(&pg, "step", c->steps, c->quiet);
    long log_every = c->log_every > 0 ? c->log_every : (c->eval_every >= 20 ? c->eval_every / 20 : 1);
    rq_interrupted = 0;
    void (*old_handler)(int) = signal(SIGINT, on_sigint);

    double t_start = rq_now_s(), c_start = rq_cpu_s(), train_time = 0.0;
    long steps_timed = 0;
    float loss_ema = NAN;
    char fam[256] = "", extra[400], el[32];
    run_info_begin(c, f->kind);
    if (c->resume && !c->quiet) fprintf(stderr, "resuming %s at step %ld/%ld\n", last_path, st.next_step, c->steps);

    for (long step = st.next_step; step < c->steps && !rq_interrupted; step++) {
        double t0 = rq_now_s();
        cJSON *stats = cJSON_CreateObject();
        float loss = f->step(f, step, &st.rng, stats);
        float gnorm = grad_clip_norm(f->grads, f->n_params, opt_cfg.grad_clip);
        float lr = lr_at(&opt_cfg, step);
        adamw_step(&opt, &opt_cfg, f->params, f->grads, f->decay_mask, lr);
        if (f->after_update) f->after_update(f, step);
        st.next_step = step + 1;
        train_time += rq_now_s() - t0;
        steps_timed++;
        loss_ema = isnan(loss_ema) ? loss : 0.9f * loss_ema + 0.1f * loss;

        if (st.next_step % log_every == 0 || st.next_step == c->steps) {
            cJSON *line = cJSON_CreateObject();
            cJSON_AddStringToObject(line, "type", "train");
            cJSON_AddNumberToObject(line, "step", (double)st.next_step);
            cJSON_AddNumberToObject(line, "loss", loss);
            cJSON_AddNumberToObject(line, "lr", lr);
            cJSON_AddNumberToObject(line, "grad_norm", gnorm);
            merge_into(line, stats);
            rc = write_jsonl(metrics, line, metrics_path);
            cJSON_Delete(line);
        }
        if (pg.tty) {
            double per_step = train_time / (double)steps_timed;
            fam[0] = 0;
            if (f->progress) f->progress(f, stats, fam, sizeof fam);
            snprintf(extra, sizeof extra, "loss %.4f | %s%s%.0f %s/s", loss_ema, fam, fam[0] ? " | " : "", c->units_per_step / per_step,
                     c->unit ? c->unit : "step");
            rq_progress_draw(&pg, st.next_step, per_step, extra);
        }
        cJSON_Delete(stats);
        if (rc) break;

        if (st.next_step % c->eval_every == 0 || st.next_step == c->steps) {
            cJSON *ev = cJSON_CreateObject();
            cJSON_AddStringToObject(ev, "type", "eval");
            cJSON_AddNumberToObject(ev, "step", (double)st.next_step);
            double score = f->evaluate(f, st.next_step, ev);
            rq_fmt_duration(rq_now_s() - t_start, el, sizeof el);
            cJSON_AddNumberToObject(ev, "score", score);
            // timing of this process (never checkpointed): wall clock since the start and the
            // training steps' throughput (evaluations excluded)
            char rate_key[32];
            snprintf(rate_key, sizeof rate_key, "%s_per_s", c->unit ? c->unit : "step");
            cJSON_AddNumberToObject(ev, "wall_s", rq_now_s() - t_start);
            cJSON_AddNumberToObject(ev, rate_key, train_time > 0 ? (double)c->units_per_step * (double)steps_timed / train_time : 0.0);
            int improved = score > st.best;
            if (improved) {
                st.best = score;
                st.best_step = st.next_step;
            }
            rc = write_jsonl(metrics, ev, metrics_path);
            if (!c->quiet) {
                char *s = cJSON_PrintUnformatted(ev);
                rq_progress_clear(&pg);
                fprintf(stderr, "[%s] eval %s%s\n", el, s, improved ? " *best" : "");
                cJSON_free(s);
            }
            cJSON_Delete(ev);
            if (rc) break;
            if (improved && (rc = save_ckpt(f, c, &opt, &st, best_path))) break;
            if ((rc = save_ckpt(f, c, &opt, &st, last_path))) break;
        }
    }
    if (!rc && rq_interrupted) {
        rc = save_ckpt(f, c, &opt, &st, last_path);
        rq_progress_clear(&pg);
        if (!rc) fprintf(stderr, "interrupted at step %ld: saved %s (continue with --resume)\n", st.next_step, last_path);
    } else {
        rq_progress_end(&pg);
    }
    run_info_end(c, rq_now_s() - t_start, rq_cpu_s() - c_start, st.next_step, rc ? "failed" : rq_interrupted ? "interrupted" : "finished");
    if (!rc && !c->quiet)
        fprintf(stderr, "see the training: retroqat report %s -o %s/report.html\n", c->out_dir, c->out_dir);
    signal(SIGINT, old_handler);
    if (fclose(metrics) != 0 && !rc) rc = rq_fail(RQ_ERUNTIME, "%s: write failed: %s", metrics_path, strerror(errno));
    adamw_free(&opt);
    rq_dir_unlock(lock);
    return rc;
}
