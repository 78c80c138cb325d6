// libFuzzer harness: llama2.c tokenizer files (data/tokenizer.c), then encoding a fixed text with
// whatever vocabulary was accepted.
#include <stdint.h>
#include <stdlib.h>

#include "data/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    tokenizer t;
    if (tokenizer_load_mem(&t, data, n, "fuzz-tok.bin", 512) == 0) {
        int tokens[64];
        (void)tokenizer_encode(&t, "Once upon a time, a cat.", 1, 0, tokens);
        tokenizer_free(&t);
    }
    return 0;
}
