// chat_z80_cost.h: the cost model of the Z80 chat kernel (export/cpm/cpu/chat.s) for an integer
// chat model: bytes and estimated T-states per layer in either weight layout. The CP/M exporter
// picks each layer part's layout with it (export/cpm/com.c); the trainer logs its per-step
// estimate at every evaluation, and its qat.cost penalty uses the same constants.
//
// Per column (one input of a layer) that is visited: packed ~84 T per byte of the column (fetch +
// dispatch + row steps) and ~44 T per non-zero code (-2 twice); sparse ~230 T to set up the three
// addends and lists and ~48 T per non-zero weight (~36 T in layer 1's 8-bit context counters). The kernel visits only active columns: in
// layer 1 the context n-gram buckets of the step (the query part is done once per query), in
// later layers the hidden units with a positive output.
#ifndef RQ_CHAT_Z80_COST_H
#define RQ_CHAT_Z80_COST_H

#include <stddef.h>

#include "infer/chat_kernel.h"

// The sparse layout's costs (T-states): per visited column, per non-zero weight of it (layer 1's
// context columns on the 8-bit counter path: an INC or DEC each); and what visiting a column costs
// whatever its layout (finding it, calling its routine).
#define CHAT_Z80_T_COL 230.0f
#define CHAT_Z80_T_NZ 48.0f
#define CHAT_Z80_T_NZ_COUNTER 36.0f
#define CHAT_Z80_T_VISIT 200.0f

// Whether the kernel can run layer 1's context columns through 8-bit counters when they are sparse
// (export/cpm/cpu/chat.s, fwd_ctx): layer 1 is hidden and twice the context counts' sum
// (2 * (3 * context - 3)) fits a signed byte.
int chat_z80_counters(int n_layers, int context);
// The sparse layout's cost per non-zero weight of layer l's columns [lo, hi).
float chat_z80_t_nz(const chat_imodel *m, int l, int lo);

typedef struct {
    size_t packed, sparse;      // bytes of the columns in each layout
    double t_packed, t_sparse;  // T-states when every column is visited once
    int can_sparse;             // every list of every column has at most 255 rows
} chat_z80_cost;

// Layer l, columns [lo, hi) (the exporter lays out layer 1's query and context columns apart).
void chat_z80_layer_cost(const chat_imodel *m, int l, int lo, int hi, chat_z80_cost *c);
// Estimated T-states of one generation step (the columns, plus what encoding the context,
// finishing the hidden layers, the biases and the argmax cost),
// each layer in the layout `export --layout auto` picks when it fits: ctx_active = mean non-zero
// context buckets per step, active[l] = mean active units of hidden layer l.
double chat_z80_step_estimate(const chat_imodel *m, double ctx_active, const double *active);

#endif
