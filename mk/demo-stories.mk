# make demo-stories: the transformer flow offline. Generates the story corpus (make stories-data,
# examples/stories), then
#   - with llama2.c's stories260K.bin available: fine-tunes it on the corpus;
#   - else with its tok512.bin: trains a stories260K-shaped model from scratch;
#   - else: the same model from scratch on a character-level tokenizer (no downloads at all);
# then scores the validation stories and generates a story from the trained model.
# (stories260K.bin and tok512.bin: huggingface.co/karpathy/tinyllamas, folder stories260K.)
DEMO_STORIES_OUT := $(BUILD)/demo-stories
LLAMA2C_DIR := $(SHARED_DATA)/llama2c

demo-stories: $(BIN) stories-data
	@set -e; \
	if [ -f $(LLAMA2C_DIR)/stories260K.bin ] && [ -f $(LLAMA2C_DIR)/tok512.bin ]; then \
		cfg=examples/stories/storygen-finetune260K.json; tok=$(LLAMA2C_DIR)/tok512.bin; \
		echo "demo-stories: fine-tuning stories260K on the storygen corpus"; \
	elif [ -f $(LLAMA2C_DIR)/tok512.bin ]; then \
		cfg=examples/stories/storygen-scratch.json; tok=$(LLAMA2C_DIR)/tok512.bin; \
		echo "demo-stories: training from scratch with tok512.bin"; \
	else \
		cfg=examples/stories/storygen-scratch-chars.json; tok=$(DEMO_STORIES_OUT)/tokenizer.bin; \
		echo "demo-stories: training from scratch with a character-level tokenizer"; \
	fi; \
	rm -rf $(DEMO_STORIES_OUT); \
	$(BIN) train $$cfg --out $(DEMO_STORIES_OUT); \
	if [ -f $(LLAMA2C_DIR)/stories260K.bin ] && [ "$$tok" = "$(LLAMA2C_DIR)/tok512.bin" ]; then \
		echo "== before fine-tuning:"; \
		$(BIN) eval $(LLAMA2C_DIR)/stories260K.bin --text $(STORIES_DIR)/valid.txt -z $$tok --max-tokens 32768 --float-only; \
	fi; \
	echo "== trained model:"; \
	$(BIN) eval $(DEMO_STORIES_OUT)/model.bin --text $(STORIES_DIR)/valid.txt -z $$tok --max-tokens 32768 --float-only; \
	echo "== a story (temperature 0.8, seed 1):"; \
	$(BIN) generate $(DEMO_STORIES_OUT)/model.bin -z $$tok -i "Once upon a time" -n 256 -t 0.8 -s 1
.PHONY: demo-stories
