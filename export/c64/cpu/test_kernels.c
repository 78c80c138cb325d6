// test_kernels.c: the C64 program's 6502 routines (c64_*.s) against the operations of
// infer/lm_ops.c they replace, both compiled for the 6502, on the random cases of test_kernels.h
// (edge values included) under sim65. Prints one line per routine, "NAME TRIALS MISMATCHES CHECK",
// CHECK = CRC-32 of every reference result, which tests/test_target_c64.c recomputes on the host.
// The weight source is RAM here: an offset is an address.
#include <string.h>
#include <unistd.h>

#include "base/crc32.h"
#include "c64_kernels.h"
#include "c64_ws.h"
#include "test_kernels.h"

#if C64_HS != KT_ATT_HS
#error "the test's model must have heads of KT_ATT_HS values (c64_attn.s is assembled for C64_HS)"
#endif

static const uint8_t *at[C64_KV_STREAM + 1];
void ws_read(uint32_t off, void *buf, uint16_t n) { memcpy(buf, (const void *)(uint16_t)off, n); }
void ws_seek(uint8_t s, uint32_t off) { at[s] = (const uint8_t *)(uint16_t)off; }
void ws_next(uint8_t s, void *buf, uint16_t n) {
    memcpy(buf, at[s], n);
    at[s] += n;
}

static kt_mv C;
static kt_norm NC;
static kt_att AC;
static int32_t TMP[KT_ATT_MAXN];
// The kernels' RAM (c64_kernels.h: their workspace, then the multiples of cm), as the program's
// forward arena provides it.
uint8_t c64_arena[C64_KWB + 768];
// The attention tests' buffers in the matrix case's weights (test_mv runs last): the KV stream's
// records and the probabilities (across a page boundary); or the long softmaxes' scores and values.
#define KB (C.w)
#define VB (KB + KT_ATT_MAXN * C64_KREC(KT_ATT_HS))
#define PIN ((int32_t *)(void *)(VB + KT_ATT_MAXN * KT_ATT_HS + ((0xF0 - ((uint16_t)(VB + KT_ATT_MAXN * KT_ATT_HS) & 0xFF)) & 0xFF)))
#define SL ((int32_t *)(void *)KB)
#define PVL_V ((int8_t *)KB + 4 * KT_PVL_N)
#if KT_ATT_MAXN * (3 * KT_ATT_HS + KT_ATT_HS) + 255 + 4 * KT_ATT_MAXN > KT_WBYTES || 4 * KT_SMX_N > KT_WBYTES || \
    KT_PVL_N * (4 + KT_ATT_HS) > KT_WBYTES
#error "the attention tests' buffers do not fit the matrix case's weights"
#endif
static uint8_t REC[KT_MAXR * C64_REC_BYTES];
static int32_t ACC[KT_RQ_N], INIT[KT_RQ_N];
static lm_rq RQ[KT_RQ_N];
#define OUTB (4 * KT_RQ_N + KT_NORM_MAXN + KT_ATT_BYTES)
static uint8_t WANT[OUTB], GOT[OUTB];

static void put(const char *s) { write(1, s, (unsigned)strlen(s)); }

static void put_num(uint32_t v, int base) {
    char b[12];
    int i = 11;
    b[i] = 0;
    do b[--i] = "0123456789abcdef"[v % (uint32_t)base], v /= (uint32_t)base;
    while (v);
    put(b + i);
}

static void report(const char *name, int trials, int bad, uint32_t check) {
    put(name);
    put(" ");
    put_num((uint32_t)trials, 10);
    put(" ");
    put_num((uint32_t)bad, 10);
    put(" ");
    put_num(check, 16);
    put("\n");
}

