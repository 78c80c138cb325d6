// rt.h: the target programs' runtime. export/rt/lm_main.c (the transformer) and
// export/rt/chat_main.c (the chat model) are the programs every C-built target runs; they call
// only infer/ and the few machine services below, which each target implements for its machine
// (export/NAME/rt_NAME.c and its start-up code: Linux syscalls under qemu-user, a bare-metal
// console under GXemul, the KERNAL on a C64, ...). No malloc: the programs carve their memory out
// of one static arena whose size the exporter chooses (RT_ARENA_BYTES).
//
// Command line of the transformer program (argv as the target's start-up passes it):
//   PROG [-m MODEL.rqm] [-k TOK.tok] [-i PROMPT] [-n STEPS] [-T TEMP_Q8] [-P TOPP_Q15]
//        [-s SEED] [-d]
//   -T/-P are round(256 * temperature) and round(32768 * top-p) (no float on the target; the
//   runner converts run.c's -t/-p with run.c's rules), -d prints "#logits STEP CRC\n" (CRC-32
//   of the step's logits as little-endian int32, 8 hex digits) to fd 2 after every forward.
//   Output: exactly what `retroqat run MODEL.rqm` prints on stdout (the pieces, then "\n").
// Chat program: PROG [-m MODEL.rqi] [-d] [QUERY ...]: each QUERY argument is answered on its own
//   line, like `retroqat chat MODEL QUERY ...`; without one, a "> " prompt loop on the console
//   until end of input (empty lines are skipped). -d reports "#logits STEP CRC" per forward
//   (int16 values). Defaults: MODEL.RQM / TOK.RQT for the transformer, MODEL.RQI for chat.
// Errors (a missing, truncated or corrupt file, a wrong byte order): "retroqat: FILE: byte N:
// message\n" on fd 2 and exit code 2; out of arena memory: exit code 1.
#ifndef RQ_EXPORT_RT_H
#define RQ_EXPORT_RT_H

#include <stddef.h>
#include <stdint.h>

// ---- implemented by each target --------------------------------------------------------------
// Write n bytes to fd (1: console output, 2: diagnostics; a machine with one console may merge
// them, the runner then separates lines starting with '#').
void rt_write(int fd, const void *p, size_t n);
// Read the whole file name into buf (at most cap bytes). Returns its size, -1 when it cannot be
// opened, -2 when it is larger than cap.
long rt_read_file(const char *name, void *buf, size_t cap);
// Read one console line (without its end) into buf; returns its length, -1 at end of input.
int rt_read_line(char *buf, int cap);

// ---- provided by export/rt/ ---------------------------------------------------------------------
int rt_lm_main(int argc, char **argv);
int rt_chat_main(int argc, char **argv);
// Arena: the programs take their memory from here (export/rt/arena.c; RT_ARENA_BYTES at build).
void *rt_alloc(size_t n);        // 4-byte aligned, zeroed at start-up; NULL when exhausted
void *rt_alloc_rest(size_t *cap); // the free rest of the arena (to read a file into), not taken:
                                  // take what was used with rt_alloc(bytes) right after
size_t rt_arena_high_water(void);
size_t rt_arena_size(void);
// Read a whole file into the arena (NULL: prints "retroqat: NAME: ..." and sets *rc to exit 2
// for a missing file, 1 when it does not fit).
void *rt_load_file(const char *name, size_t *len, int *rc);
// Console helpers.
void rt_puts(int fd, const char *s);
void rt_put_dec(int fd, long v);
void rt_put_hex8(int fd, uint32_t v);

#endif
