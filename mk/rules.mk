# The build proper (included by the Makefile once every dependency is installed).

CC := gcc
PKGS := openblas libcjson cmocka stb
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))

BUILD := build
CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -I. $(PKG_CFLAGS)
# Exporters find the target sources (export/*/cpu, export/rt, infer) here, or in $RQ_ROOT.
CFLAGS += -DRQ_SOURCE_DIR='"$(CURDIR)"' -DRQ_GIT_DESCRIBE='"$(shell git describe --always --dirty 2>/dev/null || echo unknown)"'

LDLIBS := $(PKG_LIBS) -lm -lpthread
ifeq ($(CI),true)
CFLAGS += -Werror
endif
ifeq ($(SAN),1)
BUILD := build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS += $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
endif

# Every layer goes into one static library; cli/main.c and tests link against it.
LIB_DIRS := base infer data model qat train export emu cli
# Targets: export/NAME/*.c is host code (exporter, runner) and goes into the library; the
# sources each target compiles for its CPU (export/NAME/cpu/, export/rt/) do not.
LIB_SRC := $(filter-out cli/main.c,$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))) \
           $(filter-out export/rt/%,$(wildcard export/*/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libretroqat.a
BIN := $(BUILD)/retroqat

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_UTIL_OBJ := $(BUILD)/obj/tests/testutil.o

all: $(BIN)
.SECONDARY:
.PHONY: all test demo bench

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/cli/main.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_UTIL_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Tests run one binary at a time, single-threaded BLAS (bitwise-reproducible), with the CLI
# binary and the shared data folder passed by environment. tests/run.sh prints each binary's
# cmocka summary (stderr kept) and a final "tests: N passed, N failed" line.
SHARED_DATA ?= $(abspath ../shared/data)
test: $(BIN) $(TEST_BIN)
	@OPENBLAS_NUM_THREADS=1 RQ_BIN=$(abspath $(BIN)) RQ_DATA=$(SHARED_DATA) RQ_ROOT=$(CURDIR) \
		RQ_TMP=$(abspath $(BUILD)/tmp) tests/run.sh $(TEST_BIN)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Targets the families add (demo, bench-*) live in mk/*.mk, one file per concern.
include $(filter-out mk/rules.mk,$(wildcard mk/*.mk))
# Each target's make fragment (toolchain, its prebuilt helpers, bench-/demo- goals).
include $(wildcard export/*/*.mk)

# `make bench` runs every bench-* target that the mk/*.mk files attach to it.
bench:
