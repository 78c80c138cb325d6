// c64_build.c: generate, rewrite and compile the C64 program (c64_build.h).
#include "export/c64/c64_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/binio.h"
#include "base/crc32.h"
#include "export/c64/cpu/c64_rec.h"
#include "export/proc.h"

// Sources of the program, relative to the source tree (every C file goes through c89.py).
// (base/crc32.c's crc32_update is c64_crc.s in the program)
static const char *const SOURCES[] = {"infer/lm_ops.c", "infer/lm_gen.c", "infer/lm_tok.c", "infer/ierr.c", "export/c64/cpu/c64_forward.c",
                                      "export/c64/cpu/c64_main.c", "export/c64/cpu/c64_rt.c", NULL};
// The chat program: the shared one (export/rt/) over infer/'s kernel, with the C64's services.
static const char *const CHAT_SOURCES[] = {"export/rt/chat_main.c", "export/rt/io.c", "export/rt/arena.c", "infer/chat_kernel.c",
                                           "infer/chat_encode.c", "infer/chat_image.c", "infer/ierr.c", "infer/lm_gen.c", "base/crc32.c",
                                           "export/c64/cpu/rt_c64.c", "export/c64/cpu/c64_rt.c", NULL};
static const char *const TEST_SOURCES[] = {"infer/lm_ops.c", "infer/lm_gen.c", "base/crc32.c", NULL};
// The transformer's 6502 kernels (c64_kernels.h), or their C version on infer/lm_ops.c (--c-kernels).
static const char *const ASM_KERNELS[] = {"c64_mul", "c64_rq", "c64_matvec", "c64_norm", "c64_attn", NULL};
#define C_KERNELS "export/c64/cpu/c64_kernels_c.c"

static uint32_t al256(uint32_t n) { return (n + 255u) & ~255u; }
// (key records: 3 index bytes per value, cpu/c64_ws.h; value records: a byte per value)
uint32_t c64_kv_bytes(const lm_config *c) { return (uint32_t)c->n_layers * c->seq_len * lm_kv_dim(c) * 4u; }
uint32_t c64_side_base(uint32_t image_bytes) { return al256(image_bytes); }
uint32_t c64_kv_base(uint32_t image_bytes, uint32_t side_bytes) { return al256(c64_side_base(image_bytes) + side_bytes); }

// The matrices in the order the forward reads them (c64_side_build, c64_gen_model).
typedef struct {
    const lm_mat *m;
    int rows, cols, bits;
    const char *name;
    int layer;
} side_mat;

static int side_mats(const lm_model *m, side_mat *out) {
    const lm_config *c = &m->c;
    int n = 0, d = c->dim, h = c->hidden_dim, kvd = lm_kv_dim(c);
    for (int l = 0; l < c->n_layers; l++) {
        const lm_layer *L = &m->layers[l];
        const uint8_t *b = c->mbits;
        out[n++] = (side_mat){&L->wq, d, d, b[LM_WQ], "wq", l};
        out[n++] = (side_mat){&L->wk, kvd, d, b[LM_WK], "wk", l};
        out[n++] = (side_mat){&L->wv, kvd, d, b[LM_WV], "wv", l};
        out[n++] = (side_mat){&L->wo, d, d, b[LM_WO], "wo", l};
        out[n++] = (side_mat){&L->w1, h, d, b[LM_W1], "w1", l};
        out[n++] = (side_mat){&L->w3, h, d, b[LM_W3], "w3", l};
        out[n++] = (side_mat){&L->w2, d, h, b[LM_W2], "w2", l};
    }
    out[n++] = (side_mat){&m->cls, c->vocab_size, d, 8, "classifier", -1};
    return n;
}

