// config.h: JSON configs checked against a schema.
//
// A schema is an array of cfg_field terminated by {0}. Loading reports, as input errors (exit 2):
//   malformed JSON            "FILE:LINE:COL: malformed JSON near '...'"
//   a key not in the schema   "FILE: $.train.lrr: unknown key"
//   a value of the wrong type "FILE: $.train.lr: expected a number, got a string"
//   a number out of range     "FILE: $.model.hidden[1]: 70000 is out of range [1, 4096]"
// Keys absent from the file leave their destination untouched, so callers set defaults first.
#ifndef RQ_CONFIG_H
#define RQ_CONFIG_H

#include <cjson/cJSON.h>

typedef enum {
    CFG_INT,        // int *dst, integral, within [min, max]
    CFG_NUM,        // double *dst, within [min, max]
    CFG_FLOAT,      // float *dst, within [min, max]
    CFG_BOOL,       // int *dst (0/1)
    CFG_STR,        // char dst[cap]
    CFG_OBJ,        // nested object checked against sub
    CFG_INT_ARRAY,  // int dst[cap], count in *count; each element within [min, max]
    CFG_FLOAT_LIST, // float dst[cap], count in *count: an array of numbers, or one number (count 1)
    CFG_IGNORE,     // accepted and not checked (e.g. a "comment" key)
} cfg_type;

typedef struct cfg_field {
    const char *key;
    cfg_type type;
    void *dst;
    double min, max;               // numeric range (ignored when min == max == 0)
    int cap;                       // CFG_STR: buffer size; CFG_INT_ARRAY, CFG_FLOAT_LIST: max elements
    int *count;                    // CFG_INT_ARRAY, CFG_FLOAT_LIST: number read
    const struct cfg_field *sub;   // CFG_OBJ
} cfg_field;

// Parse a file into a cJSON tree (caller frees with cJSON_Delete).
int cfg_parse_file(const char *path, cJSON **root);
int cfg_parse_text(const char *text, const char *path, cJSON **root);
// Apply obj (a JSON object) to schema. path names the file for messages.
int cfg_apply(const cJSON *obj, const char *path, const cfg_field *schema);
// Convenience: parse + apply.
int cfg_load(const char *path, const cfg_field *schema);
// The one rule for paths inside a config file (both families): a relative path is relative to
// the folder of the config file, as in most tools, so a config works from any directory; absolute
// paths and "builtin:..." names are kept. Paths given on the command line stay relative to the
// current directory. Rewrites p in place (cap bytes); RQ_EINPUT when the result does not fit.
int cfg_resolve_path(const char *cfg_path, char *p, size_t cap);

// `retroqat train CONFIG --check` (both families): the config's resolved paths, without training.
// Prints one line per path ("KEY: PATH (missing)" for an input that does not exist), or with json
// one object {"config": cfg_path, "paths": {KEY: {"path": P, "input": b, "exists": b}, ...}} on
// stdout. An empty path is left out; a "builtin:" name exists. Returns RQ_EINPUT naming the first
// missing input (outputs, input = 0, need not exist), else 0.
typedef struct {
    const char *key;   // "$.data.train"
    const char *path;  // resolved
    int input;         // read by the run (must exist); 0: written by it
} cfg_path_check;
int cfg_check_paths(const char *cfg_path, const cfg_path_check *paths, int n, int json);

#endif
