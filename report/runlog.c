// runlog.c: reading run folders and JSON summaries for the report (runlog.h).
#include "report/runlog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/binio.h"
#include "base/err.h"

int rep_json_load(const char *path, cJSON **out) {
    uint8_t *d;
    size_t n;
    *out = NULL;
    int rc = rq_read_file(path, &d, &n);
    if (rc) return rc;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts((const char *)d, n, &end, 0);
    size_t at = end ? (size_t)(end - (const char *)d) : 0;
    free(d);
    if (!j) return rq_fail(RQ_EINPUT, "%s: byte %zu: not valid JSON", path, at);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return rq_fail(RQ_EINPUT, "%s: byte 0: expected a JSON object", path);
    }
    *out = j;
    return 0;
}

static int classify(const rep_run *r) {
    for (int i = 0; i < r->n_lines; i++) {
        const cJSON *l = r->lines[i];
        if (rep_path(l, "held_out.int_acc") || rep_path(l, "train.int_acc")) return REP_CHAT;
        if (rep_path(l, "valid_loss") || rep_path(l, "valid_int_loss")) return REP_LLAMA;
    }
    return REP_OTHER;
}

int rep_run_load(rep_run *r, const char *dir) {
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    size_t n = strlen(r->dir);
    while (n > 1 && r->dir[n - 1] == '/') r->dir[--n] = 0;
    const char *base = strrchr(r->dir, '/');
    snprintf(r->name, sizeof r->name, "%s", base && base[1] ? base + 1 : r->dir);
    snprintf(r->metrics_path, sizeof r->metrics_path, "%s/metrics.jsonl", r->dir);
    snprintf(r->info_path, sizeof r->info_path, "%s/run.json", r->dir);
    uint8_t *d;
    size_t len;
    if (access(r->metrics_path, R_OK) != 0) return rq_fail(RQ_EINPUT, "%s: no metrics.jsonl there (not a run folder of retroqat train)", r->dir);
    int rc = rq_read_file(r->metrics_path, &d, &len);
    if (rc) return rc;
    int cap = 0, line_no = 0;
    for (char *p = (char *)d, *e; p < (char *)d + len; p = e + 1) {
        e = memchr(p, '\n', (size_t)((char *)d + len - p));
        if (!e) e = (char *)d + len;
        line_no++;
        if (e == p) continue;
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(p, (size_t)(e - p), &end, 0);
        if (!j || !cJSON_IsObject(j)) {
            // a line cut by an interrupted write at the very end is not an error
            if (e == (char *)d + len && j == NULL) break;
            cJSON_Delete(j);
            free(d);
            return rq_fail(RQ_EINPUT, "%s:%d:%d: not a JSON object", r->metrics_path, line_no, end ? (int)(end - p) + 1 : 1);
        }
        if (r->n_lines == cap) {
            cap = cap ? 2 * cap : 256;
            r->lines = rq_realloc(r->lines, sizeof(cJSON *) * (size_t)cap);
        }
        r->lines[r->n_lines++] = j;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
        if (cJSON_IsString(t)) {
            r->n_train += strcmp(t->valuestring, "train") == 0;
            r->n_eval += strcmp(t->valuestring, "eval") == 0;
        }
    }
    free(d);
    if (access(r->info_path, R_OK) == 0 && (rc = rep_json_load(r->info_path, &r->info))) return rc;
    r->family = classify(r);
    return 0;
}

void rep_run_free(rep_run *r) {
    for (int i = 0; i < r->n_lines; i++) cJSON_Delete(r->lines[i]);
    free(r->lines);
    cJSON_Delete(r->info);
    memset(r, 0, sizeof *r);
}

const cJSON *rep_path(const cJSON *o, const char *path) {
    char key[128];
    const char *p = path;
    while (o && *p) {
        size_t k = strcspn(p, ".");
        if (k >= sizeof key) return NULL;
        memcpy(key, p, k);
        key[k] = 0;
        p += k + (p[k] == '.');
        if (cJSON_IsArray(o)) {
            char *end;
            long i = strtol(key, &end, 10);
            o = *end || i < 0 ? NULL : cJSON_GetArrayItem(o, (int)i);
        } else {
            o = cJSON_GetObjectItemCaseSensitive(o, key);
        }
    }
    return o;
}

double rep_num(const cJSON *o, const char *path) {
    const cJSON *v = rep_path(o, path);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int is_type(const cJSON *l, const char *type) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(l, "type");
    return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
}

int rep_series(const rep_run *r, const char *type, const char *path, double **x, double **y) {
    int n = 0;
    *x = *y = NULL;
    for (int i = 0; i < r->n_lines; i++) {
        const cJSON *l = r->lines[i];
        if (!is_type(l, type) || !cJSON_IsNumber(rep_path(l, path))) continue;
        if (!*x) {
            *x = rq_malloc(sizeof(double) * (size_t)r->n_lines);
            *y = rq_malloc(sizeof(double) * (size_t)r->n_lines);
        }
        (*x)[n] = rep_num(l, "step");
        (*y)[n] = rep_num(l, path);
        n++;
    }
    return n;
}

const cJSON *rep_last(const rep_run *r, const char *type, const char *path) {
    for (int i = r->n_lines - 1; i >= 0; i--)
        if (is_type(r->lines[i], type) && cJSON_IsNumber(rep_path(r->lines[i], path))) return r->lines[i];
    return NULL;
}
