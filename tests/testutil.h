// testutil.h: what every test binary shares. Include after the cmocka prerequisites.
#ifndef RQ_TESTUTIL_H
#define RQ_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/binio.h"
#include "model/llama.h"

// Path of a file in the shared data folder (../shared/data, or $RQ_DATA). When it is missing the
// test is skipped on a developer machine but FAILS under CI (CI=true), so CI never passes by
// skipping. Returns a static buffer; call again for another path.
const char *rq_test_data(const char *rel);
// The built CLI ($RQ_BIN, default build/retroqat).
const char *rq_test_bin(void);
// A fresh scratch directory for this test (under $RQ_TMP), removed and recreated.
const char *rq_test_tmpdir(const char *name);
// Run a shell command; stdout and stderr are captured into malloc'd strings (either may be NULL
// to discard). Returns the exit status (128+signal when killed).
int rq_test_run(char **out, char **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// A whole file, NUL-terminated and malloc'd (its length in *len when len is not NULL); fails the
// test when it cannot be opened.
char *rq_test_read_file(const char *path, size_t *len);
// Write a text file (fails the test on error).
void rq_test_write(const char *path, const char *text);
// Everything written so far to the temporary file f (a run's captured output), malloc'd.
char *rq_test_slurp(FILE *f);

// RQF containers (base/rqfile.h) in memory: the file offset of section tag's payload (its length in
// *len), or -1 when absent; and the trailing CRC-32 recomputed after a test patched the bytes, so
// the mutation reaches the parser behind the checksum.
long rq_test_rqf_section(const uint8_t *d, size_t n, const char *tag, uint32_t *len);
void rq_test_rqf_fix_crc(uint8_t *d, size_t n);
// Write bytes to a file (fails the test on error).
void rq_test_write_bytes(const char *path, const void *data, size_t n);

// A small synthetic chat dataset DIR/chat.txt (6 intents, 150 lines) and a config for it at
// DIR/chat.json (path in cfg) that trains in about a second: `epochs` epochs.
void rq_test_chat_fixture(const char *dir, int epochs, char *cfg, size_t ncfg);

// Train the small chat model of the Z80 target tests on the bundled data (64+64 -> 64 -> 48 -> C,
// 2 epochs, seed 5: a few seconds) into DIR/run (fails the test on error); the checkpoint's path
// goes to ckpt.
void rq_test_train_small_chat(const char *dir, char *ckpt, size_t nckpt);

// A llama2.c version-1 file of model m, built by hand (header of 256 bytes; norms, embedding,
// matrices, [wcls]), appended to b.
void rq_test_llama_v1(const llama_model *m, rq_buf *b);

#endif
