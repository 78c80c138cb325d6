// chat_data.h: query|response datasets of the trigram chat model (docs/chat-format.md).
//
// One pair per line, "query|response": the first '|' splits; spaces and tabs around each side are
// trimmed; '#' comment lines and blank lines are skipped. Queries are lowercased and responses
// uppercased (both configurable). Errors name FILE:LINE; with `lenient` a bad line is skipped and
// counted instead.
#ifndef RQ_CHAT_DATA_H
#define RQ_CHAT_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "infer/chat_encode.h"

#define CHAT_DEFAULT_CHARSET "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?'-:;()/&+*=\"#%$@"

typedef struct {
    int fold_query;      // 1: lowercase queries (default)
    int fold_response;   // 1: uppercase responses (default)
    int lenient;         // 1: bad lines become counted warnings
    int max_answer;      // a longer response is an error (the model could never end it)
    char charset[128];   // the characters a response may use (after folding)
} chat_data_opts;

void chat_data_opts_default(chat_data_opts *o);

typedef struct {
    char *q, *r;  // folded query and response (owned, NUL-terminated)
    long line;    // 1-based line in the file
} chat_pair;

typedef struct {
    chat_pair *pairs;
    int n;
    int skipped;  // lines skipped in lenient mode
    char first_warning[256];
} chat_dataset;

int chat_data_parse(const char *text, size_t len, const char *path, const chat_data_opts *o, chat_dataset *d);
int chat_data_load(const char *path, const chat_data_opts *o, chat_dataset *d);
void chat_data_free(chat_dataset *d);

// The output alphabet: the distinct response characters in byte order. Class 0 is the end
// symbol, class k >= 1 is chars[k-1]. Returns the number of characters.
int chat_data_charset(const chat_dataset *d, char *chars /* >= 256 */);

typedef struct {
    int pairs, distinct_queries, distinct_responses, conflicting_queries;
    long examples;          // character examples: sum of (response length + 1)
    double best_acc;        // best per-character accuracy any model can reach: per identical
                            // (query, context) input, the most frequent next character
    double majority_acc;    // always predicting the most frequent class
    int majority_class;     // 0 = end symbol, else 1 + index in charset
    int max_query_len, max_response_len;
    int n_chars;
    char charset[256];
} chat_stats;

// Statistics over pairs idx[0..n) (idx NULL = all pairs), with `context` characters of context.
void chat_data_stats(const chat_dataset *d, const int *idx, int n, int context, chat_stats *s);

// Held-out split by distinct query: a seeded fraction of the distinct queries (at least one when
// frac > 0 and there are two or more) and all their pairs. Outputs malloc'd pair index lists.
void chat_data_split(const chat_dataset *d, double frac, uint64_t seed, int **train, int *n_train, int **held, int *n_held);

// Character examples: for every pair and t = 0 .. len(response), the input (query counts, then the
// counts of the context before character t) and the target class (the character, or 0 at t = len).
typedef struct {
    int n, width;     // examples, input width Q + K
    uint8_t *x;       // n x width counts
    uint8_t *y;       // n targets
    int *pair;        // n pair indices
} chat_examples;

void chat_build_examples(const chat_dataset *d, const int *idx, int n_idx, const chat_enc_cfg *e, const char *chars,
                         int n_chars, chat_examples *ex);
void chat_free_examples(chat_examples *ex);

#endif
