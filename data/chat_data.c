// chat_data.c: parse, describe, split and encode query|response datasets (see chat_data.h).
#define _GNU_SOURCE  // qsort_r
#include "data/chat_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "base/rng.h"

void chat_data_opts_default(chat_data_opts *o) {
    memset(o, 0, sizeof *o);
    o->fold_query = 1, o->fold_response = 1, o->max_answer = 64;
    snprintf(o->charset, sizeof o->charset, "%s", CHAT_DEFAULT_CHARSET);
}

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\r'; }

// Trim [*a, *b) of spaces, tabs and CRs.
static void trim(const char **a, const char **b) {
    while (*a < *b && is_space((unsigned char)**a)) (*a)++;
    while (*b > *a && is_space((unsigned char)(*b)[-1])) (*b)--;
}

static char *dup_range(const char *a, const char *b) {
    char *s = rq_malloc((size_t)(b - a) + 1);
    memcpy(s, a, (size_t)(b - a));
    s[b - a] = 0;
    return s;
}

// A bad line: an error, or in lenient mode a counted warning (the line is skipped).
static int bad_line(const chat_data_opts *o, chat_dataset *d, const char *path, long line, const char *msg, int ch) {
    char text[200];
    if (ch >= 0) snprintf(text, sizeof text, msg, ch);
    else snprintf(text, sizeof text, "%s", msg);
    if (!o->lenient) return rq_fail_line(RQ_EINPUT, path, line, 0, "%s", text);
    if (!d->skipped) snprintf(d->first_warning, sizeof d->first_warning, "%s:%ld: %s", path, line, text);
    d->skipped++;
    return 0;
}

int chat_data_parse(const char *text, size_t len, const char *path, const chat_data_opts *o, chat_dataset *d) {
    memset(d, 0, sizeof *d);
    int cap = 0;
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;  // a UTF-8 byte order mark is not part of line 1
    for (long line = 1; p < end; line++) {
        // Lines end in LF, CR LF or a lone CR (old Mac files): all three count as one line end.
        const char *eol = p;
        while (eol < end && *eol != '\n' && *eol != '\r') eol++;
        const char *a = p, *b = eol;
        p = eol < end ? eol + 1 + (*eol == '\r' && eol + 1 < end && eol[1] == '\n') : end;
        trim(&a, &b);
        if (a == b || *a == '#') continue;
        const char *bar = memchr(a, '|', (size_t)(b - a));
        int rc = 0;
        if (!bar) {
            rc = bad_line(o, d, path, line, "expected 'query|response' (no '|')", -1);
            if (rc) goto fail;
            continue;
        }
        const char *qa = a, *qb = bar, *ra = bar + 1, *rb = b;
        trim(&qa, &qb), trim(&ra, &rb);
        const char *why = NULL;
        int ch = -1;
        if (qa == qb) why = "empty query";
        else if (ra == rb) why = "empty response";
        for (const char *s = qa; !why && s < qb; s++)
            if ((unsigned char)*s < 32 || (unsigned char)*s > 126) why = "query byte 0x%02x is not printable ASCII", ch = (unsigned char)*s;
        for (const char *s = ra; !why && s < rb; s++) {
            int c = (unsigned char)*s;
            if (o->fold_response) c = chat_upper((uint8_t)c);
            if (c == 0 || !strchr(o->charset, c)) {
                why = (c >= 32 && c <= 126) ? "response character '%c' is not in the charset" : "response byte 0x%02x is not in the charset";
                ch = c;
            }
        }
        if (!why && rb - ra > o->max_answer) why = "response longer than max_answer (%d)", ch = o->max_answer;
        if (why) {
            rc = bad_line(o, d, path, line, why, ch);
            if (rc) goto fail;
            continue;
        }
        if (d->n == cap) cap = cap ? 2 * cap : 256, d->pairs = rq_realloc(d->pairs, sizeof(chat_pair) * (size_t)cap);
        chat_pair *cp = &d->pairs[d->n++];
        cp->q = dup_range(qa, qb), cp->r = dup_range(ra, rb), cp->line = line;
        if (o->fold_query)
            for (char *s = cp->q; *s; s++) *s = (char)chat_lower((uint8_t)*s);
        if (o->fold_response)
            for (char *s = cp->r; *s; s++) *s = (char)chat_upper((uint8_t)*s);
        continue;
    fail:
        chat_data_free(d);
        return rc;
    }
    if (d->n == 0) {
        chat_data_free(d);
        return rq_fail(RQ_EINPUT, "%s: no query|response pairs", path);
    }
    return 0;
}

int chat_data_load(const char *path, const chat_data_opts *o, chat_dataset *d) {
    uint8_t *text;
    size_t len;
    memset(d, 0, sizeof *d);
    int rc = rq_read_file(path, &text, &len);
    if (rc) return rc;
    rc = chat_data_parse((const char *)text, len, path, o, d);
    free(text);
    return rc;
}

