// test_fuzz.c: the seeded fuzz suite over every format the CLI reads.
//
// For each format (one row of FORMATS below) the suite builds a valid seed file once (training a
// tiny model where the format is a checkpoint), then runs the CLI on
//   1. every regression input in tests/fuzz/FORMAT/ (inputs that once crashed or hung), and
//   2. N mutants of the seed (N = $RQ_FUZZ_CASES, default 16, 6 under SAN=1: the smoke slice of `make test`;
//      `make fuzz` runs a few hundred per format under the ASan/UBSan build).
// Mutant i is a pure function of (format, i, $RQ_FUZZ_SEED): the same run finds the same thing.
// The mutations cycle through
//   truncate  at a spread of offsets (every byte of the first 64, then section boundaries +-1,
//             then 1/16ths of the file)
//   bitflip   1-4 bits, half of them in the header / a section's first bytes
//   extreme   a 1/2/4-byte field of the header or of a section head set to 0, 1, -1, 0x7fffffff,
//             0x80000000, 0xffff, 0x10000 or its value +-1 (both byte orders)
//   splice    a block of the file copied over another place, or random bytes inserted
//   text      (text formats) a number replaced by an extreme ("-1", "1e308", "nan", ...), a line
//             deleted or doubled, a BOM, NUL or 8-bit bytes inserted, line ends turned to CR/CRLF
// and, for checksummed containers (RQF's trailing CRC, the .rqm header CRC), the checksum is
// recomputed for 7 mutants in 8 so the mutation reaches the parser behind it.
//
// A case FAILS on a signal, a sanitizer report, a hang (no exit within the timeout), an exit code
// other than 0, 1 or 2 (a .COM may exit with anything: its code is the program's), or a nonzero
// exit without a "retroqat: " message. The failing input is saved as
// $RQ_TMP/fuzz/crashes/FORMAT-CASE.EXT with the command that failed; fix the bug, then move the
// file into tests/fuzz/FORMAT/ so it stays a regression test.
//
// Adding a format (e.g. a new target's image) is one row: a name, a seed (a file the fixture
// setup writes into the seed folder, see make_seeds, or a path in the shared data), the CLI
// arguments with {IN} for the mutated file ({S} = seed folder, {T} = an empty scratch folder per
// case, {TOK} = the shared tokenizer), the checksum it carries, whether it is text, and where
// under {T} to copy the input when the program finds it by name (--resume's last.ckpt).
#include "tests/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/binio.h"
#include "base/crc32.h"
#include "base/endian.h"
#include "base/err.h"
#include "base/rng.h"
#include "model/llama.h"

enum { SUM_NONE, SUM_RQF, SUM_RQM, SUM_TAP };

typedef struct {
    const char *name;  // also the folder of its regression inputs: tests/fuzz/NAME/
    const char *seed;  // file in the seed folder ({S}/...), or {D}/... in the shared data
    const char *args;  // CLI arguments, space-separated, with {IN} {S} {T} {TOK}
    int sum;           // checksum to recompute after mutating
    int text;          // text format: add the text mutations
    int any_exit;      // the program chooses its exit code (.COM): only signals, reports, hangs fail
    const char *place; // or a path under {T} the input is copied to before the run (a file the
                       // program finds by name, e.g. run/last.ckpt for --resume), next to the
                       // rest of the seed's folder (the run's other files); NULL: none
} fuzz_format;

