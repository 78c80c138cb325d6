// zx48_build.c: the Spectrum program (zx48.h): a kernel relocated to ORG, the model laid out
// behind it by the CP/M builder, the BASIC loader, the .TAP; and the refusal when nothing fits.
#include "export/zx48/zx48.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "emu/zx_tape.h"
#include "qat/chat_z80_cost.h"

void zx48_relocate(const zx48_kernel *k, uint16_t org, uint8_t *out) {
    memcpy(out, k->bin, k->size);
    uint8_t d = (uint8_t)((org >> 8) - (ZX48_KERNEL_ORG >> 8));
    for (unsigned i = 0; i < k->nreloc; i++) out[k->reloc[i]] = (uint8_t)(out[k->reloc[i]] + d);
}

void zx48_program_free(zx48_program *pr) {
    cpm_program_free(&pr->p);
    free(pr->tap), free(pr->basic);
    pr->tap = pr->basic = NULL;
}

// ---- the BASIC loader ----------------------------------------------------------------------------

enum { T_CODE = 0xAF, T_USR = 0xC0, T_LOAD = 0xEF, T_RANDOMIZE = 0xF9, T_CLEAR = 0xFD };

// A number as the ROM stores it in a line: its digits, then 0Eh and the 5-byte form (an integer
// below 65536: 00h, sign 00h, low, high, 00h).
static void put_number(rq_buf *b, uint16_t v) {
    char digits[8];
    int n = snprintf(digits, sizeof digits, "%u", v);
    rq_buf_put(b, digits, (size_t)n);
    const uint8_t f[6] = {0x0E, 0, 0, (uint8_t)v, (uint8_t)(v >> 8), 0};
    rq_buf_put(b, f, sizeof f);
}

// A line: its number (big-endian), the length of the rest (little-endian), the text, 0Dh.
static void put_line(rq_buf *b, uint16_t num, const rq_buf *text) {
    rq_buf_u8(b, (uint8_t)(num >> 8)), rq_buf_u8(b, (uint8_t)num);
    rq_buf_u16(b, (uint16_t)(text->len + 1));
    rq_buf_put(b, text->data, text->len);
    rq_buf_u8(b, 0x0D);
}

uint8_t *zx48_basic_loader(uint16_t org, size_t *n, size_t *prog_len) {
    rq_buf b = {0}, t = {0};
    // 10 CLEAR org-1: LOAD "" CODE
    rq_buf_u8(&t, T_CLEAR);
    put_number(&t, (uint16_t)(org - 1));
    rq_buf_put(&t, ":", 1);
    rq_buf_u8(&t, T_LOAD);
    rq_buf_put(&t, "\"\"", 2);
    rq_buf_u8(&t, T_CODE);
    put_line(&b, 10, &t);
    // 20 RANDOMIZE USR org: the last line, so that the return ends the program (GO TO 20: chat
    // again without loading)
    t.len = 0;
    rq_buf_u8(&t, T_RANDOMIZE), rq_buf_u8(&t, T_USR);
    put_number(&t, org);
    put_line(&b, 20, &t);
    rq_buf_free(&t);
    *prog_len = b.len;
    rq_buf_u8(&b, 0x80);  // the variables area: empty
    *n = b.len;
    return b.data;
}

// ---- the layout ----------------------------------------------------------------------------------

// The cost model's T-states of the layers with every column visited, in the layouts chosen: what
// the choice between the two kernels compares. Layer 1's query columns (their own layout) run once
// per answer, about max_answer / 2 characters.
static double est_tstates(const chat_imodel *m, const cpm_program *p) {
    double t = 0;
    for (int l = 0; l < m->n_layers; l++) {
        chat_z80_cost c;
        int lo = l == 0 ? m->enc.q_buckets : 0;
        chat_z80_layer_cost(m, l, lo, m->dims[l], &c);
        t += p->sparse[l] ? c.t_sparse : c.t_packed;
    }
    chat_z80_cost q;
    chat_z80_layer_cost(m, 0, 0, m->enc.q_buckets, &q);
    return t + (p->qsparse ? q.t_sparse : q.t_packed) * 2.0 / (m->max_answer > 2 ? m->max_answer : 2);
}

