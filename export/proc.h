// proc.h: run an emulator (or a cross tool) as a child process, for the target runners.
// stdin gets `in` bytes; stdout and stderr are captured; a wall-clock timeout kills the child
// (result: timed_out, exit code 124 as `timeout(1)` reports). Emulators that never exit on their
// own (GXemul waits for input forever) are stopped when `stop_marker` appears on stdout, or keep
// their stdin open (keep_stdin_open) so they do not spin at end of input.
#ifndef RQ_EXPORT_PROC_H
#define RQ_EXPORT_PROC_H

#include <stddef.h>

typedef struct {
    const char *const *argv;   // program (PATH searched) and arguments, NULL terminated
    const char *cwd;           // working directory of the child, or NULL
    const void *in;            // bytes for its stdin (may be NULL)
    size_t in_len;
    int keep_stdin_open;       // do not close stdin after `in` was written
    double timeout;            // seconds (0: none)
    const char *stop_marker;   // stop the child once stdout contains this (NULL: none)
    int merge_stderr;          // capture stderr into out as well
} rq_proc;

typedef struct {
    int exit_code;             // the child's, 124 on timeout, 128+N when killed by signal N
    int timed_out, stopped;    // stopped: ended by stop_marker
    char *out, *err;           // captured (NUL terminated, malloc'd)
    size_t out_len, err_len;
} rq_proc_result;

// 0 when the child ran (whatever its exit code), RQ_ERUNTIME when it could not be started (the
// message names the program).
int rq_proc_run(const rq_proc *p, rq_proc_result *r);
void rq_proc_result_free(rq_proc_result *r);

// All of our stdin (the input a runner hands its program), malloc'd; *len its size.
char *rq_read_all_stdin(size_t *len);

// 1 when prog is an executable on PATH (or a path to one).
int rq_have_program(const char *prog);

#endif
