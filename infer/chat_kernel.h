// chat_kernel.h: THE integer contract of the trigram chat model (docs/chat-contract.md).
//
// Integer-only C: no float, no malloc. The trainer's integer pass, the host `retroqat chat`, the
// evaluator and every target build call these functions; nothing else computes the model.
//
// Network: x0 = input counts << a (Q + K values), then for each layer l = 0 .. L-1
//   acc_j = wrap16( bias_j + sum_i w_ji * x_i )        w_ji in {-2,-1,0,+1}, int16 bias
//   y_j   = floor( acc_j / 2^s_l )                      (arithmetic shift right)
//   y_j   = max(0, y_j)                                 (hidden layers only)
// and the answer character is argmax_j y_j over the last layer, the first maximum winning.
// wrap16(v) = ((v + 32768) mod 65536) - 32768: the accumulator is an int16 with two's-complement
// wrap, so the order in which a kernel adds the terms does not matter (all sums are mod 2^16).
//
// Weights are 2-bit two's-complement codes (0 -> 0, 1 -> +1, 2 -> -2, 3 -> -1) packed 4 per byte,
// row-major: row j (output j) occupies ceil(n_in/4) bytes; weight i of the row sits in byte i/4
// at bits 2*(i%4) .. 2*(i%4)+1 (the first weight in the low bits). Unused codes at the end of a row
// whose width is not a multiple of 4 are 0. Ternary models use the same codes without code 2.
#ifndef RQ_CHAT_KERNEL_H
#define RQ_CHAT_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "infer/chat_encode.h"
#include "infer/ierr.h"

#define CHAT_MAX_LAYERS 8
#ifndef CHAT_MAX_WIDTH  // (a small machine's build may size it to its model: chat_encode.h)
#define CHAT_MAX_WIDTH 1024
#endif
#define CHAT_MAX_SHIFT 15
#define CHAT_MAX_IN_SHIFT 7

enum { CHAT_W2BIT = 2, CHAT_WTERNARY = 3 };
enum { CHAT_END = 0 };  // output class 0 ends the answer; class k >= 1 prints charset[k-1]

// A model image in memory (docs/chat-contract.md, "Model image"). The pointers point into the
// image bytes; chat_image_parse fills this without allocating.
typedef struct {
    chat_enc_cfg enc;
    int max_answer;                    // generation stops after this many characters
    int mode;                          // CHAT_W2BIT or CHAT_WTERNARY
    int n_layers;                      // L
    int dims[CHAT_MAX_LAYERS + 1];     // dims[0] = Q + K, dims[L] = n_out
    int shift[CHAT_MAX_LAYERS];        // s_l
    int in_shift;                      // a: inputs are counts << a
    const uint8_t *charset;            // n_out - 1 bytes
    const uint8_t *w[CHAT_MAX_LAYERS]; // packed weights, dims[l+1] rows of ceil(dims[l]/4) bytes
    const uint8_t *b[CHAT_MAX_LAYERS]; // dims[l+1] int16 biases, little-endian bytes
    // A machine whose RAM cannot hold every layer (a C64 with the weights in an REU) brings
    // layer l's weights and biases to where w[l] and b[l] point before the layer runs:
    // fetch(fetch_ctx, l). NULL (chat_image_check's default): every layer is in memory.
    void (*fetch)(void *fetch_ctx, int layer);
    void *fetch_ctx;
} chat_imodel;

static inline int chat_row_bytes(int n_in) { return (n_in + 3) / 4; }
// Value of a 2-bit code (0, +1, -2, -1).
static inline int chat_code_value(int code) { return ((code & 3) ^ 2) - 2; }
// Code of a value in {-2,-1,0,+1}.
static inline int chat_value_code(int v) { return v & 3; }
// wrap16 and floor(v / 2^s) written without implementation-defined C behaviour.
static inline int32_t chat_wrap16(int32_t v) {
    int32_t u = v & 0xFFFF;
    return u >= 0x8000 ? u - 0x10000 : u;
}
static inline int32_t chat_floor_shift(int32_t v, int s) { return v >= 0 ? v >> s : -((-v - 1) >> s) - 1; }

// Pack n values in {-2..1} into ceil(n/4) bytes (padding codes 0); unpack the reverse.
void chat_pack_row(const int8_t *v, int n, uint8_t *out);
void chat_unpack_row(const uint8_t *p, int n, int8_t *v);

// One layer: y[0..n_out) from x[0..n_in). pre (optional) receives the exact sums before wrap16,
// which is how the trainer measures overflow on the real accumulators.
void chat_layer_forward(const uint8_t *w, const uint8_t *bias, int n_in, int n_out, const int16_t *x, int shift,
                        int relu, int16_t *y, int32_t *pre);

// Whole network on input counts (dims[0] bytes: Q query counts then K context counts).
// logits: dims[L] values. acc (optional): acc[l] (dims[l+1] int32 each, may be NULL) receive the
// pre-wrap sums of layer l. Returns argmax (first maximum).
int chat_forward(const chat_imodel *m, const uint8_t *counts, int16_t *logits, int32_t *const *acc);
int chat_argmax(const int16_t *v, int n);

// Answer a query: greedy generation until the end class or max_answer characters.
// Writes at most cap-1 characters and a NUL into out; returns the length.
int chat_generate(const chat_imodel *m, const char *query, int qlen, char *out, int cap);
// The same, calling on_step(ctx, logits, n_out) after every forward (the debug logits of the
// target programs and the conformance test).
typedef void (*chat_step_fn)(void *ctx, const int16_t *logits, int n);
int chat_generate_steps(const chat_imodel *m, const char *query, int qlen, char *out, int cap, chat_step_fn on_step, void *ctx);

// Image bytes <-> chat_imodel. chat_image_size: bytes of an image with these shapes.
size_t chat_image_size(int n_layers, const int *dims);
// Parse and validate (sizes, ranges, codes, charset) in place, without allocating. Returns 0 or
// INFER_EBAD (= RQ_EINPUT) with *e saying what and at which byte (infer/ierr.h). On the host,
// chat_image_parse (qat/image_open.h) turns *e into a message naming the file.
int chat_image_check(const uint8_t *p, size_t n, chat_imodel *m, infer_err *e);
// Write the header of m (all fields but w, b) into buf (chat_image_size bytes) and point m->w,
// m->b, m->charset at their places in buf, for the caller to fill. Returns the size.
size_t chat_image_layout(chat_imodel *m, uint8_t *buf, const uint8_t *charset);

// Worst case over every possible input (any query of up to max_query bytes, any context):
// lo[l], hi[l] = the smallest and largest exact accumulator value any neuron of layer l can reach
// (interval arithmetic; a layer that can wrap feeds the next one its full int16 range).
void chat_bounds(const chat_imodel *m, int32_t *lo, int32_t *hi);

#endif
