// int_verbs.c: the integer transformer verbs: export --target host (a float llama model,
// post-training quantised, to an integer model image) and run (integer-only generation from an
// image).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/binio.h"
#include "base/err.h"
#include "cli/args.h"
#include "cli/verbs.h"
#include "data/textdata.h"
#include "data/tokenizer.h"
#include "export/lm_image_write.h"
#include "infer/lm_image.h"
#include "model/llama.h"
#include "base/rqfile.h"
#include "qat/lm_intgen.h"
#include "qat/lm_qat.h"
#include "qat/lm_quant.h"
#include "train/llama_family.h"

static const char EXPORT_USAGE[] =
    "usage: retroqat export MODEL --target host -o OUT.rqm [--endian little|big] [--wbits 8|4|2]\n"
    "                       [--calib TEXT -z TOKENIZER]\n"
    "Quantise a llama2.c .bin (or llama checkpoint) into an integer model image for the host\n"
    "runtime and the retro targets (docs/lm-contract.md). A QAT checkpoint (retroqat train with\n"
    "\"model\": \"llama-int8\") exports as trained. Otherwise post-training quantisation: activation\n"
    "ranges come from calibration on the model's own sampled text (16 x 256 tokens, seed 1), or on\n"
    "the first 4096 tokens of TEXT.\n"
    "  -o, --out PATH       the image to write\n"
    "  --endian E           byte order of the image: little (default) or big\n"
    "  --wbits N            8 (default), 4 or 2 ({-2,-1,0,+1}): layer weight bits (embedding and\n"
    "                       classifier stay int8); 2-bit images are version 3\n"
    "  --calib TEXT         calibrate on this text file instead (needs -z)\n"
    "  -z, --tokenizer P    llama2.c tokenizer .bin (for --calib)\n"
    "  --json               print a JSON summary\n";

