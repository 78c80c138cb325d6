#include "base/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/binio.h"
#include "base/err.h"

int cfg_parse_text(const char *text, const char *path, cJSON **root) {
    const char *end = NULL;
    *root = cJSON_ParseWithOpts(text, &end, 1);
    if (*root) return 0;
    const char *at = end ? end : cJSON_GetErrorPtr();
    if (!at) at = text;
    // cJSON stops one past an offending token at the end of a line: point at the token itself.
    if (at > text && (*at == '\n' || *at == '\r')) at--;
    long line = 1, col = 1;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') line++, col = 1;
        else col++;
    }
    char near[24] = {0};
    for (int i = 0; i < 20 && at[i] && at[i] != '\n'; i++) near[i] = at[i];
    if (!*at) return rq_fail_line(RQ_EINPUT, path, line, col, "malformed JSON: unexpected end of file");
    return rq_fail_line(RQ_EINPUT, path, line, col, "malformed JSON near '%s'", near);
}

int cfg_parse_file(const char *path, cJSON **root) {
    uint8_t *data;
    size_t len;
    *root = NULL;
    int rc = rq_read_file(path, &data, &len);
    if (rc) return rc;
    if (strlen((const char *)data) != len) {
        free(data);
        return rq_fail(RQ_EINPUT, "%s: not a JSON text (contains a NUL byte)", path);
    }
    rc = cfg_parse_text((const char *)data, path, root);
    free(data);
    return rc;
}

static const char *json_type_name(const cJSON *v) {
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "an invalid value";
}

static int has_range(const cfg_field *f) { return !(f->min == 0 && f->max == 0); }

static int check_number(const cJSON *v, const cfg_field *f, const char *path, const char *key, int integral, double *out) {
    if (!cJSON_IsNumber(v))
        return rq_fail(RQ_EINPUT, "%s: %s: expected %s, got %s", path, key, integral ? "an integer" : "a number", json_type_name(v));
    double d = v->valuedouble;
    if (integral && (d != floor(d) || fabs(d) > 2147483647.0))
        return rq_fail(RQ_EINPUT, "%s: %s: expected an integer, got %g", path, key, d);
    if (has_range(f) && (d < f->min || d > f->max))
        return rq_fail(RQ_EINPUT, "%s: %s: %g is out of range [%g, %g]", path, key, d, f->min, f->max);
    *out = d;
    return 0;
}

static int apply_obj(const cJSON *obj, const char *path, const cfg_field *schema, const char *prefix) {
    char key[512];
    if (!cJSON_IsObject(obj)) return rq_fail(RQ_EINPUT, "%s: %s: expected an object, got %s", path, prefix, json_type_name(obj));
    for (const cJSON *v = obj->child; v; v = v->next) {
        snprintf(key, sizeof key, "%s.%s", prefix, v->string ? v->string : "?");
        const cfg_field *f = schema;
        while (f->key && strcmp(f->key, v->string) != 0) f++;
        if (!f->key) return rq_fail(RQ_EINPUT, "%s: %s: unknown key", path, key);
        double d;
        int rc;
        switch (f->type) {
        case CFG_INT:
            if ((rc = check_number(v, f, path, key, 1, &d))) return rc;
            *(int *)f->dst = (int)d;
            break;
        case CFG_NUM:
            if ((rc = check_number(v, f, path, key, 0, &d))) return rc;
            *(double *)f->dst = d;
            break;
        case CFG_FLOAT:
            if ((rc = check_number(v, f, path, key, 0, &d))) return rc;
            *(float *)f->dst = (float)d;
            break;
        case CFG_BOOL:
            if (!cJSON_IsBool(v)) return rq_fail(RQ_EINPUT, "%s: %s: expected a boolean, got %s", path, key, json_type_name(v));
            *(int *)f->dst = cJSON_IsTrue(v);
            break;
        case CFG_STR:
            if (!cJSON_IsString(v)) return rq_fail(RQ_EINPUT, "%s: %s: expected a string, got %s", path, key, json_type_name(v));
            if ((int)strlen(v->valuestring) >= f->cap)
                return rq_fail(RQ_EINPUT, "%s: %s: string longer than %d characters", path, key, f->cap - 1);
            strcpy((char *)f->dst, v->valuestring);
            break;
        case CFG_OBJ:
            if ((rc = apply_obj(v, path, f->sub, key))) return rc;
            break;
        case CFG_INT_ARRAY:
        case CFG_FLOAT_LIST: {
            int fl = f->type == CFG_FLOAT_LIST;
            if (fl && cJSON_IsNumber(v)) {
                if ((rc = check_number(v, f, path, key, 0, &d))) return rc;
                ((float *)f->dst)[0] = (float)d;
                *f->count = 1;
                break;
            }
            if (!cJSON_IsArray(v))
                return rq_fail(RQ_EINPUT, "%s: %s: expected %s, got %s", path, key, fl ? "a number or an array" : "an array", json_type_name(v));
            int n = cJSON_GetArraySize(v);
            if (n > f->cap) return rq_fail(RQ_EINPUT, "%s: %s: at most %d elements, got %d", path, key, f->cap, n);
            int i = 0;
            for (const cJSON *e = v->child; e; e = e->next, i++) {
                char ekey[540];
                snprintf(ekey, sizeof ekey, "%s[%d]", key, i);
                if ((rc = check_number(e, f, path, ekey, !fl, &d))) return rc;
                if (fl) ((float *)f->dst)[i] = (float)d;
                else ((int *)f->dst)[i] = (int)d;
            }
            *f->count = n;
            break;
        }
        case CFG_IGNORE:
            break;
        }
    }
    return 0;
}