static const fuzz_format FORMATS[] = {
    {"chat-data", "chat.txt", "data-stats {IN} --json", SUM_NONE, 1, 0, NULL},
    {"chat-config", "chat.json", "train {IN} --out {T}/run --quiet --epochs 1", SUM_NONE, 1, 0, NULL},
    {"llama-config", "llama.json", "train {IN} --out {T}/run --quiet --steps 2", SUM_NONE, 1, 0, NULL},
    {"llama-bin-v0", "llama/model.bin", "generate {IN} -z {TOK} -n 8 -s 1", SUM_NONE, 0, 0, NULL},
    {"llama-bin-v1", "v1.bin", "generate {IN} -z {TOK} -n 8 -s 1", SUM_NONE, 0, 0, NULL},
    {"tokenizer", "{D}/llama2c/tok512.bin", "generate {S}/llama/model.bin -z {IN} -n 8 -s 1", SUM_NONE, 0, 0, NULL},
    {"rqm-le-int8", "le8.rqm", "run {IN} -z {TOK} -n 8 -t 0", SUM_RQM, 0, 0, NULL},
    {"rqm-be-int8", "be8.rqm", "run {IN} -z {TOK} -n 8 -t 0", SUM_RQM, 0, 0, NULL},
    {"rqm-le-int4", "le4.rqm", "run {IN} -z {TOK} -n 8 -t 0", SUM_RQM, 0, 0, NULL},
    {"rqm-be-int4", "be4.rqm", "run {IN} -z {TOK} -n 8 -t 0", SUM_RQM, 0, 0, NULL},
    {"rqm-le-2bit-midrise", "le2m.rqm", "run {IN} -z {TOK} -n 8 -t 0", SUM_RQM, 0, 0, NULL},
    {"rqm-be-int4-midrise", "be4m.rqm", "run {IN} -z {TOK} -n 8 -t 0", SUM_RQM, 0, 0, NULL},
    {"chat-ckpt-eval", "chat/best.ckpt", "eval {IN} --json --data {S}/chat.txt", SUM_RQF, 0, 0, NULL},
    {"chat-ckpt-chat", "chat/best.ckpt", "chat {IN} hello", SUM_RQF, 0, 0, NULL},
    {"llama-ckpt", "llama/best.ckpt", "generate {IN} -z {TOK} -n 8 -s 1", SUM_RQF, 0, 0, NULL},
    {"qat-ckpt", "qat/best.ckpt", "export {IN} --target host -o {T}/o.rqm", SUM_RQF, 0, 0, NULL},
    {"qat-ckpt-midrise", "qatmr/best.ckpt", "export {IN} --target host -o {T}/o.rqm", SUM_RQF, 0, 0, NULL},
    {"qat-resume", "qatlc/last.ckpt", "train {S}/qatlc.json --out {T}/run --resume --quiet", SUM_RQF, 0, 0, "run/last.ckpt"},
    {"cpm-com", "chat.com", "run --target cpm --dir {T} --timeout 10 --max-tstates 3e7 {IN} hello", SUM_NONE, 0, 1, NULL},
    {"zx48-tap", "chat.tap", "run --target zx48 --timeout 10 --max-tstates 3e7 {IN} hello", SUM_TAP, 0, 1, NULL},
    {"c64-prg", "c64/hi.prg", "run --target c64 --machine c64 --timeout 2 --prg {IN} {S}/c64 hello", SUM_NONE, 0, 1, NULL},
    {"sim65-prg", "c64/hi.sim", "run --target c64 --machine m6502 --timeout 2 --prg {IN} {S}/c64 hello", SUM_NONE, 0, 1, NULL},
    {"c64-reu", "c64/model.reu", "run --target c64 --machine c64 --timeout 2 --reu {IN} {S}/c64 hello", SUM_NONE, 0, 1, NULL},
};
#define N_FORMATS (int)(sizeof FORMATS / sizeof FORMATS[0])

static char seeds[4096], scratch[4096], crashes[4096], tok[4096], data_dir[4096];

// ---- seeds --------------------------------------------------------------------------------------

static void run_ok(const char *what, const char *fmt, const char *a, const char *b, const char *c) {
    char cmd[32768];
    snprintf(cmd, sizeof cmd, fmt, a, b, c);
    char *err;
    int rc = rq_test_run(NULL, &err, "%s %s", rq_test_bin(), cmd);
    if (rc) fail_msg("fuzz seed %s: exit %d: %s\n%s", what, rc, cmd, err);
    free(err);
}

