// com.c: lay a chat model out for the Z80 kernel and build the .COM (see com.h).
//
// Memory map (addresses grow down the list; the file ends after the weights):
//   0100h      kernel (cpm_kernel_bin)
//   desc       descriptor: 48 bytes + 20 per layer (field offsets in export/cpm/cpu/chat.s)
//   charset    n_out - 1 bytes
//   biases     per layer: 4*nb lo bytes, then 4*nb hi bytes (rows past n_out are 0)
//   FCB        36 bytes, the .BIN's (streaming builds only)
//   weights    per layer, packed (n_in columns of nb bytes) or sparse (a pointer per column,
//              then the columns' +1/-1/-2 lists) -- streaming builds: in the .BIN instead
//   -- end of the .COM --
//   weight buffer (streaming builds: the largest layer, whole records)
//   CNT (Q+K), KLIST (2 * (3 * context - 3): the non-zero context counts of a step), CTX (context),
//   QBUF (max_query + 2), LINE (258), LIST (64 + 4 * widest hidden layer; the kernel pushes the
//   entries down from its end)
//   ACC lo/hi, QACC lo/hi: four 256-byte pages, page-aligned; a fifth for layer 1's 8-bit context
//   counters when it has them
//   stack (256 bytes); SP starts at its top, which must be <= E400h
#include "export/cpm/com.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "infer/lm_gen.h"
#include "qat/chat_z80_cost.h"

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }

void cpm_transpose_layer(const uint8_t *w, int n_in, int n_out, uint8_t *out) {
    int rb = chat_row_bytes(n_in), nb = chat_row_bytes(n_out);
    memset(out, 0, (size_t)n_in * nb);
    for (int r = 0; r < n_out; r++)
        for (int i = 0; i < n_in; i++) {
            int code = (w[(size_t)r * rb + i / 4] >> (2 * (i % 4))) & 3;
            out[(size_t)i * nb + r / 4] |= (uint8_t)(code << (2 * (r % 4)));
        }
}

void cpm_program_free(cpm_program *p) {
    free(p->com), free(p->bin);
    p->com = NULL, p->bin = NULL;
}

// Sparse columns [lo, hi) of layer l: table[i - lo] -> [n+1][offsets][n-1][offsets][n-2][offsets],
// offset = off + row. Written to dst; at is the Z80 address it will occupy (the table holds addresses).
static void write_sparse(const chat_imodel *m, int l, int lo, int hi, int off, uint32_t at, uint8_t *dst) {
    int n_in = m->dims[l], n_out = m->dims[l + 1], rb = chat_row_bytes(n_in);
    uint8_t *table = dst;  // dst[a - at] is the byte at Z80 address a
    uint32_t list = at + 2 * (uint32_t)(hi - lo);
    int8_t *codes = rq_malloc((size_t)n_in * n_out);  // [r][i] values
    for (int r = 0; r < n_out; r++) chat_unpack_row(m->w[l] + (size_t)r * rb, n_in, codes + (size_t)r * n_in);
    for (int i = lo; i < hi; i++) {
        put16(table + 2 * (i - lo), list);
        static const int8_t group[3] = {1, -1, -2};
        for (int g = 0; g < 3; g++) {
            uint8_t *n = dst + (list - at);
            list++;
            *n = 0;
            for (int r = 0; r < n_out; r++)
                if (codes[(size_t)r * n_in + i] == group[g]) dst[list++ - at] = (uint8_t)(off + r), (*n)++;
        }
    }
    free(codes);
}

// Packed columns [lo, hi) of layer l: column-major codes, nb bytes per column.
static void write_packed(const chat_imodel *m, int l, int lo, int hi, uint8_t *dst) {
    int nb = chat_row_bytes(m->dims[l + 1]);
    uint8_t *all = rq_malloc((size_t)m->dims[l] * nb);
    cpm_transpose_layer(m->w[l], m->dims[l], m->dims[l + 1], all);
    memcpy(dst, all + (size_t)lo * nb, (size_t)(hi - lo) * nb);
    free(all);
}

// The weight parts of a model, each in its own layout: part 0 = layer 1's query columns (run once
// per query), part 1 = its context columns (every step), part l + 1 = layer l >= 1. A layer's parts
// lie one after the other (layer 1: query part, then context part).
#define N_PARTS(L) ((L) + 1)
static int part_layer(int k) { return k == 0 ? 0 : k - 1; }

