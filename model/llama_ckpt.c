// llama_ckpt.c: LCFG and the weights of llama checkpoints (llama_ckpt.h).
#include "model/llama_ckpt.h"

#include <string.h>

#include "base/err.h"

void llama_ckpt_put_config(rqf_writer *w, const llama_config *c) {
    rq_buf *b = rqf_section_begin(w, "LCFG");
    int v[8] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len, c->shared_classifier};
    for (int i = 0; i < 8; i++) rq_buf_i32(b, v[i]);
}

int llama_ckpt_get_config(const rqf_file *file, llama_config *c) {
    rq_reader r;
    int rc = rqf_section(file, "LCFG", &r);
    if (rc) return rc;
    int v[8];
    for (int i = 0; i < 8; i++) v[i] = rq_rd_i32(&r, "llama config");
    if (r.err) return r.err;
    *c = (llama_config){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
    if (c->shared_classifier != 0 && c->shared_classifier != 1) return rq_fail(RQ_EINPUT, "%s: LCFG: shared_classifier %d", file->path, v[7]);
    return llama_config_check(c, file->path);
}

int llama_ckpt_read_model(const rqf_file *file, llama_model *m) {
    memset(m, 0, sizeof *m);
    llama_config c;
    int rc = llama_ckpt_get_config(file, &c);
    if (rc || (rc = llama_build(m, &c))) return rc;
    if ((rc = rqf_get_floats(file, "PARM", m->params, m->n_params))) llama_free(m);
    return rc;
}