int c64_side_build(const lm_model *m, uint32_t image_crc, int c_kernels, rq_buf *side) {
    side_mat mats[7 * LM_MAX_LAYERS + 1];
    int nm = side_mats(m, mats);
    rq_buf_put(side, "RQ64", 4);
    rq_buf_u32(side, 0);  // total bytes and CRC: set below
    rq_buf_u32(side, 0);
    rq_buf_u32(side, image_crc);
    for (int k = 0; k < nm; k++) {
        const side_mat *sm = &mats[k];
        int stride = lm_row_bytes(sm->bits, sm->cols);
        for (int r = 0; r < sm->rows; r++) {
            const uint8_t *w = (const uint8_t *)sm->m->w + (size_t)r * stride;
            uint32_t sum = 0, sq = c64_row_sumsq(sm->bits, w, sm->cols), smax = 0;
            for (int j = 0; j < sm->cols; j++) {
                int v = sm->bits == 4 ? lm_i4(j & 1 ? w[j / 2] >> 4 : w[j / 2] & 15) : (int8_t)w[j];
                sum += (uint32_t)abs(v);
                smax += (uint32_t)((128 + abs(v)) * (128 + abs(v)));
            }
            if (sm->bits == 4 && (sm->cols & 1)) smax += (uint32_t)(8 * 8);  // the pad nibble's square (input 0)
            // c64_matvec.s: the sum of squares S below 2^24, |2 acc| <= 2 * 128 * sum|w| below 2^23
            if (!c_kernels && (sm->cols > 255 || smax >= (1u << 24) || 256u * sum >= (1u << 23))) {
                char where[64];
                if (sm->layer >= 0) snprintf(where, sizeof where, "layer %d %s", sm->layer, sm->name);
                else snprintf(where, sizeof where, "the %s", sm->name);
                return rq_fail(RQ_EINPUT,
                               "target c64: %s row %d (%d columns, sum |w| %u) is outside the 6502 kernels' 24-bit accumulators "
                               "(at most 255 columns, 256 sum|w| < 2^23): export with --c-kernels",
                               where, r, sm->cols, (unsigned)sum);
            }
            uint8_t rec[C64_REC_BYTES];
            c64_rec_put(rec, sq, &sm->m->rq[r]);
            rq_buf_put(side, rec, sizeof rec);
        }
    }
    uint32_t total = (uint32_t)side->len;
    for (int i = 0; i < 4; i++) side->data[4 + i] = (uint8_t)(total >> (8 * i));
    uint32_t crc = crc32_update(0, side->data + 12, side->len - 12);
    for (int i = 0; i < 4; i++) side->data[8 + i] = (uint8_t)(crc >> (8 * i));
    return 0;
}

int c64_kw_bytes(const c64_build_cfg *b) {
    if (b->c_kernels) return 1;  // (c64_kernels_c.c has its own buffers)
    int blk = b->blk_bytes ? b->blk_bytes : (b->maxb4 > b->maxc8 ? b->maxb4 : b->maxc8) + 255;
    int mv = blk + C64_REC_BYTES * 24, att = 32 * b->hs + 255;  // c64_matvec.s: RECROWS records
    return mv > att ? mv : att;
}

int c64_blk_bytes(int maxc, int stride) {
    int per = 1;
    while (per < 8 && per * stride <= 255) per++;  // c64_matvec.s's set_per
    return maxc - stride + per * stride;
}

static uint32_t off(const void *p, const uint8_t *img) { return (uint32_t)((const uint8_t *)p - img); }
static uint32_t al4(uint32_t n) { return (n + 3) & ~3u; }

