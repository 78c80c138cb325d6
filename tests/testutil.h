// testutil.h: what every test binary shares. Include after the cmocka prerequisites.
#ifndef RQ_TESTUTIL_H
#define RQ_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

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
// Write a text file (fails the test on error).
void rq_test_write(const char *path, const char *text);
// Everything written so far to the temporary file f (a run's captured output), malloc'd.
char *rq_test_slurp(FILE *f);

#endif
