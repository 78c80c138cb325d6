# c64.mk: the Commodore 64 target's benchmark. `make bench-c64` exports stories260K int8 and int4
# and runs a few tokens of each under sim65: 6502 cycles per forward (sim65 -c; the runner's
# --json also gives the REU DMA bytes = cycles at one byte per cycle), seconds per token at
# 0.985 MHz (PAL), and the MACs per token from lm_count_ops. Long: minutes per model.
C64_BENCH := $(BUILD)/bench-c64
C64_STEPS ?= 6

bench-c64: $(BIN)
	@mkdir -p $(C64_BENCH)
	@for w in 8 4; do \
	  $(BIN) export $(SHARED_DATA)/llama2c/stories260K.bin --target c64 --wbits $$w -o $(C64_BENCH)/int$$w \
	    -z $(SHARED_DATA)/llama2c/tok512.bin > /dev/null || exit 1; \
	  for n in 1 $(C64_STEPS); do \
	    echo "int$$w, $$n positions:"; \
	    $(BIN) run --target c64 $(C64_BENCH)/int$$w -i "Once upon a time" -n $$n --json 2>&1 >/dev/null | tail -1; \
	  done; \
	done
	@echo "cycles per token = difference of the two runs / ($(C64_STEPS) - 1) (removes the start-up image check)"
.PHONY: bench-c64
bench: bench-c64
