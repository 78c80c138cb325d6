# make demo: the main job on bundled data. Grows with the families (trigram chat first).
demo: $(BIN)
	@echo "retroqat demo: not built yet (it arrives with the trigram chat trainer)"
