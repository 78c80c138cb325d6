// tokenizer.h: the llama2.c tokenizer (.bin exported from a SentencePiece BPE model).
//
// File: i32 max_token_length, then per token: f32 score, i32 len, len bytes (no NUL). The number
// of tokens is not stored: it is the model's vocab_size. Token 0 <unk>, 1 BOS, 2 EOS; tokens
// 3..258 are the byte-fallback pieces "<0x00>".."<0xFF>".
//
// encode (exactly run.c's algorithm):
//   1. optional BOS; a dummy-prefix " " token when the text is not empty;
//   2. each UTF-8 codepoint (a lead byte plus up to 3 continuation bytes) becomes its token if the
//      vocabulary has it, else one token per byte: byte + 3;
//   3. repeatedly merge the adjacent pair whose concatenation is in the vocabulary with the
//      highest score (the leftmost pair on ties) until no pair merges.
// decode(prev, token): the piece, without its leading space right after BOS; "<0xHH>" pieces are
// the raw byte. print_piece prints like run.c's safe_printf: a one-byte piece that is neither
// printable nor whitespace is dropped.
#ifndef RQ_TOKENIZER_H
#define RQ_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { TOK_UNK = 0, TOK_BOS = 1, TOK_EOS = 2 };

typedef struct {
    int vocab_size;
    int max_token_length;
    char **vocab;            // NUL-terminated pieces
    int *vocab_len;          // their byte lengths
    float *scores;
    int *sorted;             // token ids sorted by piece (for binary search)
    char byte_pieces[512];   // "\x00\0\x01\0...": the pieces decode returns for <0xHH>
} tokenizer;

// Load path for a model with vocab_size tokens. RQ_EINPUT (naming the byte offset) on a
// truncated or malformed file.
int tokenizer_load(tokenizer *t, const char *path, int vocab_size);
int tokenizer_load_mem(tokenizer *t, const uint8_t *data, size_t len, const char *name, int vocab_size);
void tokenizer_free(tokenizer *t);

// A character-level tokenizer in the same file format, for corpora without a trained one:
// <unk>, BOS, EOS, the 256 byte pieces, then the 95 printable ASCII characters (vocab 354, no
// merges). Written to *data (malloc'd).
#define TOKENIZER_CHARS_VOCAB 354
void tokenizer_build_chars(uint8_t **data, size_t *len);

// Token id of an exact piece, or -1.
int tokenizer_lookup(const tokenizer *t, const char *piece, size_t len);
// Encode NUL-terminated text into tokens (capacity: strlen(text) + 3 is always enough).
// Returns the number of tokens written.
int tokenizer_encode(const tokenizer *t, const char *text, int bos, int eos, int *tokens);
// Encode n bytes of text (may contain NUL-free text only up to n).
int tokenizer_encode_n(const tokenizer *t, const char *text, size_t n, int bos, int eos, int *tokens);
// The piece for token following prev (see above).
const char *tokenizer_decode(const tokenizer *t, int prev, int token);
// run.c's safe printing of a piece.
void tokenizer_print_piece(FILE *f, const char *piece);

#endif
