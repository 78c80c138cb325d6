# export/ps2/ps2.mk: the PS2 target's benchmark (the target itself needs no prebuilt helper: the
# exporter cross-compiles its programs from the sources at export time).
#
# make bench-ps2 (part of bench-targets and bench): on GXemul's R5900, instructions per token
# (GXemul's cp0 Count register, which it advances once per executed instruction, read by the
# program around its generation loop), bytes streamed per token and the arena high-water mark for
#   stories260K int8, default budget (every matrix fits: kept resident, nothing streams)
#   stories260K int8 under a 128 KB budget (smaller than its 226,560 bytes of matrices)
#   a random model with 35.1 MB of int8 matrices (more than the 32 MB RAM), 4 tokens
# and tokens/s at 294.912 MHz (1 insn/cycle) with a 3.6 MB/s CD-ROM.
.PHONY: bench-ps2 bench-targets
bench: bench-ps2
bench-targets: bench-ps2

PS2_BENCH := $(BUILD)/bench-ps2
PS2_M := $(SHARED_DATA)/llama2c

$(BUILD)/bench/bench_ps2_model: bench/bench_ps2_model.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

bench-ps2: $(BIN) $(BUILD)/bench/bench_ps2_model
	@mkdir -p $(PS2_BENCH)
	$(BIN) export $(PS2_M)/stories260K.bin --target host -o $(PS2_BENCH)/s260k.rqm
	$(BIN) export $(PS2_BENCH)/s260k.rqm --target ps2 -z $(PS2_M)/tok512.bin -o $(PS2_BENCH)/s260k
	$(BIN) export $(PS2_BENCH)/s260k.rqm --target ps2 -z $(PS2_M)/tok512.bin -o $(PS2_BENCH)/s260k_128k --ram 131072 --ctx 64
	$(BUILD)/bench/bench_ps2_model $(PS2_BENCH)/big.rqm
	$(BIN) export $(PS2_BENCH)/big.rqm --target ps2 -z $(PS2_M)/tok512.bin -o $(PS2_BENCH)/big
	$(BIN) run --target ps2 $(PS2_BENCH)/s260k -i "Once upon a time" -n 64 -t 0 --json >/dev/null 2>$(PS2_BENCH)/s260k.json
	$(BIN) run --target ps2 $(PS2_BENCH)/s260k_128k -i "Once upon a time" -n 64 -t 0 --json >/dev/null 2>$(PS2_BENCH)/s260k_128k.json
	$(BIN) run --target ps2 $(PS2_BENCH)/big -i "Once" -n 4 -t 0 --json >/dev/null 2>$(PS2_BENCH)/big.json
	python3 export/ps2/bench_ps2.py "stories260K int8, 32 MB budget"=$(PS2_BENCH)/s260k.json \
		"stories260K int8, 128 KB budget"=$(PS2_BENCH)/s260k_128k.json "random 35 MB int8, 32 MB budget"=$(PS2_BENCH)/big.json
