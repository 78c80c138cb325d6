// rqfile.h: the container of every retroqat checkpoint ("RQF").
//
// Layout (little-endian):
//   0   char[4]  magic      "RQF1"
//   4   char[8]  kind       NUL-padded, e.g. "chat", "llama": what the sections describe
//   12  u32      version    of the kind's section layout (the caller's number)
//   16  u32      n_sections
//   20  n x { char[4] tag; u32 offset; u32 length }     section table (offset from file start)
//   ..  section payloads, each starting on a 4-byte boundary
//   end u32      CRC-32 of every byte before it
//
// Readers check magic, kind, version, the table's bounds and the CRC before any section is used,
// so a truncated or flipped checkpoint is an input error with a byte offset, never a crash.
#ifndef RQ_RQFILE_H
#define RQ_RQFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/binio.h"

#define RQF_MAX_SECTIONS 64

typedef struct {
    char tag[5];
    rq_buf body;
} rqf_wsection;

typedef struct {
    char kind[9];
    uint32_t version;
    int n;
    rqf_wsection sec[RQF_MAX_SECTIONS];
} rqf_writer;

void rqf_writer_init(rqf_writer *w, const char *kind, uint32_t version);
// Start a new section and return its buffer to append to.
rq_buf *rqf_section_begin(rqf_writer *w, const char *tag);
// Serialise and write atomically; frees the writer's buffers either way.
int rqf_write(rqf_writer *w, const char *path);
// Serialise to memory (for tests and for checkpoints embedded elsewhere); frees the sections.
void rqf_serialise(rqf_writer *w, rq_buf *out);
void rqf_writer_free(rqf_writer *w);

typedef struct {
    uint8_t *data;  // whole file (owned)
    size_t len;
    const char *path;
    char kind[9];
    uint32_t version;
    int n;
    struct { char tag[5]; uint32_t offset, length; } sec[RQF_MAX_SECTIONS];
} rqf_file;

// Load and validate. kind may be NULL to accept any kind (check f->kind yourself).
int rqf_open(rqf_file *f, const char *path, const char *kind);
int rqf_open_mem(rqf_file *f, uint8_t *data, size_t len, const char *path, const char *kind);
// Position a reader on section tag; RQ_EINPUT (message names the file) when absent.
int rqf_section(const rqf_file *f, const char *tag, rq_reader *r);
void rqf_close(rqf_file *f);
// A float-array section (the trainer's PARM: u64 n, n x f32): write params[n]; read exactly n
// values back (RQ_EINPUT naming the file when the count differs or the section is short).
void rqf_put_floats(rqf_writer *w, const char *tag, const float *params, size_t n);
int rqf_get_floats(const rqf_file *f, const char *tag, float *params, size_t n);
// 1 when the file at path starts with the RQF magic (for verbs that accept several formats).
int rqf_sniff(const char *path, char kind[9]);

#endif
