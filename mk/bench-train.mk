# make bench-train: speed and quality of the chat trainer (the default network, 256->256->C since
# z80fast, examples/tinychat/config.json) on 2 threads:
#   1. the full bundled dataset (about 53,000 training character examples)
#   2. a quarter of it (every 4th pair: about 15,000 character examples, the size the aim
#      "convergence in under 20 s on 2 cores" refers to)
# For each: training examples/s (step time only), evaluation overhead, and the time at which the
# held-out integer accuracy first came within 0.5 points of its final value.
BENCH_TRAIN_DIR := $(BUILD)/bench-train

bench-train: $(BIN)
	@set -e; mkdir -p $(BENCH_TRAIN_DIR); \
	grep -v '^#' examples/tinychat/chat.txt | awk 'NF && NR % 4 == 0' > $(BENCH_TRAIN_DIR)/quarter.txt; \
	for run in full quarter; do \
		if [ $$run = full ]; then data=examples/tinychat/chat.txt; else data=$(BENCH_TRAIN_DIR)/quarter.txt; fi; \
		rm -rf $(BENCH_TRAIN_DIR)/$$run; \
		start=$$(date +%s.%N); \
		OPENBLAS_NUM_THREADS=2 $(BIN) train examples/tinychat/config.json --data $$data --out $(BENCH_TRAIN_DIR)/$$run --quiet; \
		end=$$(date +%s.%N); \
		python3 mk/bench-train-report.py $$run $(BENCH_TRAIN_DIR)/$$run/metrics.jsonl $$start $$end; \
	done

bench: bench-train
.PHONY: bench-train
