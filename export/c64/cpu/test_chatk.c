// test_chatk.c: chat_layer.s against infer/'s chat_layer_forward on random layers under sim65:
// 1..64 inputs (most not a multiple of four), 1..16 outputs, every 2-bit code, inputs over the
// whole int16 range with runs of zeros (dead groups), random biases, shifts 0..15, ReLU on and
// off. Prints "chatk TRIALS CHECK", CHECK a hash of every output, which tests/test_target_c64.c
// recomputes on the host with infer/'s kernel from the same random numbers.
#include "test_out.h"

#include "infer/chat_kernel.h"
#include "infer/lm_gen.h"

#define TRIALS 80
static uint8_t W[16 * 16], B[2 * 16];
static int16_t X[64], Y[16];

int main(void) {
    lm_rng r;
    uint32_t check = 0;
    int t, i, n_in, n_out, rb, shift, relu;
    lm_rng_seed(&r, 42);
    for (t = 0; t < TRIALS; t++) {
        n_in = t < 4 ? 64 - t : 1 + (int)lm_rng_below(&r, 64);
        n_out = 1 + (int)lm_rng_below(&r, 16);
        rb = (n_in + 3) / 4;
        for (i = 0; i < n_out * rb; i++) W[i] = (uint8_t)lm_rng_below(&r, 256);
        if (n_in % 4)  // the padding codes of each row's last byte are 0 (the image format)
            for (i = 0; i < n_out; i++) W[i * rb + rb - 1] &= (uint8_t)((1 << (2 * (n_in % 4))) - 1);
        for (i = 0; i < 2 * n_out; i++) B[i] = (uint8_t)lm_rng_below(&r, 256);
        for (i = 0; i < n_in; i++) {
            uint32_t k = lm_rng_below(&r, 8);
            X[i] = k < 4 ? 0 : k == 4 ? (int16_t)(lm_rng_below(&r, 2) ? 32767 : -32768) : (int16_t)((int32_t)lm_rng_below(&r, 65536) - 32768);
            if (t % 5 == 2 && i >= 4 && i < 16) X[i] = 0;  // whole groups of zeros
        }
        shift = (int)lm_rng_below(&r, 16);
        relu = (int)lm_rng_below(&r, 2);
        chat_layer_forward(W, B, n_in, n_out, X, shift, relu, Y, 0);
        check = (check << 1 | check >> 31) ^ chat_logits_crc(Y, n_out);
    }
    put("chatk ");
    put_num(TRIALS, 10);
    put(" ");
    put_num(check, 16);
    put("\n");
    return 0;
}
