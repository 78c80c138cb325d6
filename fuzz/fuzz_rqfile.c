// libFuzzer harness: the RQF checkpoint container (base/rqfile.c) and the llama model inside it
// (model/llama_ckpt.c). Build and run with `make fuzz-libfuzzer` (mk/fuzz.mk).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rqfile.h"
#include "model/llama_ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    uint8_t *copy = malloc(n ? n : 1);  // rqf_close frees it
    memcpy(copy, data, n);
    rqf_file f;
    if (rqf_open_mem(&f, copy, n, "fuzz.ckpt", NULL) == 0) {
        for (int i = 0; i < f.n; i++) {
            rq_reader r;
            if (rqf_section(&f, f.sec[i].tag, &r) == 0) (void)rq_rd_u32(&r, "first word");
        }
        llama_model m;
        if (llama_ckpt_read_model(&f, &m) == 0) llama_free(&m);
    }
    rqf_close(&f);
    return 0;
}
