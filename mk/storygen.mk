# storygen: the children's-story corpus generator for the offline transformer demo
# (examples/stories). A standalone program: its own source plus base/rng.c, libc and libm.
#
#   make stories-data   $(BUILD)/stories/train.txt (20,000 stories, seed 1)
#                       $(BUILD)/stories/valid.txt (1,000 stories, seed 2)

STORYGEN := $(BUILD)/storygen
STORIES_DIR := $(BUILD)/stories
STORIES_TRAIN_N ?= 20000
STORIES_VALID_N ?= 1000

$(STORYGEN): examples/stories/storygen.c base/rng.c base/rng.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) examples/stories/storygen.c base/rng.c -lm -o $@

$(STORIES_DIR)/train.txt: $(STORYGEN)
	@mkdir -p $(dir $@)
	$(STORYGEN) -n $(STORIES_TRAIN_N) -s 1 -o $@

$(STORIES_DIR)/valid.txt: $(STORYGEN)
	@mkdir -p $(dir $@)
	$(STORYGEN) -n $(STORIES_VALID_N) -s 2 -o $@

stories-data: $(STORIES_DIR)/train.txt $(STORIES_DIR)/valid.txt
.PHONY: stories-data

# tests/test_storygen.c runs the generator next to the CLI binary.
test: $(STORYGEN)