// A tiny llama (dim 16, 1 layer) trained for 2 steps on 20 kB of TinyStories: its llama2.c file,
// its checkpoint, a QAT checkpoint from it, its .rqm images; and a chat model with its .COM.
static int make_seeds(void **state) {
    (void)state;
    snprintf(tok, sizeof tok, "%s", rq_test_data("llama2c/tok512.bin"));
    char train[4096];
    snprintf(train, sizeof train, "%s", rq_test_data("tinystories/train.txt"));
    snprintf(data_dir, sizeof data_dir, "%s", getenv("RQ_DATA") ? getenv("RQ_DATA") : "../shared/data");
    const char *base = getenv("RQ_TMP") ? getenv("RQ_TMP") : "/tmp/retroqat-tests";
    snprintf(seeds, sizeof seeds, "%s", rq_test_tmpdir("fuzz"));
    snprintf(scratch, sizeof scratch, "%s/fuzz/case", base);
    snprintf(crashes, sizeof crashes, "%s/fuzz/crashes", base);
    if (rq_mkdir_p(crashes)) fail_msg("%s", rq_last_error());
    char path[4300], cfg[4300], text[32768];
    // 20 kB of stories for the tiny llama
    uint8_t *d;
    size_t n;
    if (rq_read_file(train, &d, &n)) fail_msg("%s", rq_last_error());
    snprintf(path, sizeof path, "%s/stories.txt", seeds);
    rq_test_write_bytes(path, d, n < 20000 ? n : 20000);
    free(d);
    snprintf(cfg, sizeof cfg, "%s/llama.json", seeds);
    snprintf(text, sizeof text,
             "{\"model\": \"llama\", \"tokenizer\": \"%s\",\n"
             " \"arch\": {\"dim\": 16, \"hidden_dim\": 32, \"n_layers\": 1, \"n_heads\": 2, \"n_kv_heads\": 1,\n"
             "          \"vocab_size\": 512, \"seq_len\": 32, \"shared_classifier\": true},\n"
             " \"data\": {\"train\": \"%s\", \"valid\": \"%s\", \"valid_tokens\": 256},\n"
             " \"train\": {\"steps\": 2, \"batch\": 2, \"seq_len\": 32, \"lr\": 1e-3, \"warmup\": 1, \"eval_every\": 2, \"seed\": 3}}\n",
             tok, path, path);
    rq_test_write(cfg, text);
    run_ok("llama", "train %s --out %s/llama --quiet%s", cfg, seeds, "");
    // QAT runs: int8; 2-bit with learned steps and clips (LQSC, LQAC: read back by --resume);
    // int4 on the midrise grid (LQAT's bit 31, a version 4 model.rqm)
    const char *qat[3][2] = {{"qat", "\"wbits\": 8, \"calib_tokens\": 256"},
                             {"qatlc", "\"wbits\": 2, \"calib_tokens\": 256, \"lsq\": true, \"learn_clips\": true"},
                             {"qatmr", "\"wbits\": 4, \"calib_tokens\": 256, \"lsq\": true, \"midrise\": true"}};
    for (int i = 0; i < 3; i++) {
        snprintf(cfg, sizeof cfg, "%s/%s.json", seeds, qat[i][0]);
        snprintf(text, sizeof text,
                 "{\"model\": \"llama-int8\", \"init\": \"%s/llama/model.bin\", \"tokenizer\": \"%s\",\n"
                 " \"data\": {\"train\": \"%s\", \"valid\": \"%s\", \"valid_tokens\": 256},\n"
                 " \"train\": {\"steps\": 2, \"batch\": 2, \"seq_len\": 32, \"lr\": 1e-4, \"warmup\": 1, \"eval_every\": 2, \"seed\": 3},\n"
                 " \"qat\": {%s}}\n",
                 seeds, tok, path, path, qat[i][1]);
        rq_test_write(cfg, text);
        run_ok(qat[i][0], "train %s --out %s/%s --quiet", cfg, seeds, qat[i][0]);
    }
    const char *rqm[6][2] = {{"le8", ""}, {"be8", " --endian big"}, {"le4", " --wbits 4"}, {"be4", " --endian big --wbits 4"},
                             {"le2m", " --wbits 2 --midrise"}, {"be4m", " --endian big --wbits 4 --midrise"}};
    for (int i = 0; i < 6; i++) {
        char o[4400];
        snprintf(o, sizeof o, "%s/%s.rqm%s", seeds, rqm[i][0], rqm[i][1]);
        run_ok("rqm", "export %s/llama/model.bin --target host -o %s%s", seeds, o, "");
    }
    llama_model m;
    snprintf(path, sizeof path, "%s/llama/model.bin", seeds);
    if (llama_load(&m, path)) fail_msg("%s", rq_last_error());
    rq_buf b = {0};
    rq_test_llama_v1(&m, &b);
    snprintf(path, sizeof path, "%s/v1.bin", seeds);
    rq_test_write_bytes(path, b.data, b.len);
    rq_buf_free(&b);
    llama_free(&m);
    rq_test_chat_fixture(seeds, 6, cfg, sizeof cfg);
    run_ok("chat", "train %s --out %s/chat --quiet%s", cfg, seeds, "");
    run_ok("com", "export %s/chat/best.ckpt --target cpm -o %s/chat.com%s", seeds, seeds, "");
    run_ok("tap", "export %s/chat/best.ckpt --target zx48 -o %s/chat.tap%s", seeds, seeds, "");
    // the c64 target's loaders (its .prg, sim65's program format, an REU image), on hand-made
    // programs that print "HI": a folder a chat export would be
    static const uint8_t HI_PRG[] = {0x01, 0x08, 0x0B, 0x08, 0x0A, 0x00, 0x9E, '2', '0', '6', '1', 0x00, 0x00, 0x00,  // 10 SYS2061
                                     0xA2, 0x00, 0xBD, 0x1F, 0x08, 0xF0, 0x06, 0x20, 0xD2, 0xFF, 0xE8, 0xD0, 0xF5,  // print $081F..
                                     0xA9, 0x00, 0x85, 0x90, 0x60, 0xC8, 0x49, 0x0D, 0x00};                         // ST = 0, RTS
    static const uint8_t HI_SIM[] = {'s', 'i', 'm', '6', '5', 2, 0, 0x02, 0x00, 0x02, 0x00, 0x02,  // header: sp at $02, $0200
                                     0xA9, 0xFC, 0x85, 0x02, 0xA9, 0x1F, 0x85, 0x03,               // C stack at $1FFC
                                     0xA9, 0x28, 0x8D, 0xFC, 0x1F, 0xA9, 0x02, 0x8D, 0xFD, 0x1F,   // buf $0228
                                     0xA9, 0x01, 0x8D, 0xFE, 0x1F, 0xA9, 0x00, 0x8D, 0xFF, 0x1F,   // fd 1
                                     0xA9, 0x03, 0xA2, 0x00, 0x20, 0xF7, 0xFF,                     // write(1, buf, 3)
                                     0xA9, 0x00, 0x4C, 0xF9, 0xFF, 'H', 'I', '\n'};               // exit(0)
    static const char MANIFEST[] = "target c64\nfamily chat\nprg hi.prg\nsim hi.sim\n";
    snprintf(path, sizeof path, "%s/c64", seeds);
    if (rq_mkdir_p(path)) fail_msg("%s", rq_last_error());
    const struct {
        const char *name;
        const void *d;
        size_t n;
    } c64f[] = {{"hi.prg", HI_PRG, sizeof HI_PRG}, {"hi.sim", HI_SIM, sizeof HI_SIM}, {"target.txt", MANIFEST, sizeof MANIFEST - 1},
                {"model.rqi", "RQCI", 4}};
    for (size_t i = 0; i < sizeof c64f / sizeof c64f[0]; i++) {
        snprintf(path, sizeof path, "%s/c64/%s", seeds, c64f[i].name);
        rq_test_write_bytes(path, c64f[i].d, c64f[i].n);
    }
    uint8_t *reu = calloc(128 << 10, 1);
    memcpy(reu, "RQCI", 4);
    snprintf(path, sizeof path, "%s/c64/model.reu", seeds);
    rq_test_write_bytes(path, reu, 128 << 10);
    free(reu);
    return 0;
}

