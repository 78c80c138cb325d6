// chat_encode.h: the input encoder of the trigram chat model (part of the integer contract).
//
// This file is the one definition of how text becomes the network's input; docs/chat-contract.md
// cites it and every kernel (host, Z80, ...) must compute exactly this. All arithmetic is on
// bytes and uint16 (mod 2^16), so an 8-bit CPU does it with 16-bit adds and shifts.
//
//   hash step     h' = (h*31 + byte) mod 2^16            (31*h = (h<<5) - h)
//   lowercase     only 'A'..'Z' -> 'a'..'z'; every other byte is unchanged
//
// Query part (Q buckets, Q a power of two): the query, truncated to max_query bytes, lowercased,
// padded with one space on each side (" hi " for "hi"), is read as overlapping trigrams
// t = 0 .. n-1 (n = padded length - 2 = query length). Trigram t hashes bytes p[t], p[t+1],
// p[t+2] starting from h = 0; it adds 1 to count[h & (Q-1)].
//
// Context part (K buckets, K a power of two): the last `context` generated characters,
// lowercased, left-padded with spaces (all spaces before the first character), c[0] oldest,
// c[context-1] newest. For each position p = 0 .. context-1 and each length m = 1, 2, 3 with
// p + m <= context, the m-gram c[p .. p+m-1] hashes from h = 7*p; it adds 1 to count[h & (K-1)].
// That is context + (context-1) + (context-2) n-grams in total (21 for context 8), whatever
// the text, so the context counts always sum to 3*context - 3.
//
// The network input is the Q query counts followed by the K context counts (Q + K bytes).
#ifndef RQ_CHAT_ENCODE_H
#define RQ_CHAT_ENCODE_H

#include <stdint.h>

#define CHAT_MAX_CONTEXT 32
#define CHAT_MAX_QUERY 255
// The most buckets Q (or K) may have. A build for a small machine may define it (and
// CHAT_MAX_WIDTH, chat_kernel.h) to its model's sizes: the kernel's arrays are sized by them, and
// an image that needs more is refused.
#ifndef CHAT_MAX_BUCKETS
#define CHAT_MAX_BUCKETS 4096
#endif

typedef struct {
    int q_buckets;  // Q, power of two, 1..4096
    int k_buckets;  // K, power of two, 1..4096
    int context;    // characters of generated context, 3..CHAT_MAX_CONTEXT
    int max_query;  // query bytes used (longer queries are truncated), 1..CHAT_MAX_QUERY
} chat_enc_cfg;

static inline uint8_t chat_lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c; }
static inline uint8_t chat_upper(uint8_t c) { return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c; }

// h = (h*31 + s[i]) mod 2^16 for i = 0..n-1.
uint16_t chat_hash(uint16_t h, const uint8_t *s, int n);

// counts[0..Q-1] = trigram bucket counts of query q (qlen bytes; truncated to max_query).
// Returns the number of trigrams counted (= min(qlen, max_query)).
int chat_encode_query(const chat_enc_cfg *c, const char *q, int qlen, uint8_t *counts);
// counts[0..K-1] = n-gram bucket counts of the context ctx[0..context-1] (already lowercased).
void chat_encode_context(const chat_enc_cfg *c, const uint8_t *ctx, uint8_t *counts);
// The context before the first character: `context` spaces.
void chat_context_reset(const chat_enc_cfg *c, uint8_t *ctx);
// Append a generated character: shift left by one, ctx[context-1] = lowercase(ch).
void chat_context_push(const chat_enc_cfg *c, uint8_t *ctx, uint8_t ch);
// 0 when the config is valid (Q, K powers of two, ranges above).
int chat_enc_check(const chat_enc_cfg *c);

#endif
