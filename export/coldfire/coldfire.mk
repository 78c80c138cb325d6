# The ColdFire MCF5307 target (export/coldfire/): its program is built by the exporter at export
# time (m68k-linux-gnu-gcc -mcpu=5307, freestanding), so the host build only needs the
# instruction-count plugin (mk/qemu_insn.mk). make bench-coldfire: instructions per token
# (mk/bench-targets.mk).
bench-coldfire: $(BENCH_TARGETS_DEPS)
	$(BENCH_TARGETS_RUN) coldfire
bench-targets: bench-coldfire
.PHONY: bench-coldfire
