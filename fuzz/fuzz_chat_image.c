// libFuzzer harness: the trigram chat model image (infer/chat_image.c) that checkpoints embed and
// the CP/M export appends to the Z80 kernel.
#include <stdint.h>

#include "infer/chat_kernel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    chat_imodel m;
    (void)chat_image_parse(data, n, "fuzz.img", &m);
    return 0;
}
