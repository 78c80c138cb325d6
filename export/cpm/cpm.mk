# cpm.mk: the CP/M 2.2 target's make fragment (included by mk/rules.mk's wildcard over
# export/*/*.mk): the emulator's library, the Z80 kernel assembled at build time, bench-z80,
# bench-z80-search and demo-cpm.

# The CP/M emulator (emu/) runs on Debian's libz80ex (headers in /usr/include/z80ex/).
LDLIBS += -lz80ex

# ---- the Z80 chat kernel ---------------------------------------------------------------------
# The CP/M machine file export/cpm/cpu/cpm_io.s followed by the machine-independent kernel
# export/cpm/cpu/chat.s (which includes the byte handlers that export/cpm/cpu/gen_handlers.py
# writes as handlers.s), assembled with sdasz80/sdldz80 (code at 0100h), become
# $(BUILD)/gen/cpm_kernel_bin.c: the bytes the exporter (export/cpm/com.c) puts at the start of
# every .COM. Nothing generated is checked in; tests/test_z80_kernel.c re-assembles the sources
# and checks the library's copy against them.
CPM_CPU := export/cpm/cpu
CPM_GEN := $(BUILD)/gen/cpm
CPM_KERNEL_C := $(BUILD)/gen/cpm_kernel_bin.c
CPM_KERNEL_O := $(BUILD)/obj/gen/cpm_kernel_bin.o

$(CPM_GEN)/kernel.bin: $(CPM_CPU)/cpm_io.s $(CPM_CPU)/chat.s $(CPM_CPU)/gen_handlers.py
	@mkdir -p $(CPM_GEN)
	python3 $(CPM_CPU)/gen_handlers.py > $(CPM_GEN)/handlers.s
	cat $(CPM_CPU)/cpm_io.s $(CPM_CPU)/chat.s > $(CPM_GEN)/kernel.s
	cd $(CPM_GEN) && rm -f kernel.ihx && sdasz80 -l -o kernel.rel kernel.s && sdldz80 -i kernel.ihx kernel.rel >/dev/null
	objcopy -I ihex -O binary $(CPM_GEN)/kernel.ihx $@.tmp
	mv $@.tmp $@

$(CPM_KERNEL_C): $(CPM_GEN)/kernel.bin
	python3 -c 'import sys; b=open(sys.argv[1],"rb").read(); \
	print("// GENERATED at build time by export/cpm/cpm.mk from export/cpm/cpu/cpm_io.s, chat.s and gen_handlers.py.\n" \
	"// The Z80 chat kernel, assembled at 0100h (%d bytes); export/cpm/com.c appends the model.\n" \
	"#include \"export/cpm/com.h\"\n\nconst unsigned char cpm_kernel_bin[] = {" % len(b)); \
	[print("    " + " ".join("0x%02x," % x for x in b[i:i+16])) for i in range(0, len(b), 16)]; \
	print("};\nconst unsigned cpm_kernel_size = sizeof cpm_kernel_bin;")' $< > $@.tmp
	mv $@.tmp $@

$(CPM_KERNEL_O): $(CPM_KERNEL_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(CPM_KERNEL_O)

# ---- make bench-z80, bench-z80-search ----------------------------------------------------------
# bench-z80: the bundled chat configurations (examples/tinychat/config.json, config-fast.json,
# config-deep.json; seeds 1, 2, 3 each) trained and measured by mk/bench-z80-search.py: held-out
# exact answers and int_acc (retroqat eval) against T-states per generated character of the .COM
# in the bundled CP/M emulator (bench_z80 --quick: 40 one-shot queries, the whole run divided by
# the characters printed), printed as a table with the Pareto front over these and the recorded
# results of every other configuration tried (examples/tinychat/search-results.jsonl); then
# bench_z80's table of the default model (seed 1, or Z80_MODEL) and of copies thinned at random.
# bench-z80-search: every configuration of examples/tinychat/search.json (long: about an hour on
# 2 cores); Z80_RECORD=FILE writes its rows there (examples/tinychat/search-results.jsonl is one).
.PHONY: bench-z80 bench-z80-search
bench: bench-z80

Z80_BENCH_DIR := $(BUILD)/bench-z80
Z80_SEARCH := examples/tinychat/search.json
Z80_RECORDED := examples/tinychat/search-results.jsonl
Z80_MODEL ?= $(Z80_BENCH_DIR)/search/default-s1/best.ckpt
Z80_SEARCH_RUN = python3 mk/bench-z80-search.py $(abspath $(BIN)) $(abspath $(BUILD)/z80/bench_z80) $(Z80_BENCH_DIR)/search $(Z80_SEARCH)

$(BUILD)/z80/bench_z80: bench/bench_z80.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

bench-z80: $(BUILD)/z80/bench_z80 $(BIN)
	$(Z80_SEARCH_RUN) --bundled --recorded $(Z80_RECORDED)
	$(BUILD)/z80/bench_z80 $(Z80_MODEL) --n 40
	$(BUILD)/z80/bench_z80 $(Z80_MODEL) --n 40 --json > $(Z80_BENCH_DIR)/bench-z80.json
	@echo "bench-z80: JSON in $(Z80_BENCH_DIR)/bench-z80.json, runs and results.jsonl in $(Z80_BENCH_DIR)/search"

bench-z80-search: $(BUILD)/z80/bench_z80 $(BIN)
	$(Z80_SEARCH_RUN) $(if $(Z80_RECORD),--write-recorded $(Z80_RECORD))

# ---- make demo-cpm ---------------------------------------------------------------------------
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
