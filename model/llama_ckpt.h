// llama_ckpt.h: a llama model inside the RQF checkpoints of the llama family's runs (kind
// "llama": float training; "llamaq": QAT, which adds the section LQAT, qat/lm_qat.h).
//
//   LCFG  8 x i32 llama_config: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
//         seq_len, shared_classifier (0/1)
//   PARM  u64 n, n x f32: the float weights in llama2.c order (the trainer writes them,
//         train/trainer.h; base/rqfile.h rqf_get_floats)
#ifndef RQ_LLAMA_CKPT_H
#define RQ_LLAMA_CKPT_H

#include "base/rqfile.h"
#include "model/llama.h"

void llama_ckpt_put_config(rqf_writer *w, const llama_config *c);
// Read and check LCFG.
int llama_ckpt_get_config(const rqf_file *file, llama_config *c);
// Build m with the file's LCFG and read its weights (llama_free after use; m is left empty on error).
int llama_ckpt_read_model(const rqf_file *file, llama_model *m);

#endif
