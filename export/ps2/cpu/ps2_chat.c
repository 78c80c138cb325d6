// ps2_chat.c: the chat program of the PS2 target is the shared one (export/rt/chat_main.c); the
// model is small enough to stay resident, so nothing streams.
#include "export/ps2/cpu/ps2_io.h"
#include "export/rt/rt.h"

int ps2_main(int argc, char **argv) { return rt_chat_main(argc, argv); }
