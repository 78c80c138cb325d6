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

# make fuzz-libfuzzer: coverage-guided libFuzzer runs of the binary parsers (fuzz/fuzz_*.c: RQF
# container + llama checkpoint, .rqm image, llama2.c .bin, tokenizer, chat image), for longer
# campaigns outside CI: LIBFUZZER_SECONDS per harness, corpus kept in build/libfuzzer/corpus/NAME
# (seeded from the fuzz suite's seeds when `make fuzz` has run), crashes in build/libfuzzer/.
# Needs clang and its runtime (scripts/deps.sh --libfuzzer installs them; `make test` does not).
LF_BUILD := build/libfuzzer
LF_FLAGS := -std=gnu11 -O1 -g -I. $(PKG_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# Only the layers the harnesses reach (model/llama_forward.c uses gcc's __builtin_shuffle).
LF_SRC := $(wildcard base/*.c infer/*.c data/*.c) model/llama.c model/llama_ckpt.c
LF_OBJ := $(LF_SRC:%.c=$(LF_BUILD)/obj/%.o)
LF_NAMES := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
LIBFUZZER_SECONDS ?= 60
FUZZ_SEEDS := build/san/tmp/fuzz

$(LF_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(LF_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(LF_BUILD)/libretroqat.a: $(LF_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(LF_BUILD)/fuzz_%: fuzz/fuzz_%.c $(LF_BUILD)/libretroqat.a
	clang $(LF_FLAGS) -fsanitize=fuzzer $< $(LF_BUILD)/libretroqat.a $(LDLIBS) -o $@

.PHONY: fuzz-libfuzzer
fuzz-libfuzzer:
	scripts/deps.sh --libfuzzer
	@$(MAKE) --no-print-directory $(LF_NAMES:%=$(LF_BUILD)/%)
	@set -e -o pipefail; for h in $(LF_NAMES); do \
		c=$(LF_BUILD)/corpus/$$h; mkdir -p $$c; \
		case $$h in \
		fuzz_rqfile) cp $(FUZZ_SEEDS)/*/best.ckpt $$c/ 2>/dev/null || true ;; \
		fuzz_lm_image) cp $(FUZZ_SEEDS)/*.rqm $$c/ 2>/dev/null || true ;; \
		fuzz_llama) cp $(FUZZ_SEEDS)/v1.bin $(FUZZ_SEEDS)/llama/model.bin $$c/ 2>/dev/null || true ;; \
		fuzz_tokenizer) cp $(SHARED_DATA)/llama2c/tok512.bin $$c/ 2>/dev/null || true ;; \
		esac; \
		echo "== $$h ($(LIBFUZZER_SECONDS) s)"; \
		(cd $(LF_BUILD) && OPENBLAS_NUM_THREADS=1 nice -n 10 ./$$h -max_total_time=$(LIBFUZZER_SECONDS) -rss_limit_mb=3072 \
			-print_final_stats=1 corpus/$$h 2>&1 | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added)|ERROR|SUMMARY' ); \
	done
