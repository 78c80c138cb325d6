// chat_z80_cost.c: the Z80 chat kernel's cost model (chat_z80_cost.h).
#include "qat/chat_z80_cost.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

void chat_z80_layer_cost(const chat_imodel *m, int l, int lo, int hi, chat_z80_cost *c) {
    int n_in = m->dims[l], n_out = m->dims[l + 1], nb = chat_row_bytes(n_out), rb = chat_row_bytes(n_in);
    int *cnt = rq_calloc((size_t)n_in * 4, sizeof *cnt);  // per column: rows with code 0..3
    int8_t row[CHAT_MAX_WIDTH];
    for (int r = 0; r < n_out; r++) {
        chat_unpack_row(m->w[l] + (size_t)r * rb, n_in, row);
        for (int i = 0; i < n_in; i++) cnt[4 * i + (row[i] & 3)]++;
    }
    memset(c, 0, sizeof *c);
    c->packed = (size_t)n_in * nb;
    c->sparse = 2 * (size_t)n_in;
    c->can_sparse = 1;
    for (int i = 0; i < n_in; i++) {
        int p1 = cnt[4 * i + 1], m2 = cnt[4 * i + 2], m1 = cnt[4 * i + 3], nz = p1 + m1 + m2;
        c->sparse += 3 + (size_t)nz;
        if (i >= lo && i < hi) {
            c->t_packed += 84.0 * nb + 44.0 * (nz + m2);
            c->t_sparse += 230.0 + 80.0 * nz;
        }
        if (p1 > 255 || m1 > 255 || m2 > 255) c->can_sparse = 0;
    }
    free(cnt);
}

double chat_z80_step_estimate(const chat_imodel *m, double ctx_active, const double *active) {
    double t = 0;
    for (int l = 0; l < m->n_layers; l++) {
        chat_z80_cost all, part;
        int lo = l == 0 ? m->enc.q_buckets : 0, hi = m->dims[l];  // layer 1: the context buckets
        chat_z80_layer_cost(m, l, 0, m->dims[l], &all);
        chat_z80_layer_cost(m, l, lo, hi, &part);
        int sparse = all.can_sparse && all.t_sparse < all.t_packed;
        double per_col = (sparse ? part.t_sparse : part.t_packed) / (double)(hi - lo);
        t += per_col * (l == 0 ? ctx_active : active[l - 1]);
    }
    return t;
}