// The memory map of a layout choice (see the top of this file); returns the stack's end.
typedef struct {
    uint32_t desc, charset, blo[CHAT_MAX_LAYERS], w[CHAT_MAX_LAYERS], wpart[CHAT_MAX_LAYERS + 1], file_end, cnt, klist,
        ctx, qbuf, line, list, acc, fcb, buf, rec0[CHAT_MAX_LAYERS], nrec[CHAT_MAX_LAYERS], bin_recs;  // list: its end
    size_t data_bytes, weight_bytes, buffer_bytes;
    int counters;
} mem_plan;

static uint32_t plan_memory(const chat_imodel *m, const cpm_mem_map *mm, int stream, const int *sparse, const chat_z80_cost *cost,
                            mem_plan *mp) {
    int L = m->n_layers, widest = 1;
    const chat_enc_cfg *e = &m->enc;
    for (int l = 0; l + 1 < L; l++)
        if (m->dims[l + 1] > widest) widest = m->dims[l + 1];
    memset(mp, 0, sizeof *mp);
    uint32_t a = mm->org + mm->kernel_size, psize[CHAT_MAX_LAYERS + 1], wmax = 0;
    mp->desc = a;
    a += 48 + 20 * (uint32_t)L;
    mp->charset = a;
    a += (uint32_t)m->dims[L] - 1;
    for (int l = 0; l < L; l++) mp->blo[l] = a, a += 8 * (uint32_t)chat_row_bytes(m->dims[l + 1]);
    if (stream) mp->fcb = a, a += 36;
    mp->data_bytes = a - mp->desc;
    for (int k = 0; k < N_PARTS(L); k++) psize[k] = (uint32_t)(sparse[k] ? cost[k].sparse : cost[k].packed);
    mp->bin_recs = 1;
    for (int l = 0; l < L; l++) {
        uint32_t n = l == 0 ? psize[0] + psize[1] : psize[l + 1];
        mp->nrec[l] = (n + 127) / 128, mp->rec0[l] = mp->bin_recs, mp->bin_recs += mp->nrec[l];
        if (128 * mp->nrec[l] > wmax) wmax = 128 * mp->nrec[l];
        if (!stream) mp->w[l] = a, a += n;
    }
    if (stream) mp->buf = a, a += wmax;  // not part of the file: counted with the buffers below
    mp->weight_bytes = stream ? wmax : a - mp->desc - mp->data_bytes;
    mp->file_end = stream ? mp->buf : a;
    for (int l = 0; l < L && stream; l++) mp->w[l] = mp->buf;
    for (int k = 0; k < N_PARTS(L); k++) mp->wpart[k] = k == 1 ? mp->w[0] + psize[0] : mp->w[part_layer(k)];
    mp->cnt = a, a += (uint32_t)(e->q_buckets + e->k_buckets);
    mp->klist = a, a += 2 * (3 * (uint32_t)e->context - 3);  // the addresses of the non-zero context counts
    mp->ctx = a, a += (uint32_t)e->context;
    mp->qbuf = a, a += (uint32_t)e->max_query + 2;
    mp->line = a, a += 258;
    a += 64 + 4 * (uint32_t)widest;  // the list's entries are pushed down from its end, 64 bytes to spare
    mp->list = a;
    a = (a + 255) & ~255u;
    mp->acc = a, a += 4 * 256;
    // Layer 1's 8-bit context counters (chat.s, fwd_ctx): a hidden layer 1 whose context part is
    // sparse, and context sums (3 * context - 3) whose doubles fit a signed byte.
    mp->counters = sparse[1] && chat_z80_counters(L, e->context);
    if (mp->counters) a += 256;
    mp->buffer_bytes = a - mp->file_end - (stream ? mp->weight_bytes : 0);
    return a + CPM_STACK_BYTES;
}