void chat_data_free(chat_dataset *d) {
    for (int i = 0; i < d->n; i++) free(d->pairs[i].q), free(d->pairs[i].r);
    free(d->pairs);
    memset(d, 0, sizeof *d);
}

int chat_data_charset(const chat_dataset *d, char *chars) {
    int seen[256] = {0}, n = 0;
    for (int i = 0; i < d->n; i++)
        for (const char *s = d->pairs[i].r; *s; s++) seen[(unsigned char)*s] = 1;
    for (int c = 1; c < 256; c++)
        if (seen[c]) chars[n++] = (char)c;
    chars[n] = 0;
    return n;
}

// One character example of a query: its context (the last characters, right-aligned, space-padded)
// and its target class.
typedef struct {
    char ctx[CHAT_MAX_CONTEXT];
    uint8_t y;
} ctx_key;

static int cmp_ctx_key(const void *a, const void *b) {
    const ctx_key *x = a, *y = b;
    int c = memcmp(x->ctx, y->ctx, CHAT_MAX_CONTEXT);
    return c ? c : (int)x->y - (int)y->y;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Sort pair indices by (query, response).
static int cmp_pair(const void *a, const void *b, void *ctx) {
    const chat_dataset *d = ctx;
    const chat_pair *x = &d->pairs[*(const int *)a], *y = &d->pairs[*(const int *)b];
    int c = strcmp(x->q, y->q);
    if (c) return c;
    c = strcmp(x->r, y->r);
    return c ? c : *(const int *)a - *(const int *)b;
}

void chat_data_stats(const chat_dataset *d, const int *idx, int n, int context, chat_stats *s) {
    memset(s, 0, sizeof *s);
    if (!idx) n = d->n;
    int *ix = rq_malloc(sizeof(int) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) ix[i] = idx ? idx[i] : i;
    s->pairs = n;
    s->n_chars = chat_data_charset(d, s->charset);
    int cls[256] = {0};
    for (int k = 0; k < s->n_chars; k++) cls[(unsigned char)s->charset[k]] = k + 1;
    long class_count[257] = {0};
    // Distinct queries, conflicts; sort by (query, response).
    qsort_r(ix, (size_t)n, sizeof(int), cmp_pair, (void *)d);
    char **resp = rq_malloc(sizeof(char *) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        const chat_pair *p = &d->pairs[ix[i]];
        resp[i] = p->r;
        int ql = (int)strlen(p->q), rl = (int)strlen(p->r);
        if (ql > s->max_query_len) s->max_query_len = ql;
        if (rl > s->max_response_len) s->max_response_len = rl;
        s->examples += rl + 1;
        for (int t = 0; t <= rl; t++) class_count[t < rl ? cls[(unsigned char)p->r[t]] : 0]++;
        if (i == 0 || strcmp(p->q, d->pairs[ix[i - 1]].q) != 0) s->distinct_queries++;
        else if (strcmp(p->r, d->pairs[ix[i - 1]].r) != 0) {
            // a second distinct answer for this query: count the query once
            int first = i - 1;
            while (first > 0 && strcmp(d->pairs[ix[first - 1]].q, p->q) == 0) first--;
            int distinct = 0;
            for (int k = first + 1; k <= i; k++) distinct += strcmp(d->pairs[ix[k]].r, d->pairs[ix[k - 1]].r) != 0;
            if (distinct == 1) s->conflicting_queries++;
        }
    }
    qsort(resp, (size_t)n, sizeof(char *), cmp_str);
    for (int i = 0; i < n; i++) s->distinct_responses += i == 0 || strcmp(resp[i], resp[i - 1]) != 0;
    for (int k = 0; k <= s->n_chars; k++)
        if (class_count[k] > class_count[s->majority_class]) s->majority_class = k;
    s->majority_acc = s->examples ? (double)class_count[s->majority_class] / (double)s->examples : 0;
    // Best achievable: within one query, examples with the same last `context` characters share an
    // input; the best any model can do is the most frequent target among them. Sort the examples of
    // each query by (context, target) and count runs: O(m log m).
    long best = 0;
    for (int a = 0; a < n;) {
        int b = a;
        while (b < n && strcmp(d->pairs[ix[b]].q, d->pairs[ix[a]].q) == 0) b++;
        long m = 0, k = 0;
        for (int i = a; i < b; i++) m += (long)strlen(d->pairs[ix[i]].r) + 1;
        ctx_key *keys = rq_malloc(sizeof(ctx_key) * (size_t)m);
        for (int i = a; i < b; i++) {
            const char *r = d->pairs[ix[i]].r;
            int rl = (int)strlen(r);
            for (int t = 0; t <= rl; t++, k++) {
                memset(keys[k].ctx, ' ', sizeof keys[k].ctx);
                for (int c = 1; c <= context && c <= t; c++) keys[k].ctx[CHAT_MAX_CONTEXT - c] = (char)chat_lower((uint8_t)r[t - c]);
                keys[k].y = (uint8_t)(t < rl ? cls[(unsigned char)r[t]] : 0);
            }
        }
        qsort(keys, (size_t)m, sizeof(ctx_key), cmp_ctx_key);
        for (long u = 0; u < m;) {
            long v = u, top = 0;
            while (v < m && memcmp(keys[v].ctx, keys[u].ctx, CHAT_MAX_CONTEXT) == 0) {
                long w = v;
                while (w < m && memcmp(keys[w].ctx, keys[v].ctx, CHAT_MAX_CONTEXT) == 0 && keys[w].y == keys[v].y) w++;
                if (w - v > top) top = w - v;
                v = w;
            }
            best += top;
            u = v;
        }
        free(keys);
        a = b;
    }
    s->best_acc = s->examples ? (double)best / (double)s->examples : 0;
    free(resp);
    free(ix);
}

void chat_data_split(const chat_dataset *d, double frac, uint64_t seed, int **train, int *n_train, int **held, int *n_held) {
    int n = d->n;
    int *ix = rq_malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) ix[i] = i;
    qsort_r(ix, (size_t)n, sizeof(int), cmp_pair, (void *)d);
    // group ids of distinct queries in sorted order
    int *group = rq_malloc(sizeof(int) * (size_t)n), ng = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && strcmp(d->pairs[ix[i]].q, d->pairs[ix[i - 1]].q) != 0) ng++;
        group[i] = ng;
    }
    ng = n ? ng + 1 : 0;
    int n_out = (int)(frac * ng + 0.5);
    if (frac > 0 && n_out == 0 && ng >= 2) n_out = 1;
    if (n_out >= ng && ng > 0) n_out = ng - 1;
    int *perm = rq_malloc(sizeof(int) * (size_t)(ng ? ng : 1));
    char *is_held = rq_calloc((size_t)(ng ? ng : 1), 1);
    for (int g = 0; g < ng; g++) perm[g] = g;
    pcg32 r;
    pcg32_seed(&r, seed, 0x5e1d);
    pcg32_shuffle(&r, perm, ng);
    for (int g = 0; g < n_out; g++) is_held[perm[g]] = 1;
    *train = rq_malloc(sizeof(int) * (size_t)(n ? n : 1));
    *held = rq_malloc(sizeof(int) * (size_t)(n ? n : 1));
    *n_train = *n_held = 0;
    // keep file order inside each part
    char *mark = rq_calloc((size_t)(n ? n : 1), 1);
    for (int i = 0; i < n; i++) mark[ix[i]] = is_held[group[i]];
    for (int i = 0; i < n; i++) {
        if (mark[i]) (*held)[(*n_held)++] = i;
        else (*train)[(*n_train)++] = i;
    }
    free(mark), free(perm), free(is_held), free(group), free(ix);
}