// ---- mutations ----------------------------------------------------------------------------------

typedef struct {
    uint8_t *d;
    size_t n, cap;
} bytes;

static void reserve(bytes *b, size_t n) {
    if (n + 1 > b->cap) b->d = realloc(b->d, b->cap = 2 * n + 64);
}

static void insert(bytes *b, size_t at, const void *src, size_t k) {
    reserve(b, b->n + k);
    memmove(b->d + at + k, b->d + at, b->n - at);
    memcpy(b->d + at, src, k);
    b->n += k;
}

static void erase(bytes *b, size_t at, size_t k) {
    memmove(b->d + at, b->d + at + k, b->n - at - k);
    b->n -= k;
}

// Offsets where a header field or a section head starts: the first 64 bytes, and for the
// containers every section table entry and the first 16 bytes of every section.
static int interesting(const fuzz_format *f, const uint8_t *d, size_t n, size_t *out, int cap) {
    int k = 0;
    for (size_t i = 0; i < 64 && i < n && k < cap; i += 1) out[k++] = i;
    if (f->sum == SUM_RQF && n >= 20) {
        uint32_t ns = rq_rd_u32le(d + 16);
        for (uint32_t s = 0; s < ns && s < 64 && 20 + 12 * (size_t)(s + 1) <= n; s++) {
            for (int j = 0; j < 12 && k < cap; j += 4) out[k++] = 20 + 12 * s + (size_t)j;
            uint32_t off = rq_rd_u32le(d + 20 + 12 * s + 4);
            for (int j = 0; j < 16 && off + (size_t)j < n && k < cap; j += 4) out[k++] = off + (size_t)j;
        }
    } else if (f->sum == SUM_RQM && n >= 64) {
        int be = d[4] == 1;
        uint32_t ns = be ? rq_rd_u32be(d + 60) : rq_rd_u32le(d + 60);
        for (uint32_t s = 0; s < ns && s < 64 && 64 + 12 * (size_t)(s + 1) <= n; s++) {
            for (int j = 0; j < 12 && k < cap; j += 4) out[k++] = 64 + 12 * s + (size_t)j;
            uint32_t off = be ? rq_rd_u32be(d + 64 + 12 * s + 4) : rq_rd_u32le(d + 64 + 12 * s + 4);
            for (int j = 0; j < 16 && off + (size_t)j < n && k < cap; j += 4) out[k++] = off + (size_t)j;
        }
    } else {
        for (size_t i = 64; i < 256 && i < n && k < cap; i += 4) out[k++] = i;
    }
    return k;
}

