# make bench-llama: training and generation throughput of the transformer on the stories260K shape
# (bench/bench_llama.c). Training uses 2 OpenBLAS threads and 2 of ours; generation one core.
BENCH_LLAMA := $(BUILD)/bench/bench_llama
LLAMA_BENCH_MODEL ?= $(SHARED_DATA)/llama2c/stories260K.bin

$(BENCH_LLAMA): $(BUILD)/obj/bench/bench_llama.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

bench-llama: $(BENCH_LLAMA)
	OPENBLAS_NUM_THREADS=2 RQ_THREADS=2 $(BENCH_LLAMA) $(LLAMA_BENCH_MODEL) --batch 32 --seq 256 --steps 10
.PHONY: bench-llama
bench: bench-llama

# The transformer's training loops (attention, softmax, SwiGLU) are written to vectorise; gcc's
# -O2 cost model leaves loops with run-time trip counts scalar, and clamps (x < a ? a : x) are
# only if-converted without FP trap semantics, so this one object is built at -O3
# -fno-trapping-math (we never inspect floating-point exception flags).
$(BUILD)/obj/model/llama_train.o: CFLAGS += -O3 -fno-trapping-math

# The float KV-cache forward (generation, and calibration through its hook) at -O3: gcc then
# vectorises attention's weighted sum of values across the head's elements, which leaves every
# sum in run.c's order (about 1.25x the -O2 generation rate here; still bit-identical to run.c).
$(BUILD)/obj/model/llama_forward.o: CFLAGS += -O3
