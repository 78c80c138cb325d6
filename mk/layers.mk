# make layers: which folders include which (scripts/layers.sh; LAYERS_REV=REV for an older commit).
layers:
	@scripts/layers.sh $(LAYERS_REV)
.PHONY: layers
