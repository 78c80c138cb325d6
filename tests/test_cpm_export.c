// test_cpm_export.c: `retroqat export --target cpm` end to end: train a small chat model with the
// chat trainer, export CHAT.COM, run it in the bundled CP/M emulator in one-shot mode (command
// tail) and chat mode (BDOS 10 line input), and require every answer to equal `retroqat chat`'s
// (upper-cased, as the .COM prints). Also: TPA overflow and over-wide layers are refused with a
// clear message, the --json summary, the probes are NOPs unless asked for.
#include "tests/testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/binio.h"
#include "base/err.h"
#include "qat/image_open.h"
#include "base/rng.h"
#include "base/rqfile.h"
#include "emu/cpm.h"
#include "export/cpm/com.h"
#include "infer/chat_kernel.h"

#define NQ 64

static char queries[NQ][128];
static int nq;

// Distinct queries of the bundled dataset, spread over it, plus a few of our own.
static void pick_queries(const char *data) {
    uint8_t *txt;
    size_t n;
    assert_int_equal(rq_read_file(data, &txt, &n), 0);
    char *save = NULL;
    int line = 0;
    nq = 0;
    static const char *own[] = {"HELLO?", "what is 2+2", "Tell me about the Z80, please!",
                                "a question that is much longer than the sixty four bytes the encoder reads, truncated"};
    for (int i = 0; i < 4; i++) snprintf(queries[nq++], sizeof queries[0], "%s", own[i]);
    for (char *l = strtok_r((char *)txt, "\n", &save); l && nq < NQ; l = strtok_r(NULL, "\n", &save)) {
        char *bar = strchr(l, '|');
        if (l[0] == '#' || !bar || line++ % 47) continue;
        *bar = 0;
        if (l[0] == ' ' || strlen(l) > 100) continue;  // the CCP strips leading blanks; the tail holds 127
        int dup = 0;
        for (int k = 0; k < nq; k++) dup |= strcmp(queries[k], l) == 0;
        if (!dup) snprintf(queries[nq++], sizeof queries[0], "%s", l);
    }
    free(txt);
    assert_true(nq >= 50);
}

static void upper(char *s) {
    for (; *s; s++) *s = (char)chat_upper((uint8_t)*s);
}

static void test_end_to_end(void **state) {
    (void)state;
    const char *root = getenv("RQ_ROOT") ? getenv("RQ_ROOT") : ".", *bin = rq_test_bin();
    const char *dir = rq_test_tmpdir("cpm_export_e2e");
    char data[4200], ckpt[4200], com[4200], com_s[4200];
    snprintf(data, sizeof data, "%s/examples/tinychat/chat.txt", root);
    snprintf(com, sizeof com, "%s/CHAT.COM", dir);
    snprintf(com_s, sizeof com_s, "%s/CHATS.COM", dir);
    rq_test_train_small_chat(dir, ckpt, sizeof ckpt);
    char *err = NULL;
    int rc;

    char *out = NULL;
    // One-shot runs use the packed layout, chat mode the sparse one: both must answer like the host.
    rc = rq_test_run(&out, &err, "%s export %s --target cpm -o %s --json --layout packed", bin, ckpt, com);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    double com_bytes = cJSON_GetObjectItem(j, "com_bytes")->valuedouble;
    assert_true(com_bytes > cpm_kernel_size);
    assert_true(cJSON_GetObjectItem(j, "weight_bytes")->valuedouble >= 128 * 16 + 64 * 12);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "layers")), 3);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "layers"), 0), "worst_acc_hi"));
    cJSON_Delete(j);
    free(out), free(err);
    rc = rq_test_run(&out, &err, "%s export %s --target cpm -o %s --json --layout sparse", bin, ckpt, com_s);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    j = cJSON_Parse(out);
    assert_non_null(j);
    cJSON *ls = cJSON_GetObjectItem(j, "layers");
    for (int l = 0; l < 3; l++)
        assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ls, l), "layout")->valuestring, "sparse");
    cJSON_Delete(j);
    free(out), free(err);

    // The host answers, through the CLI.
    pick_queries(data);
    size_t cap = 65536, len = 0;
    char *cmd = rq_malloc(cap);
    len += (size_t)snprintf(cmd, cap, "%s chat %s", bin, ckpt);
    for (int i = 0; i < nq; i++) {  // single-quoted for the shell: ' becomes '\''
        cmd[len++] = ' ', cmd[len++] = '\'';
        for (const char *c = queries[i]; *c; c++)
            if (*c == '\'') memcpy(cmd + len, "'\\''", 4), len += 4;
            else cmd[len++] = *c;
        cmd[len++] = '\'', cmd[len] = 0;
    }
    assert_int_equal(rq_test_run(&out, NULL, "%s", cmd), 0);
    free(cmd);
    char want[NQ][64];
    {  // one line per query (an empty answer is an empty line)
        char *p = out;
        for (int i = 0; i < nq; i++) {
            char *e = strchr(p, '\n');
            assert_non_null(e);
            *e = 0;
            snprintf(want[i], sizeof want[i], "%s", p);
            upper(want[i]);
            p = e + 1;
        }
    }
    free(out);

    uint8_t *prog;
    size_t n;
    assert_int_equal(rq_read_file(com, &prog, &n), 0);
    assert_int_equal(n, (size_t)com_bytes);

    // One-shot: CHAT QUESTION, one run per query.
    int same = 0, chars = 0;
    uint64_t tstates = 0;
    for (int i = 0; i < nq; i++) {
        cpm_opts o = {.in_fd = -1};
        cpm_machine *m = cpm_new(&o);
        assert_int_equal(cpm_load_com(m, prog, n, "CHAT.COM"), 0);
        assert_int_equal(cpm_set_tail(m, queries[i]), 0);
        assert_int_equal(cpm_run(m), 0);
        assert_int_equal(cpm_stats_get(m)->end, CPM_END_WBOOT);
        char got[256];
        snprintf(got, sizeof got, "%s", cpm_output(m, NULL));
        size_t gl = strlen(got);
        assert_true(gl >= 1 && got[gl - 1] == '\n');
        got[gl - 1] = 0;
        if (strcmp(got, want[i]) != 0) fprintf(stderr, "one-shot '%s': Z80 '%s', host '%s'\n", queries[i], got, want[i]);
        same += strcmp(got, want[i]) == 0;
        chars += (int)strlen(got);
        tstates += cpm_stats_get(m)->tstates;
        cpm_free(m);
    }
    assert_int_equal(same, nq);

    free(prog);
    assert_int_equal(rq_read_file(com_s, &prog, &n), 0);
    // Chat mode: every query at the prompt, then an empty line.
    size_t inlen = 0;
    char input[16384];
    for (int i = 0; i < nq; i++) inlen += (size_t)snprintf(input + inlen, sizeof input - inlen, "%s\n", queries[i]);
    input[inlen++] = '\n';
    cpm_opts o = {.in_fd = -1, .no_echo = 1};
    cpm_machine *m = cpm_new(&o);
    assert_int_equal(cpm_load_com(m, prog, n, "CHAT.COM"), 0);
    cpm_set_input(m, input, inlen);
    assert_int_equal(cpm_run(m), 0);
    assert_int_equal(cpm_stats_get(m)->end, CPM_END_WBOOT);  // the empty line exits, not EOF
    char *tr = rq_strdup(cpm_output(m, NULL)), *p = tr;
    for (int i = 0; i < nq; i++) {
        assert_memory_equal(p, "> \n", 3);
        p += 3;
        char *e = strchr(p, '\n');
        assert_non_null(e);
        *e = 0;
        if (strcmp(p, want[i]) != 0) fprintf(stderr, "chat '%s': Z80 '%s', host '%s'\n", queries[i], p, want[i]);
        assert_string_equal(p, want[i]);
        p = e + 1;
    }
    assert_string_equal(p, "> \n");
    free(tr);
    cpm_free(m);
    free(prog);

    // The trained model's logits, step by step along the host's own generations: every logit of
    // every step of 20 answers, through the kernel's test entry, in both layouts.
    rqf_file cf;
    rq_reader rd;
    chat_imodel im;
    assert_int_equal(rqf_open(&cf, ckpt, "chat"), 0);
    assert_int_equal(rqf_section(&cf, "CIMG", &rd), 0);
    assert_int_equal(chat_image_parse(rd.data, rd.len, ckpt, &im), 0);
    long logits_checked = 0;
    for (int layout = CPM_LAYOUT_PACKED; layout <= CPM_LAYOUT_SPARSE; layout++) {
        cpm_program cp;
        cpm_export_opts eo = {.layout = layout};
        assert_int_equal(cpm_build(&im, &eo, &cp), 0);
        cpm_machine *km = cpm_new(NULL);
        assert_int_equal(cpm_load_com(km, cp.com, cp.com_size, "CHAT.COM"), 0);
        int L = im.n_layers, n_out = im.dims[L];
        for (int i = 0; i < 20; i++) {
            uint8_t counts[1024], ctx[CHAT_MAX_CONTEXT];
            int16_t lg[256];
            chat_encode_query(&im.enc, queries[i], (int)strlen(queries[i]), counts);
            chat_context_reset(&im.enc, ctx);
            for (int step = 0; step < im.max_answer; step++) {
                chat_encode_context(&im.enc, ctx, counts + im.enc.q_buckets);
                int k = chat_forward(&im, counts, lg, NULL);
                memcpy(cpm_mem(km) + cp.cnt, counts, (size_t)im.dims[0]);
                assert_int_equal(cpm_call(km, CPM_K_FORWARD, NULL), 0);
                assert_int_equal(cpm_reg(km, CPM_AF) >> 8, k);
                const uint8_t *mem = cpm_mem(km);
                for (int c = 0; c < n_out; c++) {
                    int off = cp.row_off[L - 1] + c;
                    assert_int_equal((int16_t)(uint16_t)(mem[cp.acc_page * 256 + off] | mem[(cp.acc_page + 1) * 256 + off] << 8),
                                     lg[c]);
                }
                logits_checked += n_out;
                if (k == CHAT_END) break;
                chat_context_push(&im.enc, ctx, im.charset[k - 1]);
            }
        }
        cpm_free(km);
        cpm_program_free(&cp);
    }
    rqf_close(&cf);
    fprintf(stderr, "cpm export: %d queries, one-shot and chat mode, all answers identical to retroqat chat (%d chars, "
            "%.0f T-states per char one-shot incl. query setup); %ld logits of the trained model bit-exact\n", nq, chars,
            chars ? (double)tstates / chars : 0.0, logits_checked);
}