int lm_export_main(int argc, char **argv) {
    const char *outp = NULL, *endian = "little", *calib = NULL, *tokp = NULL, *target = NULL;
    int wbits = 8, json = 0;
    const rq_arg opts[] = {
        {"--target", NULL, ARG_STR, &target, NULL},
        {"-o", "--out", ARG_STR, &outp, NULL},
        {"--endian", NULL, ARG_STR, &endian, NULL},
        {"--wbits", NULL, ARG_INT, &wbits, NULL},
        {"--calib", NULL, ARG_STR, &calib, NULL},
        {"-z", "--tokenizer", ARG_STR, &tokp, NULL},
        {"--json", NULL, ARG_FLAG, &json, NULL},
        {NULL, NULL, 0, NULL, NULL},
    };
    const char *pos[1];
    int npos = 0;
    int rc = rq_args_parse(argc, argv, opts, pos, 1, &npos, EXPORT_USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (npos != 1 || !outp) {
        fprintf(stderr, "retroqat: export --target host needs a MODEL and -o OUT.rqm\n%s", EXPORT_USAGE);
        return RQ_EINPUT;
    }
    int be;
    if (strcmp(endian, "little") == 0) be = 0;
    else if (strcmp(endian, "big") == 0) be = 1;
    else return rq_report(rq_fail(RQ_EINPUT, "--endian must be little or big, not '%s'", endian));
    if (wbits != 8 && wbits != 4 && wbits != 2) return rq_report(rq_fail(RQ_EINPUT, "--wbits must be 8, 4 or 2, not %d", wbits));
    if (calib && !tokp) return rq_report(rq_fail(RQ_EINPUT, "--calib needs -z TOKENIZER"));

    char kind[9] = {0};
    if (rqf_sniff(pos[0], kind) && strcmp(kind, "llamaq") == 0) {
        // a QAT checkpoint: its own weights and clips make the image (no calibration here)
        lm_model q;
        if (calib) return rq_report(rq_fail(RQ_EINPUT, "%s: a QAT checkpoint carries its activation ranges: --calib does not apply", pos[0]));
        if ((rc = lm_qat_load(pos[0], &q))) return rq_report(rc);
        rq_buf b = {0};
        if (!(rc = lm_image_write(&q, be, &b)) && !(rc = rq_write_atomic(outp, b.data, b.len)))
            printf(json ? "{\"image\":\"%s\",\"bytes\":%zu,\"endian\":\"%s\",\"wbits\":%d,\"calibration\":\"qat\"}\n"
                        : "wrote %s: %zu bytes, %s-endian, int%d weights from the QAT checkpoint\n",
                   outp, b.len, endian, q.c.wbits);
        rq_buf_free(&b);
        lmq_free(&q);
        return rc ? rq_report(rc) : 0;
    }
    llama_model f;
    if ((rc = llama_family_load_model(pos[0], &f))) return rq_report(rc);
    token_stream ts = {0};
    if (calib) {
        tokenizer tok;
        if ((rc = tokenizer_load(&tok, tokp, f.config.vocab_size)) == 0) {
            rc = textdata_encode_file(calib, &tok, &ts);
            tokenizer_free(&tok);
        }
        if (!rc && ts.n < 2) rc = rq_fail(RQ_EINPUT, "%s: no tokens to calibrate on", calib);
        if (rc) {
            llama_free(&f);
            token_stream_free(&ts);
            return rq_report(rc);
        }
    }
    lm_model m;
    size_t ncal = ts.n < 4096 ? ts.n : 4096;
    rc = lmq_ptq(&f, calib ? ts.tokens : NULL, ncal, wbits, &m);
    token_stream_free(&ts);
    if (!rc) {
        rq_buf b = {0};
        rc = lm_image_write(&m, be, &b);
        if (!rc) rc = rq_write_atomic(outp, b.data, b.len);
        if (!rc) {
            if (json)
                printf("{\"image\":\"%s\",\"bytes\":%zu,\"endian\":\"%s\",\"wbits\":%d,\"calibration\":\"%s\"}\n", outp, b.len,
                       endian, wbits, calib ? calib : "self-generated");
            else
                printf("wrote %s: %zu bytes, int%d weights, %s-endian, calibrated on %s\n", outp, b.len, wbits, endian,
                       calib ? calib : "the model's own text");
        }
        rq_buf_free(&b);
        lmq_free(&m);
    }
    llama_free(&f);
    return rc ? rq_report(rc) : 0;
}

static const char RUN_USAGE[] =
    "usage: retroqat run MODEL.rqm -z TOKENIZER [-i PROMPT] [-n STEPS] [-t TEMP] [-p TOPP] [-s SEED]\n"
    "Generate text with an integer model image, integer-only (infer/lm_kernel.c): integer argmax\n"
    "for -t 0, else integer softmax with temperature, top-p and a xorshift32 RNG (docs/lm-contract.md).\n"
    "  -z, --tokenizer PATH  llama2.c tokenizer .bin\n"
    "  -i, --prompt TEXT     prompt (default empty)\n"
    "  -n, --steps N         positions including the prompt (0 = seq_len; default 256)\n"
    "  -t, --temperature T   0 = greedy (default 1.0); used as round(256 T)\n"
    "  -p, --topp P          nucleus mass (default 0.9; 0 or 1: none); used as round(32768 P)\n"
    "  -s, --seed N          RNG seed (default 0 = time)\n"
    "The text goes to stdout; 'achieved tok/s' to stderr.\n";

int lm_run_main(int argc, char **argv) {
    const char *target = NULL;
    rq_sample_args sa;
    rq_arg opts[RQ_SAMPLE_NOPTS + 2] = {{"--target", NULL, ARG_STR, &target, NULL}};
    rq_sample_args_init(&sa, opts + 1);
    opts[RQ_SAMPLE_NOPTS + 1] = (rq_arg){NULL, NULL, 0, NULL, NULL};
    const char *pos[1];
    int npos = 0;
    int rc = rq_args_parse(argc, argv, opts, pos, 1, &npos, RUN_USAGE);
    if (rc == RQ_ARGS_HELP) return 0;
    if (rc) return rc;
    if (npos != 1 || !sa.tokenizer) {
        fprintf(stderr, "retroqat: run needs a MODEL.rqm and -z TOKENIZER\n%s", RUN_USAGE);
        return RQ_EINPUT;
    }
    rq_sample_args_finish(&sa);
    uint8_t *buf;
    lm_model m;
    if ((rc = lm_image_read_file(pos[0], &buf, &m))) return rq_report(rc);
    tokenizer tok;
    if ((rc = tokenizer_load(&tok, sa.tokenizer, m.c.vocab_size))) {
        free(buf);
        return rq_report(rc);
    }
    // top-p 0 or 1: no nucleus cut, as run.c (topp_q15 = 32768 keeps every token)
    uint32_t topp_q15 = sa.topp <= 0 || sa.topp >= 1 ? 32768 : (uint32_t)(sa.topp * 32768 + 0.5);
    lm_intgen_cfg g = {sa.prompt, sa.steps, (uint32_t)(sa.temp * 256 + 0.5), topp_q15, (uint32_t)sa.seed};
    if (sa.temp > 0 && g.temp_q8 == 0) g.temp_q8 = 1;
    double secs = 0;
    int n = lm_int_generate(&m, &tok, &g, stdout, NULL, &secs);
    if (n > 2 && secs > 0) fprintf(stderr, "achieved tok/s: %f\n", (n - 2) / secs);
    tokenizer_free(&tok);
    free(buf);
    return n < 0 ? rq_report(RQ_EINPUT) : 0;
}
