// tok_image.h: a llama2.c tokenizer .bin -> the target tokenizer image of infer/lm_tok.h, in a
// chosen byte order, for target programs that encode prompts and print pieces themselves.
#ifndef RQ_EXPORT_TOK_IMAGE_H
#define RQ_EXPORT_TOK_IMAGE_H

#include "base/binio.h"

// Read path (a tokenizer for vocab_size tokens) and append its image to out. RQ_EINPUT naming
// path for a malformed tokenizer, a NaN score or a piece longer than 255 bytes.
int tok_image_build(const char *path, int vocab_size, int big_endian, rq_buf *out);

#endif
