// ps2_lm.c: the transformer program of the PS2 target. The same command line, generation loop and
// output as the shared program (export/rt/lm_main.h), but the model is a streaming image (.rqs,
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
#include "export/rt/lm_main.h"
#include "export/rt/rt.h"

#ifndef PS2_CTX
#define PS2_CTX 0  // positions the KV cache holds (the exporter's --ctx; 0: the model's seq_len)
#endif
#ifndef PS2_STREAM_BUF
#define PS2_STREAM_BUF 65536  // bytes of the stream buffer (the exporter sets it for the budget)
#endif

static ps2_file model_file;
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
    rt_lm_args a;
    int rc = rt_lm_parse(argc, argv, &a, "MODEL.RQS", "TOK.TOK", 'S');
    if (rc) return rc;

    // the model: header and resident part into the arena, the matrices stay on the disc
    static lm_model m;
    infer_err e;
    if (ps2_open(a.model, &model_file)) {
        rt_puts(2, "retroqat: "), rt_puts(2, a.model), rt_puts(2, ": cannot open\n");
        return 2;
    }
    st.read = disc_read, st.read_ctx = &model_file, st.fail = stream_fail, st.fail_ctx = (void *)a.model;
    rc = lmst_open(&st, &m, PS2_STREAM_BUF, rt_alloc, &e);
    if (rc) {
        rt_report(a.model, &e);
        return rc < 0 ? 1 : 2;
    }
    // the KV cache holds PS2_CTX positions (the kernel indexes it by seq_len consistently, so a
    // shorter cache changes nothing for positions below it)
    if (PS2_CTX > 0 && PS2_CTX < m.c.seq_len) {
        long want = a.steps <= 0 || a.steps > m.c.seq_len ? m.c.seq_len : a.steps;
        if (want > PS2_CTX) {
            rt_puts(2, "retroqat: -n "), rt_put_dec(2, want), rt_puts(2, " positions: this export's KV cache holds "), rt_put_dec(2, PS2_CTX),
                rt_puts(2, " (export --ctx)\n");
            return 2;
        }
        m.c.seq_len = PS2_CTX;
        a.steps = want;
    }
    // the tokenizer image, the state, the prompt and the sampler's scratch; then whatever the
    // budget still holds keeps matrices resident (read and checked once)
    rt_lm_run r;
    if ((rc = rt_lm_prepare(&r, &m.c, &a))) return rc;
    if (lmst_cache(&st, &m, rt_alloc, &e) < 0) {
        rt_report(a.model, &e);
        return 2;
    }
    counted = st.src, counted.read = counted_read, m.src = &counted;

    uint32_t t_gen = ps2_count(), stream0 = stream_insns, positions = 0;
    if ((rc = rt_lm_generate(&r, &m, &a, &positions))) return rc;
    uint32_t t_end = ps2_count();
    if (a.own) {
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
