// lm_image_write.h: serialise an integer model (lm_model) into a model image (infer/lm_image.h
// has the byte map) in either byte order.
#ifndef RQ_LM_IMAGE_WRITE_H
#define RQ_LM_IMAGE_WRITE_H

#include "base/binio.h"
#include "infer/lm_kernel.h"

// Append the image of m to out (out->big_endian is ignored; big_endian chooses). RQ_EINPUT when
// m's config is outside the contract.
int lm_image_write(const lm_model *m, int big_endian, rq_buf *out);
// Write the image to path atomically.
int lm_image_save(const lm_model *m, int big_endian, const char *path);

#endif
