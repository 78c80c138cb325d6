// bench_z80.c: `make bench-z80`: speed and size of the Z80 chat kernel in the bundled CP/M emulator.
//
//   bench_z80 MODEL.ckpt [--queries FILE] [--n N] [--quick] [--json]
//
// For the model, and for copies of it with a share of its non-zero weights set to zero (what a
// sparser trainer would give the kernel to skip), build CHAT.COM with the T-state probes, answer
// N queries of FILE one-shot, and report per generated character: the T-states of a generation
// step (context encoding + forward + argmax), the T-states of everything (query setup, steps,
// the end step, printing), seconds at 4 MHz; and the .COM size. --quick: the model itself in the
// auto layout only (what mk/bench-z80-search.py measures every configuration with).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "qat/image_open.h"
#include "base/rng.h"
#include "base/rqfile.h"
#include "emu/cpm.h"
#include "export/cpm/com.h"
#include "infer/chat_kernel.h"

static int load_queries(const char *path, char ***q, int max) {
    uint8_t *txt;
    size_t n;
    if (rq_read_file(path, &txt, &n)) return -1;
    char **v = rq_calloc((size_t)max, sizeof *v), *save = NULL;
    int k = 0, line = 0;
    for (char *l = strtok_r((char *)txt, "\n", &save); l && k < max; l = strtok_r(NULL, "\n", &save)) {
        char *bar = strchr(l, '|');
        if (l[0] == '#' || !bar || line++ % 29) continue;
        *bar = 0;
        if (l[0] != ' ' && strlen(l) < 120) v[k++] = rq_strdup(l);
    }
    free(txt);
    *q = v;
    return k;
}

typedef struct {
    double density, step_t, char_t, query_t;
    long chars, steps;
    size_t com;
    int layout, n_sparse;
} result;

static int measure(const chat_imodel *m, char **q, int nq, int layout, result *res) {
    cpm_program p;
    cpm_export_opts o = {.probes = 1, .layout = layout};
    int rc = cpm_build(m, &o, &p);
    if (rc) return rc;
    uint64_t total = 0, step = 0, steps = 0, query = 0;
    long chars = 0;
    for (int i = 0; i < nq; i++) {
        cpm_opts co = {.in_fd = -1};
        cpm_machine *mc = cpm_new(&co);
        cpm_load_com(mc, p.com, p.com_size, "CHAT.COM");
        cpm_set_tail(mc, q[i]);
        if ((rc = cpm_run(mc))) {
            cpm_free(mc);
            cpm_program_free(&p);
            return rc;
        }
        uint64_t t, n;
        cpm_region(mc, 0, &t, &n);
        step += t, steps += n;
        cpm_region(mc, 1, &t, &n);
        query += t;
        total += cpm_stats_get(mc)->tstates;
        chars += (long)strlen(cpm_output(mc, NULL)) - 1;  // minus the final newline
        cpm_free(mc);
    }
    res->com = p.com_size;
    res->layout = layout;
    res->n_sparse = 0;
    for (int l = 0; l < m->n_layers; l++) res->n_sparse += p.sparse[l];
    res->chars = chars, res->steps = (long)steps;
    res->step_t = steps ? (double)step / (double)steps : 0;
    res->char_t = chars ? (double)total / (double)chars : 0;
    res->query_t = (double)query / nq;
    cpm_program_free(&p);
    return 0;
}

static double density(const chat_imodel *m) {
    long nz = 0, all = 0;
    int8_t row[CHAT_MAX_WIDTH];
    for (int l = 0; l < m->n_layers; l++)
        for (int j = 0; j < m->dims[l + 1]; j++) {
            chat_unpack_row(m->w[l] + (size_t)j * chat_row_bytes(m->dims[l]), m->dims[l], row);
            for (int i = 0; i < m->dims[l]; i++) nz += row[i] != 0;
            all += m->dims[l];
        }
    return (double)nz / (double)all;
}

// Zero each non-zero weight with probability drop (a stand-in for a sparser trainer).
static void thin(chat_imodel *m, double drop, pcg32 *r) {
    int8_t row[CHAT_MAX_WIDTH];
    for (int l = 0; l < m->n_layers; l++) {
        int rb = chat_row_bytes(m->dims[l]);
        for (int j = 0; j < m->dims[l + 1]; j++) {
            uint8_t *w = (uint8_t *)m->w[l] + (size_t)j * rb;
            chat_unpack_row(w, m->dims[l], row);
            for (int i = 0; i < m->dims[l]; i++)
                if (row[i] && pcg32_float(r) < drop) row[i] = 0;
            chat_pack_row(row, m->dims[l], w);
        }
    }
}

