# c64.mk: the Commodore 64 target's benchmark (bench/bench_c64.c). `make bench-c64` exports
# stories260K int8 and int4 (and int8 --c-kernels, the baseline) and runs them under sim65: 6502
# cycles and REU DMA bytes per generated token after start-up (differences of runs of two
# lengths), seconds per token at 0.985 MHz (PAL), MACs per token (lm_count_ops), the ratios
# against the float port and the C build, and the start-up. A few minutes.
BENCH_C64_BIN := $(BUILD)/bench/bench_c64

$(BENCH_C64_BIN): bench/bench_c64.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

bench-c64: $(BIN) $(BENCH_C64_BIN)
	$(BENCH_C64_BIN) $(SHARED_DATA)/llama2c/stories260K.bin $(SHARED_DATA)/llama2c/tok512.bin $(BUILD)/bench-c64
.PHONY: bench-c64
bench: bench-c64