// The program with kernel k at org in the layout o asks for. 0, or RQ_EINPUT with p's sizes.
static int build_at(const chat_imodel *m, const zx48_export_opts *o, int k, uint32_t org, uint8_t *kbuf, cpm_program *p) {
    const zx48_kernel *kn = &zx48_kernels[k];
    char where[64];
    snprintf(where, sizeof where, "a 48K ZX Spectrum from %04Xh", (unsigned)org);
    zx48_relocate(kn, (uint16_t)org, kbuf);
    cpm_mem_map map = {kbuf, kn->size, (uint16_t)org, kn->packed, ZX48_MEM_END, where};
    cpm_export_opts eo = {.probes = o->probes, .layout = o->layout, .map = &map};
    return cpm_build(m, &eo, p);
}

// The best program at org: of the kernels that can take o's layout and fit, the one whose layers
// the cost model finds faster (the small sparse-only kernel on a tie). -1 when none fits; *need
// then gets the smaller requirement (bytes from org) and *fail_k its kernel.
static int best_at(const chat_imodel *m, const zx48_export_opts *o, uint32_t org, cpm_program *best, double *best_t,
                   uint32_t *need, int *fail_k) {
    uint8_t kbuf[16384];
    int found = -1;
    *need = UINT32_MAX;
    for (int k = 0; k < ZX48_NKERNELS; k++) {
        if (o->layout == CPM_LAYOUT_PACKED && !zx48_kernels[k].packed) continue;
        cpm_program p;
        int rc = build_at(m, o, k, org, kbuf, &p);
        if (rc == 0) {
            double t = est_tstates(m, &p);
            if (found < 0 || t < *best_t) {
                if (found >= 0) cpm_program_free(best);
                *best = p, *best_t = t, found = k;
                continue;
            }
        } else if (p.end > org && p.end - org < *need) {
            *need = p.end - org, *fail_k = k;
        }
        cpm_program_free(&p);
    }
    return found;
}

// The number of non-zero weights and of columns of m.
static void count_weights(const chat_imodel *m, long *nz, long *cols, long *all) {
    *nz = *cols = *all = 0;
    int8_t row[CHAT_MAX_WIDTH];
    for (int l = 0; l < m->n_layers; l++) {
        int n_in = m->dims[l], rb = chat_row_bytes(n_in);
        *cols += n_in, *all += (long)n_in * m->dims[l + 1];
        for (int r = 0; r < m->dims[l + 1]; r++) {
            chat_unpack_row(m->w[l] + (size_t)r * rb, n_in, row);
            for (int i = 0; i < n_in; i++) *nz += row[i] != 0;
        }
    }
}

// Nothing fits from org (the lowest page tried): say by how much, and what would.
static int refuse(const chat_imodel *m, const zx48_export_opts *o, uint32_t org) {
    uint8_t kbuf[16384];
    cpm_program ps, pk;
    zx48_export_opts so = *o, po = *o;
    so.layout = CPM_LAYOUT_SPARSE, po.layout = CPM_LAYOUT_PACKED;
    build_at(m, &so, 0, org, kbuf, &ps);  // the sparse-only kernel, every layer sparse
    build_at(m, &po, 1, org, kbuf, &pk);  // the packed kernel, every layer packed
    if (!ps.end && !pk.end) return RQ_EINPUT;  // neither could be laid out: cpm_build said why
    const cpm_program *small = ps.end && (!pk.end || ps.end <= pk.end) ? &ps : &pk;
    uint32_t need = small->end - org, avail = ZX48_MEM_END - org;
    if (need <= avail) return RQ_EINPUT;  // it does fit: the refusal was another one (cpm_build said why)
    long nz, cols, all;
    count_weights(m, &nz, &cols, &all);
    char msg[1400];
    int n = snprintf(msg, sizeof msg,
                     "the model does not fit a 48K ZX Spectrum: its smallest program (%s) needs %u bytes from %04Xh, %u "
                     "over the %u up to the top of RAM (kernel %zu, weights %zu, data %zu, buffers %zu, stack %zu). What "
                     "fits:",
                     small == &ps ? "the sparse-only kernel, every layer sparse" : "the packed kernel and layout", need,
                     (unsigned)org, need - avail, avail, small->code_bytes, small->weight_bytes, small->data_bytes,
                     small->buffer_bytes, small->stack_bytes);
    if (ps.end) {
        // Sparse weights are 1 byte per non-zero weight + 5 per column; the rest does not change.
        long fixed = (long)(ps.end - org) - (long)ps.weight_bytes;
        long at8 = (long)(ZX48_MEM_END - ZX48_ORG_DEFAULT) - fixed - 5 * cols, at6 = (long)(ZX48_MEM_END - ZX48_ORG_MIN) - fixed - 5 * cols;
        n += snprintf(msg + n, sizeof msg - (size_t)n,
                      " in the sparse layout at most %ld non-zero weights from 8000h, %ld from 6000h (--org 6000h: "
                      "contended memory below 8000h), this model has %ld of %ld (%.1f%%: qat.zero_frac and qat.act_l1 "
                      "train sparser);",
                      at8 > 0 ? at8 : 0, at6 > 0 ? at6 : 0, nz, all, 100.0 * (double)nz / (double)all);
    }
    if (pk.end) {
        long budget = (long)(ZX48_MEM_END - ZX48_ORG_DEFAULT) - ((long)(pk.end - org) - (long)pk.weight_bytes);
        snprintf(msg + n, sizeof msg - (size_t)n,
                 " dense layers whose packed weights (n_in x ceil(n_out/4) bytes a layer) stay within %ld bytes from "
                 "8000h (this model's are %zu; from 7300h, partly contended, 19,200 bytes fit with the sparse layers "
                 "of examples/tinychat/config-zx48.json, 256 -> 256 -> 43)",
                 budget > 0 ? budget : 0, pk.weight_bytes);
    }
    cpm_program_free(&ps), cpm_program_free(&pk);
    return rq_fail(RQ_EINPUT, "%s", msg);
}

