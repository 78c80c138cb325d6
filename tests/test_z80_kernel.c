// test_z80_kernel.c: the Z80 chat kernel (export/cpm/cpu/chat.s) against the C reference
// (infer/chat_kernel.c, infer/chat_encode.c), run in the bundled CP/M emulator.
//
// Compared bit for bit: all logits (floor-shifted last-layer accumulators; with one layer and
// shift 0 these are the raw wrapped accumulators), the argmax, and the outputs of the last hidden
// layer as the kernel hands them to the next layer (its list of non-zero ReLU outputs). The random
// models are built to hit what the published Z80 port got wrong: -2 codes (rows with exactly one
// -2 and nothing else), widths that are not multiples of 4, accumulator wrap, argmax ties, every
// shift 0..15, negative sums and floor.
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "qat/image_open.h"
#include "base/rng.h"
#include "emu/cpm.h"
#include "emu/z80asm.h"
#include "export/cpm/com.h"
#include "infer/chat_kernel.h"

// ---- random models -------------------------------------------------------------------------------

typedef struct {
    chat_imodel m;
    uint8_t *img;
} rmodel;

static int pow2_upto(pcg32 *r, int max_log2) { return 1 << pcg32_bounded(r, (uint32_t)max_log2 + 1); }

static int rand_width(pcg32 *r) {
    static const int widths[] = {1, 2, 3, 4, 5, 7, 9, 13, 31, 33, 64, 127, 130, 192, 255, 256};
    return pcg32_bounded(r, 3) ? widths[pcg32_bounded(r, 16)] : 1 + (int)pcg32_bounded(r, 256);
}

// A model whose weights stress the kernel: per layer a density (layer 1: often another one for its
// query columns) and a share of -2 codes, some rows
// with exactly one -2, biases over the whole int16 range (so sums wrap), duplicated rows in the
// output layer (argmax ties).
static int split_density = -1;  // >= 0: layer 1 with 5% dense context and this dense query columns

static void build_random(pcg32 *r, rmodel *rm, int L, int max_log2_buckets) {
    chat_imodel *m = &rm->m;
    memset(m, 0, sizeof *m);
    m->enc.q_buckets = pow2_upto(r, max_log2_buckets);
    m->enc.k_buckets = pow2_upto(r, max_log2_buckets);
    m->enc.context = 3 + (int)pcg32_bounded(r, 20);
    m->enc.max_query = 1 + (int)pcg32_bounded(r, 80);
    m->max_answer = 1 + (int)pcg32_bounded(r, 20);
    m->mode = CHAT_W2BIT;
    m->n_layers = L;
    m->in_shift = (int)pcg32_bounded(r, 8);
    m->dims[0] = m->enc.q_buckets + m->enc.k_buckets;
    for (int l = 1; l <= L; l++) m->dims[l] = rand_width(r);
    if (m->dims[L] < 2) m->dims[L] = 2 + (int)pcg32_bounded(r, 60);
    for (int l = 0; l < L; l++) m->shift[l] = (int)pcg32_bounded(r, 16);
    uint8_t charset[256];
    for (int k = 0; k < 255; k++) charset[k] = (uint8_t)(32 + pcg32_bounded(r, 95));
    rm->img = rq_calloc(chat_image_size(L, m->dims), 1);
    chat_image_layout(m, rm->img, charset);
    int8_t row[CHAT_MAX_WIDTH];
    for (int l = 0; l < L; l++) {
        int n_in = m->dims[l], n_out = m->dims[l + 1], rb = chat_row_bytes(n_in);
        uint32_t dens = pcg32_bounded(r, 101), m2 = pcg32_bounded(r, 60);
        // layer 1's query columns: often a density of their own (the exporter may lay them out apart)
        uint32_t qdens = l == 0 && pcg32_bounded(r, 2) ? (dens > 50 ? pcg32_bounded(r, 25) : 60 + pcg32_bounded(r, 41)) : dens;
        if (l == 0 && split_density >= 0) dens = 5, qdens = (uint32_t)split_density;
        int big_bias = pcg32_bounded(r, 2);
        uint8_t *w = (uint8_t *)m->w[l], *b = (uint8_t *)m->b[l];
        for (int j = 0; j < n_out; j++) {
            uint32_t kind = pcg32_bounded(r, 10);
            for (int i = 0; i < n_in; i++) {
                int v = 0;
                if (pcg32_bounded(r, 100) < (l == 0 && i < m->enc.q_buckets ? qdens : dens)) v = pcg32_bounded(r, 100) < m2 ? -2 : (pcg32_bounded(r, 2) ? 1 : -1);
                row[i] = (int8_t)v;
            }
            if (kind == 0) {  // exactly one -2 and nothing else
                memset(row, 0, (size_t)n_in);
                row[pcg32_bounded(r, (uint32_t)n_in)] = -2;
            } else if (kind == 1) {  // exactly one weight of each value
                memset(row, 0, (size_t)n_in);
                for (int v = -2; v <= 1; v++) row[pcg32_bounded(r, (uint32_t)n_in)] = (int8_t)v;
            }
            chat_pack_row(row, n_in, w + (size_t)j * rb);
            int bias = big_bias ? (int)pcg32_bounded(r, 65536) - 32768 : (int)pcg32_bounded(r, 2001) - 1000;
            b[2 * j] = (uint8_t)bias, b[2 * j + 1] = (uint8_t)(bias >> 8);
        }
        if (l == L - 1 && n_out >= 3 && pcg32_bounded(r, 2)) {  // ties: copy rows
            for (int t = 0; t < 3; t++) {
                int src = (int)pcg32_bounded(r, (uint32_t)n_out), dst = (int)pcg32_bounded(r, (uint32_t)n_out);
                memcpy(w + (size_t)dst * rb, w + (size_t)src * rb, (size_t)rb);
                memcpy(b + 2 * dst, b + 2 * src, 2);
            }
        }
    }
    // The parser is the contract's judge of a valid image.
    chat_imodel chk;
    assert_int_equal(chat_image_parse(rm->img, chat_image_size(L, m->dims), "random", &chk), 0);
}

// A random model that fits the TPA (oversized ones are drawn again).
static void build_fitting(pcg32 *r, rmodel *rm, int L, int max_log2_buckets, int layout) {
    for (;;) {
        build_random(r, rm, L, max_log2_buckets);
        cpm_program p;
        cpm_export_opts o = {.layout = layout};
        int rc = cpm_build(&rm->m, &o, &p);
        cpm_program_free(&p);
        if (rc == 0) return;
        free(rm->img);
    }
}

// The counts of a random query and context, as the encoder makes them.
static void encoded_counts(pcg32 *r, const chat_imodel *m, uint8_t *counts) {
    char q[64];
    uint8_t ctx[CHAT_MAX_CONTEXT];
    int n = (int)pcg32_bounded(r, 40);
    for (int i = 0; i < n; i++) q[i] = (char)(32 + pcg32_bounded(r, 95));
    for (int i = 0; i < m->enc.context; i++) ctx[i] = chat_lower((uint8_t)(32 + pcg32_bounded(r, 95)));
    chat_encode_query(&m->enc, q, n, counts);
    chat_encode_context(&m->enc, ctx, counts + m->enc.q_buckets);
}

static void random_counts(pcg32 *r, const chat_imodel *m, uint8_t *counts) {
    int n = m->dims[0];
    uint32_t p = 1 + pcg32_bounded(r, 30), big = pcg32_bounded(r, 3);
    for (int i = 0; i < n; i++) {
        counts[i] = 0;
        if (pcg32_bounded(r, 100) < p) counts[i] = (uint8_t)(big ? 1 + pcg32_bounded(r, 255) : 1 + pcg32_bounded(r, 3));
    }
}

// ---- the kernel in the emulator ------------------------------------------------------------------

typedef struct {
    cpm_program p;
    cpm_machine *mc;
} zk;

static long n_sparse_layers, n_packed_layers, n_split_layer1, n_counter_forwards;

static void zk_open_layout(zk *z, const chat_imodel *m, int layout) {
    cpm_export_opts o = {.probes = 0, .layout = layout};
    int rc = cpm_build(m, &o, &z->p);
    if (rc) fprintf(stderr, "cpm_build: %s\n", rq_last_error());
    assert_int_equal(rc, 0);
    z->mc = cpm_new(NULL);
    assert_non_null(z->mc);
    assert_int_equal(cpm_load_com(z->mc, z->p.com, z->p.com_size, "T.COM"), 0);
    for (int l = 0; l < m->n_layers; l++) z->p.sparse[l] ? n_sparse_layers++ : n_packed_layers++;
    n_split_layer1 += z->p.qsparse != z->p.sparse[0];  // layer 1's query and context parts laid out apart
}

static void zk_open(zk *z, const chat_imodel *m) { zk_open_layout(z, m, CPM_LAYOUT_AUTO); }

static void zk_close(zk *z) {
    cpm_free(z->mc);
    cpm_program_free(&z->p);
}

static void zk_call(zk *z, uint16_t addr) {
    cpm_set_max_tstates(z->mc, cpm_stats_get(z->mc)->tstates + 400000000ull);
    int rc = cpm_call(z->mc, addr, NULL);
    if (rc) fprintf(stderr, "cpm_call %04X: %s\n", addr, cpm_error(z->mc));
    assert_int_equal(rc, 0);
}

static int16_t zk_acc(zk *z, int layer, int j) {
    uint8_t *mem = cpm_mem(z->mc);
    int off = z->p.row_off[layer] + j;
    return (int16_t)(uint16_t)(mem[z->p.acc_page * 256 + off] | mem[(z->p.acc_page + 1) * 256 + off] << 8);
}

static long n_logits_checked, n_hidden_checked, n_forwards;

// Run the kernel on counts and compare logits, argmax and the last hidden layer's outputs.
static void check_forward(zk *z, const chat_imodel *m, const uint8_t *counts, const char *what) {
    int L = m->n_layers, n_out = m->dims[L];
    int16_t logits[CHAT_MAX_WIDTH];
    int32_t pre[CHAT_MAX_LAYERS][CHAT_MAX_WIDTH];
    int32_t *acc[CHAT_MAX_LAYERS];
    for (int l = 0; l < L; l++) acc[l] = pre[l];
    int want = chat_forward(m, counts, logits, acc);
    memcpy(cpm_mem(z->mc) + z->p.cnt, counts, (size_t)m->dims[0]);
    zk_call(z, CPM_K_FORWARD);
    int got = cpm_reg(z->mc, CPM_AF) >> 8;
    for (int j = 0; j < n_out; j++) {
        int16_t g = zk_acc(z, L - 1, j);
        if (g != logits[j]) {
            fprintf(stderr, "%s: logit %d: Z80 %d, C %d (pre-wrap sum %d, shift %d)\n", what, j, g, logits[j], pre[L - 1][j],
                    m->shift[L - 1]);
            fail();
        }
    }
    n_logits_checked += n_out;
    assert_int_equal(got, want);
    if (L >= 2) {
        // The list the kernel built for the output layer: (column pointer, y) for each y_j != 0 of
        // layer L-2, pushed, so the last active row sits first below the list's end. Recompute
        // y_j = max(0, floor(wrap16(acc) / 2^s)) from the reference sums.
        const uint8_t *mem = cpm_mem(z->mc);
        int nb = chat_row_bytes(n_out), k = 0, h = L - 2;
        for (int j = 0; j < m->dims[L - 1]; j++) {
            int32_t y = chat_floor_shift(chat_wrap16(pre[h][j]), m->shift[h]);
            if (y <= 0) continue;
            const uint8_t *e = mem + z->p.list - 4 * ++k;
            assert_int_equal(e[0] | e[1] << 8, z->p.w[L - 1] + j * (z->p.sparse[L - 1] ? 2 : nb));
            assert_int_equal(e[2] | e[3] << 8, y);
            n_hidden_checked++;
        }
    }
    n_forwards++;
}

static void test_random_layers(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 2024, 4);
    uint8_t counts[2 * 4096];
    int models = 0;
    for (int t = 0; t < 120; t++) {
        rmodel rm;
        int L = 1 + (int)pcg32_bounded(&r, 4);
        build_fitting(&r, &rm, L, 8, t % 3);
        zk z;
        zk_open_layout(&z, &rm.m, t % 3);  // auto, all packed, all sparse (where a layer can be)
        char what[64];
        for (int k = 0; k < 6; k++) {
            random_counts(&r, &rm.m, counts);
            snprintf(what, sizeof what, "model %d (L=%d) input %d", t, L, k);
            check_forward(&z, &rm.m, counts, what);
        }
        // inputs the encoder makes (context counts summing to 3 * context - 3: layer 1's counter
        // path when the model has it), between and after the random ones
        for (int k = 0; k < 4; k++) {
            encoded_counts(&r, &rm.m, counts);
            snprintf(what, sizeof what, "model %d (L=%d) encoded input %d", t, L, k);
            check_forward(&z, &rm.m, counts, what);
            n_counter_forwards += z.p.counters && 3 * rm.m.enc.context - 3 <= 63;
        }
        zk_close(&z);
        free(rm.img);
        models++;
    }
    fprintf(stderr,
            "z80 kernel: %d random models (%ld sparse and %ld packed layers, %ld with layer 1's query and context "
            "columns in different layouts), %ld forwards (%ld by layer 1's counter path), %ld logits and %ld hidden "
            "outputs bit-exact\n",
            models, n_sparse_layers, n_packed_layers, n_split_layer1, n_forwards, n_counter_forwards, n_logits_checked,
            n_hidden_checked);
    assert_true(n_sparse_layers > 50 && n_packed_layers > 50 && n_counter_forwards > 40);
}

// One layer, shift 0: the logits are the wrapped accumulators themselves. Biases near the int16
// edges and inputs of 255 << 7 make nearly every sum wrap; a row of only -2 weights checks that
// -2 is exactly twice -1.
// Layer 1's query columns (run once per query) and context columns (every step) in different
// layouts: with a 5% dense context part, auto lays a 0-5% dense query part out sparse as well, and
// a 90% dense one of 256 columns (too big for the TPA as lists) packed next to the sparse context.
static void test_layer1_split_layouts(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 16, 16);
    uint8_t counts[1024];
    int split = 0;
    for (int t = 0; t < 12; t++) {
        rmodel rm;
        split_density = t % 2 ? 90 : (int)pcg32_bounded(&r, 6);
        for (;;) {  // wide enough that the layouts differ in speed; a dense query part too big for the
                    // TPA in the sparse layout (about a byte per non-zero weight)
            build_fitting(&r, &rm, t % 2 ? 1 : 1 + (int)pcg32_bounded(&r, 3), 8, CPM_LAYOUT_AUTO);
            int q = rm.m.enc.q_buckets, n1 = rm.m.dims[1];
            if (t % 2 ? q == 256 && n1 >= 240 : n1 >= 64 && q >= 16 && rm.m.enc.k_buckets >= 16) break;
            free(rm.img);
        }
        zk z;
        zk_open(&z, &rm.m);
        assert_int_equal(z.p.sparse[0], 1);
        assert_int_equal(z.p.qsparse, t % 2 == 0);
        split += z.p.qsparse != z.p.sparse[0];
        for (int k = 0; k < 6; k++) {
            random_counts(&r, &rm.m, counts);
            check_forward(&z, &rm.m, counts, "split layer 1");
        }
        zk_close(&z);
        free(rm.img);
    }
    split_density = -1;
    assert_int_equal(split, 6);
}

// Whole answers: the program run one-shot (A>T QUERY: every step encodes the context, runs the
// network and feeds the character back, so state that one step leaves behind, e.g. layer 1's
// context counters, is seen by the next) prints what chat_generate makes, upper-cased.
static void test_random_generation(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 31, 31);
    int answers = 0, counter_models = 0;
    long chars = 0;
    for (int t = 0; t < 24; t++) {
        rmodel rm;
        build_fitting(&r, &rm, 2 + (int)pcg32_bounded(&r, 2), 8, t % 3);
        cpm_program p;
        cpm_export_opts o = {.layout = t % 3};
        assert_int_equal(cpm_build(&rm.m, &o, &p), 0);
        counter_models += p.counters;
        for (int k = 0; k < 3; k++) {
            char q[40], want[300];
            int n = 1 + (int)pcg32_bounded(&r, 30);
            for (int i = 0; i < n; i++) q[i] = pcg32_bounded(&r, 5) ? (char)('a' + pcg32_bounded(&r, 26)) : ' ';
            q[0] = 'x', q[n] = 0;  // the CCP drops leading blanks
            int len = chat_generate(&rm.m, q, n, want, sizeof want);
            for (int i = 0; i < len; i++) want[i] = (char)chat_upper((uint8_t)want[i]);
            cpm_opts co = {.in_fd = -1};
            cpm_machine *mc = cpm_new(&co);
            assert_int_equal(cpm_load_com(mc, p.com, p.com_size, "T.COM"), 0);
            assert_int_equal(cpm_set_tail(mc, q), 0);
            assert_int_equal(cpm_run(mc), 0);
            const char *got = cpm_output(mc, NULL);
            size_t gl = strlen(got);
            if (gl != (size_t)len + 1 || memcmp(got, want, (size_t)len) != 0)
                fail_msg("model %d query '%s': Z80 '%.*s', C '%s'", t, q, (int)(gl ? gl - 1 : 0), got, want);
            cpm_free(mc);
            answers++, chars += len;
        }
        cpm_program_free(&p);
        free(rm.img);
    }
    fprintf(stderr, "z80 kernel: %d answers of 24 random models (%d with layer 1's counter path), %ld characters, identical to chat_generate\n",
            answers, counter_models, chars);
    assert_true(counter_models >= 5);
}

static void test_accumulators_wrap(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 7, 7);
    uint8_t counts[512];
    for (int t = 0; t < 12; t++) {
        rmodel rm;
        build_fitting(&r, &rm, 1, 6, 1 + t % 2);
        chat_imodel *m = &rm.m;
        m->shift[0] = 0;
        m->in_shift = 7;
        uint8_t *img = rm.img;
        (void)img;
        zk z;
        zk_open_layout(&z, m, 1 + t % 2);
        int wraps = 0;
        for (int k = 0; k < 8; k++) {
            for (int i = 0; i < m->dims[0]; i++) counts[i] = pcg32_bounded(&r, 4) ? 0 : (uint8_t)(200 + pcg32_bounded(&r, 56));
            int32_t pre[CHAT_MAX_WIDTH], *acc[1] = {pre};
            int16_t lg[CHAT_MAX_WIDTH];
            chat_forward(m, counts, lg, acc);
            for (int j = 0; j < m->dims[1]; j++) wraps += pre[j] < -32768 || pre[j] > 32767;
            check_forward(&z, m, counts, "wrap");
        }
        zk_close(&z);
        free(rm.img);
        if (m->dims[1] >= 8) assert_true(wraps > 0);  // the test does exercise the wrap
    }
}

// Argmax ties: every logit equal (all-zero weights, equal biases) must answer class 0, and a
// maximum shared by rows 3 and 5 must answer 3.
static void test_argmax_ties(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 11, 1);
    rmodel rm;
    build_random(&r, &rm, 1, 3);
    chat_imodel *m = &rm.m;
    int n_out = m->dims[1], rb = chat_row_bytes(m->dims[0]);
    if (n_out < 8) {  // rebuild with a fixed output width
        free(rm.img);
        m->dims[1] = 8;
        uint8_t charset[8] = "abcdefg";
        rm.img = rq_calloc(chat_image_size(1, m->dims), 1);
        chat_image_layout(m, rm.img, charset);
        n_out = 8;
    }
    uint8_t *w = (uint8_t *)m->w[0], *b = (uint8_t *)m->b[0];
    memset(w, 0, (size_t)n_out * rb);
    for (int j = 0; j < n_out; j++) b[2 * j] = 0xF0, b[2 * j + 1] = 0xFF;  // -16 everywhere
    uint8_t counts[512] = {0};
    zk z;
    zk_open(&z, m);
    check_forward(&z, m, counts, "all equal");
    assert_int_equal(cpm_reg(z.mc, CPM_AF) >> 8, 0);
    zk_close(&z);
    b[6] = 5, b[7] = 0, b[10] = 5, b[11] = 0;
    zk_open(&z, m);
    check_forward(&z, m, counts, "tie 3/5");
    assert_int_equal(cpm_reg(z.mc, CPM_AF) >> 8, 3);
    zk_close(&z);
    free(rm.img);
}

