// bench_ps2_model.c: write the benchmark's model bigger than the PS2's RAM as an integer image:
// random llama weights, dim 512, hidden 2176, 8 layers, vocab 512, seq_len 64 (35.1 M int8 matrix
// weights), post-training quantised on 24 fixed calibration tokens (the export's default
// self-generated calibration takes half a minute at this size).  Usage: bench_ps2_model OUT.rqm
#include <stdio.h>

#include "export/lm_image_write.h"
#include "model/llama.h"
#include "qat/lm_quant.h"

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: bench_ps2_model OUT.rqm\n"), 2;
    llama_config c = {.dim = 512, .hidden_dim = 2176, .n_layers = 8, .n_heads = 8, .n_kv_heads = 8, .vocab_size = 512,
                      .seq_len = 64, .shared_classifier = 1};
    llama_model m;
    if (llama_build(&m, &c)) return 1;
    llama_init_random(&m, 3);
    uint16_t cal[24];
    for (int i = 0; i < 24; i++) cal[i] = (uint16_t)((i * 37 + 1) % c.vocab_size);
    lm_model q;
    int rc = lmq_ptq(&m, cal, 24, 8, &q);
    if (!rc) rc = lm_image_save(&q, 0, argv[1]);
    if (!rc) lmq_free(&q);
    llama_free(&m);
    return rc ? 1 : 0;
}
