// lm_main.c: the transformer program of every C-built target (command line in rt.h): load the
// integer image and the tokenizer image, encode the prompt, run infer/lm_gen's loop, print the
// pieces like `retroqat run`. Its parts are lm_main.h's, for targets that open the model their own
// way (the PS2 streams it).
#include <string.h>

#include "export/rt/lm_main.h"
#include "export/rt/rt.h"
#include "infer/lm_gen.h"
#include "infer/lm_image.h"
#include "infer/lm_tok.h"

void rt_report(const char *name, const infer_err *e);
long rt_atol(const char *s, int *ok);

#ifdef RT_IMAGE_BE
// A build that reads one byte order only (RT_IMAGE_BE: 1 big-endian, 0 little: the order its
// exporter writes) refuses an image of the other order, copied from another target's folder,
// instead of converting it. Other damage is left to the image readers.
static int order_ok(const char *name, const uint8_t *b, size_t len, const char *magic) {
    if (len < 5 || memcmp(b, magic, 4) != 0 || b[4] > 1 || b[4] == RT_IMAGE_BE) return 1;
    rt_puts(2, "retroqat: "), rt_puts(2, name), rt_puts(2, ": byte 4: a "), rt_puts(2, RT_IMAGE_BE ? "little" : "big");
    rt_puts(2, "-endian image; this program reads "), rt_puts(2, RT_IMAGE_BE ? "big" : "little");
    rt_puts(2, "-endian images (export the model for this target)\n");
    return 0;
}
#else
#define order_ok(name, b, len, magic) 1
#endif

static int usage(const char *flag) {
    rt_puts(2, "retroqat: bad or missing value for "), rt_puts(2, flag),
        rt_puts(2, "\nusage: PROG [-m MODEL.RQM] [-k TOK.RQT] [-i PROMPT] [-n STEPS] [-T TEMP_Q8] [-P TOPP_Q15] [-s SEED] [-d]\n");
    return INFER_EBAD;
}

int rt_lm_parse(int argc, char **argv, rt_lm_args *a, const char *default_model, const char *default_tok, char own_flag) {
    *a = (rt_lm_args){.model = default_model, .tok = default_tok, .prompt = "", .steps = 256, .temp = 256, .topp = 29491, .seed = 1};
    for (int i = 1; i < argc; i++) {
        int ok;
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (f[0] == '-' && f[1] && !f[2] && (f[1] == 'd' || f[1] == own_flag)) {
            *(f[1] == 'd' ? &a->debug : &a->own) = 1;
            continue;
        }
        if (!v || f[0] != '-' || f[1] == 0 || f[2] != 0) return usage(f);
        i++;
        long *num = NULL;  // the numeric flags; all but the seed are >= 0
        switch (f[1]) {
        case 'm': a->model = v; break;
        case 'k': a->tok = v; break;
        case 'i': a->prompt = v; break;
        case 'n': num = &a->steps; break;
        case 'T': num = &a->temp; break;
        case 'P': num = &a->topp; break;
        case 's': num = &a->seed; break;
        default: return usage(f);
        }
        if (!num) continue;
        *num = rt_atol(v, &ok);
        if (!ok || (f[1] != 's' && *num < 0)) return usage(f);
    }
    return 0;
}

int rt_lm_prepare(rt_lm_run *r, const lm_config *c, const rt_lm_args *a) {
    int rc = 0;
    size_t tlen, plen = strlen(a->prompt);
    uint8_t *tbuf = rt_load_file(a->tok, &tlen, &rc);
    if (!tbuf) return rc;
    if (!order_ok(a->tok, tbuf, tlen, LM_TOK_MAGIC)) return INFER_EBAD;
    infer_err e;
    if (lm_tok_load(&r->tok, tbuf, tlen, (uint32_t)c->vocab_size, &e)) {
        rt_report(a->tok, &e);
        return INFER_EBAD;
    }
    r->ptoks = rt_alloc((plen + 3) * sizeof(int));
    r->scratch = rt_alloc(lm_tok_scratch_bytes(&r->tok, plen));
    void *mem = rt_alloc(lm_state_bytes(c));
    r->ex = rt_alloc((size_t)c->vocab_size * sizeof(uint32_t));
    r->idx = rt_alloc((size_t)c->vocab_size * sizeof(int16_t));
    if (!r->ptoks || !r->scratch || !mem || !r->ex || !r->idx) {
        rt_puts(2, "retroqat: out of memory: the model's state does not fit the arena\n");
        return 1;
    }
    lm_state_init(&r->s, c, mem);
    return 0;
}

int rt_lm_generate(rt_lm_run *r, const lm_model *m, const rt_lm_args *a, uint32_t *forwards) {
    const lm_config *c = &m->c;
    int np = lm_tok_encode(&r->tok, a->prompt, strlen(a->prompt), 1, r->ptoks, r->scratch);
    if (np > c->seq_len) {
        rt_puts(2, "retroqat: the prompt is longer than the model's context\n");
        return INFER_EBAD;
    }
    lm_gen g;
    lm_gen_init(&g, m, &r->s, r->ptoks, np, (int)a->steps, (uint32_t)a->temp, (uint32_t)a->topp, (uint32_t)a->seed, r->ex, r->idx);
    for (int step = 0;; step++) {
        int before = g.pos, next = lm_gen_next(&g);
        if (g.pos > before) {
            if (forwards) ++*forwards;
            if (a->debug) {
                rt_puts(2, "#logits "), rt_put_dec(2, step), rt_puts(2, " ");
                rt_put_hex8(2, lm_logits_crc(g.logits, c->vocab_size)), rt_puts(2, "\n");
            }
        }
        if (next < 0) break;
        uint8_t byte;
        int n;
        const uint8_t *piece = lm_tok_decode(&r->tok, g.prev, next, &byte, &n);
        if (n) rt_write(1, piece, (size_t)n);
    }
    rt_write(1, "\n", 1);
    return 0;
}

int rt_lm_main(int argc, char **argv) {
    rt_lm_args a;
    int rc = rt_lm_parse(argc, argv, &a, "MODEL.RQM", "TOK.RQT", 0);
    if (rc) return rc;
    size_t mlen;
    uint8_t *mbuf = rt_load_file(a.model, &mlen, &rc);
    if (!mbuf) return rc;
    if (!order_ok(a.model, mbuf, mlen, LM_IMAGE_MAGIC)) return INFER_EBAD;
    infer_err e;
    lm_model m;
    if (lm_image_load(mbuf, mlen, &m, &e)) {
        rt_report(a.model, &e);
        return INFER_EBAD;
    }
    rt_lm_run r;
    rc = rt_lm_prepare(&r, &m.c, &a);
    return rc ? rc : rt_lm_generate(&r, &m, &a, NULL);
}
