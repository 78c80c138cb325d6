# The qemu TCG plugin that counts executed instructions (emu/qemu_insn/insn_count.c), used by
# every target that runs under qemu-user (`retroqat run --target coldfire|ppc --stats`). It is
# loaded into qemu, so it is built without the sanitizers, next to the CLI binary (where the
# runners look for it: export/qemu_user.h).
QEMU_INSN := $(BUILD)/qemu_insn.so
$(QEMU_INSN): emu/qemu_insn/insn_count.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra $(if $(filter true,$(CI)),-Werror) -fPIC -shared $< -o $@
all: $(QEMU_INSN)
test: $(QEMU_INSN)