int cpm_build(const chat_imodel *m, const cpm_export_opts *o, cpm_program *p) {
    memset(p, 0, sizeof *p);
    const cpm_mem_map cpm = {cpm_kernel_bin, cpm_kernel_size, 0x100, 1, CPM_TPA_END, NULL};
    const cpm_mem_map *mm = o && o->map ? o->map : &cpm;
    const uint32_t org = mm->org;
    int L = m->n_layers, n_out = m->dims[L], layout = o ? o->layout : CPM_LAYOUT_AUTO, Q = m->enc.q_buckets;
    for (int l = 0; l < L; l++)
        if (m->dims[l + 1] > CPM_MAX_ROWS)
            return rq_fail(RQ_EINPUT, "layer %d has %d outputs; the Z80 kernel handles at most %d per layer", l,
                           m->dims[l + 1], CPM_MAX_ROWS);
    if (!mm->packed && layout == CPM_LAYOUT_PACKED)
        return rq_fail(RQ_EINPUT, "this kernel has no packed layout (every layer is sparse)");
    int nb[CHAT_MAX_LAYERS], sparse[CHAT_MAX_LAYERS + 1], lo[CHAT_MAX_LAYERS + 1], hi[CHAT_MAX_LAYERS + 1];
    chat_z80_cost cost[CHAT_MAX_LAYERS + 1];
    for (int l = 0; l < L; l++) nb[l] = chat_row_bytes(m->dims[l + 1]);
    for (int k = 0; k < N_PARTS(L); k++) {
        int l = part_layer(k);
        lo[k] = k == 1 ? Q : 0, hi[k] = k == 0 ? Q : m->dims[l];
        chat_z80_layer_cost(m, l, lo[k], hi[k], &cost[k]);
        if (!mm->packed && !cost[k].can_sparse)
            return rq_fail(RQ_EINPUT, "layer %d has a column whose rows of one weight value do not fit a sparse list "
                           "(at most 255), and this kernel has only the sparse layout", l);
        sparse[k] = cost[k].can_sparse && (!mm->packed || layout == CPM_LAYOUT_SPARSE ||
                                           (layout == CPM_LAYOUT_AUTO && cost[k].t_sparse < cost[k].t_packed));
    }
    const chat_enc_cfg *e = &m->enc;

    // Sizes and addresses (in 32 bits so an oversized model is measured, not wrapped). AUTO turns
    // sparse parts back to packed until the program fits, the part that loses the least time per
    // byte it gives back first (time per generated character: the query part runs once per answer,
    // about max_answer / 2 characters, every other part on every step), then takes back, the most
    // valuable first, the reverted parts that fit after all.
    mem_plan mp;
    int stream = o && o->stream, reverted[CHAT_MAX_LAYERS + 1], n_reverted = 0;
    double ratio[CHAT_MAX_LAYERS + 1];
    for (int k = 0; k < N_PARTS(L); k++) {
        double runs = k == 0 ? 2.0 / (m->max_answer > 2 ? m->max_answer : 2) : 1.0;
        ratio[k] = (cost[k].t_packed - cost[k].t_sparse) * runs / (double)(cost[k].sparse - cost[k].packed + 1);
    }
    while (plan_memory(m, mm, stream, sparse, cost, &mp) > mm->end && layout == CPM_LAYOUT_AUTO && mm->packed) {
        int worst = -1;
        for (int k = 0; k < N_PARTS(L); k++)
            if (sparse[k] && cost[k].sparse > cost[k].packed && (worst < 0 || ratio[k] < ratio[worst])) worst = k;
        if (worst < 0) break;
        sparse[worst] = 0, reverted[n_reverted++] = worst;
    }
    for (int i = n_reverted - 2; i >= 0; i--) {  // the last one reverted made it fit
        sparse[reverted[i]] = 1;
        if (plan_memory(m, mm, stream, sparse, cost, &mp) > mm->end) sparse[reverted[i]] = 0;
    }
    uint32_t a = plan_memory(m, mm, stream, sparse, cost, &mp);
    uint32_t desc = mp.desc, charset = mp.charset, *blo = mp.blo, *w = mp.w, *wpart = mp.wpart, file_end = mp.file_end,
             cnt = mp.cnt, klist = mp.klist, ctx = mp.ctx, qbuf = mp.qbuf, line = mp.line, list = mp.list, acc = mp.acc,
             fcb = mp.fcb, buf = mp.buf, *rec0 = mp.rec0, *nrec = mp.nrec, bin_recs = mp.bin_recs;
    int counters = mp.counters;
    p->data_bytes = mp.data_bytes, p->weight_bytes = mp.weight_bytes, p->buffer_bytes = mp.buffer_bytes;
    p->stack_bytes = CPM_STACK_BYTES;
    p->code_bytes = mm->kernel_size;
    p->com_size = file_end - org;
    p->org = (uint16_t)org;
    p->end = a;
    for (int l = 0; l < L; l++) p->sparse[l] = sparse[l + 1];
    p->qsparse = sparse[0];
    p->counters = counters;
    if (a > mm->end && mm != &cpm)
        return rq_fail(RQ_EINPUT,
                       "the model does not fit %s: program, weights, buffers and stack need %u bytes (%04Xh-%04Xh), "
                       "%u bytes over the %u available (kernel %zu, weights %zu, data %zu, buffers %zu, stack %d)",
                       mm->where, a - org, org, a - 1, a - mm->end, mm->end - org, p->code_bytes, p->weight_bytes,
                       p->data_bytes, p->buffer_bytes, CPM_STACK_BYTES);
    if (mm == &cpm && a > CPM_TPA_END)
        return rq_fail(RQ_EINPUT,
                       "the model does not fit%s a 64K CP/M 2.2 TPA: program, weights, buffers and stack need %u bytes "
                       "(0100h-%04Xh), %u bytes over the %u available below the CCP at E400h (kernel %zu, weights %zu, "
                       "data %zu, buffers %zu, stack %d)%s",
                       stream ? " even with the weights streamed (their buffer holds the largest layer)" : "", a - 0x100, a - 1, a - CPM_TPA_END, CPM_TPA_END - 0x100, p->code_bytes, p->weight_bytes,
                       p->data_bytes, p->buffer_bytes, CPM_STACK_BYTES,
                       stream ? "" : "; --stream reads the weights from a .BIN instead");

    p->desc = (uint16_t)desc, p->charset = (uint16_t)charset, p->cnt = (uint16_t)cnt;
    p->kcnt = (uint16_t)(cnt + e->q_buckets), p->ctx = (uint16_t)ctx, p->qbuf = (uint16_t)qbuf;
    p->line = (uint16_t)line, p->list = (uint16_t)list;
    p->acc_page = (uint8_t)(acc >> 8), p->qacc_page = (uint8_t)((acc >> 8) + 2);
    p->n_layers = L;

    uint8_t *f = rq_calloc(p->com_size, 1);
    memcpy(f, mm->kernel, mm->kernel_size);
    if (!o || !o->probes) {
        // The probes are OUT (n),A instructions: on a real machine those ports may be hardware.
        unsigned list_at = mm->kernel[CPM_K_PROBES - 0x100] | mm->kernel[CPM_K_PROBES - 0x100 + 1] << 8;
        for (unsigned k = list_at - org;; k += 2) {
            unsigned at = f[k] | f[k + 1] << 8;
            if (!at) break;
            f[at - org] = 0, f[at - org + 1] = 0;  // NOP NOP
        }
    }
    const uint8_t *colfn = mm->kernel + (CPM_K_COLFN - 0x100);  // colrun, colrun_s
    int stride[CHAT_MAX_LAYERS + 1];  // per part
    for (int k = 0; k < N_PARTS(L); k++) stride[k] = sparse[k] ? 2 : nb[part_layer(k)];
    uint8_t *d = f + (desc - org);
    put16(d + 0, (unsigned)e->q_buckets - 1), put16(d + 2, (unsigned)e->k_buckets - 1);
    put16(d + 4, (unsigned)e->q_buckets), put16(d + 6, (unsigned)e->k_buckets);
    d[8] = (uint8_t)e->context, d[9] = (uint8_t)e->max_query, d[10] = (uint8_t)m->max_answer;
    d[11] = (uint8_t)m->in_shift;
    put16(d + 12, charset), put16(d + 14, cnt), put16(d + 16, p->kcnt), put16(d + 18, ctx);
    put16(d + 20, qbuf), put16(d + 22, line), put16(d + 24, list);
    d[26] = p->acc_page, d[27] = p->qacc_page;
    put16(d + 28, a);  // SP: 0000h when everything ends at the top of memory
    put16(d + 30, wpart[1]);
    put16(d + 32, buf), put16(d + 34, fcb);
    put16(d + 36, wpart[0]);
    d[38] = colfn[2 * sparse[0]], d[39] = colfn[2 * sparse[0] + 1];
    d[40] = (uint8_t)stride[0];
    put16(d + 42, klist);
    d[44] = counters ? (uint8_t)((acc >> 8) + 4) : 0;
    if (stream) {
        // FCB: drive 0 (current), NAME.TYP blank-padded, the rest zero.
        uint8_t *fc = f + (fcb - org);
        const char *nm = o->bin_name ? o->bin_name : "CHAT.BIN";
        memset(fc + 1, ' ', 11);
        const char *dot = strchr(nm, '.');
        for (int i = 0; i < 8 && nm[i] && nm + i != dot; i++) fc[1 + i] = (uint8_t)chat_upper((uint8_t)nm[i]);
        for (int i = 0; dot && i < 3 && dot[1 + i]; i++) fc[9 + i] = (uint8_t)chat_upper((uint8_t)dot[1 + i]);
        p->bin_size = 128 * (size_t)bin_recs;
        p->bin = rq_malloc(p->bin_size);
        memset(p->bin, 0x1A, p->bin_size);
        memset(p->bin, 0, 128);
        memcpy(p->bin, "RQZ1", 4);
        put16(p->bin + 4, 1);
        put16(p->bin + 6, (unsigned)(p->bin_size & 0xFFFF)), put16(p->bin + 8, (unsigned)(p->bin_size >> 16));
        put16(p->bin + 10, (unsigned)L);
        for (int l = 0; l < L; l++) put16(p->bin + 12 + 4 * l, rec0[l]), put16(p->bin + 14 + 4 * l, nrec[l]);
    }
    for (int l = 0; l < L; l++) {
        uint8_t *r = d + 48 + 20 * l;
        p->row_off[l] = (256 - 4 * nb[l]) & 255;
        p->w[l] = (uint16_t)w[l];
        r[0] = (uint8_t)nb[l], r[1] = (uint8_t)p->row_off[l], r[2] = (uint8_t)m->shift[l], r[3] = l == L - 1;
        put16(r + 4, w[l]), put16(r + 6, blo[l]), put16(r + 8, blo[l] + 4 * nb[l]);
        put16(r + 10, (unsigned)m->dims[l + 1]);
        r[12] = colfn[2 * sparse[l + 1]], r[13] = colfn[2 * sparse[l + 1] + 1];  // layer 1: its context part
        r[14] = l + 1 < L ? (uint8_t)stride[l + 2] : 0;
        r[15] = (uint8_t)stride[l + 1];
        put16(r + 16, rec0[l]), put16(r + 18, nrec[l]);
        uint8_t *b = f + (blo[l] - org);
        for (int j = 0; j < m->dims[l + 1]; j++) b[j] = m->b[l][2 * j], b[4 * nb[l] + j] = m->b[l][2 * j + 1];
    }
    for (int k = 0; k < N_PARTS(L); k++) {
        int l = part_layer(k);
        uint8_t *dst = stream ? p->bin + 128 * (size_t)rec0[l] + (wpart[k] - w[l]) : f + (wpart[k] - org);
        if (sparse[k]) write_sparse(m, l, lo[k], hi[k], p->row_off[l], wpart[k], dst);
        else write_packed(m, l, lo[k], hi[k], dst);
    }
    memcpy(f + (charset - org), m->charset, (size_t)n_out - 1);
    p->com = f;
    return 0;
}