static void test_mv(void) {
    lm_rng r;
    uint32_t check = 0;
    int t, i, bad = 0;
    lm_rng_seed(&r, 1);
    for (t = 0; t < KT_MV_CASES; t++) {
        int stride, nb;
        kt_mv_case(&r, t, &C);
        stride = C.bits == 4 ? (C.cols + 1) / 2 : C.cols;
        nb = C.rows * kt_mode_bytes(C.mode);
        for (i = 0; i < C.rows; i++) c64_rec_put(REC + C64_REC_BYTES * i, c64_row_sumsq(C.bits, C.w + i * stride, C.cols), &C.rq[i]);
        kt_mv_ref(&C, WANT, ACC);
        memcpy(GOT, C.init, sizeof C.init);
        c64_mv_input(C.x, (uint8_t)C.cols, (uint8_t)C.bits);
        c64_mv.out = GOT;
        c64_mv.w_off = (uint16_t)C.w;
        c64_mv.rec_off = (uint16_t)REC;
        c64_mv.rows = (uint16_t)C.rows;
        c64_mv.mode = (uint8_t)C.mode;
        c64_mv_run();
        bad += memcmp(WANT, GOT, (unsigned)nb) != 0;
        check = crc32_update(check, WANT, (unsigned)nb);
    }
    report("mv", KT_MV_CASES, bad, check);
}

static void test_rq(void) {
    lm_rng r;
    uint32_t check = 0;
    int mode, bad = 0;
    lm_rng_seed(&r, 2);
    for (mode = 0; mode < 4; mode++) {
        int nb = KT_RQ_N * kt_mode_bytes(mode);
        kt_rq_case(&r, mode, ACC, RQ, INIT);
        kt_rq_ref(mode, ACC, RQ, INIT, WANT);
        memcpy(GOT, INIT, sizeof INIT);
        c64_requant((uint8_t)mode, GOT, ACC, RQ, KT_RQ_N);
        bad += memcmp(WANT, GOT, (unsigned)nb) != 0;
        check = crc32_update(check, WANT, (unsigned)nb);
    }
    report("rq", 4, bad, check);
}

static void test_norm(void) {
    lm_rng r;
    uint32_t check = 0;
    int t, bad = 0;
    lm_rng_seed(&r, 3);
    for (t = 0; t < KT_NORM_CASES; t++) {
        kt_norm_case(&r, t, &NC);
        lm_rmsnorm_q8((int8_t *)WANT, NC.x, NC.g, NC.gk, NC.n, NC.eps);
        c64_rmsnorm((int8_t *)GOT, NC.x, NC.g, (uint8_t)NC.gk, (uint8_t)NC.n, NC.eps);
        bad += memcmp(WANT, GOT, (unsigned)NC.n) != 0;
        check = crc32_update(check, WANT, (unsigned)NC.n);
    }
    report("norm", KT_NORM_CASES, bad, check);
}

// One attention case's results by the assembly, in kt_att_ref's layout.
static void att_asm(uint8_t *out) {
    unsigned at = 0;
    int i, n = kt_rope_n(&AC);
    c64_rope((int16_t *)out, AC.v, (uint8_t)n, (uint8_t)AC.rhs, AC.cs);
    at += 2 * (unsigned)n;
    for (i = 0; i < AC.n; i++) {  // the records of the KV cache (c64_kvrec), read back as a stream
        memcpy(VB + i * KT_ATT_HS, AC.val + i * KT_ATT_HS, KT_ATT_HS);
        c64_kvrec(KB + i * C64_KREC(KT_ATT_HS), AC.k + i * KT_ATT_HS, (int8_t *)VB + i * KT_ATT_HS);
    }
    ws_seek(C64_KV_STREAM, (uint16_t)KB);
    c64_scores((int32_t *)(out + at), AC.q, (uint16_t)AC.n);
    at += 4 * (unsigned)AC.n;
    memcpy(PIN, AC.s, 4 * (unsigned)AC.n);  // (in place, as the forward does: p_t in the low halves)
    c64_att_layer(AC.cm_ck_dlim);
    c64_att_max = AC.s[lm_argmax(AC.s, AC.n)];
    c64_softmax(PIN, (uint16_t)AC.n);
    for (i = 0; i < AC.n; i++) memcpy(out + at + 2 * i, PIN + i, 2);
    at += 2 * (unsigned)AC.n;
    lm_softmax_q15((uint16_t *)TMP, AC.s, AC.n, AC.cm_ck_dlim[0], (int)AC.cm_ck_dlim[1], AC.cm_ck_dlim[2]);
    for (i = AC.n - 1; i >= 0; i--) PIN[i] = ((uint16_t *)TMP)[i];  // p*v over the reference's p
    ws_seek(C64_KV_STREAM, (uint16_t)VB);
    c64_pv(TMP, PIN, (uint16_t)AC.n);
    memcpy(out + at, TMP, 4 * KT_ATT_HS);
    at += 4 * KT_ATT_HS;
    c64_glu((int8_t *)(out + at), AC.h1, AC.h3, AC.silu, &AC.glu, (uint8_t)AC.n);
    at += (unsigned)AC.n;
    {  // the sampler's weights: (tm, tk, dlim) = (cm, ck, dlim), c64_sample_weights's steps
        uint32_t S;
        S = c64_exp2s((uint32_t *)(out + at), AC.s, (uint16_t)AC.n);
        at += 4 * (unsigned)AC.n;
        memcpy(out + at, &S, 4);
    }
}

