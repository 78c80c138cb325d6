# The commit baked into the binary (run.json's "commit", `retroqat report`'s header): `git describe`
# at build time, "unknown" outside git. Only train/run_info.o gets the define; it is rebuilt when
# the description changes (build/commit.txt is rewritten only then).
RQ_COMMIT := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
RQ_COMMIT_STAMP := $(BUILD)/commit.txt
$(shell mkdir -p $(BUILD); [ "$$(cat $(RQ_COMMIT_STAMP) 2>/dev/null)" = "$(RQ_COMMIT)" ] || echo "$(RQ_COMMIT)" > $(RQ_COMMIT_STAMP))
$(BUILD)/obj/train/run_info.o: CFLAGS += -DRQ_COMMIT='"$(RQ_COMMIT)"'
$(BUILD)/obj/train/run_info.o: $(RQ_COMMIT_STAMP)