int cpm_read_logits(const uint8_t *mem, uint16_t desc, int16_t *v) {
    unsigned acc = mem[(uint16_t)(desc + 26)] * 256u;  // D_ACCPG
    // D_LAYERS: 20-byte records, the last has L_LAST set
    unsigned rec = (uint16_t)(desc + 48);
    for (int l = 1; l < CHAT_MAX_LAYERS && !mem[(uint16_t)(rec + 3)]; l++) rec = (uint16_t)(rec + 20);
    int off = mem[(uint16_t)(rec + 1)], n_out = mem[(uint16_t)(rec + 10)] | mem[(uint16_t)(rec + 11)] << 8;
    if (n_out > CPM_MAX_ROWS) n_out = CPM_MAX_ROWS;
    for (int j = 0; j < n_out; j++)
        v[j] = (int16_t)(uint16_t)(mem[(acc + off + j) & 0xFFFF] | mem[(acc + 256 + off + j) & 0xFFFF] << 8);
    return n_out;
}

uint16_t cpm_step_probe(const uint8_t *mem, uint16_t org, uint16_t *desc) {
    uint16_t probes = (uint16_t)(org + CPM_K_PROBES - 0x100), model = (uint16_t)(org + CPM_K_MODEL - 0x100);
    uint16_t list = (uint16_t)(mem[probes] | mem[(uint16_t)(probes + 1)] << 8);
    uint16_t at = (uint16_t)(list + 2 * CPM_PROBE_STEP_END);
    *desc = (uint16_t)(mem[model] | mem[(uint16_t)(model + 1)] << 8);
    return (uint16_t)(mem[at] | mem[(uint16_t)(at + 1)] << 8);
}

void cpm_logit_log_step(cpm_logit_log *g, const uint8_t *mem) {
    int16_t v[CPM_MAX_ROWS];
    int n_out = cpm_read_logits(mem, g->desc, v);
    if (g->n == g->cap) g->crc = rq_realloc(g->crc, sizeof *g->crc * (size_t)(g->cap = g->cap ? 2 * g->cap : 64));
    g->crc[g->n++] = chat_logits_crc(v, n_out);
}
