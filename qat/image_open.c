// image_open.c: infer/'s reader errors as messages naming the file (image_open.h).
#include "qat/image_open.h"

#include "base/err.h"

int rq_fail_infer(const char *name, const infer_err *e) {
    char msg[512];
    infer_err_format(e, msg, sizeof msg);
    return rq_fail(RQ_EINPUT, "%s: %s", name, msg);
}

int chat_image_parse_at(const uint8_t *p, size_t n, const char *name, long origin, chat_imodel *m) {
    infer_err e;
    if (!chat_image_check(p, n, m, &e)) return 0;
    if (e.offset >= 0) e.offset += origin;
    return rq_fail_infer(name, &e);
}

int chat_image_parse(const uint8_t *p, size_t n, const char *name, chat_imodel *m) { return chat_image_parse_at(p, n, name, 0, m); }

int lm_image_open(uint8_t *buf, size_t len, const char *name, lm_model *m) {
    infer_err e;
    return lm_image_load(buf, len, m, &e) ? rq_fail_infer(name, &e) : 0;
}