// ---- refusals and the summary ------------------------------------------------------------------

// A model image of the given shapes with random weights (written to path when path != NULL).
static uint8_t *make_image(int L, const int *dims, int q, int k, chat_imodel *m, const char *path) {
    memset(m, 0, sizeof *m);
    m->enc = (chat_enc_cfg){.q_buckets = q, .k_buckets = k, .context = 8, .max_query = 64};
    m->max_answer = 32, m->mode = CHAT_W2BIT, m->n_layers = L, m->in_shift = 3;
    for (int l = 0; l <= L; l++) m->dims[l] = dims[l];
    for (int l = 0; l < L; l++) m->shift[l] = 2;
    uint8_t charset[256];
    for (int i = 0; i < 255; i++) charset[i] = (uint8_t)('a' + i % 26);
    size_t n = chat_image_size(L, dims);
    uint8_t *img = rq_calloc(n, 1);
    chat_image_layout(m, img, charset);
    pcg32 r;
    pcg32_seed(&r, 1, 1);
    for (int l = 0; l < L; l++) {
        int8_t row[CHAT_MAX_WIDTH];
        for (int j = 0; j < dims[l + 1]; j++) {
            for (int i = 0; i < dims[l]; i++) row[i] = (int8_t)((int)pcg32_bounded(&r, 4) - 2);
            chat_pack_row(row, dims[l], (uint8_t *)m->w[l] + (size_t)j * chat_row_bytes(dims[l]));
        }
    }
    if (path) assert_int_equal(rq_write_atomic(path, img, n), 0);
    return img;
}