int main(int argc, char **argv) {
    const char *model = NULL, *qfile = "examples/tinychat/chat.txt", *dump = NULL;
    int nq = 40, json = 0, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--queries") && i + 1 < argc) qfile = argv[++i];
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) nq = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) dump = argv[++i];
        else if (argv[i][0] != '-' && !model) model = argv[i];
        else return fprintf(stderr, "usage: bench_z80 MODEL.ckpt [--queries FILE] [--n N] [--quick] [--json]\n"), 2;
    }
    if (!model) return fprintf(stderr, "usage: bench_z80 MODEL.ckpt [--queries FILE] [--n N] [--quick] [--json]\n"), 2;
    rqf_file f;
    rq_reader r;
    chat_imodel m;
    if (rqf_open(&f, model, "chat") || rqf_section(&f, "CIMG", &r)) return rq_report(RQ_EINPUT);
    uint8_t *img = rq_malloc(r.len);
    memcpy(img, r.data, r.len);
    size_t len = r.len;
    rqf_close(&f);
    if (chat_image_parse(img, len, model, &m)) return rq_report(RQ_EINPUT);
    char **q;
    nq = load_queries(qfile, &q, nq);
    if (nq <= 0) return rq_report(rq_fail(RQ_EINPUT, "%s: no queries", qfile));

    static const double drops[] = {0, 0.5, 0.75, 0.9};
    result res[8];
    pcg32 rng;
    pcg32_seed(&rng, 1, 1);
    int nres = 0;
    for (int k = 0; k < (quick ? 1 : 4); k++) {
        if (k) thin(&m, 1 - (1 - drops[k]) / (1 - drops[k - 1]), &rng);  // cumulative thinning
        for (int lay = quick ? CPM_LAYOUT_AUTO : CPM_LAYOUT_PACKED; lay >= CPM_LAYOUT_AUTO; lay--) {
            res[nres].density = density(&m);
            if (dump && lay == CPM_LAYOUT_PACKED) {  // the thinned image, for `retroqat export` by hand
                char path[4096];
                snprintf(path, sizeof path, "%s/thinned%d.img", dump, k);
                rq_write_atomic(path, img, len);
            }
            int rc = measure(&m, q, nq, lay, &res[nres]);
            if (rc == RQ_EINPUT) continue;  // does not fit
            if (rc) return rq_report(rc);
            nres++;
        }
    }
    if (json) {
        printf("{\"model\": \"%s\", \"dims\": [", model);
        for (int l = 0; l <= m.n_layers; l++) printf("%s%d", l ? ", " : "", m.dims[l]);
        printf("], \"queries\": %d, \"runs\": [", nq);
        for (int k = 0; k < nres; k++)
            printf("%s{\"weight_density\": %.3f, \"layout\": \"%s\", \"sparse_layers\": %d, \"com_bytes\": %zu, \"tstates_per_step\": %.0f, \"tstates_per_char\": %.0f, "
                   "\"seconds_per_char_4mhz\": %.4f, \"query_setup_tstates\": %.0f, \"chars\": %ld}",
                   k ? ", " : "", res[k].density, res[k].layout ? "packed" : "auto", res[k].n_sparse, res[k].com, res[k].step_t, res[k].char_t, res[k].char_t / 4e6,
                   res[k].query_t, res[k].chars);
        printf("]}\n");
    } else {
        printf("bench-z80: %s (", model);
        for (int l = 0; l <= m.n_layers; l++) printf("%s%d", l ? "->" : "", m.dims[l]);
        printf("), %d one-shot queries in the CP/M emulator\n", nq);
        printf("  weights  non-zero  layout (sparse layers)  .COM bytes   T/step    T/char (all)   s/char @4MHz   T/query   chars\n");
        for (int k = 0; k < nres; k++)
            printf("  %-8s %7.1f%%  %-6s (%d of %d)          %10zu   %7.0f   %12.0f   %12.3f   %7.0f   %5ld\n",
                   res[k].density > res[0].density - 1e-9 ? "trained" : "thinned", 100 * res[k].density,
                   res[k].layout ? "packed" : "auto", res[k].n_sparse, m.n_layers, res[k].com, res[k].step_t,
                   res[k].char_t, res[k].char_t / 4e6, res[k].query_t, res[k].chars);
        printf("  (T/step: encode context + forward + argmax of one generated character; T/char: the whole run\n"
               "   divided by the characters printed; thinned: the same model with non-zero weights zeroed at\n"
               "   random, a stand-in for what a sparser trainer gives the kernel to skip; answers differ)\n");
    }
    for (int i = 0; i < nq; i++) free(q[i]);
    free(q), free(img);
    return 0;
}