int c64_gen_model(const c64_build_cfg *b, const lm_model *m, const uint8_t *img, size_t len, const rq_buf *side) {
    const lm_config *c = &m->c;
    char path[4096];
    uint32_t gb = al4(2 * (uint32_t)c->dim), sbase = c64_side_base((uint32_t)len);
    side_mat mats[7 * LM_MAX_LAYERS + 1];
    uint32_t rec[7 * LM_MAX_LAYERS + 1], at = sbase + C64_SIDE_HEADER;
    int nm = side_mats(m, mats);
    for (int k = 0; k < nm; k++) rec[k] = at, at += (uint32_t)mats[k].rows * C64_REC_BYTES;
    snprintf(path, sizeof path, "%s/c64_model.h", b->bdir);
    FILE *f = fopen(path, "w");
    if (!f) return rq_fail(RQ_ERUNTIME, "%s: cannot write", path);
    fprintf(f, "// c64_model.h: generated by `retroqat export --target c64` for one model image.\n");
    fprintf(f, "#ifndef C64_MODEL_H\n#define C64_MODEL_H\n#include <stdint.h>\n");
    fprintf(f, "#define C64_DIM %d\n#define C64_HID %d\n#define C64_N_LAYERS %d\n#define C64_N_HEADS %d\n#define C64_N_KV %d\n",
            c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads);
    fprintf(f, "#define C64_VOCAB %d\n#define C64_SEQ %d\n#define C64_SHARED %d\n#define C64_WBITS %d\n#define C64_LOGIT_FRAC %d\n",
            c->vocab_size, c->seq_len, c->shared_classifier, c->wbits, c->logit_frac);
    fprintf(f, "#define C64_EPS_SS %luUL\n#define C64_HS %d\n#define C64_KVD %d\n", (unsigned long)c->eps_ss, lm_head_size(c), lm_kv_dim(c));
    int wide = c->hidden_dim > c->dim ? c->hidden_dim : c->dim;  // (cc65 folds no ?: in array sizes)
    fprintf(f, "#define C64_MAXW %d\n", wide);
    // one scratch area, used in turn by: the CRC table (1 KB, at start), the prompt encoder, one
    // head's scores and probabilities (4 bytes per position), the sampler (6 bytes per token)
    int scratch = 4 * c->seq_len > 6 * c->vocab_size ? 4 * c->seq_len : 6 * c->vocab_size;
    fprintf(f, "#define C64_SCRATCH_BYTES %d\n", scratch < 1024 ? 1024 : scratch);
    fprintf(f, "#define C64_IMAGE_BYTES %luUL\n#define C64_IMAGE_CRC 0x%08lxUL\n", (unsigned long)len,
            (unsigned long)(img[12] | img[13] << 8 | img[14] << 16 | (uint32_t)img[15] << 24));
    fprintf(f, "#define C64_SIDE_BASE %luUL\n#define C64_SIDE_BYTES %luUL\n#define C64_SIDE_CRC 0x%08lxUL\n#define C64_KV_BASE %luUL\n",
            (unsigned long)sbase, (unsigned long)side->len,
            (unsigned long)(side->data[8] | side->data[9] << 8 | side->data[10] << 16 | (uint32_t)side->data[11] << 24),
            (unsigned long)c64_kv_base((uint32_t)len, (uint32_t)side->len));
    fprintf(f, "#define C64_TOK_BYTES %zu\n#define C64_PROMPT_MAX %d\n", b->tok_bytes, b->prompt_max);
    fprintf(f, "#define C64_OFF_EMB %luUL\n#define C64_OFF_EMB_RQ %luUL\n#define C64_OFF_ROPE %luUL\n", (unsigned long)off(m->emb, img),
            (unsigned long)off(m->emb_rq, img), (unsigned long)off(m->rope_theta, img));
    fprintf(f, "#define C64_OFF_FNORM_G %luUL\n#define C64_OFF_FNORM_K %luUL\n#define C64_OFF_CLS %luUL\n#define C64_REC_CLS %luUL\n",
            (unsigned long)off(m->final_norm.g, img), (unsigned long)(off(m->final_norm.g, img) + gb), (unsigned long)off(m->cls.w, img),
            (unsigned long)rec[nm - 1]);
    fprintf(f, "// image offsets of one layer's arrays and scalars (att_cm: att_cm, att_ck, att_dlim, att_out), and the REU\n"
               "// offsets of its matrices' row records in the sidecar (*_rec)\n");
    fprintf(f, "typedef struct {\n    uint32_t att_g, att_k, wq, wk, wv, att_cm, wo, ffn_g, ffn_k, w1, w3, silu, glu, w2;\n"
               "    uint32_t wq_rec, wk_rec, wv_rec, wo_rec, w1_rec, w3_rec, w2_rec;\n} c64_loff;\n");
    fprintf(f, "extern const c64_loff c64_layer_off[C64_N_LAYERS];\n#endif\n");
    if (fclose(f)) return rq_fail(RQ_ERUNTIME, "%s: write failed", path);

    snprintf(path, sizeof path, "%s/c64_model.c", b->bdir);
    if (!(f = fopen(path, "w"))) return rq_fail(RQ_ERUNTIME, "%s: cannot write", path);
    fprintf(f, "// c64_model.c: generated: image offsets of every layer (c64_model.h).\n#include \"c64_model.h\"\n");
    fprintf(f, "const c64_loff c64_layer_off[C64_N_LAYERS] = {\n");
    for (int l = 0; l < c->n_layers; l++) {
        const lm_layer *L = &m->layers[l];
        const uint32_t *r = rec + 7 * l;
        uint32_t v[21] = {off(L->att_norm.g, img), off(L->att_norm.g, img) + gb, off(L->wq.w, img), off(L->wk.w, img), off(L->wv.w, img),
                          off(L->wv.rq, img) + 4u * lm_kv_dim(c), off(L->wo.w, img), off(L->ffn_norm.g, img), off(L->ffn_norm.g, img) + gb,
                          off(L->w1.w, img), off(L->w3.w, img), off(L->silu, img), off(L->silu, img) + 512, off(L->w2.w, img),
                          r[0], r[1], r[2], r[3], r[4], r[5], r[6]};
        fprintf(f, "    {");
        for (int i = 0; i < 21; i++) fprintf(f, "%luUL%s", (unsigned long)v[i], i < 20 ? ", " : "");
        fprintf(f, "},\n");
    }
    fprintf(f, "};\n");
    if (fclose(f)) return rq_fail(RQ_ERUNTIME, "%s: write failed", path);
    return 0;
}

