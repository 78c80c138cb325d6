# make bench-lowbit: int8 / int4 / 2-bit QAT of stories260K (examples/stories/int8.json, int4.json,
# int2.json, int2-ffn.json at their own steps, the low-bit ones again at LOWBIT_EQUAL steps, int8
# with int4.json's and int2.json's recipes) scored with `retroqat eval` on the whole valid.txt, next
# to the PTQ models (mk/bench-lowbit.py; results in build/bench-lowbit/results.jsonl).
LOWBIT_EQUAL ?= 150
bench-lowbit: $(BIN)
	nice -n 10 python3 mk/bench-lowbit.py $(abspath $(BIN)) $(SHARED_DATA) $(BUILD)/bench-lowbit $(LOWBIT_EQUAL)

bench: bench-lowbit
.PHONY: bench-lowbit
