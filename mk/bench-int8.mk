# The integer transformer runtime (issue 6).
#
# Build flags: the integer kernels are the host runtime's hot loops; at -O3 gcc vectorises their
# int8 dot products (about 4x the -O2 rate on this machine). Same portable C, same results.
$(BUILD)/obj/infer/lm_ops.o $(BUILD)/obj/infer/lm_kernel.o: CFLAGS += -O3
# Calibration (lm_quant.c's hook on model/llama_forward.c, built at -O3 in mk/bench-llama.mk) is
# most of an export's time.
$(BUILD)/obj/qat/lm_quant.o: CFLAGS += -O3

# make bench-int8: host integer generation on stories260K over 512 positions next to our float
# generation in the same run, with the integer operation counts per token.
BENCH_INT8_BIN := $(BUILD)/bench/bench_int8
$(BENCH_INT8_BIN): bench/bench_int8.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

bench-int8: $(BENCH_INT8_BIN)
	OPENBLAS_NUM_THREADS=1 $(BENCH_INT8_BIN) $(SHARED_DATA)/llama2c/stories260K.bin

bench: bench-int8
.PHONY: bench-int8

# make bench-int8-attrib: where the integer model's top-1 disagreement with float comes from
# (bench/int8_attrib.c): the float forward with fake quantisation at one contract point at a
# time, all together, and the kernel itself on the same windows (the first 16,384 predicted
# tokens of valid.txt, windows of 256), two threads over windows.
INT8_ATTRIB_BIN := $(BUILD)/bench/int8_attrib
$(INT8_ATTRIB_BIN): bench/int8_attrib.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

bench-int8-attrib: $(INT8_ATTRIB_BIN)
	OPENBLAS_NUM_THREADS=1 $(INT8_ATTRIB_BIN) $(SHARED_DATA)/llama2c/stories260K.bin $(SHARED_DATA)/llama2c/tok512.bin \
		$(SHARED_DATA)/tinystories/valid.txt --tokens 16384 --window 256 --threads 2

bench: bench-int8-attrib
.PHONY: bench-int8-attrib