static void fix_sum(const fuzz_format *f, bytes *b) {
    if (f->sum == SUM_TAP)  // every whole block's XOR checksum (its last byte)
        for (size_t at = 0; at + 2 <= b->n;) {
            size_t len = rq_rd_u16le(b->d + at);
            if (len < 2 || at + 2 + len > b->n) break;
            uint8_t x = 0;
            for (size_t i = 0; i + 1 < len; i++) x ^= b->d[at + 2 + i];
            b->d[at + 2 + len - 1] = x;
            at += 2 + len;
        }
    if (f->sum == SUM_RQF && b->n >= 24) rq_test_rqf_fix_crc(b->d, b->n);
    if (f->sum == SUM_RQM && b->n >= 16) {
        int be = b->d[4] == 1;
        uint32_t total = be ? rq_rd_u32be(b->d + 8) : rq_rd_u32le(b->d + 8);
        if (total < 16 || total > b->n) total = (uint32_t)b->n;
        uint32_t crc = crc32_update(0, b->d + 16, total - 16);
        if (be) rq_wr_u32be(b->d + 12, crc); else rq_wr_u32le(b->d + 12, crc);
    }
}

static void mutate_text(pcg32 *r, bytes *b) {
    static const char *nums[] = {"0", "-1", "1", "2147483648", "-2147483649", "4294967296", "1e308", "-1e308", "nan", "inf",
                                 "0.5", "-0", "99999999999999999999", "1e-320", "65536", "1048577"};
    static const char *junk[] = {"\xEF\xBB\xBF", "\r", "\r\n", "\n", "", "\xff\xfe", "\x80", "|", "{", "}", "[", "]", "\"", ",", "\\"};
    switch (pcg32_bounded(r, 6)) {
    case 0: {  // a number -> an extreme
        size_t starts[4096];
        int k = 0;
        for (size_t i = 0; i < b->n && k < 4096; i++)
            if (b->d[i] >= '0' && b->d[i] <= '9' && (i == 0 || !(b->d[i - 1] >= '0' && b->d[i - 1] <= '9') ) && b->d[i - (i > 0)] != '.')
                starts[k++] = i;
        if (!k) break;
        size_t at = starts[pcg32_bounded(r, (uint32_t)k)], e = at;
        while (e < b->n && ((b->d[e] >= '0' && b->d[e] <= '9') || b->d[e] == '.' || b->d[e] == 'e' || b->d[e] == '-')) e++;
        erase(b, at, e - at);
        const char *s = nums[pcg32_bounded(r, sizeof nums / sizeof nums[0])];
        insert(b, at, s, strlen(s));
        break;
    }
    case 1: case 2: {  // delete (1) or double (2) a line
        size_t lines[8192];
        int k = 0;
        for (size_t i = 0; i < b->n && k < 8192; i++)
            if (i == 0 || b->d[i - 1] == '\n') lines[k++] = i;
        if (!k) break;
        int li = (int)pcg32_bounded(r, (uint32_t)k);
        size_t s = lines[li], e = li + 1 < k ? lines[li + 1] : b->n;
        if (b->d[0] == '{' && li == 0 && k > 1) break;  // keep the JSON opening most of the time
        if (pcg32_bounded(r, 2)) erase(b, s, e - s);
        else {
            uint8_t *copy = malloc(e - s + 1);
            memcpy(copy, b->d + s, e - s);
            insert(b, s, copy, e - s);
            free(copy);
        }
        break;
    }
    case 3: {  // junk at a random place (BOM at the start one time in four)
        const char *s = junk[pcg32_bounded(r, sizeof junk / sizeof junk[0])];
        size_t at = pcg32_bounded(r, 4) == 0 ? 0 : pcg32_bounded(r, (uint32_t)b->n + 1);
        if (!*s) insert(b, at, "\0", 1);
        else insert(b, at, s, strlen(s));
        break;
    }
    case 4: {  // every LF to CR (CR-only files) or to CR LF
        int cr = pcg32_bounded(r, 2);
        for (size_t i = 0; i < b->n; i++)
            if (b->d[i] == '\n') {
                if (cr) b->d[i] = '\r';
                else insert(b, i++, "\r", 1);
            }
        break;
    }
    default: {  // a string value -> a path that is not a regular file, or empty
        static const char *paths[] = {"/", "/dev/null", "/nonexistent", "", ".", "/dev/zero"};
        for (size_t i = 0; i + 1 < b->n; i++)
            if (b->d[i] == '"' && b->d[i + 1] == '/' && pcg32_bounded(r, 3) == 0) {
                size_t e = i + 1;
                while (e < b->n && b->d[e] != '"') e++;
                erase(b, i + 1, e - i - 1);
                const char *s = paths[pcg32_bounded(r, sizeof paths / sizeof paths[0])];
                insert(b, i + 1, s, strlen(s));
                break;
            }
        break;
    }
    }
}

