// run_info.c: out_dir/run.json (run_info.h).
#include "train/run_info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/binio.h"
#include "base/config.h"
#include "base/err.h"

#ifndef RQ_COMMIT
#define RQ_COMMIT "unknown"
#endif

const char *rq_build_commit(void) { return RQ_COMMIT; }

// The session's start (the earlier sessions' totals are in the file).
static double prev_wall, prev_cpu;

static void info_path(const trainer_cfg *c, char *buf, size_t n) { snprintf(buf, n, "%s/run.json", c->out_dir); }

static void save(const trainer_cfg *c, cJSON *o) {
    char path[4200];
    info_path(c, path, sizeof path);
    char *s = cJSON_Print(o);
    if (rq_write_atomic(path, s, strlen(s)) != 0) {
        fprintf(stderr, "retroqat: warning: %s\n", rq_last_error());
    }
    cJSON_free(s);
}

static cJSON *load(const trainer_cfg *c) {
    char path[4200];
    info_path(c, path, sizeof path);
    uint8_t *d;
    size_t n;
    if (rq_read_file(path, &d, &n) != 0) return NULL;
    cJSON *o = cJSON_Parse((const char *)d);
    free(d);
    if (o && !cJSON_IsObject(o)) cJSON_Delete(o), o = NULL;
    return o;
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static void set_num(cJSON *o, const char *k, double v) {
    cJSON_DeleteItemFromObjectCaseSensitive(o, k);
    cJSON_AddNumberToObject(o, k, v);
}

static void set_str(cJSON *o, const char *k, const char *v) {
    cJSON_DeleteItemFromObjectCaseSensitive(o, k);
    cJSON_AddStringToObject(o, k, v);
}

void run_info_begin(const trainer_cfg *c, const char *kind) {
    cJSON *o = c->resume ? load(c) : NULL;
    prev_wall = o ? num(o, "wall_s") : 0.0;
    prev_cpu = o ? num(o, "cpu_s") : 0.0;
    double sessions = o ? num(o, "sessions") : 0.0;
    if (!o) {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", kind);
        cJSON *cfg = NULL;
        if (c->config_path && cfg_parse_file(c->config_path, &cfg) == 0) {
            cJSON_AddStringToObject(o, "config_path", c->config_path);
            cJSON_AddItemToObject(o, "config", cfg);
        }
        cJSON_AddNumberToObject(o, "seed", (double)c->seed);
        cJSON_AddNumberToObject(o, "steps", (double)c->steps);
        cJSON_AddNumberToObject(o, "lr", c->opt.lr);
        cJSON_AddNumberToObject(o, "weight_decay", c->opt.weight_decay);
        cJSON_AddNumberToObject(o, "grad_clip", c->opt.grad_clip);
        cJSON_AddNumberToObject(o, "warmup_steps", (double)c->opt.warmup_steps);
        cJSON_AddStringToObject(o, "commit", rq_build_commit());
        char date[64];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
        cJSON_AddStringToObject(o, "started", date);
        char host[256] = "unknown";
        gethostname(host, sizeof host - 1);
        cJSON_AddStringToObject(o, "host", host);
    }
    set_num(o, "cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
    set_num(o, "sessions", sessions + 1);
    set_str(o, "status", "running");
    save(c, o);
    cJSON_Delete(o);
}

void run_info_end(const trainer_cfg *c, double wall_s, double cpu_s, long steps_done, const char *status) {
    cJSON *o = load(c);
    if (!o) o = cJSON_CreateObject();
    set_num(o, "wall_s", prev_wall + wall_s);
    set_num(o, "cpu_s", prev_cpu + cpu_s);
    set_num(o, "steps_done", (double)steps_done);
    set_str(o, "status", status);
    save(c, o);
    cJSON_Delete(o);
}
