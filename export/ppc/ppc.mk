# The PowerPC 750 target (export/ppc/): its program is built by the exporter at export time
# (powerpc-linux-gnu-gcc -mcpu=750, freestanding), so the host build only needs the
# instruction-count plugin (mk/qemu_insn.mk). make bench-ppc: instructions per token
# (mk/bench-targets.mk).
bench-ppc: $(BENCH_TARGETS_DEPS)
	$(BENCH_TARGETS_RUN) ppc
bench-targets: bench-ppc
.PHONY: bench-ppc
