# retroqat: one binary (build/retroqat), one static library of every layer, one test binary per
# tests/test_*.c. `make test` and `make demo` install missing Debian packages first.
#
#   make            build build/retroqat
#   make test       build and run every test (SAN=1: under ASan + UBSan, in build/san)
#   make demo       the main job on bundled data
#   make bench      long measurements (never part of `make test`)

SHELL := /bin/bash
SAN ?= 0

# --- dependencies: install what is missing, then re-enter make with the same goals -----------
DEPS_OK := $(shell scripts/deps.sh --check >/dev/null 2>&1 && echo ok)
ifneq ($(DEPS_OK),ok)
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),all)),)
FIRST_GOAL := $(firstword $(or $(MAKECMDGOALS),all))
$(FIRST_GOAL):
	scripts/deps.sh
	$(MAKE) --no-print-directory $(MAKECMDGOALS)
$(filter-out $(FIRST_GOAL),$(MAKECMDGOALS)): $(FIRST_GOAL) ; @:
.PHONY: $(or $(MAKECMDGOALS),all)
endif
else
include mk/rules.mk
endif

clean:
	rm -rf build
.PHONY: clean
