# zx48.mk: the ZX Spectrum 48K target's make fragment (included by mk/rules.mk's wildcard over
# export/*/*.mk): libspectrum for the .TAP, the two Spectrum kernels assembled at build time, and
# bench-zx48.

LDLIBS += -lspectrum

# ---- the Z80 kernels -------------------------------------------------------------------------
# export/zx48/cpu/zx48_io.s + the CP/M target's machine-independent export/cpm/cpu/chat.s (with the
# byte handlers of export/cpm/cpu/gen_handlers.py when PACKED = 1), each assembled at 8000h and at
# 8100h; export/zx48/cpu/kernel_c.py turns the pairs into $(BUILD)/gen/zx48_kernel_bin.c: the
# kernels at 8000h and their relocation tables (export/zx48/zx48.h). Nothing generated is checked
# in; tests/test_target_zx48.c re-assembles the sources at another page and checks the relocation.
ZX48_CPU := export/zx48/cpu
ZX48_GEN := $(BUILD)/gen/zx48
ZX48_KERNEL_C := $(BUILD)/gen/zx48_kernel_bin.c
ZX48_KERNEL_O := $(BUILD)/obj/gen/zx48_kernel_bin.o
ZX48_SRC := $(ZX48_CPU)/zx48_io.s $(CPM_CPU)/chat.s $(CPM_CPU)/gen_handlers.py

# $(ZX48_GEN)/k-PACKED-ORG.bin
$(ZX48_GEN)/k-%.bin: $(ZX48_SRC)
	@mkdir -p $(ZX48_GEN)/$*
	python3 $(CPM_CPU)/gen_handlers.py > $(ZX48_GEN)/$*/handlers.s
	printf 'ORG = 0x%s\nPACKED = %s\n' $(word 2,$(subst -, ,$*)) $(word 1,$(subst -, ,$*)) > $(ZX48_GEN)/$*/kernel.s
	cat $(ZX48_CPU)/zx48_io.s $(CPM_CPU)/chat.s >> $(ZX48_GEN)/$*/kernel.s
	cd $(ZX48_GEN)/$* && rm -f kernel.ihx && sdasz80 -l -o kernel.rel kernel.s && sdldz80 -i kernel.ihx kernel.rel >/dev/null
	objcopy -I ihex -O binary $(ZX48_GEN)/$*/kernel.ihx $@.tmp
	mv $@.tmp $@

$(ZX48_KERNEL_C): $(ZX48_CPU)/kernel_c.py $(ZX48_GEN)/k-0-8000.bin $(ZX48_GEN)/k-0-8100.bin $(ZX48_GEN)/k-1-8000.bin $(ZX48_GEN)/k-1-8100.bin
	python3 $(ZX48_CPU)/kernel_c.py sparse:0:$(ZX48_GEN)/k-0-8000.bin:$(ZX48_GEN)/k-0-8100.bin \
		packed:1:$(ZX48_GEN)/k-1-8000.bin:$(ZX48_GEN)/k-1-8100.bin > $@.tmp
	mv $@.tmp $@

$(ZX48_KERNEL_O): $(ZX48_KERNEL_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(ZX48_KERNEL_O)

# ---- make bench-zx48 -------------------------------------------------------------------------
# The chat models for a ZX Spectrum 48K, in the bundled Spectrum model next to the CP/M emulator,
# on the 40 queries of bench-z80 (export/zx48/bench_zx48.py: T-states per printed character from
# the address the exporter picks, from 6000h (contended memory) and with the sparse-only kernel;
# held-out exact answers): examples/tinychat/config-zx48.json and the bundled default
# examples/tinychat/config.json, each trained with seeds 1, 2 and 3 (about 2 minutes each on 2
# cores).
.PHONY: bench-zx48
bench: bench-zx48

ZX48_BENCH_DIR := $(BUILD)/bench-zx48
ZX48_SEEDS := 1 2 3
ZX48_CONFIGS := zx48 default

$(ZX48_BENCH_DIR)/zx48-s%/best.ckpt: | $(BIN)
	OPENBLAS_NUM_THREADS=2 $(BIN) train examples/tinychat/config-zx48.json --seed $* --out $(dir $@) --quiet

$(ZX48_BENCH_DIR)/default-s%/best.ckpt: | $(BIN)
	OPENBLAS_NUM_THREADS=2 $(BIN) train examples/tinychat/config.json --seed $* --out $(dir $@) --quiet

ZX48_RUNS := $(foreach c,$(ZX48_CONFIGS),$(foreach s,$(ZX48_SEEDS),$(c)-s$(s)))

bench-zx48: $(BIN) $(foreach r,$(ZX48_RUNS),$(ZX48_BENCH_DIR)/$(r)/best.ckpt)
	python3 export/zx48/bench_zx48.py $(abspath $(BIN)) $(ZX48_BENCH_DIR) \
		$(foreach r,$(ZX48_RUNS),$(r)=$(ZX48_BENCH_DIR)/$(r)/best.ckpt)
