// lm_main.c: the transformer program of every C-built target (command line in rt.h): load the
// integer image and the tokenizer image, encode the prompt, run infer/lm_gen's loop, print the
// pieces like `retroqat run`.
#include <string.h>

#include "export/rt/rt.h"
#include "infer/lm_gen.h"
#include "infer/lm_image.h"
#include "infer/lm_tok.h"

void rt_report(const char *name, const infer_err *e);
long rt_atol(const char *s, int *ok);

static int usage(const char *flag) {
    rt_puts(2, "retroqat: bad or missing value for "), rt_puts(2, flag),
        rt_puts(2, "\nusage: PROG [-m MODEL.RQM] [-k TOK.RQT] [-i PROMPT] [-n STEPS] [-T TEMP_Q8] [-P TOPP_Q15] [-s SEED] [-d]\n");
    return INFER_EBAD;
}

int rt_lm_main(int argc, char **argv) {
    const char *model = "MODEL.RQM", *tokp = "TOK.RQT", *prompt = "";
    long steps = 256, temp = 256, topp = 29491, seed = 1;  // run.c's defaults: t 1.0, p 0.9
    int debug = 0, ok = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-d") == 0) {
            debug = 1;
            continue;
        }
        if (!v || a[0] != '-' || a[1] == 0 || a[2] != 0) return usage(a);
        i++;
        switch (a[1]) {
        case 'm': model = v; break;
        case 'k': tokp = v; break;
        case 'i': prompt = v; break;
        case 'n': steps = rt_atol(v, &ok); break;
        case 'T': temp = rt_atol(v, &ok); break;
        case 'P': topp = rt_atol(v, &ok); break;
        case 's': seed = rt_atol(v, &ok); break;
        default: return usage(a);
        }
        if (!ok || (a[1] != 's' && rt_atol(v, &ok) < 0)) return usage(a);
    }
    int rc = 0;
    size_t mlen, tlen;
    uint8_t *mbuf = rt_load_file(model, &mlen, &rc);
    if (!mbuf) return rc;
    infer_err e;
    lm_model m;
    if (lm_image_load(mbuf, mlen, &m, &e)) {
        rt_report(model, &e);
        return INFER_EBAD;
    }
    const lm_config *c = &m.c;
    uint8_t *tbuf = rt_load_file(tokp, &tlen, &rc);
    if (!tbuf) return rc;
    lm_tok tok;
    if (lm_tok_load(&tok, tbuf, tlen, (uint32_t)c->vocab_size, &e)) {
        rt_report(tokp, &e);
        return INFER_EBAD;
    }
    size_t plen = strlen(prompt);
    int *ptoks = rt_alloc((plen + 3) * sizeof(int));
    void *scratch = rt_alloc(lm_tok_scratch_bytes(&tok, plen));
    void *mem = rt_alloc(lm_state_bytes(c));
    uint32_t *ex = rt_alloc((size_t)c->vocab_size * sizeof(uint32_t));
    int16_t *idx = rt_alloc((size_t)c->vocab_size * sizeof(int16_t));
    if (!ptoks || !scratch || !mem || !ex || !idx) {
        rt_puts(2, "retroqat: out of memory: the model's state does not fit the arena\n");
        return 1;
    }
    int np = lm_tok_encode(&tok, prompt, plen, 1, ptoks, scratch);
    if (np > c->seq_len) {
        rt_puts(2, "retroqat: the prompt is longer than the model's context\n");
        return INFER_EBAD;
    }
    lm_state s;
    lm_state_init(&s, c, mem);
    lm_gen g;
    lm_gen_init(&g, &m, &s, ptoks, np, (int)steps, (uint32_t)temp, (uint32_t)topp, (uint32_t)seed, ex, idx);
    for (int step = 0;; step++) {
        int before = g.pos, next = lm_gen_next(&g);
        if (debug && g.pos > before) {
            rt_puts(2, "#logits "), rt_put_dec(2, step), rt_puts(2, " ");
            rt_put_hex8(2, lm_logits_crc(g.logits, c->vocab_size)), rt_puts(2, "\n");
        }
        if (next < 0) break;
        uint8_t byte;
        int n;
        const uint8_t *piece = lm_tok_decode(&tok, g.prev, next, &byte, &n);
        if (n) rt_write(1, piece, (size_t)n);
    }
    rt_write(1, "\n", 1);
    return 0;
}