// Run sh -c cmd; RQ_ERUNTIME with its output when it fails. *out gets stdout+stderr when asked.
static int sh(const char *cmd, char **out) {
    const char *argv[] = {"sh", "-c", cmd, NULL};
    rq_proc p = {.argv = argv, .timeout = 600, .merge_stderr = 1};
    rq_proc_result r;
    int rc = rq_proc_run(&p, &r);
    if (rc) return rc;
    if (r.exit_code != 0) {
        const char *o = r.out ? r.out : "";
        size_t ol = strlen(o);
        rc = rq_fail(RQ_ERUNTIME, "c64 build: `%.60s...` failed (exit %d): %s", cmd, r.exit_code, ol > 3000 ? o + ol - 3000 : o);
    }
    if (out) *out = r.out, r.out = NULL;
    rq_proc_result_free(&r);
    return rc;
}

// Sum of the "Segment 'X' overflows memory area 'Y' by N bytes" ld65 reports.
static long overflow_bytes(const char *log) {
    long sum = 0;
    for (const char *p = log; (p = strstr(p, "overflows memory area")) != NULL; p++) {
        const char *q = strstr(p, " by ");
        long n;
        if (q && sscanf(q, " by %ld bytes", &n) == 1) sum += n;
    }
    return sum;
}