void chat_build_examples(const chat_dataset *d, const int *idx, int n_idx, const chat_enc_cfg *e, const char *chars,
                         int n_chars, chat_examples *ex) {
    int cls[256] = {0};
    for (int k = 0; k < n_chars; k++) cls[(unsigned char)chars[k]] = k + 1;
    long n = 0;
    for (int i = 0; i < n_idx; i++) n += (long)strlen(d->pairs[idx[i]].r) + 1;
    ex->n = (int)n, ex->width = e->q_buckets + e->k_buckets;
    ex->x = rq_malloc((size_t)n * (size_t)ex->width + 1);
    ex->y = rq_malloc((size_t)n + 1);
    ex->pair = rq_malloc(sizeof(int) * (size_t)n + 1);
    long k = 0;
    uint8_t ctx[CHAT_MAX_CONTEXT];
    for (int i = 0; i < n_idx; i++) {
        const chat_pair *p = &d->pairs[idx[i]];
        int rl = (int)strlen(p->r);
        chat_context_reset(e, ctx);
        for (int t = 0; t <= rl; t++, k++) {
            uint8_t *x = ex->x + (size_t)k * ex->width;
            chat_encode_query(e, p->q, (int)strlen(p->q), x);
            chat_encode_context(e, ctx, x + e->q_buckets);
            ex->y[k] = (uint8_t)(t < rl ? cls[(unsigned char)p->r[t]] : 0);
            ex->pair[k] = idx[i];
            if (t < rl) chat_context_push(e, ctx, (uint8_t)p->r[t]);
        }
    }
}

void chat_free_examples(chat_examples *ex) {
    free(ex->x), free(ex->y), free(ex->pair);
    memset(ex, 0, sizeof *ex);
}
