# make fuzz: the seeded fuzz suite (tests/test_fuzz.c) under the ASan/UBSan build, FUZZ_CASES
# mutants per format (FUZZ_SEED picks another reproducible set; FUZZ_ONLY=NAME one format).
# `make test` runs the same binary with its default smoke slice (16 mutants per format).
# Failing inputs land in build/san/tmp/fuzz/crashes/; fixed, they move to tests/fuzz/FORMAT/.
FUZZ_CASES ?= 200
FUZZ_SEED ?= 1
.PHONY: fuzz
fuzz:
	@$(MAKE) --no-print-directory SAN=1 build/san/retroqat build/san/tests/test_fuzz
	OPENBLAS_NUM_THREADS=1 RQ_FUZZ_CASES=$(FUZZ_CASES) RQ_FUZZ_SEED=$(FUZZ_SEED) $(if $(FUZZ_ONLY),RQ_FUZZ_ONLY=$(FUZZ_ONLY)) \
		RQ_BIN=$(abspath build/san/retroqat) RQ_DATA=$(SHARED_DATA) RQ_ROOT=$(CURDIR) RQ_TMP=$(abspath build/san/tmp) \
		nice -n 10 build/san/tests/test_fuzz
