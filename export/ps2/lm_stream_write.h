// lm_stream_write.h: write an integer model (lm_model) as a streaming image (lm_stream.h has the
// byte map). Host-only.
#ifndef RQ_EXPORT_PS2_LM_STREAM_WRITE_H
#define RQ_EXPORT_PS2_LM_STREAM_WRITE_H

#include <stdint.h>

#include "base/binio.h"
#include "infer/lm_kernel.h"

// Sizes of the image of m: the resident part (what stays in RAM besides the state), the whole
// image, all matrices, the largest matrix row.
typedef struct {
    uint32_t header, resident, total, matrices, max_row, max_mat;
} lmst_sizes;
// Append the image of m in the byte order big_endian to out. RQ_EINPUT when m's config is outside
// the contract.
int lmst_write(const lm_model *m, int big_endian, rq_buf *out, lmst_sizes *sz);

#endif
