# c64.mk: the Commodore 64 target's benchmark. `make bench-c64` runs bench/bench_c64.c: exports
# stories260K int8 and int4 (and int8 --c-kernels, the baseline) and runs them under sim65 (and a
# short row on retroqat's C64 model with the REU, --machine c64): 6502 cycles and REU DMA bytes per
# generated token after start-up (differences of runs of two lengths), the average over 3 prompts
# x 128 positions and the growth per position, seconds per token at 0.985 MHz (PAL), MACs per
# token (lm_count_ops), the ratios against the float port and the C build, and the start-up. Then
# ZED, the deep bundled chat model (examples/tinychat/config-deep.json, trained here once), on both
# machines: cycles per answered character (its weights do not fit the RAM: the .prg streams them
# from the REU a layer at a time), with cpu/chat_layer.s and with infer/'s C layer (-c:
# --c-kernels). Long: minutes.
BENCH_C64_BIN := $(BUILD)/bench/bench_c64
C64_BENCH := $(BUILD)/bench-c64
C64_ZED_QUERIES := "what's your name?" "hello" "how much ram do you have?"

$(BENCH_C64_BIN): bench/bench_c64.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

bench-c64: $(BIN) $(BENCH_C64_BIN)
	@mkdir -p $(C64_BENCH)
	$(BENCH_C64_BIN) $(SHARED_DATA)/llama2c/stories260K.bin $(SHARED_DATA)/llama2c/tok512.bin $(C64_BENCH)
	@test -f $(C64_BENCH)/zed/best.ckpt || nice $(BIN) train examples/tinychat/config-deep.json --out $(C64_BENCH)/zed --quiet
	@$(BIN) export $(C64_BENCH)/zed/best.ckpt --target c64 -o $(C64_BENCH)/zed-c64
	@$(BIN) export $(C64_BENCH)/zed/best.ckpt --target c64 -o $(C64_BENCH)/zed-c64-c --c-kernels > /dev/null
	@for k in "" -c; do for m in sim65 c64; do \
	  echo "ZED$$k, --machine $$m:"; \
	  $(BIN) run --target c64 $(C64_BENCH)/zed-c64$$k --machine $$m $(C64_ZED_QUERIES) --json 2>&1 | tail -1; \
	done; done
.PHONY: bench-c64
bench: bench-c64
