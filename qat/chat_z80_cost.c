// chat_z80_cost.c: the Z80 chat kernel's cost model (chat_z80_cost.h).
#include "qat/chat_z80_cost.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

int chat_z80_counters(int n_layers, int context) { return n_layers >= 2 && 2 * (3 * context - 3) <= 127; }

float chat_z80_t_nz(const chat_imodel *m, int l, int lo) {
    return l == 0 && lo >= m->enc.q_buckets && chat_z80_counters(m->n_layers, m->enc.context) ? CHAT_Z80_T_NZ_COUNTER
                                                                                             : CHAT_Z80_T_NZ;
}

void chat_z80_layer_cost(const chat_imodel *m, int l, int lo, int hi, chat_z80_cost *c) {
    int n_in = m->dims[l], n_out = m->dims[l + 1], nb = chat_row_bytes(n_out), rb = chat_row_bytes(n_in);
    int *cnt = rq_calloc((size_t)n_in * 4, sizeof *cnt);  // per column: rows with code 0..3
    int8_t row[CHAT_MAX_WIDTH];
    for (int r = 0; r < n_out; r++) {
        chat_unpack_row(m->w[l] + (size_t)r * rb, n_in, row);
        for (int i = lo; i < hi; i++) cnt[4 * i + (row[i] & 3)]++;
    }
    memset(c, 0, sizeof *c);
    float t_nz = chat_z80_t_nz(m, l, lo);
    c->packed = (size_t)(hi - lo) * nb;
    c->sparse = 2 * (size_t)(hi - lo);
    c->can_sparse = 1;
    for (int i = lo; i < hi; i++) {
        int p1 = cnt[4 * i + 1], m2 = cnt[4 * i + 2], m1 = cnt[4 * i + 3], nz = p1 + m1 + m2;
        c->sparse += 3 + (size_t)nz;
        c->t_packed += 84.0 * nb + 44.0 * (nz + m2);
        c->t_sparse += CHAT_Z80_T_COL + t_nz * nz;
        if (p1 > 255 || m1 > 255 || m2 > 255) c->can_sparse = 0;
    }
    free(cnt);
}

double chat_z80_step_estimate(const chat_imodel *m, double ctx_active, const double *active) {
    // what a step costs whatever the weights: encoding the context, layer 1's start (a QACC copy, or
    // nothing on the counter path), finishing each hidden row (more from QACC + counters), the
    // biases of layers 2.., the output shift and argmax (measured on the bundled models)
    int L = m->n_layers, counters = chat_z80_counters(L, m->enc.context);
    double t = 10600.0 + (counters ? 0.0 : 32.0 * m->dims[1]) + 176.0 * m->dims[L];
    for (int l = 0; l + 1 < L; l++) t += (l == 0 && counters ? 147.0 : 60.0) * m->dims[l + 1] + 32.0 * m->dims[l + 2];
    for (int l = 0; l < m->n_layers; l++) {
        chat_z80_cost c;
        int lo = l == 0 ? m->enc.q_buckets : 0, hi = m->dims[l];  // layer 1: the context part
        chat_z80_layer_cost(m, l, lo, hi, &c);
        int sparse = c.can_sparse && c.t_sparse < c.t_packed;
        double per_col = (sparse ? c.t_sparse : c.t_packed) / (double)(hi - lo);
        t += (per_col + CHAT_Z80_T_VISIT) * (l == 0 ? ctx_active : active[l - 1]);
    }
    return t;
}