// Mutant `i` of seed (d, n) into *b.
static void mutate(const fuzz_format *f, int i, uint64_t seed, const uint8_t *d, size_t n, bytes *b) {
    pcg32 r;
    uint64_t h = 1469598103934665603ull;
    for (const char *p = f->name; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
    pcg32_seed(&r, seed ^ h, (uint64_t)i);
    b->n = 0;
    reserve(b, n);
    memcpy(b->d, d, n);
    b->n = n;
    size_t pos[1024];
    int np = interesting(f, d, n, pos, 1024);
    // Text formats get more text mutations than byte-level ones (a flipped bit mostly breaks the
    // syntax; an extreme number or a doubled line reaches the checks behind the parser).
    static const int BIN_KINDS[] = {0, 1, 2, 3}, TEXT_KINDS[] = {0, 4, 1, 4, 3, 4};
    const int *kinds = f->text ? TEXT_KINDS : BIN_KINDS;
    int nk = f->text ? 6 : 4;
    int kind = kinds[i % nk], round = i / nk;
    switch (kind) {
    case 0: {  // truncate: every byte of the first 64, section starts +-1, 1/16ths
        size_t at;
        if (round < 64) at = (size_t)round;
        else if (round - 64 < np) at = pos[round - 64] + (size_t)(pcg32_bounded(&r, 3)) - 1;
        else at = n * (size_t)(1 + (round - 64 - np) % 15) / 16;
        if (at < n) b->n = at;
        break;
    }
    case 1: {  // bit flips
        int k = 1 + (int)pcg32_bounded(&r, 4);
        for (int j = 0; j < k && n; j++) {
            size_t at = pcg32_bounded(&r, 2) && np ? pos[pcg32_bounded(&r, (uint32_t)np)] : pcg32_bounded(&r, (uint32_t)n);
            b->d[at] ^= (uint8_t)(1u << pcg32_bounded(&r, 8));
        }
        break;
    }
    case 2: {  // a field at an extreme
        static const uint32_t ext[] = {0, 1, 0xFFFFFFFFu, 0x7FFFFFFFu, 0x80000000u, 0xFFFFu, 0x10000u, 0xFFu, 0x100u, 2, 3, 0x7FFFu};
        if (!np) break;
        size_t at = pos[pcg32_bounded(&r, (uint32_t)np)];
        uint32_t cur = at + 4 <= n ? rq_rd_u32le(d + at) : 0;
        uint32_t choice = pcg32_bounded(&r, 14);
        uint32_t v = choice < 12 ? ext[choice] : choice == 12 ? cur + 1 : cur - 1;
        int width = (int)(1u << pcg32_bounded(&r, 3));  // 1, 2 or 4 bytes
        int be = pcg32_bounded(&r, 2);
        for (int j = 0; j < width && at + (size_t)j < n; j++)
            b->d[at + (size_t)j] = (uint8_t)(v >> (8 * (be ? width - 1 - j : j)));
        break;
    }
    case 3: {  // splice: copy a block over another place, or insert random bytes
        if (n < 2) break;
        size_t len = 1 + pcg32_bounded(&r, 64);
        if (len > n / 2) len = n / 2 ? n / 2 : 1;
        size_t from = pcg32_bounded(&r, (uint32_t)(n - len + 1)), to = np && pcg32_bounded(&r, 2) ? pos[pcg32_bounded(&r, (uint32_t)np)] : pcg32_bounded(&r, (uint32_t)(n - len + 1));
        if (pcg32_bounded(&r, 2)) {
            if (to + len <= n) memmove(b->d + to, d + from, len);
        } else {
            uint8_t junk[64];
            for (size_t j = 0; j < len; j++) junk[j] = (uint8_t)pcg32_next(&r);
            insert(b, to < b->n ? to : b->n, junk, len);
        }
        break;
    }
    default:
        mutate_text(&r, b);
        if (pcg32_bounded(&r, 2)) mutate_text(&r, b);
        break;
    }
    if (f->sum != SUM_NONE && pcg32_bounded(&r, 8) != 0) fix_sum(f, b);
}

// ---- running one case ---------------------------------------------------------------------------

typedef struct {
    int exit0, exit1, exit2, other, failed;
} tally;

// {IN} {S} {T} {TOK} {D} replaced; arguments split on spaces (no argument here has one).
// The joined command line (for messages) is left in `line`.
static int build_argv(const char *tmpl, const char *in, char **argv, int cap, char *store, size_t nstore, char *line) {
    size_t o = 0;
    for (const char *p = tmpl; *p && o + 1 < 16384;) {
        const char *rep = NULL;
        size_t skip = 0;
        if (!strncmp(p, "{IN}", 4)) rep = in, skip = 4;
        else if (!strncmp(p, "{S}", 3)) rep = seeds, skip = 3;
        else if (!strncmp(p, "{T}", 3)) rep = scratch, skip = 3;
        else if (!strncmp(p, "{TOK}", 5)) rep = tok, skip = 5;
        else if (!strncmp(p, "{D}", 3)) rep = data_dir, skip = 3;
        if (rep) {
            o += (size_t)snprintf(line + o, 16384 - o, "%s", rep);
            p += skip;
        } else {
            line[o++] = *p++;
        }
    }
    line[o] = 0;
    snprintf(store, nstore, "%s", line);
    int argc = 0;
    argv[argc++] = (char *)rq_test_bin();
    for (char *t = strtok(store, " "); t && argc < cap - 1; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    return argc;
}

static char *slurp_text(const char *path) {
    uint8_t *d;
    size_t n;
    if (rq_read_file(path, &d, &n)) return strdup("");
    return (char *)d;
}

// Run the CLI on `in`; 0 when the outcome is acceptable, else a description in why.
static int run_case(const fuzz_format *f, const char *in, double timeout, tally *t, char *why, size_t nwhy) {
    char cmd[8300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", scratch, scratch);
    if (system(cmd) != 0) fail_msg("cannot reset %s", scratch);
    char store[16384], line[16384], errpath[4300];
    char *argv[64];
    build_argv(f->args, in, argv, 64, store, sizeof store, line);
    if (f->place) {  // the seed's folder, then the input over the file it names
        char pc[20000];
        snprintf(pc, sizeof pc, "d=\"$(dirname '%s/%s')\" && mkdir -p \"$d\" && cp -r '%s/%.*s'/. \"$d\" && cp '%s' '%s/%s'", scratch, f->place,
                 seeds, (int)(strrchr(f->seed, '/') - f->seed), f->seed, in, scratch, f->place);
        if (system(pc) != 0) fail_msg("cannot place %s", in);
    }
    snprintf(errpath, sizeof errpath, "%s.stderr", scratch);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int in_fd = open("/dev/null", O_RDONLY), out_fd = open("/dev/null", O_WRONLY);
        int err_fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(in_fd, 0), dup2(out_fd, 1), dup2(err_fd, 2);
        // Sanitizer errors abort (a signal, never mistaken for exit 1); a huge allocation is an
        // out-of-memory exit, not a report, as it would be without the sanitizer.
        setenv("ASAN_OPTIONS", "abort_on_error=1:allocator_may_return_null=1:max_allocation_size_mb=3072:detect_leaks=1", 1);
        setenv("UBSAN_OPTIONS", "abort_on_error=1:print_stacktrace=1:halt_on_error=1", 1);
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
#ifndef __SANITIZE_ADDRESS__
        struct rlimit lim = {(rlim_t)3 << 30, (rlim_t)3 << 30};  // 3 GiB of address space
        setrlimit(RLIMIT_AS, &lim);
#endif
        execv(argv[0], argv);
        _exit(127);
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int st = 0, hung = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec) > timeout) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            hung = 1;
            break;
        }
        usleep(2000);
    }
    char *err = slurp_text(errpath);
    int bad = 0;
    if (hung) bad = snprintf(why, nwhy, "hang: no exit within %.0f s", timeout);
    else if (WIFSIGNALED(st)) bad = snprintf(why, nwhy, "signal %d", WTERMSIG(st));
    else if (strstr(err, "Sanitizer") || strstr(err, "runtime error:")) bad = snprintf(why, nwhy, "sanitizer report");
    else {
        int rc = WEXITSTATUS(st);
        if (rc == 0) t->exit0++;
        else if (rc == 1) t->exit1++;
        else if (rc == 2) t->exit2++;
        else t->other++;
        if (!f->any_exit && rc > 2) bad = snprintf(why, nwhy, "exit code %d", rc);
        else if (!f->any_exit && rc != 0 && !strstr(err, "retroqat: ")) bad = snprintf(why, nwhy, "exit %d without a message", rc);
    }
    if (getenv("RQ_FUZZ_VERBOSE")) fprintf(stderr, "  %s: %.*s\n", f->name, (int)strcspn(err, "\n"), err);
    if (bad) {
        size_t k = strlen(why);
        snprintf(why + k, nwhy - k, "\n  command: %s %s\n  stderr: %.1500s", rq_test_bin(), line, err);
    }
    free(err);
    return bad != 0;
}