static void test_att(void) {
    lm_rng r;
    uint32_t check = 0;
    int t, bad = 0;
    lm_rng_seed(&r, 4);
    for (t = 0; t < KT_ATT_CASES; t++) {
        unsigned nb;
        kt_att_case(&r, t, &AC);
        nb = kt_att_ref(&AC, WANT);
        att_asm(GOT);
        bad += memcmp(WANT, GOT, nb) != 0;
        check = crc32_update(check, WANT, nb);
    }
    report("att", KT_ATT_CASES, bad, check);
}

// Softmaxes longer than the attention cases (the normalisation's shifts for sums of 2^24 and more),
// and p*v over the last one (300 positions), its probabilities in WANT.
static void test_smx(void) {
    lm_rng r;
    uint32_t check = 0;
    int t, i, b, bad = 0;
    lm_rng_seed(&r, 5);
    for (t = 0; t < KT_SMX_CASES; t++) {
        int n = kt_smx_case(&r, t, SL, AC.cm_ck_dlim);
        lm_softmax_q15((uint16_t *)WANT, SL, n, AC.cm_ck_dlim[0], (int)AC.cm_ck_dlim[1], AC.cm_ck_dlim[2]);
        c64_att_layer(AC.cm_ck_dlim);
        c64_att_max = SL[lm_argmax(SL, n)];
        c64_softmax(SL, (uint16_t)n);
        for (i = 0, b = 0; i < n; i++) b |= memcmp(WANT + 2 * i, SL + i, 2);
        bad += b != 0;
        check = crc32_update(check, WANT, 2 * (unsigned)n);
    }
    {  // p*v over 300 positions: values after the scores
        const uint16_t *p = (const uint16_t *)WANT;
        int32_t *p32 = SL;  // (the softmax's slots, as c64_softmax leaves them)
        int8_t *v = PVL_V;
        int32_t o[KT_ATT_HS];
        for (i = 0; i < KT_PVL_N * KT_ATT_HS; i++) v[i] = kt_val(&r);
        for (i = 0; i < KT_ATT_HS; i++) o[i] = 0;
        for (t = 0; t < KT_PVL_N; t++)
            for (i = 0; i < KT_ATT_HS; i++) o[i] += (int32_t)p[t] * v[t * KT_ATT_HS + i];
        for (i = 0; i < KT_PVL_N * KT_ATT_HS; i++)
            if (v[i] < 0) v[i] = (int8_t)(uint8_t)(128 - v[i]);  // the value records
        ws_seek(C64_KV_STREAM, (uint16_t)v);
        c64_pv(TMP, p32, KT_PVL_N);
        bad += memcmp(o, TMP, sizeof o) != 0;
        check = crc32_update(check, o, sizeof o);
    }
    report("smx", KT_SMX_CASES + 1, bad, check);
}

int main(void) {
    c64_mul_init();
    test_att();
    test_smx();
    test_norm();
    test_rq();
    test_mv();
    return 0;
}
