// model_open.h: the one model opener of every exporter and target. Any model file a user has
// becomes the integer model of its family, converted once for all targets:
//   chat family    a chat checkpoint (RQF "chat", its CIMG integer image) or a raw image (RQCI)
//   transformer    an integer image (.rqm, either byte order), a llama QAT checkpoint (RQF
//                  "llamaq": its own weights and clips), or a float model — a llama2.c .bin
//                  (v0/v1) or an RQF "llama" checkpoint — post-training quantised (qat/lm_quant.h:
//                  the default self-generated calibration, or o->calib text with o->tokenizer)
#ifndef RQ_QAT_MODEL_OPEN_H
#define RQ_QAT_MODEL_OPEN_H

#include <stddef.h>
#include <stdint.h>

#include "infer/chat_kernel.h"
#include "infer/lm_kernel.h"
#include "model/llama.h"

enum { RQ_FAM_CHAT = 1 << 0, RQ_FAM_LM = 1 << 1 };

typedef struct {
    int wbits;              // PTQ of a float model: layer weight bits (8, 4 or 2; 0 = 8)
    int midrise;            // PTQ at 4 or 2 bits: the midrise grids (lm_config.mrise)
    const char *calib;      // PTQ: calibration text (NULL: the default self-generated tokens)
    const char *tokenizer;  // needed with calib
} rq_open_opts;

typedef struct {
    int family;             // RQ_FAM_CHAT or RQ_FAM_LM
    const char *path;       // as the user gave it (error messages name it)
    const char *source;     // "chat checkpoint", "chat image", "integer image", "QAT checkpoint",
                            // "float model (PTQ int8)", ...
    chat_imodel chat;       // RQ_FAM_CHAT: points into image
    const uint8_t *image;   // RQ_FAM_CHAT: the RQCI image bytes (chat_image_parse's input)
    size_t image_bytes;
    lm_model lm;            // RQ_FAM_LM: the integer model, host byte order
    // owned storage (rq_model_close frees it)
    uint8_t *hold;
    int lm_owned;           // lm's arrays were allocated by lmq_quantize / lm_qat_load
} rq_model;

// The float model of a transformer file: a llama2.c .bin (v0/v1), an RQF "llama" checkpoint, or
// the float master weights of an RQF "llamaq" (QAT) checkpoint (eval, generate, PTQ).
int rq_llama_float_open(const char *path, llama_model *m);

// Open path. RQ_EINPUT naming path when it is none of the above or malformed.
int rq_model_open(const char *path, const rq_open_opts *o, rq_model *m);
void rq_model_close(rq_model *m);

#endif