static void test_tpa_overflow_refused(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("cpm_export_refuse");
    char path[4200], com[4200];
    snprintf(path, sizeof path, "%s/big.img", dir);
    snprintf(com, sizeof com, "%s/BIG.COM", dir);
    // 512 -> 256 -> 256 -> 40: 32 KB + 16 KB of weights plus the kernel do not fit 57 KB.
    int dims[4] = {512, 256, 256, 40};
    chat_imodel m;
    uint8_t *img = make_image(3, dims, 256, 256, &m, path);
    cpm_program p;
    assert_int_equal(cpm_build(&m, NULL, &p), RQ_EINPUT);
    assert_null(p.com);
    // The excess named is exactly what the parts need beyond the 57,344 bytes of 0100h-E3FFh.
    unsigned need = 0, over = 0;
    const char *msg = strstr(rq_last_error(), "need ");
    assert_non_null(msg);
    assert_int_equal(sscanf(msg, "need %u bytes", &need), 1);
    msg = strstr(msg, "), ");
    assert_non_null(msg);
    assert_int_equal(sscanf(msg, "), %u bytes over", &over), 1);
    assert_int_equal(need, p.code_bytes + p.weight_bytes + p.data_bytes + p.buffer_bytes + p.stack_bytes);
    assert_int_equal(over, need - (CPM_TPA_END - 0x100));
    assert_true(p.weight_bytes >= 512 * 64 + 256 * 64 + 256 * 10);
    char *err = NULL;
    int rc = rq_test_run(NULL, &err, "%s export %s --target cpm -o %s", rq_test_bin(), path, com);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "big.img"));
    assert_non_null(strstr(err, "bytes over"));
    free(err);
    rc = rq_test_run(NULL, &err, "%s export %s --target cpm -o %s --layout dense", rq_test_bin(), path, com);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "--layout"));
    FILE *f = fopen(com, "rb");
    assert_null(f);  // nothing written
    free(err), free(img);

    // A layer wider than the kernel's 256-row pages.
    int dims2[3] = {512, 300, 10};
    img = make_image(2, dims2, 256, 256, &m, NULL);
    assert_int_equal(cpm_build(&m, NULL, &p), RQ_EINPUT);
    assert_non_null(strstr(rq_last_error(), "at most 256"));
    free(img);
}

static void test_summary_and_probes(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("cpm_export_summary");
    char path[4200], com[4200];
    snprintf(path, sizeof path, "%s/m.img", dir);
    snprintf(com, sizeof com, "%s/M.COM", dir);
    int dims[3] = {64, 30, 12};
    chat_imodel m;
    uint8_t *img = make_image(2, dims, 32, 32, &m, path);
    char *out = NULL;
    assert_int_equal(rq_test_run(&out, NULL, "%s export %s --target cpm -o %s --json --layout packed", rq_test_bin(), path, com), 0);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_true(cJSON_GetObjectItem(j, "code_bytes")->valuedouble == cpm_kernel_size);
    assert_true(cJSON_GetObjectItem(j, "weight_bytes")->valuedouble == 64 * 8 + 30 * 3);
    int32_t lo[2], hi[2];
    chat_bounds(&m, lo, hi);
    cJSON *l1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "layers"), 1);
    assert_true(cJSON_GetObjectItem(l1, "worst_acc_lo")->valuedouble == lo[1]);
    assert_true(cJSON_GetObjectItem(l1, "worst_acc_hi")->valuedouble == hi[1]);
    double size = cJSON_GetObjectItem(j, "com_bytes")->valuedouble;
    cJSON_Delete(j);
    free(out);
    uint8_t *prog;
    size_t n;
    assert_int_equal(rq_read_file(com, &prog, &n), 0);
    assert_true((double)n == size);
    // Probes: NOPs by default, OUT (n),A with --probes.
    unsigned list = prog[CPM_K_PROBES - 0x100] | prog[CPM_K_PROBES - 0x100 + 1] << 8;
    cpm_program p;
    cpm_export_opts o = {.probes = 1};
    assert_int_equal(cpm_build(&m, &o, &p), 0);
    int k = 0;
    for (;; k++) {
        unsigned at = prog[list - 0x100 + 2 * k] | prog[list - 0x100 + 2 * k + 1] << 8;
        if (!at) break;
        assert_int_equal(prog[at - 0x100], 0);
        assert_int_equal(prog[at - 0x100 + 1], 0);
        assert_int_equal(p.com[at - 0x100], 0xD3);  // OUT (n),A
    }
    assert_int_equal(k, 16);
    cpm_program_free(&p);
    free(prog), free(img);
}