// ---- encoder -----------------------------------------------------------------------------------

static void test_hashing(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 99, 3);
    int checked = 0;
    for (int t = 0; t < 16; t++) {
        rmodel rm;
        build_fitting(&r, &rm, 1, 9, CPM_LAYOUT_AUTO);  // buckets up to 512: the masks use both bytes
        chat_imodel *m = &rm.m;
        zk z;
        zk_open(&z, m);
        uint8_t *mem = cpm_mem(z.mc);
        for (int k = 0; k < 20; k++) {
            char q[300];
            int n = (int)pcg32_bounded(&r, k < 2 ? 3 : 120);
            for (int i = 0; i < n; i++) {
                uint32_t c = pcg32_bounded(&r, 10);
                q[i] = (char)(c < 7 ? 32 + pcg32_bounded(&r, 95) : c < 9 ? 'A' + pcg32_bounded(&r, 26) : 128 + pcg32_bounded(&r, 128));
            }
            uint8_t want[4096];
            chat_encode_query(&m->enc, q, n, want);
            mem[z.p.line + 1] = (uint8_t)n;
            memcpy(mem + z.p.line + 2, q, (size_t)n);
            zk_call(&z, CPM_K_ENCQ);
            assert_memory_equal(mem + z.p.cnt, want, (size_t)m->enc.q_buckets);
            uint8_t ctx[CHAT_MAX_CONTEXT];
            for (int i = 0; i < m->enc.context; i++) ctx[i] = chat_lower((uint8_t)(32 + pcg32_bounded(&r, 95)));
            if (k == 0) chat_context_reset(&m->enc, ctx);
            chat_encode_context(&m->enc, ctx, want);
            memcpy(mem + z.p.ctx, ctx, (size_t)m->enc.context);
            zk_call(&z, CPM_K_ENCC);
            assert_memory_equal(mem + z.p.kcnt, want, (size_t)m->enc.k_buckets);
            checked += 2;
        }
        zk_close(&z);
        free(rm.img);
    }
    fprintf(stderr, "z80 kernel: %d query/context encodings identical to infer/chat_encode\n", checked);
}

// ---- the embedded kernel is the assembled source -------------------------------------------------

static void test_blob_matches_source(void **state) {
    (void)state;
    const char *root = getenv("RQ_ROOT") ? getenv("RQ_ROOT") : ".";
    const char *dir = rq_test_tmpdir("z80_kernel_src");
    char path[4200];
    // handlers.s next to the assembled file (chat.s includes it), then cpm_io.s + chat.s
    assert_int_equal(rq_test_run(NULL, NULL, "python3 %s/export/cpm/cpu/gen_handlers.py > %s/handlers.s", root, dir), 0);
    assert_int_equal(rq_test_run(NULL, NULL, "cat %s/export/cpm/cpu/cpm_io.s %s/export/cpm/cpu/chat.s > %s/kernel.s", root, root, dir), 0);
    snprintf(path, sizeof path, "%s/kernel.s", dir);
    uint16_t org;
    uint8_t *bin;
    size_t len;
    int rc = z80_assemble(path, dir, &org, &bin, &len);
    if (rc) fprintf(stderr, "%s\n", rq_last_error());
    assert_int_equal(rc, 0);
    assert_int_equal(org, 0x100);
    if (len != cpm_kernel_size || memcmp(bin, cpm_kernel_bin, len) != 0)
        fail_msg("the kernel in the library is stale: run make (it assembles export/cpm/cpu/ at build time)");
    free(bin);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blob_matches_source),
        cmocka_unit_test(test_hashing),
        cmocka_unit_test(test_argmax_ties),
        cmocka_unit_test(test_accumulators_wrap),
        cmocka_unit_test(test_random_layers),
        cmocka_unit_test(test_layer1_split_layouts),
        cmocka_unit_test(test_random_generation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
