// textdata.h: plain-text corpora -> token streams for the transformer family.
//
// A text file is split into documents: at every "<|endoftext|>" when the file contains one,
// otherwise at blank lines (lines of only whitespace). Each document is trimmed of surrounding
// whitespace, skipped when empty, and encoded with BOS (and run.c's dummy-prefix space); the
// documents' tokens are concatenated in file order into one stream.
//
// Cache file (uint16 tokens, so vocab_size <= 65536), little-endian:
//   char[4] "RQTK", u32 version 1, u32 CRC-32 of the text, u32 fingerprint of the tokenizer,
//   u64 n_docs, u64 n_tokens, n_tokens x u16.
// A cache whose CRCs do not match the current text and tokenizer is rebuilt.
#ifndef RQ_TEXTDATA_H
#define RQ_TEXTDATA_H

#include <stddef.h>
#include <stdint.h>

#include "data/tokenizer.h"

typedef struct {
    uint16_t *tokens;
    size_t n;
    size_t n_docs;
} token_stream;

void token_stream_free(token_stream *ts);

// Encode text (len bytes) into ts (appending nothing else: ts is overwritten).
int textdata_encode(const char *text, size_t len, const tokenizer *tok, token_stream *ts);
// Read and encode a file.
int textdata_encode_file(const char *path, const tokenizer *tok, token_stream *ts);
// Like textdata_encode_file, but reuse cache_path when it was built from the same text and
// tokenizer, else encode and write it (atomically). *from_cache reports which happened.
int textdata_load_cached(const char *path, const tokenizer *tok, const char *cache_path, token_stream *ts, int *from_cache);
// Fingerprint of a tokenizer's pieces and scores (CRC-32).
uint32_t tokenizer_fingerprint(const tokenizer *tok);

#endif