// --stream: a model 10 KB too big for the TPA runs from its .BIN, bit-exact (logits through the
// test entry, answers through the CCP path), and a missing .BIN is reported.
static void test_stream(void **state) {
    (void)state;
    const char *dir = rq_test_tmpdir("cpm_export_stream");
    char path[4200], com[4200], bin[4200];
    snprintf(path, sizeof path, "%s/big.img", dir);
    snprintf(com, sizeof com, "%s/big.com", dir);
    snprintf(bin, sizeof bin, "%s/BIG.BIN", dir);
    int dims[4] = {512, 256, 256, 40};
    chat_imodel m;
    uint8_t *img = make_image(3, dims, 256, 256, &m, path);
    char *out = NULL, *err = NULL;
    int rc = rq_test_run(&out, &err, "%s export %s --target cpm -o %s --stream --json", rq_test_bin(), path, com);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    uint8_t *cli_com, *cli_bin;
    size_t ncom, nbin;
    assert_int_equal(rq_read_file(com, &cli_com, &ncom), 0);
    assert_int_equal(rq_read_file(bin, &cli_bin, &nbin), 0);
    assert_true(cJSON_GetObjectItem(j, "bin_bytes")->valuedouble == (double)nbin);
    assert_int_equal(nbin % 128, 0);
    assert_memory_equal(cli_bin, "RQZ1", 4);
    assert_int_equal(cli_bin[6] | cli_bin[7] << 8 | cli_bin[8] << 16 | cli_bin[9] << 24, (long)nbin);  // its own length
    cJSON_Delete(j);
    free(out), free(err);

    // In process, the same build: addresses for the test entries.
    cpm_program p;
    cpm_export_opts o = {.stream = 1, .bin_name = "BIG.BIN"};
    assert_int_equal(cpm_build(&m, &o, &p), 0);
    assert_int_equal(p.com_size, ncom);
    assert_memory_equal(p.com, cli_com, ncom);
    assert_memory_equal(p.bin, cli_bin, nbin);
    cpm_opts co = {.in_fd = -1, .dir = dir};
    cpm_machine *mc = cpm_new(&co);
    assert_int_equal(cpm_load_com(mc, p.com, p.com_size, "BIG.COM"), 0);
    assert_int_equal(cpm_call(mc, CPM_K_OPEN, NULL), 0);
    pcg32 r;
    pcg32_seed(&r, 3, 3);
    uint8_t counts[512];
    int16_t logits[64];
    for (int t = 0; t < 4; t++) {
        for (int i = 0; i < 512; i++) counts[i] = pcg32_bounded(&r, 12) ? 0 : (uint8_t)(1 + pcg32_bounded(&r, 3));
        int want = chat_forward(&m, counts, logits, NULL);
        memcpy(cpm_mem(mc) + p.cnt, counts, 512);
        assert_int_equal(cpm_call(mc, CPM_K_FORWARD, NULL), 0);
        assert_int_equal(cpm_reg(mc, CPM_AF) >> 8, want);
        const uint8_t *mem = cpm_mem(mc);
        for (int k = 0; k < 40; k++) {
            int off = p.row_off[2] + k;
            assert_int_equal((int16_t)(uint16_t)(mem[p.acc_page * 256 + off] | mem[(p.acc_page + 1) * 256 + off] << 8), logits[k]);
        }
    }
    cpm_free(mc);
    static const char *qs[] = {"hello", "what is your name", "TELL ME A JOKE", "z80?"};
    for (int i = 0; i < 4; i++) {
        char want[256];
        chat_generate(&m, qs[i], (int)strlen(qs[i]), want, sizeof want);
        upper(want);
        mc = cpm_new(&co);
        assert_int_equal(cpm_load_com(mc, p.com, p.com_size, "BIG.COM"), 0);
        assert_int_equal(cpm_set_tail(mc, qs[i]), 0);
        assert_int_equal(cpm_run(mc), 0);
        char got[256];
        snprintf(got, sizeof got, "%s", cpm_output(mc, NULL));
        assert_true(strlen(got) > 0);
        got[strlen(got) - 1] = 0;
        assert_string_equal(got, want);
        assert_true(cpm_stats_get(mc)->bdos[33] > 0);  // the weights did come through BDOS
        cpm_free(mc);
    }
    // Without its .BIN the program says so and ends.
    remove(bin);
    mc = cpm_new(&co);
    assert_int_equal(cpm_load_com(mc, p.com, p.com_size, "BIG.COM"), 0);
    assert_int_equal(cpm_set_tail(mc, "hello"), 0);
    assert_int_equal(cpm_run(mc), 0);
    assert_non_null(strstr(cpm_output(mc, NULL), "CANNOT READ THE WEIGHTS FILE"));
    cpm_free(mc);
    cpm_program_free(&p);
    free(cli_com), free(cli_bin), free(img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_and_probes),
        cmocka_unit_test(test_tpa_overflow_refused),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
