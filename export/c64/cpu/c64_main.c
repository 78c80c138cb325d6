// c64_main.c: the transformer program of the C64 target (export/rt/rt.h's command line):
//   PROG [-m MODEL.reu] [-k TOK.tok] [-i PROMPT] [-n STEPS] [-T TEMP_Q8] [-P TOPP_Q15] [-s SEED] [-d]
//        [-x IDS]
// (a flag's value may also be attached: -n20, "-iOnce upon a time"; on a C64 the arguments are
// typed after RUN:REM, at most 9 of them)
// It checks the REU image against the model the program was built for (header, configuration,
// size, CRC of every byte), reads the scalars of every layer into RAM, then runs run.c's loop
// (infer/lm_gen.c) over the streaming forward (c64_forward.c) and prints the pieces like
// `retroqat run`. -d prints "#logits STEP CRC" to fd 2 after every forward. -x "1 2 3" gives the
// prompt as token ids (no tokenizer needed: a diagnostic; ids are printed instead of pieces).
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "base/crc32.h"
#include "c64_forward.h"
#include "c64_kernels.h"
#include "c64_rt.h"
#include "c64_ws.h"
#include "infer/lm_gen.h"
#include "infer/lm_tok.h"

void c64_crc_table(void *t);  // c64_crc.s: build crc32_update's table at t (1 KB) and use it; NULL: none

static lm_model M;
static lm_state S;
#define E ((uint32_t *)(void *)c64_arena.f.scratch)                       // [vocab] sampler weights
#define IDX ((int16_t *)(void *)(c64_arena.f.scratch + 4 * C64_VOCAB))  // [vocab] sampler order
static int PROMPT[C64_PROMPT_MAX + 3];
// The tokenizer image (in the forward's arena, c64_forward.h); the start-up's CRC table and the
// prompt encoder's scratch in the kernels' table pages (free until c64_forward_init).
#define TOK c64_arena.tok
#define CRC_TAB c64_pages
#define ENC_SCRATCH (c64_pages + 1024)

static void puts_(int fd, const char *s) { c64_write(fd, s, (unsigned)strlen(s)); }

static void put_dec(int fd, long v) {
    char b[12];
    int i = 11;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    b[i] = 0;
    do b[--i] = (char)('0' + u % 10), u /= 10;
    while (u);
    if (v < 0) b[--i] = '-';
    puts_(fd, b + i);
}

static void put_hex8(int fd, uint32_t v) {
    char b[9];
    for (int i = 7; i >= 0; i--, v >>= 4) b[i] = "0123456789abcdef"[v & 15];
    b[8] = 0;
    puts_(fd, b);
}

static void fail(const char *file, const infer_err *e, int code) {
    char msg[160];
    infer_err_format(e, msg, sizeof msg);
    puts_(2, "retroqat: ");
    puts_(2, file);
    puts_(2, ": ");
    puts_(2, msg);
    puts_(2, "\n");
    c64_exit(code);
}


static uint32_t rd32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

// CRC-32 of weight-source bytes [off, to), streamed through the tokenizer's part of the arena
// (free until the tokenizer is read), with the table (c64_crc.s).
static uint32_t reu_crc(uint32_t off, uint32_t to) {
    uint32_t crc = 0;
    while (off < to) {
        uint32_t left = to - off;
        uint16_t n = left < C64_TOK_BYTES ? (uint16_t)left : C64_TOK_BYTES;
        ws_read(off, TOK, n);
        crc = crc32_update(crc, TOK, n);
        off += n;
    }
    return crc;
}

// The sidecar (the kernels' row records) that belongs to the image: magic, size, the image's
// CRC and its own.
static int side_check(uint8_t *h, infer_err *e) {
    const long at = (long)C64_SIDE_BASE;
    uint32_t crc;
    ws_read(C64_SIDE_BASE, h, 16);
    if (memcmp(h, "RQ64", 4) != 0) return infer_fail(e, at, "no C64 sidecar after the model image (\"RQ64\"): export the model again", 0, 0, 0, 0);
    if (rd32(h + 4) != C64_SIDE_BYTES)
        return infer_fail(e, at + 4, "sidecar size %ld, this program was built for %ld", (long)rd32(h + 4), (long)C64_SIDE_BYTES, 0, 0);
    if (rd32(h + 12) != C64_IMAGE_CRC) return infer_fail(e, at + 12, "the sidecar belongs to another image (CRC %x)", (long)rd32(h + 12), 0, 0, 0);
    if (rd32(h + 8) != C64_SIDE_CRC)
        return infer_fail(e, at + 8, "sidecar CRC %x, this program was built for %x", (long)rd32(h + 8), (long)C64_SIDE_CRC, 0, 0);
    crc = reu_crc(C64_SIDE_BASE + 12, C64_SIDE_BASE + C64_SIDE_BYTES);
    if (crc != C64_SIDE_CRC) return infer_fail(e, at + 8, "sidecar CRC mismatch (stored %x, computed %x): the REU image is corrupt", (long)C64_SIDE_CRC, (long)crc, 0, 0);
    return 0;
}

