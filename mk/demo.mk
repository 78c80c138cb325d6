# make demo: the main job on bundled data. Trigram chat: build, show the dataset statistics, train
# the bundled example (examples/tinychat/config.json: 256 -> 256 -> 43, 2-bit, cost-aware) into
# build/demo-chat, evaluate it (float, fake-quant and integer kernel, held-out queries, accumulator
# ranges), then chat with the integer model on the scripted queries of
# examples/tinychat/demo_queries.txt, and finally (make demo-cpm) export the same checkpoint to a
# CP/M CHAT.COM and run it in the bundled emulator on the same queries, and write the report of it
# all (retroqat report: the training curves, the .COM's memory map, the T-states per phase) to
# build/demo-chat/report.html.
DEMO_CHAT_DIR := $(BUILD)/demo-chat

demo: $(BIN)
	@set -e; \
	echo "== the bundled dataset"; \
	$(BIN) data-stats examples/tinychat/chat.txt; \
	echo "== training (2-bit QAT; evaluation lines are JSON)"; \
	rm -rf $(DEMO_CHAT_DIR); \
	$(BIN) train examples/tinychat/config.json --out $(DEMO_CHAT_DIR); \
	echo "== $(DEMO_CHAT_DIR)/best.ckpt on all of chat.txt and on its held-out queries"; \
	$(BIN) eval $(DEMO_CHAT_DIR)/best.ckpt; \
	echo "== chatting with the integer model (retroqat chat: infer/chat_kernel.c only)"; \
	grep -v '^#' examples/tinychat/demo_queries.txt | while IFS= read -r q; do \
		printf '> %s\n' "$$q"; $(BIN) chat $(DEMO_CHAT_DIR)/best.ckpt "$$q"; \
	done; \
	echo "== the same model on a Z80: export to CP/M and run in the bundled emulator"; \
	$(MAKE) --no-print-directory demo-cpm; \
	echo "== the report: training curves, the .COM's memory map, T-states per phase"; \
	$(BIN) export $(DEMO_CHAT_DIR)/best.ckpt --target cpm --probes -o $(DEMO_CPM_DIR)/CHATP.COM --json > $(DEMO_CHAT_DIR)/export-cpm.json; \
	$(BIN) report $(DEMO_CHAT_DIR) --export $(DEMO_CPM_DIR)/stats.json -o $(DEMO_CHAT_DIR)/report.html >/dev/null; \
	echo "report: $(DEMO_CHAT_DIR)/report.html"