// ---- the suite ----------------------------------------------------------------------------------

static void fuzz_one(const fuzz_format *f, int cases, uint64_t seed, double timeout) {
    char seed_path[4200];
    if (!strncmp(f->seed, "{D}/", 4)) snprintf(seed_path, sizeof seed_path, "%s/%s", data_dir, f->seed + 4);
    else snprintf(seed_path, sizeof seed_path, "%s/%s", seeds, f->seed);
    uint8_t *d;
    size_t n;
    if (rq_read_file(seed_path, &d, &n)) fail_msg("%s", rq_last_error());
    const char *ext = strrchr(f->seed, '.');
    tally t = {0};
    char why[4096];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    // the seed itself must be accepted
    if (run_case(f, seed_path, timeout, &t, why, sizeof why) || t.exit0 != 1) fail_msg("%s: the seed is not accepted: %s", f->name, why);
    // regression inputs: tests/fuzz/NAME/*
    char reg[4200];
    const char *root = getenv("RQ_ROOT") ? getenv("RQ_ROOT") : ".";
    snprintf(reg, sizeof reg, "%s/tests/fuzz/%s", root, f->name);
    int n_reg = 0;
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "ls -1 '%s' 2>/dev/null", reg);
    FILE *ls = popen(cmd, "r");
    char name[512];
    while (ls && fgets(name, sizeof name, ls)) {
        name[strcspn(name, "\n")] = 0;
        char p[4800];
        snprintf(p, sizeof p, "%s/%s", reg, name);
        n_reg++;
        if (run_case(f, p, timeout, &t, why, sizeof why)) {
            t.failed++;
            fprintf(stderr, "FUZZ FAIL %s regression %s: %s\n", f->name, name, why);
        }
    }
    if (ls) pclose(ls);
    bytes b = {0};
    char in[4300];
    snprintf(in, sizeof in, "%s/../input%s", scratch, ext ? ext : "");
    for (int i = 0; i < cases; i++) {
        mutate(f, i, seed, d, n, &b);
        rq_test_write_bytes(in, b.d, b.n);
        if (run_case(f, in, timeout, &t, why, sizeof why)) {
            t.failed++;
            char keep[4600];
            snprintf(keep, sizeof keep, "%s/%s-%d%s", crashes, f->name, i, ext ? ext : "");
            rq_test_write_bytes(keep, b.d, b.n);
            fprintf(stderr, "FUZZ FAIL %s case %d (saved %s): %s\n", f->name, i, keep, why);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("fuzz %-15s %4d cases + %d regression: exit 0: %d, exit 1: %d, exit 2: %d, other: %d, FAILED: %d (%.1f s)\n", f->name,
           cases, n_reg, t.exit0 - 1, t.exit1, t.exit2, t.other, t.failed,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    fflush(stdout);
    free(b.d);
    free(d);
    if (t.failed) fail_msg("%s: %d failing inputs (saved in %s)", f->name, t.failed, crashes);
}

static void test_fuzz(void **state) {
    const fuzz_format *f = *state;
    const char *c = getenv("RQ_FUZZ_CASES"), *s = getenv("RQ_FUZZ_SEED"), *to = getenv("RQ_FUZZ_TIMEOUT");
#ifdef __SANITIZE_ADDRESS__
    int cases = c ? atoi(c) : 6;  // make test SAN=1: the sanitizers see every format; make fuzz runs hundreds
#else
    int cases = c ? atoi(c) : 16;
#endif
    uint64_t seed = s ? strtoull(s, NULL, 0) : 1;
    double timeout = to ? atof(to) : 60;
    fuzz_one(f, cases, seed, timeout);
}

int main(void) {
    struct CMUnitTest tests[N_FORMATS];
    const char *only = getenv("RQ_FUZZ_ONLY");  // e.g. RQ_FUZZ_ONLY=rqm-le-int8: one format
    int n = 0;
    for (int i = 0; i < N_FORMATS; i++) {
        if (only && strcmp(only, FORMATS[i].name) != 0) continue;
        tests[n] = (struct CMUnitTest){FORMATS[i].name, test_fuzz, NULL, NULL, (void *)&FORMATS[i]};
        n++;
    }
    return _cmocka_run_group_tests("fuzz", tests, (size_t)n, make_seeds, NULL);
}