// The header and the scalars of an image that must be the one this program was built for.
static int model_load(lm_model *m, infer_err *e) {
    static const int32_t want[11] = {C64_DIM, C64_HID, C64_N_LAYERS, C64_N_HEADS, C64_N_KV, C64_VOCAB,
                                     C64_SEQ, C64_SHARED, C64_WBITS, C64_LOGIT_FRAC, (int32_t)C64_EPS_SS};
    uint8_t *h = (uint8_t *)(void *)PROMPT;  // 64 header bytes (PROMPT is free until the prompt is encoded)
    uint32_t crc;
    ws_read(0, h, 64);
    if (memcmp(h, "RQLM", 4) != 0) return infer_fail(e, 0, "bad magic (not a retroqat integer model image \"RQLM\")", 0, 0, 0, 0);
    if (h[4] != 0) return infer_fail(e, 4, "byte order %ld: this build reads little-endian images", h[4], 0, 0, 0);
    if (h[5] != 2) return infer_fail(e, 5, "image version %ld (this build reads 2)", h[5], 0, 0, 0);
    if (rd32(h + 8) != C64_IMAGE_BYTES)
        return infer_fail(e, 8, "image size %ld, this program was built for a %ld-byte image", (long)rd32(h + 8), (long)C64_IMAGE_BYTES, 0, 0);
    for (int i = 0; i < 11; i++)
        if ((int32_t)rd32(h + 16 + 4 * i) != want[i])
            return infer_fail(e, 16 + 4 * i, "header field %ld is %ld, this program was built for %ld", i, (long)rd32(h + 16 + 4 * i), (long)want[i], 0);
    if (rd32(h + 12) != C64_IMAGE_CRC)
        return infer_fail(e, 12, "stored CRC %x, this program was built for an image with CRC %x", (long)rd32(h + 12), (long)C64_IMAGE_CRC, 0, 0);
    crc = reu_crc(16, C64_IMAGE_BYTES);
    if (crc != C64_IMAGE_CRC) return infer_fail(e, 12, "CRC mismatch (stored %x, computed %x): the image is corrupt", (long)C64_IMAGE_CRC, (long)crc, 0, 0);
    if (side_check(h, e)) return INFER_EBAD;
    memset(m, 0, sizeof *m);
    m->c.dim = C64_DIM, m->c.hidden_dim = C64_HID, m->c.n_layers = C64_N_LAYERS, m->c.n_heads = C64_N_HEADS;
    m->c.n_kv_heads = C64_N_KV, m->c.vocab_size = C64_VOCAB, m->c.seq_len = C64_SEQ, m->c.shared_classifier = C64_SHARED;
    m->c.wbits = C64_WBITS, m->c.logit_frac = C64_LOGIT_FRAC, m->c.eps_ss = C64_EPS_SS;
    for (int l = 0; l < C64_N_LAYERS; l++) {
        lm_layer *L = &m->layers[l];
        const c64_loff *o = &c64_layer_off[l];
        ws_read(o->att_k, &L->att_norm.k, 4);
        ws_read(o->att_cm, &L->att_cm, 4);
        ws_read(o->att_cm + 4, &L->att_ck, 4);
        ws_read(o->att_cm + 8, &L->att_dlim, 4);
        ws_read(o->att_cm + 12, &L->att_out, 4);
        ws_read(o->ffn_k, &L->ffn_norm.k, 4);
        ws_read(o->glu, &L->glu, 4);
    }
    ws_read(C64_OFF_FNORM_K, &m->final_norm.k, 4);
    return 0;
}

static long num(const char *s) {
    long v = 0;
    int neg = *s == '-';
    if (neg) s++;
    while (*s >= '0' && *s <= '9') v = 10 * v + (*s++ - '0');
    return neg ? -v : v;
}

static long read_file(const char *name, void *buf, unsigned cap) {
    int fd = c64_open(name, O_RDONLY), n;
    long len = 0;
    if (fd < 0) return -1;
    while ((n = read(fd, (uint8_t *)buf + len, cap - (unsigned)len < 1024 ? cap - (unsigned)len : 1024)) > 0) {
        len += n;
        if ((unsigned)len == cap) {
            uint8_t extra;
            if (read(fd, &extra, 1) > 0) len = -2;
            break;
        }
    }
    close(fd);
    return len;
}

