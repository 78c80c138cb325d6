# The CP/M emulator (emu/) runs on Debian's libz80ex (headers in /usr/include/z80ex/).
LDLIBS += -lz80ex
