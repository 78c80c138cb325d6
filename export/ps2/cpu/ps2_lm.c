// ps2_lm.c: the transformer program of the PS2 target. The same command line and output as the
// shared program (export/rt/rt.h, rt_lm_main), but the model is a streaming image (.rqs,
// export/ps2/lm_stream.h) read from the disc: the resident part is loaded into the arena, the
// matrices stream through lm_forward's weight source block by block (or are kept resident when
// the budget allows), all inside the arena whose size is the RAM budget.
//
//   PS2LM.ELF [-m MODEL.RQS] [-k TOK.TOK] [-i PROMPT] [-n STEPS] [-T TEMP_Q8] [-P TOPP_Q15]
//             [-s SEED] [-d] [-S]
//   -S: at the end, "#stats insns I gen_insns G stream_insns S positions P streamed B cached C
//       arena A budget R\n" on fd 2 (GXemul's instruction counter; 0 under qemu)
#include <stdint.h>
#include <string.h>

#include "export/ps2/cpu/ps2_io.h"
#include "export/ps2/lm_stream.h"
#include "export/rt/rt.h"
#include "infer/lm_gen.h"
#include "infer/lm_tok.h"

#ifndef PS2_CTX
#define PS2_CTX 0  // positions the KV cache holds (the exporter's --ctx; 0: the model's seq_len)
#endif
#ifndef PS2_STREAM_BUF
#define PS2_STREAM_BUF 65536  // bytes of the stream buffer (the exporter sets it for the budget)
#endif

static ps2_file model_file;
static const char *model_name = "MODEL.RQS";
static uint32_t stream_insns;  // instructions spent fetching streamed blocks (disc reads and CRC)
static lmst st;
static lm_wsource counted;     // st.src, timed

static int disc_read(void *ctx, uint32_t off, void *buf, uint32_t n) { return ps2_read(ctx, off, buf, n); }

static void counted_read(void *ctx, uint32_t off, void *buf, uint32_t n) {
    uint32_t t0 = ps2_count();
    st.src.read(ctx, off, buf, n);
    stream_insns += ps2_count() - t0;
}

void rt_report(const char *name, const infer_err *e);  // export/rt/io.c
long rt_atol(const char *s, int *ok);

static void stream_fail(void *ctx, const infer_err *e) {
    rt_report(ctx, e);
    ps2_exit(2);
}

static void stat(const char *name, uint32_t v) {
    rt_puts(2, " ");
    rt_puts(2, name);
    rt_puts(2, " ");
    rt_put_dec(2, (long)v);
}