int c64_compile(const c64_build_cfg *b, const char *sys, const char *exe_path, long *shortfall) {
    int reu = strcmp(sys, "c64") == 0, rc;
    char exe[4200], cwd[4096];
    // the link runs in the build folder: a relative output path is made absolute first
    if (exe_path[0] != '/' && getcwd(cwd, sizeof cwd)) snprintf(exe, sizeof exe, "%s/%s", cwd, exe_path);
    else snprintf(exe, sizeof exe, "%s", exe_path);
    size_t cap = 1 << 17, n = 0;
    char *cmd = malloc(cap), defs[1024], gen[4200];
    // every source: preprocess (cc65's type widths, the model header: LM_MAX_LAYERS / LM_MAX_HEAD
    // from its dimensions), rewrite for cc65 in one python run, compile in one cl65 run, link
    int chat = b->chat_defs != NULL, lm = !chat && !b->test_main;  // (a chat test_main: chat_layer.s's test)
    if (chat)
        snprintf(defs, sizeof defs, "%s%s", b->chat_defs, reu ? " -DC64_REU" : "");
    else
        snprintf(defs, sizeof defs, "-include c64_model.h -DLM_NO_2BIT -DLM_NO_WSOURCE -DLM_MAX_LAYERS=C64_N_LAYERS -DLM_MAX_HEAD=C64_HS -DC64_KWB=%d%s%s",
                 c64_kw_bytes(b), reu ? " -DC64_REU" : "", b->c_kernels ? " -DC64_C_KERNELS" : " -DLM_SAMPLE_WEIGHTS=c64_sample_weights -include c64_kernels.h");
    int chat_reu = chat && b->chat_reu, lm_asm = !chat && !b->c_kernels;  // the transformer's 6502 kernels
    snprintf(gen, sizeof gen, "%s", chat ? "c64_chat.c" : "c64_model.c");  // generated in bdir, where the commands run
    const char *srcs[20];
    int ns = 0;
    static const char *const CHAT_TEST_SOURCES[] = {"infer/lm_ops.c", "infer/lm_gen.c", "base/crc32.c", NULL};
    const char *const *list = b->test_main ? (chat ? CHAT_TEST_SOURCES : TEST_SOURCES) : chat ? CHAT_SOURCES : SOURCES;
    for (int i = 0; list[i]; i++)
        if (!(chat_reu && strcmp(list[i], "base/crc32.c") == 0)) srcs[ns++] = list[i];  // (chat_reu: c64_crc.s's)
    if (!chat && b->c_kernels) srcs[ns++] = C_KERNELS;
    if (b->test_main) {
        srcs[ns++] = b->test_main;
    } else if (lm) {
        srcs[ns++] = reu ? "export/c64/cpu/ws_reu.c" : "export/c64/cpu/ws_file.c";
        if (reu) srcs[ns++] = "export/c64/cpu/reu_dma.c";
        srcs[ns++] = gen;
    } else if (chat_reu) {
        srcs[ns++] = "export/c64/cpu/chat_reu.c";
        srcs[ns++] = "export/c64/cpu/reu_dma.c";
        srcs[ns++] = gen;
    }
    char bases[20][128];
    n += (size_t)snprintf(cmd + n, cap - n, "set -e; cd '%s'; ", b->bdir);
    for (int i = 0; i < ns; i++) {
        const char *sl = strrchr(srcs[i], '/');
        snprintf(bases[i], sizeof bases[i], "%.100s", sl ? sl + 1 : srcs[i]);
        bases[i][strlen(bases[i]) - 2] = 0;
        n += (size_t)snprintf(cmd + n, cap - n, "gcc -E -P -std=c99 -nostdinc -I'%s/export/c64/cpu/inc' -I'%s/export/c64/cpu' -I'%s' -I. %s '%s%s%s' > %s_%s.i; ",
                              b->root, b->root, b->root, defs, srcs[i] == gen ? "" : b->root, srcs[i] == gen ? "" : "/", srcs[i], bases[i], sys);
    }
    int chat_asm = chat && !b->c_kernels;  // chat_layer.s instead of infer/'s chat_layer_forward
    // (the weight source's streams are called from c64_matvec.s)
    n += (size_t)snprintf(cmd + n, cap - n, "python3 '%s/export/c64/c89.py'%s%s", b->root, chat_asm ? " --drop chat_layer_forward" : "",
                          chat ? "" : " --keep ws_read,ws_seek,ws_next");
    for (int i = 0; i < ns; i++) n += (size_t)snprintf(cmd + n, cap - n, " %s_%s.i %s_%s.c", bases[i], sys, bases[i], sys);
    if (reu) {
        // cc65 -t c64 turns character and string constants into PETSCII; the identity map keeps
        // them ASCII (infer/ compares bytes with 'A'..'Z', ' ', ...), c64_rt.c translates at the KERNAL
        n += (size_t)snprintf(cmd + n, cap - n, "; : > ascii.h; i=1; while [ $i -lt 256 ]; do echo \"#pragma charmap ($i, $i)\" >> ascii.h; i=$((i+1)); done");
        for (int i = 0; i < ns; i++)
            n += (size_t)snprintf(cmd + n, cap - n, "; cat ascii.h %s_%s.c > %s_%s.t && mv %s_%s.t %s_%s.c", bases[i], sys, bases[i], sys, bases[i], sys,
                                  bases[i], sys);
    }
    // the chat kernel's arrays (a few KB) are static (-Cl): the C stack is 1 KB, nothing recurses
    n += (size_t)snprintf(cmd + n, cap - n, "; cl65 -t %s -O%s -c", sys, chat ? " -Cl" : "");
    for (int i = 0; i < ns; i++) n += (size_t)snprintf(cmd + n, cap - n, " %s_%s.c", bases[i], sys);
    // the assembly: the transformer's kernels sized for the model's rows (C64_MAXC8 int8 columns,
    // C64_MAXB4 int4 bytes), the CRC, the weight source's stream reads (the REU or sim65's files),
    // the chat layer, the PETSCII console
    char objs[2048] = "";
    size_t no = 0;
    for (int i = 0; lm_asm && ASM_KERNELS[i]; i++) {
        char blk[48] = "";
        if (b->blk_bytes) snprintf(blk, sizeof blk, " -D C64_BLKBYTES=%d", b->blk_bytes);
        n += (size_t)snprintf(cmd + n, cap - n, "; ca65 -t %s -D C64_MAXC8=%d -D C64_MAXB4=%d -D C64_HS=%d -D C64_KWB=%d%s%s -o %s_%s.o '%s/export/c64/cpu/%s.s'",
                              sys, b->maxc8, b->maxb4, b->hs, c64_kw_bytes(b), blk, b->test_main ? " -D C64_TEST=1" : "", ASM_KERNELS[i], sys, b->root,
                              ASM_KERNELS[i]);
        no += (size_t)snprintf(objs + no, sizeof objs - no, " %s_%s.o", ASM_KERNELS[i], sys);
    }
    const char *more[4] = {NULL};
    int nm = 0;
    if (lm || chat_reu) more[nm++] = "c64_crc";
    if (lm) more[nm++] = reu ? "ws_reu_next" : "ws_file_next";
    if (reu && !b->test_main) more[nm++] = "c64_petscii";
    for (int i = 0; i < nm; i++) {
        n += (size_t)snprintf(cmd + n, cap - n, "; ca65 -t %s -o %s_%s.o '%s/export/c64/cpu/%s.s'", sys, more[i], sys, b->root, more[i]);
        no += (size_t)snprintf(objs + no, sizeof objs - no, " %s_%s.o", more[i], sys);
    }
    if (chat_asm) {
        n += (size_t)snprintf(cmd + n, cap - n, "; ca65 -t %s -D CHAT_MAX_WIDTH=%d -o chat_layer_%s.o '%s/export/c64/cpu/chat_layer.s'", sys, b->chat_width,
                              sys, b->root);
        no += (size_t)snprintf(objs + no, sizeof objs - no, " chat_layer_%s.o", sys);
    }
    // the transformer's linker configuration: cc65's for the machine plus the page-aligned segment
    // PAGES of the kernels' tables (before BSS, in BSS's memory area)
    if (!chat)
        n += (size_t)snprintf(cmd + n, cap - n,
                              "; sed -E 's/^([[:space:]]*)BSS:([[:space:]]*)load = ([A-Z]+)/\\1PAGES: load = \\3, type = bss, align = $100;\\n&/' "
                              "\"$(dirname \"$(cl65 --print-target-path)\")/cfg/%s.cfg\" > ld_%s.cfg; grep -q PAGES ld_%s.cfg",
                              sys, sys, sys);
    rc = sh(cmd, NULL);
    if (!rc) {
        char *log = NULL;
        // a 1 KB C stack (cc65's default is 2 KB; the deepest chain, main -> lm_gen_next ->
        // lm_forward -> attention -> lm_softmax_q15, uses a few hundred bytes: under 400 measured
        // under sim65 for stories260K with sampling). The size is the linker's symbol (-Wl -D:
        // cl65's own -D defines a C preprocessor symbol, which left the 2 KB default in place).
        char cfg[64] = "";
        if (!chat) snprintf(cfg, sizeof cfg, " -C ld_%s.cfg", sys);
        n = (size_t)snprintf(cmd, cap, "cd '%s' && cl65 -t %s%s -Wl -D,__STACKSIZE__=0x400 -m %s.map -o '%s'", b->bdir, sys, cfg, sys, exe);
        for (int i = 0; i < ns; i++) n += (size_t)snprintf(cmd + n, cap - n, " %s_%s.o", bases[i], sys);
        snprintf(cmd + n, cap - n, "%s %s.lib", objs, sys);
        rc = sh(cmd, &log);
        long over = log ? overflow_bytes(log) : 0;
        if (rc && over > 0) {
            *shortfall = over;
            rc = rq_fail(RQ_EINPUT, "target c64: the program does not fit the %s's RAM: %ld bytes short (code + %s for this model)",
                         reu ? "C64" : "sim65 machine", over, chat ? "model image + the kernel's arrays" : "tokenizer + buffers");
        }
        free(log);
    }
    free(cmd);
    return rc;
}

