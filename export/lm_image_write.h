// lm_image_write.h: serialise an integer model (lm_model) into a model image (infer/lm_image.h
// has the byte map) in either byte order.
#ifndef RQ_LM_IMAGE_WRITE_H
#define RQ_LM_IMAGE_WRITE_H

#include "base/binio.h"
#include "infer/lm_image.h"
#include "infer/lm_kernel.h"

// Append the image of m to out (out->big_endian is ignored; big_endian chooses). RQ_EINPUT when
// m's config is outside the contract.
int lm_image_write(const lm_model *m, int big_endian, rq_buf *out);
// Append one field's values in out->big_endian's order (lm_rq as i16 m, u8 p, u8 k); other
// image writers (export/ps2/lm_stream_write.c) share it.
void lm_field_write(rq_buf *out, const lm_field *f);
// The layer weights of c in words, for summaries: "int8", "int4", "2-bit", "int4 midrise", or per
// matrix "wq 8 wk 8 wv 8 wo 8 w1 2m w2 2m w3 2m" (m: midrise). Returns buf.
const char *lm_weights_desc(const lm_config *c, char *buf, size_t n);
// Write the image to path atomically.
int lm_image_save(const lm_model *m, int big_endian, const char *path);

#endif
