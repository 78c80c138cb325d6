// libFuzzer harness: the integer model image .rqm (infer/lm_image.c), read in place.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer/lm_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    uint8_t *copy = malloc(n ? n : 1);  // the loader converts byte order in place
    memcpy(copy, data, n);
    lm_model m;
    (void)lm_image_load(copy, n, "fuzz.rqm", &m);
    free(copy);
    return 0;
}