int c64_put_file(const char *dir, const char *name, const void *p, size_t n) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return rq_fail(RQ_EINPUT, "%s: path too long", dir);
    return rq_write_atomic(path, p, n);
}

long c64_segment_bytes(const char *map, const char *seg) {
    // ld65 map "Segment list": NAME  START  END  SIZE  ALIGN (hex)
    const char *p = strstr(map, "Segment list:");
    char pat[32];
    snprintf(pat, sizeof pat, "\n%s ", seg);
    if (!p || !(p = strstr(p, pat))) return 0;
    unsigned long a, b, n;
    return sscanf(p + strlen(pat), " %lx %lx %lx", &a, &b, &n) == 3 ? (long)n : 0;
}

int c64_map_segments(const char *bdir, long seg[5]) {
    char mpath[4200];
    uint8_t *map = NULL;
    size_t ml = 0;
    snprintf(mpath, sizeof mpath, "%s/c64.map", bdir);
    if (rq_read_file(mpath, &map, &ml)) map = NULL, rq_clear_error();
    const char *mp = map ? (const char *)map : "", *names[5] = {"CODE", "RODATA", "DATA", "BSS", "PAGES"};
    for (int i = 0; i < 5; i++) seg[i] = c64_segment_bytes(mp, names[i]);
    free(map);
    return map != NULL;
}

int c64_d64(const char *dir, const char *files) {
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "cd '%s' && rm -f %s && cc1541 -n RETROQAT -i RQ %s >/dev/null", dir, strrchr(files, ' ') + 1, files);
    return sh(cmd, NULL);
}
