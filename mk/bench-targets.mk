# make bench-targets: executed instructions per token of the qemu-user targets (bench/bench_targets.c):
# stories260K int8 and int4 (3 prompts x 128 positions, greedy) and a chat model (examples/tinychat
# config, 4 epochs, trained once into $(BUILD)/bench-targets/chat) per character, next to the host's
# multiply-accumulate and table-lookup counts per token. Each target's fragment adds its
# bench-NAME goal (export/NAME/NAME.mk) to bench-targets.
BENCH_TARGETS_BIN := $(BUILD)/bench/bench_targets
BENCH_TARGETS_CHAT := $(BUILD)/bench-targets/chat/best.ckpt
BENCH_TARGETS_DEPS := $(BENCH_TARGETS_BIN) $(BENCH_TARGETS_CHAT) $(QEMU_INSN)
BENCH_TARGETS_RUN = $(BENCH_TARGETS_BIN) $(SHARED_DATA)/llama2c/stories260K.bin $(SHARED_DATA)/llama2c/tok512.bin \
	$(BENCH_TARGETS_CHAT) examples/tinychat/demo_queries.txt

$(BENCH_TARGETS_BIN): bench/bench_targets.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BENCH_TARGETS_CHAT): | $(BIN)
	OPENBLAS_NUM_THREADS=2 $(BIN) train examples/tinychat/config.json --epochs 4 --out $(dir $@) --quiet

bench-targets:
bench: bench-targets
.PHONY: bench-targets