int cfg_apply(const cJSON *obj, const char *path, const cfg_field *schema) { return apply_obj(obj, path, schema, "$"); }

int cfg_load(const char *path, const cfg_field *schema) {
    cJSON *root;
    int rc = cfg_parse_file(path, &root);
    if (rc) return rc;
    rc = cfg_apply(root, path, schema);
    cJSON_Delete(root);
    return rc;
}

int cfg_resolve_path(const char *cfg_path, char *p, size_t cap) {
    const char *slash = strrchr(cfg_path, '/');
    if (!p[0] || p[0] == '/' || strncmp(p, "builtin:", 8) == 0 || !slash) return 0;
    char full[4096];
    int n = snprintf(full, sizeof full, "%.*s/%s", (int)(slash - cfg_path), cfg_path, p);
    if (n < 0 || (size_t)n >= cap || (size_t)n >= sizeof full) return rq_fail(RQ_EINPUT, "%s: path too long: %s", cfg_path, p);
    memcpy(p, full, (size_t)n + 1);
    return 0;
}

int cfg_check_paths(const char *cfg_path, const cfg_path_check *paths, int n, int json) {
    cJSON *o = json ? cJSON_CreateObject() : NULL, *po = NULL;
    if (o) cJSON_AddStringToObject(o, "config", cfg_path), po = cJSON_AddObjectToObject(o, "paths");
    int missing = -1;
    for (int i = 0; i < n; i++) {
        const cfg_path_check *c = &paths[i];
        if (!c->path[0]) continue;
        int exists = strncmp(c->path, "builtin:", 8) == 0 || access(c->path, F_OK) == 0;
        if (c->input && !exists && missing < 0) missing = i;
        if (po) {
            cJSON *e = cJSON_AddObjectToObject(po, c->key);
            cJSON_AddStringToObject(e, "path", c->path);
            cJSON_AddBoolToObject(e, "input", c->input);
            cJSON_AddBoolToObject(e, "exists", exists);
        } else {
            printf("%s: %s%s\n", c->key, c->path, c->input && !exists ? " (missing)" : "");
        }
    }
    if (o) {
        char *text = cJSON_PrintUnformatted(o);
        printf("%s\n", text);
        free(text);
        cJSON_Delete(o);
    }
    if (missing >= 0) return rq_fail(RQ_EINPUT, "%s: %s: %s: no such file", cfg_path, paths[missing].key, paths[missing].path);
    return 0;
}