int main(int argc, char **argv) {
    const char *model = "model.reu", *tokf = "tok.tok", *prompt = "", *ids = NULL;
    long steps = 0, temp = 0, topp = 32768, seed = 0;
    int debug = 0, np, next, before;
    long tok_n = 0;
    infer_err e;
    lm_tok tok;
    lm_gen g;
    c64_args(argc, argv);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (a[0] == '-' && a[1] == 'd' && !a[2]) { debug = 1; continue; }
        // a value follows its flag or is attached to it (-n20: a C64 passes main at most 9 arguments)
        if (a[0] == '-' && a[1] && a[2]) v = a + 2;
        else if (i + 1 < argc) v = argv[++i];
        if (a[0] != '-' || !a[1] || !v) {
            puts_(2, "usage: PROG [-m MODEL.reu] [-k TOK] [-i PROMPT] [-n STEPS] [-T TEMP_Q8] [-P TOPP_Q15] [-s SEED] [-d] [-x IDS]\n");
            c64_exit(2);
        }
        if (a[1] == 'm') model = v;
        else if (a[1] == 'k') tokf = v;
        else if (a[1] == 'i') prompt = v;
        else if (a[1] == 'x') ids = v;
        else if (a[1] == 'n') steps = num(v);
        else if (a[1] == 'T') temp = num(v);
        else if (a[1] == 'P') topp = num(v);
        else if (a[1] == 's') seed = num(v);
    }
    c64_crc_table(CRC_TAB);  // for the start-up checks
    if (ws_open(model, C64_IMAGE_BYTES, &e) || model_load(&M, &e)) fail(model, &e, 2);
    if (ids) {
        np = 0;
        while (*ids && np < C64_PROMPT_MAX) {
            PROMPT[np++] = (int)num(ids);
            while (*ids && *ids != ' ') ids++;
            while (*ids == ' ') ids++;
        }
    } else {
        size_t len = strlen(prompt);
        tok_n = read_file(tokf, TOK, C64_TOK_BYTES);
        if (tok_n < 0) {
            infer_fail(&e, -1, tok_n == -1 ? "cannot open the tokenizer" : "the tokenizer is larger than the program's %ld-byte buffer", (long)C64_TOK_BYTES, 0, 0, 0);
            fail(tokf, &e, 2);
        }
        if (lm_tok_load(&tok, TOK, (size_t)tok_n, C64_VOCAB, &e)) fail(tokf, &e, 2);
        if (len > C64_PROMPT_MAX || lm_tok_scratch_bytes(&tok, len) > C64_PAGES_BYTES - 1024) {
            infer_fail(&e, -1, "the prompt is %ld bytes, this build takes at most %ld", (long)len, C64_PROMPT_MAX, 0, 0);
            fail("prompt", &e, 2);
        }
        np = lm_tok_encode(&tok, prompt, len, 1, PROMPT, ENC_SCRATCH);
        ws_stash(TOK, (uint16_t)tok_n);  // the forward takes the arena: the image waits in the REU
    }
    c64_crc_table(NULL);
    c64_forward_init();  // the kernels' tables into the pages
    if (np > C64_SEQ) {
        infer_fail(&e, -1, "the prompt is %ld tokens, the model's context is %ld", np, C64_SEQ, 0, 0);
        fail("prompt", &e, 2);
    }
    S.logits = c64_arena.f.logits;
    lm_gen_init(&g, &M, &S, PROMPT, np, (int)steps, (uint32_t)temp, (uint32_t)topp, (uint32_t)seed, E, IDX);
    for (;;) {
        before = g.pos;
        next = lm_gen_next(&g);
        if (debug && g.pos > before) {
            puts_(2, "#logits ");
            put_dec(2, before);
            puts_(2, " ");
            put_hex8(2, lm_logits_crc(g.logits, C64_VOCAB));
            puts_(2, "\n");
        }
        if (next < 0) break;
        if (ids) {
            put_dec(1, next);
            puts_(1, " ");
        } else {
            int len;
            uint8_t byte;
            const uint8_t *p;
            ws_unstash(TOK, (uint16_t)tok_n);  // back from the REU while the arena is free
            p = lm_tok_decode(&tok, g.prev, next, &byte, &len);
            if (len) c64_write(1, p, (unsigned)len);
        }
    }
    puts_(1, "\n");
    puts_(2, "#dma ");  // for the runner's statistics: bytes and transfers, forwards
    put_dec(2, (long)ws_dma_bytes);
    puts_(2, " ");
    put_dec(2, (long)ws_dma_transfers);
    puts_(2, " ");
    put_dec(2, (long)g.pos);
    puts_(2, "\n");
    return 0;
}