int zx48_build(const chat_imodel *m, const zx48_export_opts *o, zx48_program *out) {
    memset(out, 0, sizeof *out);
    if (o->org && ((o->org & 0xFF) || o->org < ZX48_ORG_MIN || o->org >= ZX48_MEM_END))
        return rq_fail(RQ_EINPUT, "--org %04Xh: a page address (a multiple of 100h) from %04Xh to FF00h", (unsigned)o->org,
                       ZX48_ORG_MIN);
    for (int l = 0; l < m->n_layers; l++)
        if (m->dims[l + 1] > CPM_MAX_ROWS)
            return rq_fail(RQ_EINPUT, "layer %d has %d outputs; the Z80 kernel handles at most %d per layer", l,
                           m->dims[l + 1], CPM_MAX_ROWS);
    // The code address: the one asked for, or 8000h, or the highest page below it that fits.
    uint32_t need = 0, org = o->org ? o->org : ZX48_ORG_DEFAULT;
    int k = -1, fail_k = 0;
    for (;;) {
        k = best_at(m, o, org, &out->p, &out->est_tstates, &need, &fail_k);
        if (k >= 0 || o->org || org <= ZX48_ORG_MIN) break;
        // The size does not depend on the page: jump to where the smaller requirement would fit.
        uint32_t next = need < ZX48_MEM_END - ZX48_ORG_MIN ? (ZX48_MEM_END - need) & ~0xFFu : ZX48_ORG_MIN;
        org = next < org ? next : org - 0x100;
        if (org < ZX48_ORG_MIN) org = ZX48_ORG_MIN;
    }
    if (k < 0) {
        const char *why = rq_last_error();
        if (strstr(why, "does not fit") == NULL) return RQ_EINPUT;  // another refusal (a layer the kernel cannot hold)
        return refuse(m, o, org);
    }
    out->kernel = k;
    // The tape: the loader, then the program's bytes from org.
    size_t prog_len;
    out->basic = zx48_basic_loader((uint16_t)org, &out->basic_size, &prog_len);
    zx_tape_file files[2] = {
        {.type = ZX_TAPE_PROGRAM, .name = "chat", .param1 = 10, .param2 = (uint16_t)prog_len, .data = out->basic,
         .len = out->basic_size},
        {.type = ZX_TAPE_CODE, .name = "chatcode", .param1 = (uint16_t)org, .param2 = 32768, .data = out->p.com,
         .len = out->p.com_size},
    };
    int rc = zx_tap_write(files, 2, &out->tap, &out->tap_size);
    if (rc) zx48_program_free(out);
    return rc;
}
