# c64.mk: the Commodore 64 target's benchmark. `make bench-c64` exports stories260K int8 and int4
# and runs a few tokens of each under sim65 (c64.sim) and as the .prg on retroqat's C64 model
# with the REU (--machine c64: the weights and KV cache by DMA): 6502 cycles per forward, the REU
# DMA bytes (= cycles, one per byte) and seconds per token at 0.985 MHz (PAL). Then ZED, the
# bundled chat model (examples/tinychat, trained here once: about a CPU-minute), on both machines:
# cycles per answered character (its weights do not fit the RAM: the .prg streams them from the
# REU a layer at a time), with cpu/chat_layer.s and with infer/'s C layer (-c: --c-kernels).
# Long: minutes.
C64_BENCH := $(BUILD)/bench-c64
C64_STEPS ?= 6
C64_ZED_QUERIES := "what's your name?" "hello" "how much ram do you have?"

bench-c64: $(BIN)
	@mkdir -p $(C64_BENCH)
	@for w in 8 4; do \
	  $(BIN) export $(SHARED_DATA)/llama2c/stories260K.bin --target c64 --wbits $$w -o $(C64_BENCH)/int$$w \
	    -z $(SHARED_DATA)/llama2c/tok512.bin > /dev/null || exit 1; \
	  for m in sim65 c64; do for n in 1 $(C64_STEPS); do \
	    echo "int$$w, --machine $$m, $$n positions:"; \
	    $(BIN) run --target c64 $(C64_BENCH)/int$$w --machine $$m -i "Once upon a time" -n $$n -t 0 --json 2>&1 >/dev/null | tail -1; \
	  done; done; \
	done
	@echo "cycles per token = difference of the two runs / ($(C64_STEPS) - 1) (removes the start-up image check)"
	@test -f $(C64_BENCH)/zed/best.ckpt || nice $(BIN) train examples/tinychat/config-deep.json --out $(C64_BENCH)/zed --quiet
	@$(BIN) export $(C64_BENCH)/zed/best.ckpt --target c64 -o $(C64_BENCH)/zed-c64
	@$(BIN) export $(C64_BENCH)/zed/best.ckpt --target c64 -o $(C64_BENCH)/zed-c64-c --c-kernels > /dev/null
	@for k in "" -c; do for m in sim65 c64; do \
	  echo "ZED$$k, --machine $$m:"; \
	  $(BIN) run --target c64 $(C64_BENCH)/zed-c64$$k --machine $$m $(C64_ZED_QUERIES) --json 2>&1 | tail -1; \
	done; done
.PHONY: bench-c64
bench: bench-c64
