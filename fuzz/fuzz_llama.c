// libFuzzer harness: llama2.c model files, version 0 and 1 (model/llama.c).
#include <stdint.h>

#include "model/llama.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    llama_model m;
    if (llama_load_mem(&m, data, n, "fuzz.bin") == 0) llama_free(&m);
    return 0;
}
