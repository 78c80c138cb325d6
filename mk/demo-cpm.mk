# make demo-cpm: the chat model on a (emulated) Z80. Exports the checkpoint that `make demo`
# trained (DEMO_CHAT_MODEL; trained here from examples/tinychat/config.json when missing) to
# CHAT.COM (and CHATP.COM, the same with the emulator's T-state probes, for the per-step counts),
# then runs it in the bundled CP/M 2.2 emulator: one-shot on each scripted question
# (examples/tinychat/demo_queries.txt, the ones `make demo` asks the host) with its T-states per
# generated character, then one chat-mode session at the '> ' prompt.
DEMO_CPM_DIR := $(BUILD)/demo-cpm
DEMO_CHAT_MODEL ?= $(BUILD)/demo-chat/best.ckpt
DEMO_CPM_QUERIES ?= examples/tinychat/demo_queries.txt

$(BUILD)/demo-chat/best.ckpt: | $(BIN)
	$(BIN) train examples/tinychat/config.json --out $(BUILD)/demo-chat

demo-cpm: $(BIN) $(DEMO_CHAT_MODEL)
	@set -ef; mkdir -p $(DEMO_CPM_DIR); \
	$(BIN) export $(DEMO_CHAT_MODEL) --target cpm -o $(DEMO_CPM_DIR)/CHAT.COM; \
	$(BIN) export $(DEMO_CHAT_MODEL) --target cpm -o $(DEMO_CPM_DIR)/CHATP.COM --probes >/dev/null; \
	echo "== CHAT.COM in the CP/M emulator, one question per run (A>CHAT QUESTION)"; \
	while IFS= read -r q; do \
		case "$$q" in ''|'#'*) continue;; esac; \
		ans=$$($(BIN) run --target cpm --stats-file $(DEMO_CPM_DIR)/stats.json $(DEMO_CPM_DIR)/CHATP.COM $$q </dev/null); \
		python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); r={x["id"]:x for x in s["regions"]}; \
n=len(sys.argv[3]); st=r[0]["tstates"]/r[0]["count"]; \
print("A>CHAT %s\n%s\n   [%d chars, %.0f T-states per step, %.0f T-states per char in all = %.2f s/char at 4 MHz]" % \
(sys.argv[2].upper(), sys.argv[3], n, st, s["tstates"]/max(n,1), s["tstates"]/max(n,1)/4e6))' \
			$(DEMO_CPM_DIR)/stats.json "$$q" "$$ans"; \
	done < $(DEMO_CPM_QUERIES); \
	echo "== chat mode (CHAT with no arguments; an empty line exits)"; \
	{ grep -v '^#' $(DEMO_CPM_QUERIES) | head -3; echo; } | \
		$(BIN) run --target cpm --stats $(DEMO_CPM_DIR)/CHAT.COM

.PHONY: demo-cpm
