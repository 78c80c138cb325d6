// test_llama_generate.c: generation like llama2.c run.c. The greedy goldens (recorded from run.c)
// must match byte for byte; the xorshift RNG has known values; nucleus sampling agrees with a
// direct reading of the rule (sort everything, cut, draw); seeded sampling is reproducible; the
// batched training forward gives the KV-cache forward's logits; the hooked forward's points.
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/binio.h"
#include "base/rng.h"
#include "data/sampler.h"
#include "model/llama.h"
#include "model/llama_train.h"

static void test_goldens_byte_for_byte(void **state) {
    (void)state;
    char model[512], tok[512];
    const char *p = rq_test_data("llama2c/stories260K.bin");
    if (!p) return;
    snprintf(model, sizeof model, "%s", p);
    if (!(p = rq_test_data("llama2c/tok512.bin"))) return;
    snprintf(tok, sizeof tok, "%s", p);
    if (!(p = rq_test_data("golden/stories260K_greedy.jsonl"))) return;
    uint8_t *data;
    size_t len;
    assert_int_equal(rq_read_file(p, &data, &len), 0);
    int cases = 0;
    for (char *line = strtok((char *)data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *g = cJSON_Parse(line);
        assert_non_null(g);
        const char *prompt = cJSON_GetObjectItem(g, "prompt")->valuestring;
        int steps = cJSON_GetObjectItem(g, "steps")->valueint;
        double temp = cJSON_GetObjectItem(g, "temperature")->valuedouble;
        const char *want = cJSON_GetObjectItem(g, "stdout")->valuestring;
        assert_null(strchr(prompt, '\''));  // quoted below with single quotes
        char *out = NULL, *err = NULL;
        int rc = rq_test_run(&out, &err, "%s generate %s -z %s -i '%s' -n %d -t %g", rq_test_bin(), model, tok, prompt, steps, temp);
        assert_int_equal(rc, 0);
        if (strcmp(out, want) != 0) fail_msg("prompt '%s': got\n%s\nwant\n%s", prompt, out, want);
        assert_non_null(strstr(err, "achieved tok/s"));  // timing goes to stderr only
        free(out);
        free(err);
        cJSON_Delete(g);
        cases++;
    }
    assert_true(cases >= 8);
    free(data);
}

static void test_xorshift_known_values(void **state) {
    (void)state;
    uint64_t s = 42;
    const uint32_t want[4] = {0x56ce4ab7, 0xc841eb53, 0xca466be0, 0xf1acc733};
    for (int i = 0; i < 4; i++) assert_int_equal(sampler_random_u32(&s), want[i]);
    s = 42;
    assert_float_equal(sampler_random_f32(&s), (0x56ce4ab7u >> 8) / 16777216.0, 0);
}

// The nucleus rule read directly: sort all tokens by p (descending, ties by index), take the
// shortest prefix with mass > topp (all if none), draw coin * mass in it.
static int naive_topp(const float *p, int n, float topp, float coin) {
    int *idx = malloc(n * sizeof(int));
    for (int i = 0; i < n; i++) idx[i] = i;
    for (int i = 1; i < n; i++)  // insertion sort: stable
        for (int j = i; j > 0 && p[idx[j]] > p[idx[j - 1]]; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    // run.c drops tokens below (1-topp)/(n-1) first; they can never be inside the prefix unless
    // the prefix runs out of mass, so only the cumulative sum over the kept ones matters.
    float cutoff = (1.0f - topp) / (n - 1), cum = 0.0f;
    int last = -1;
    for (int i = 0; i < n && p[idx[i]] >= cutoff; i++) {
        cum += p[idx[i]];
        last = i;
        if (cum > topp) break;
    }
    float r = coin * cum, cdf = 0.0f;
    int pick = idx[last];
    for (int i = 0; i <= last; i++) {
        cdf += p[idx[i]];
        if (r < cdf) {
            pick = idx[i];
            break;
        }
    }
    free(idx);
    return pick;
}

static void test_sampling_rules(void **state) {
    (void)state;
    pcg32 r;
    pcg32_seed(&r, 5, 5);
    int n = 50;
    float logits[50], work[50];
    for (int trial = 0; trial < 2000; trial++) {
        for (int i = 0; i < n; i++) logits[i] = 3.0f * pcg32_normal(&r);
        if (trial % 7 == 0) logits[3] = logits[9];  // ties
        float temp = 0.5f + pcg32_float(&r), topp = trial % 3 ? 0.9f : 0.5f;
        sampler s;
        uint64_t seed = 1000 + trial;
        sampler_build(&s, n, temp, topp, seed);
        memcpy(work, logits, sizeof work);
        int got = sampler_sample(&s, work);
        // Reference: probabilities the same way, the same coin.
        float p[50], max = -INFINITY, sum = 0;
        for (int i = 0; i < n; i++) p[i] = logits[i] / temp, max = p[i] > max ? p[i] : max;
        for (int i = 0; i < n; i++) p[i] = expf(p[i] - max), sum += p[i];
        for (int i = 0; i < n; i++) p[i] /= sum;
        uint64_t st = seed;
        float coin = sampler_random_f32(&st);
        assert_int_equal(got, naive_topp(p, n, topp, coin));
        assert_true(s.rng_state == st);
        sampler_free(&s);
    }
    // Greedy: the first maximum.
    sampler g;
    sampler_build(&g, 4, 0.0f, 0.9f, 1);
    float l[4] = {1, 5, 5, 2};
    assert_int_equal(sampler_sample(&g, l), 1);
    sampler_free(&g);
}

static void test_seeded_sampling_reproducible(void **state) {
    (void)state;
    char model[512], tok[512];
    const char *p = rq_test_data("llama2c/stories260K.bin");
    if (!p) return;
    snprintf(model, sizeof model, "%s", p);
    if (!(p = rq_test_data("llama2c/tok512.bin"))) return;
    snprintf(tok, sizeof tok, "%s", p);
    char *a, *b, *c;
    assert_int_equal(rq_test_run(&a, NULL, "%s generate %s -z %s -i 'Once' -n 100 -t 0.8 -p 0.9 -s 7", rq_test_bin(), model, tok), 0);
    assert_int_equal(rq_test_run(&b, NULL, "%s generate %s -z %s -i 'Once' -n 100 -t 0.8 -p 0.9 -s 7", rq_test_bin(), model, tok), 0);
    assert_int_equal(rq_test_run(&c, NULL, "%s generate %s -z %s -i 'Once' -n 100 -t 0.8 -p 0.9 -s 8", rq_test_bin(), model, tok), 0);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_true(strncmp(a, "Once", 4) == 0);
    free(a), free(b), free(c);
    // Bad usage is exit 2 with a message.
    char *err;
    assert_int_equal(rq_test_run(NULL, &err, "%s generate %s", rq_test_bin(), model), 2);
    assert_non_null(strstr(err, "-z TOKENIZER"));
    free(err);
    assert_int_equal(rq_test_run(NULL, &err, "%s generate /nonexistent.bin -z %s", rq_test_bin(), tok), 2);
    assert_non_null(strstr(err, "/nonexistent.bin"));
    free(err);
}

// The batched forward (training/eval path, SGEMM, own exp) and the KV-cache forward (run.c's
// arithmetic) compute the same function: logits agree to 1e-4 over 64 positions.
static void test_batched_forward_matches_kv_forward(void **state) {
    (void)state;
    const char *p = rq_test_data("llama2c/stories260K.bin");
    if (!p) return;
    llama_model m;
    assert_int_equal(llama_load(&m, p), 0);
    int T = 64, V = m.config.vocab_size;
    int toks[64];
    pcg32 r;
    pcg32_seed(&r, 3, 3);
    toks[0] = 1;
    for (int i = 1; i < T; i++) toks[i] = 3 + (int)pcg32_bounded(&r, V - 3);
    llama_train tr;
    llama_train_build(&tr, &m.config, 2, T, 2);
    int in[128];
    memcpy(in, toks, sizeof toks);
    memcpy(in + T, toks, sizeof toks);
    llama_train_forward(&tr, &m, in, NULL, T);
    llama_state s;
    llama_state_build(&s, &m.config);
    double maxdiff = 0;
    for (int t = 0; t < T; t++) {
        float *l = llama_forward(&m, &s, toks[t], t);
        for (int v = 0; v < V; v++) {
            double d0 = fabs(l[v] - tr.a.probs[(size_t)t * V + v]), d1 = fabs(l[v] - tr.a.probs[(size_t)(T + t) * V + v]);
            maxdiff = fmax(maxdiff, fmax(d0, d1));
        }
    }
    if (maxdiff > 1e-4) fail_msg("max logit difference %g", maxdiff);
    llama_state_free(&s);
    llama_train_free(&tr);
    llama_free(&m);
}

// llama_forward_hooked: the points come in forward order with their sizes (Q and K twice, FIN
// once as layer n_layers); a hook that only reads leaves the logits bit-identical to
// llama_forward's; what a hook writes is what the forward continues from; the classifier's rows
// are summed in order j = 0..dim-1 (odd shapes: the matvec's 4-column tail and single rows).
typedef struct {
    int n_calls, layer[64], point[64], n[64];
    float fin[32];
    int zero_fin;
} hook_log;

static void log_hook(void *ctx, int layer, int point, float *v, int n) {
    hook_log *h = ctx;
    if (h->n_calls < 64) h->layer[h->n_calls] = layer, h->point[h->n_calls] = point, h->n[h->n_calls] = n;
    h->n_calls++;
    if (point == LLAMA_PT_FIN) {
        memcpy(h->fin, v, n * sizeof(float));
        if (h->zero_fin) memset(v, 0, n * sizeof(float));
    }
}

static void test_forward_hooked(void **state) {
    (void)state;
    llama_config c = {.dim = 18, .hidden_dim = 22, .n_layers = 2, .n_heads = 3, .n_kv_heads = 1, .vocab_size = 37, .seq_len = 8,
                      .shared_classifier = 1};
    llama_model m;
    assert_int_equal(llama_build(&m, &c), 0);
    llama_init_random(&m, 5);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 20;  // activations of order one
    llama_state a, b;
    llama_state_build(&a, &c);
    llama_state_build(&b, &c);
    const int want_pt[] = {LLAMA_PT_XATT, LLAMA_PT_Q, LLAMA_PT_K, LLAMA_PT_V, LLAMA_PT_Q, LLAMA_PT_K,
                           LLAMA_PT_O, LLAMA_PT_XFFN, LLAMA_PT_H1, LLAMA_PT_H3, LLAMA_PT_G};
    const int want_n[] = {18, 18, 6, 6, 18, 6, 18, 18, 22, 22, 22};
    for (int pos = 0; pos < c.seq_len; pos++) {
        int tok = (pos * 7 + 3) % c.vocab_size;
        float *lf = llama_forward(&m, &a, tok, pos);
        hook_log h = {0};
        float *lh = llama_forward_hooked(&m, &b, tok, pos, log_hook, &h);
        assert_memory_equal(lf, lh, c.vocab_size * sizeof(float));
        assert_int_equal(h.n_calls, c.n_layers * 11 + 1);
        for (int k = 0; k < h.n_calls - 1; k++) {
            assert_int_equal(h.layer[k], k / 11);
            assert_int_equal(h.point[k], want_pt[k % 11]);
            assert_int_equal(h.n[k], want_n[k % 11]);
        }
        assert_int_equal(h.layer[h.n_calls - 1], c.n_layers);
        assert_int_equal(h.point[h.n_calls - 1], LLAMA_PT_FIN);
        for (int v = 0; v < c.vocab_size; v++) {
            float sum = 0.0f;
            for (int j = 0; j < c.dim; j++) sum += m.w.wcls[v * c.dim + j] * h.fin[j];
            assert_memory_equal(&sum, &lh[v], sizeof sum);
        }
    }
    hook_log z = {.zero_fin = 1};
    float *lz = llama_forward_hooked(&m, &b, 1, 0, log_hook, &z);
    for (int v = 0; v < c.vocab_size; v++) assert_true(lz[v] == 0.0f);
    llama_state_free(&a);
    llama_state_free(&b);
    llama_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_goldens_byte_for_byte),
        cmocka_unit_test(test_xorshift_known_values),
        cmocka_unit_test(test_sampling_rules),
        cmocka_unit_test(test_seeded_sampling_reproducible),
        cmocka_unit_test(test_batched_forward_matches_kv_forward),
        cmocka_unit_test(test_forward_hooked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