int ps2_main(int argc, char **argv) {
    uint32_t t_start = ps2_count();
    const char *tok_name = "TOK.TOK", *prompt = "";
    long steps = 256, temp_q8 = 256, topp_q15 = 29491, seed = 0;
    int debug = 0, stats = 0, ok = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : 0;
        if (a[0] == '-' && a[1] == 'd' && !a[2]) debug = 1;
        else if (a[0] == '-' && a[1] == 'S' && !a[2]) stats = 1;
        else if (a[0] == '-' && a[1] && !a[2] && v) {
            switch (a[1]) {
            case 'm': model_name = v; break;
            case 'k': tok_name = v; break;
            case 'i': prompt = v; break;
            case 'n': steps = rt_atol(v, &ok); break;
            case 'T': temp_q8 = rt_atol(v, &ok); break;
            case 'P': topp_q15 = rt_atol(v, &ok); break;
            case 's': seed = rt_atol(v, &ok); break;
            default: rt_puts(2, "retroqat: unknown flag "), rt_puts(2, a), rt_puts(2, "\n"); return 2;
            }
            i++;
            if (!ok) {
                rt_puts(2, "retroqat: bad number for "), rt_puts(2, a), rt_puts(2, "\n");
                return 2;
            }
        } else {
            rt_puts(2, "retroqat: bad argument "), rt_puts(2, a), rt_puts(2, "\n");
            return 2;
        }
    }

    // the model: header and resident part into the arena, the matrices stay on the disc
    static lm_model m;
    infer_err e;
    if (ps2_open(model_name, &model_file)) {
        rt_puts(2, "retroqat: "), rt_puts(2, model_name), rt_puts(2, ": cannot open\n");
        return 2;
    }
    st.read = disc_read, st.read_ctx = &model_file, st.fail = stream_fail, st.fail_ctx = (void *)model_name;
    int rc = lmst_open(&st, &m, PS2_STREAM_BUF, rt_alloc, &e);
    if (rc) {
        rt_report(model_name, &e);
        return rc < 0 ? 1 : 2;
    }

    // the tokenizer image, the state, the prompt and the sampler's scratch
    // the KV cache holds PS2_CTX positions (the kernel indexes it by seq_len consistently, so a
    // shorter cache changes nothing for positions below it)
    if (PS2_CTX > 0 && PS2_CTX < m.c.seq_len) {
        long want = steps <= 0 || steps > m.c.seq_len ? m.c.seq_len : steps;
        if (want > PS2_CTX) {
            rt_puts(2, "retroqat: -n "), rt_put_dec(2, want), rt_puts(2, " positions: this export's KV cache holds "), rt_put_dec(2, PS2_CTX),
                rt_puts(2, " (export --ctx)\n");
            return 2;
        }
        m.c.seq_len = PS2_CTX;
        steps = want;
    }
    const lm_config *c = &m.c;
    ps2_file tf;
    if (ps2_open(tok_name, &tf)) {
        rt_puts(2, "retroqat: "), rt_puts(2, tok_name), rt_puts(2, ": cannot open\n");
        return 2;
    }
    uint8_t *tb = rt_alloc(tf.size);
    if (!tb || ps2_read(&tf, 0, tb, tf.size)) {
        rt_puts(2, "retroqat: "), rt_puts(2, tok_name), rt_puts(2, tb ? ": read error\n" : ": out of memory\n");
        return tb ? 2 : 1;
    }
    lm_tok tok;
    if (lm_tok_load(&tok, tb, tf.size, (uint32_t)c->vocab_size, &e)) {
        rt_report(tok_name, &e);
        return 2;
    }
    void *smem = rt_alloc(lm_state_bytes(c));
    size_t plen = strlen(prompt);
    int *ptoks = rt_alloc((plen + 3) * sizeof(int));
    void *scratch = rt_alloc(lm_tok_scratch_bytes(&tok, plen));
    uint32_t *se = rt_alloc((size_t)c->vocab_size * 4);
    int16_t *sidx = rt_alloc((size_t)c->vocab_size * 2);
    if (!smem || !ptoks || !scratch || !se || !sidx) {
        rt_puts(2, "retroqat: out of memory (the RAM budget)\n");
        return 1;
    }
    lm_state s;
    lm_state_init(&s, c, smem);
    // whatever the budget still holds keeps matrices resident (read and checked once)
    if (lmst_cache(&st, &m, rt_alloc, &e) < 0) {
        rt_report(model_name, &e);
        return 2;
    }
    counted = st.src, counted.read = counted_read, m.src = &counted;
    int np = lm_tok_encode(&tok, prompt, plen, 1, ptoks, scratch);

    lm_gen g;
    lm_gen_init(&g, &m, &s, ptoks, np, (int)steps, (uint32_t)temp_q8, (uint32_t)topp_q15, (uint32_t)seed, se, sidx);
    uint32_t t_gen = ps2_count(), stream0 = stream_insns, positions = 0;
    int next;
    for (;;) {
        int before = g.pos;
        next = lm_gen_next(&g);
        if (g.pos != before || next >= 0) positions++;
        if (debug && (g.pos != before || next >= 0)) {
            rt_puts(2, "#logits ");
            rt_put_dec(2, positions - 1);
            rt_puts(2, " ");
            rt_put_hex8(2, lm_logits_crc(g.logits, c->vocab_size));
            rt_puts(2, "\n");
        }
        if (next < 0) break;
        uint8_t byte;
        int len;
        const uint8_t *piece = lm_tok_decode(&tok, g.prev, next, &byte, &len);
        if (len) rt_write(1, piece, (size_t)len);
    }
    rt_write(1, "\n", 1);
    uint32_t t_end = ps2_count();
    if (stats) {
        rt_puts(2, "#stats");
        stat("insns", t_end - t_start);
        stat("gen_insns", t_end - t_gen);
        stat("stream_insns", stream_insns - stream0);
        stat("positions", positions);
        stat("streamed", (uint32_t)st.bytes_streamed);
        stat("cached", st.bytes_cached);
        stat("arena", (uint32_t)rt_arena_high_water());
        stat("budget", (uint32_t)RT_ARENA_BYTES);
        rt_puts(2, "\n");
    }
    return 0;
}
