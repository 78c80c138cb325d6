// model_open.c: any model file -> the integer model of its family (model_open.h).
#include "qat/model_open.h"

#include <stdlib.h>
#include <string.h>

#include "base/binio.h"
#include "base/err.h"
#include "base/rqfile.h"
#include "data/textdata.h"
#include "data/tokenizer.h"
#include "model/llama_ckpt.h"
#include "qat/image_open.h"
#include "qat/lm_qat.h"
#include "qat/lm_quant.h"

int rq_llama_float_open(const char *path, llama_model *m) {
    char kind[9] = {0};
    memset(m, 0, sizeof *m);
    if (!rqf_sniff(path, kind)) return llama_load(m, path);
    if (strcmp(kind, LM_QAT_KIND) == 0) return lm_qat_load_float(path, m);  // a QAT run's float master
    rqf_file file;
    int rc = rqf_open(&file, path, "llama");
    if (rc) return rc;
    rc = llama_ckpt_read_model(&file, m);
    rqf_close(&file);
    return rc;
}

// A chat checkpoint's CIMG section (a private copy, so the checkpoint can be closed).
static int open_chat_ckpt(const char *path, uint8_t *data, size_t n, rq_model *m) {
    rqf_file f;
    int rc = rqf_open_mem(&f, data, n, path, "chat");  // owns data from here on success
    if (rc) {
        free(data);
        return rc;
    }
    rq_reader r;
    if ((rc = rqf_section(&f, "CIMG", &r))) {
        rqf_close(&f);
        return rc;
    }
    m->hold = rq_malloc(r.len ? r.len : 1);
    memcpy(m->hold, r.data, r.len);
    m->image = m->hold, m->image_bytes = r.len;
    rqf_close(&f);
    m->source = "chat checkpoint";
    return chat_image_parse(m->image, m->image_bytes, path, &m->chat);
}

// Post-training quantisation of a float transformer (export's default calibration, or o->calib).
static int open_float(const char *path, const rq_open_opts *o, rq_model *m) {
    int wbits = o && o->wbits ? o->wbits : 8;
    if (wbits != 8 && wbits != 4 && wbits != 2) return rq_fail(RQ_EINPUT, "--wbits must be 8, 4 or 2, not %d", wbits);
    if (o && o->calib && !o->tokenizer) return rq_fail(RQ_EINPUT, "--calib needs -z TOKENIZER");
    if (o && o->midrise && wbits == 8) return rq_fail(RQ_EINPUT, "--midrise is a grid of --wbits 4 or 2 (int8 has none)");
    llama_model f;
    int rc = rq_llama_float_open(path, &f);
    if (rc) {
        llama_free(&f);  // a reader that failed part-way may have built the model
        return rc;
    }
    token_stream ts = {0};
    if (o && o->calib) {
        tokenizer tok;
        if ((rc = tokenizer_load(&tok, o->tokenizer, f.config.vocab_size)) == 0) {
            rc = textdata_encode_file(o->calib, &tok, &ts);
            tokenizer_free(&tok);
        }
        if (!rc && ts.n < 2) rc = rq_fail(RQ_EINPUT, "%s: no tokens to calibrate on", o->calib);
    }
    size_t ncal = ts.n < 4096 ? ts.n : 4096;
    lmq_wspec ws = lmq_wspec_uniform(wbits);
    ws.midrise = o && o->midrise;
    if (!rc) rc = lmq_ptq_spec_progress(&f, o && o->calib ? ts.tokens : NULL, ncal, &ws, 1, &m->lm);  // a progress line on a terminal
    token_stream_free(&ts);
    llama_free(&f);
    if (rc) return rc;
    m->lm_owned = 1;
    m->source = wbits == 8 ? "float model (PTQ, int8)" : wbits == 4 ? (ws.midrise ? "float model (PTQ, int4 midrise layers)" : "float model (PTQ, int4 layers)")
                : ws.midrise ? "float model (PTQ, 2-bit midrise layers)" : "float model (PTQ, 2-bit layers)";
    return 0;
}

int rq_model_open(const char *path, const rq_open_opts *o, rq_model *m) {
    memset(m, 0, sizeof *m);
    m->path = path;
    char kind[9] = {0};
    if (rqf_sniff(path, kind)) {
        if (strcmp(kind, "chat") == 0) {
            uint8_t *data;
            size_t n;
            int rc = rq_read_file(path, &data, &n);
            m->family = RQ_FAM_CHAT;
            return rc ? rc : open_chat_ckpt(path, data, n, m);
        }
        m->family = RQ_FAM_LM;
        if (strcmp(kind, LM_QAT_KIND) == 0) {
            if (o && o->calib)
                return rq_fail(RQ_EINPUT, "%s: a QAT checkpoint carries its activation ranges: --calib does not apply", path);
            int rc = lm_qat_load(path, &m->lm);
            if (rc) return rc;
            m->lm_owned = 1;
            m->source = "QAT checkpoint";
            return 0;
        }
        return open_float(path, o, m);
    }
    uint8_t head[4] = {0};
    size_t got = 0;
    {
        uint8_t *data;
        size_t n;
        int rc = rq_read_file(path, &data, &n);
        if (rc) return rc;
        got = n < 4 ? n : 4;
        memcpy(head, data, got);
        if (got == 4 && memcmp(head, "RQCI", 4) == 0) {
            m->family = RQ_FAM_CHAT;
            m->hold = data, m->image = data, m->image_bytes = n;
            m->source = "chat image";
            return chat_image_parse(data, n, path, &m->chat);
        }
        if (got == 4 && memcmp(head, "RQLM", 4) == 0) {
            m->family = RQ_FAM_LM;
            m->hold = data;  // malloc'd: aligned for the image's arrays
            m->source = "integer image";
            return lm_image_open(data, n, path, &m->lm);
        }
        free(data);
    }
    m->family = RQ_FAM_LM;  // a llama2.c .bin (its reader names what is wrong with it)
    return open_float(path, o, m);
}

void rq_model_close(rq_model *m) {
    if (m->lm_owned) lmq_free(&m->lm);
    free(m->hold);
    memset(m, 0, sizeof *m);
}
