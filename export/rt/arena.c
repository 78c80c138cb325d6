// arena.c: the target programs' only memory (rt.h). RT_ARENA_BYTES is chosen by the exporter
// (the model image, the tokenizer, the state, the scratch); a target may place the arena itself
// by defining RT_ARENA_EXTERN and providing rt_arena / rt_arena_bytes.
#include "export/rt/rt.h"

#ifndef RT_ARENA_BYTES
#define RT_ARENA_BYTES (4u << 20)
#endif

#ifdef RT_ARENA_EXTERN
extern uint8_t rt_arena[];
extern const size_t rt_arena_bytes;
#else
static uint32_t rt_arena_words[(RT_ARENA_BYTES + 3) / 4];
#define rt_arena ((uint8_t *)rt_arena_words)
static const size_t rt_arena_bytes = sizeof rt_arena_words;
#endif

static size_t used, high;

void *rt_alloc(size_t n) {
    n = (n + 3) & ~(size_t)3;
    if (n > rt_arena_bytes - used) return NULL;
    void *p = rt_arena + used;
    used += n;
    if (used > high) high = used;
    return p;
}

void *rt_alloc_rest(size_t *cap) {
    *cap = rt_arena_bytes - used;
    return rt_arena + used;
}

size_t rt_arena_high_water(void) { return high; }
size_t rt_arena_size(void) { return rt_arena_bytes; }
