// image_open.h: the host's side of infer/'s freestanding image readers. They report a failure as
// an infer_err (what, at which byte); these wrappers record it as the project's error message
// "FILE: byte N: ..." (base/err.h) so the CLI can print it and exit 2.
#ifndef RQ_QAT_IMAGE_OPEN_H
#define RQ_QAT_IMAGE_OPEN_H

#include <stddef.h>
#include <stdint.h>

#include "infer/chat_kernel.h"
#include "infer/ierr.h"
#include "infer/lm_image.h"

// Record *e as the last error, prefixed with name; returns RQ_EINPUT.
int rq_fail_infer(const char *name, const infer_err *e);
// chat_image_check + the message.
int chat_image_parse(const uint8_t *p, size_t n, const char *name, chat_imodel *m);
// The same for an image embedded in a file at byte `origin` (a checkpoint's CIMG section): the
// message's offset counts from the file's start.
int chat_image_parse_at(const uint8_t *p, size_t n, const char *name, long origin, chat_imodel *m);
// lm_image_load + the message.
int lm_image_open(uint8_t *buf, size_t len, const char *name, lm_model *m);

#endif
