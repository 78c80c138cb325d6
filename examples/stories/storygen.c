// storygen.c: a tiny children's-story corpus for the offline transformer demo.
//
// Writes N short stories in TinyStories-like simple English: a character, a small problem
// (a lost toy, sharing, a noise in the night, a broken toy, something stuck in a tree, rain,
// learning a skill, a present, a new friend, a picnic), dialogue in quotes and a happy ending.
// Each story is one or two paragraphs (split by a blank line) and is followed by a line
// "<|endoftext|>", the document separator the text loader splits on.
//
//   storygen [-n STORIES] [-s SEED] [-o FILE]      (defaults: 1000 stories, seed 1, stdout)
//
// Story i is drawn from PCG32 seeded with (SEED, stream i), so a run is deterministic for its
// seed and `-n 10` is a prefix of `-n 1000`. The vocabulary is a few hundred words so that a
// tiny model learns it in minutes.
//
// Templates are plain strings: "[a|b|c]" picks one alternative (nesting allowed), "{slot}"
// inserts a story variable (the hero's name, pronouns, the toy...), and a plot element "^" marks
// where a second paragraph may start.
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

// --- vocabulary ---------------------------------------------------------------------------
static const char *GIRLS[] = {"Lily", "Mia", "Anna", "Lucy", "Sue", "Zoe", "Emma", "Amy", "Sara", "Kim"};
static const char *BOYS[] = {"Tom", "Ben", "Sam", "Max", "Tim", "Jack", "Leo", "Joe", "Bob", "Dan"};
static const char *ANIMALS[] = {"dog", "cat", "bunny", "bear", "bird", "frog", "duck", "mouse", "fox", "pig"};
static const char *TOYS[] = {"ball", "kite", "doll", "teddy bear", "toy car", "book",
                             "hat", "blanket", "drum", "toy boat", "truck", "robot"};
static const char *TOY_ADJ[] = {"red", "blue", "big", "little", "shiny", "soft", "yellow", "green", "new", "pretty"};
static const char *PLACES[] = {"park", "garden", "beach", "forest", "yard", "farm", "pond", "playground", "hill", "lake"};
static const char *SKILLS[] = {"ride a bike", "swim", "climb a tree", "fly a kite", "jump rope", "whistle", "skip", "read"};
static const char *CRITTERS[] = {"kitten", "frog", "bird", "mouse", "puppy", "bunny"};

// A story's variables, looked up by slot name.
typedef struct {
    const char *name[32];
    const char *value[32];
    int n;
} slots;

static void slot_set(slots *s, const char *name, const char *value) {
    s->name[s->n] = name;
    s->value[s->n] = value;
    s->n++;
}

static const char *slot_get(const slots *s, const char *name, size_t len) {
    for (int i = 0; i < s->n; i++)
        if (strlen(s->name[i]) == len && memcmp(s->name[i], name, len) == 0) return s->value[i];
    return NULL;
}

// --- plots --------------------------------------------------------------------------------
// Slots: {N} hero, {he} {He} {his} {His} {him} {himself} hero pronouns, {K} hero kind,
// {F} friend, {Fd} friend described ("Ben the dog" / "her friend Ben", {FD} capitalised), {fhe} {Fhe} {fhis} friend
// pronouns, {M} {Mc} parent ("mom" / "Mom"), {O} toy, {OA} toy adjective, {P} place, {S} skill,
// {C} small animal.
typedef struct {
    const char *lines[16];
} plot;

static const plot PLOTS[] = {
    {{"One day, {N} could not find {his} {OA} {O}.",
      "{He} looked [under the bed|in the toy box|behind the door|under the table], but it was not there.",
      "{N} felt [sad|very sad|upset] and began to cry.",
      "^",
      "{FD} saw {N} and asked, \"Why are you sad, {N}?\"",
      "\"I lost my {O},\" said {N}.",
      "\"Do not worry. I will help you look,\" said {F}.",
      "They looked [in the {P}|all over the house|near the big tree|by the pond] together.",
      "At last, {F} found the {O} [under a bush|behind a big rock|in the tall grass|next to the tree].",
      "{N} was so happy. \"Thank you, {F}!\" {he} said.",
      "[From that day on, {N} and {F} were best friends.|They played with the {O} until it was time to go home.]"}},
    {{"One day, {N} was playing with {his} {OA} {O} at the {P}.",
      "{FD} came and said, \"Can I play with your {O} too?\"",
      "{N} did not want to share. \"No, it is mine!\" {he} said.",
      "{F} felt sad and walked away.",
      "^",
      "Then {N} [felt bad|saw that {F} was sad|remembered what {his} {M} said about sharing].",
      "{He} ran to {F} and said, \"I am sorry. [Let's play together.|You can play with my {O}.]\"",
      "{F} smiled, and they played with the {O} all day.",
      "{N} learned that sharing is [fun|good|kind], and {he} felt warm inside."}},
    {{"One [night|evening], {N} heard a [loud|strange|funny] noise [outside|in the garden|behind the door|under the bed].",
      "{He} was scared. \"What is that?\" {he} said in a small voice.",
      "^",
      "{He} took a deep breath and went to look.",
      "It was only a little {C}!",
      "The {C} was [hungry|cold|lost|scared too].",
      "{N} gave the {C} [some food|a warm blanket|a soft bed] and it was happy.",
      "{N} was not scared anymore. {He} [smiled|laughed] and said, \"Good night, little {C}.\""}},
    {{"{N} had a [new|shiny|favorite] {O} that {he} loved very much.",
      "One day, {he} [dropped|threw|kicked] it too hard and it broke.",
      "{N} [cried|was very sad]. \"My {O} is broken!\" {he} said.",
      "^",
      "{His} {M} came and [gave {him} a hug|looked at the {O}].",
      "\"Do not be sad. We can fix it together,\" said {Mc}.",
      "They [used some glue|worked together|took their time] and fixed the {O}.",
      "Soon the {O} was as good as new.",
      "{N} hugged {his} {M} and said, \"Thank you, {Mc}!\""}},
    {{"One day, {N} was at the {P} when {he} saw a little {C} stuck up in a tall tree.",
      "The {C} was scared and could not get down.",
      "{N} wanted to help, but the tree was too [tall|big|high].",
      "^",
      "{He} ran to get {Fd}.",
      "{F} [had a long ladder|knew how to climb|had a good idea].",
      "Together, they helped the {C} come down [slowly|carefully|very slowly].",
      "The {C} was safe, and {N} [said, \"We did it!\"|smiled at {F}]."}},
    {{"One morning, {N} wanted to go to the {P} to play.",
      "But when {he} looked out the window, {he} saw [rain|dark clouds|big drops of rain].",
      "\"Oh no,\" said {N}. \"I cannot play outside today.\"",
      "^",
      "{His} {M} said, \"Let's play inside!\"",
      "They [made a fort with blankets|drew pictures|read a book|baked cookies] together.",
      "It was so much fun that {N} forgot about the rain.",
      "Later, the sun came out, and {N} saw a big rainbow in the sky."}},
    {{"{N} wanted to learn to {S}.",
      "{He} tried, but {he} [fell down|could not do it|was too slow].",
      "{N} felt [sad|angry|tired] and wanted to give up.",
      "^",
      "{FD} said, \"Do not give up! Try again.\"",
      "So {N} tried again, and again.",
      "At last, {he} could {S}!",
      "{N} was very proud. \"I did it!\" {he} said.",
      "[{F} clapped and cheered.|{F} gave {him} a big hug.]"}},
    {{"{N} wanted to make a [surprise|present|gift] for {his} {M}.",
      "{He} [drew a pretty picture|picked some pretty flowers|made a big card] all by {himself}.",
      "It took a long time, but {he} did not stop.",
      "^",
      "When {his} {M} came home, {N} said, \"Surprise! This is for you.\"",
      "{Mc} smiled a big smile. \"Thank you, {N}. I love it!\"",
      "{Mc} gave {N} a big hug, and they were both very happy."}},
    {{"{N} was at the {P}, but {he} was [alone|a little sad|bored].",
      "Then {he} saw {Fd} sitting [by the tree|on a rock|near the water].",
      "{N} said, \"Hi! Do you want to play with me?\"",
      "\"Yes, I would like that!\" said {F}.",
      "^",
      "They [ran and jumped|played with a ball|looked for pretty rocks|played hide and seek] all afternoon.",
      "When the sun went down, they said goodbye.",
      "\"See you tomorrow!\" said {F}.",
      "{N} was happy to have a new friend."}},
    {{"One sunny day, {N} and {his} {M} went to the {P} for a picnic.",
      "They had [apples|cake|cookies|bread and cheese] and some juice.",
      "^",
      "Then a big wind came and blew {N}'s {O} away!",
      "{N} ran after it as fast as {he} could.",
      "[{FD} saw it and caught it.|The {O} stopped by a tree, and {N} picked it up.]",
      "{N} sat down with {his} {M} again and ate [an apple|a cookie|some cake].",
      "\"This is the best picnic ever,\" {he} said."}},
};

static const char *OPENINGS[] = {
    "Once upon a time, there was a [little|small|happy|kind|curious] {K} named {N}.",
    "There was once a [little|happy|kind|brave] {K} called {N}.",
    "Once upon a time, in a [small|little|quiet] town, there lived a {K} named {N}.",
    "{N} was a [little|happy|kind|brave|curious] {K}.",
};
static const char *LIKES[] = {
    "{He} loved to play with {his} {OA} {O}.",
    "{He} liked to [run|jump|sing|dance|play] in the {P}.",
    "{He} [had many friends|liked the sun|liked to help {his} {M}].",
    "Every day, {he} went to the {P} to play.",
};
static const char *ENDINGS[] = {
    "It was the best day ever.",
    "{N} went home with a big smile.",
    "And they all lived happily ever after.",
    "That night, {N} went to bed happy.",
};

// --- output buffer ------------------------------------------------------------------------
typedef struct {
    char *p;
    size_t n, cap;
} sbuf;

static void put(sbuf *b, const char *s, size_t len) {
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->n + len + 1 > cap) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            fprintf(stderr, "storygen: out of memory\n");
            exit(1);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

// Index of the ']' matching the '[' at t[i] (templates are trusted, written above).
static size_t match_bracket(const char *t, size_t i, size_t end) {
    int depth = 0;
    for (size_t j = i; j < end; j++) {
        if (t[j] == '[') depth++;
        if (t[j] == ']' && --depth == 0) return j;
    }
    fprintf(stderr, "storygen: unbalanced '[' in template: %s\n", t);
    exit(1);
}

// Expand t[0..len): pick one alternative of every [..|..], substitute every {slot}.
static void expand(sbuf *out, const char *t, size_t len, const slots *s, pcg32 *rng) {
    size_t i = 0;
    while (i < len) {
        if (t[i] == '[') {
            size_t close = match_bracket(t, i, len);
            size_t starts[16], ends[16];
            int n = 0, depth = 0;
            starts[0] = i + 1;
            for (size_t j = i + 1; j < close; j++) {
                if (t[j] == '[') depth++;
                else if (t[j] == ']') depth--;
                else if (t[j] == '|' && depth == 0 && n < 15) {
                    ends[n] = j;
                    starts[++n] = j + 1;
                }
            }
            ends[n++] = close;
            int k = (int)pcg32_bounded(rng, (uint32_t)n);
            expand(out, t + starts[k], ends[k] - starts[k], s, rng);
            i = close + 1;
        } else if (t[i] == '{') {
            const char *close = memchr(t + i, '}', len - i);
            const char *v = close ? slot_get(s, t + i + 1, (size_t)(close - t - i - 1)) : NULL;
            if (!v) {
                fprintf(stderr, "storygen: unknown slot in template: %.*s\n", (int)len, t);
                exit(1);
            }
            puts_(out, v);
            i = (size_t)(close - t) + 1;
        } else {
            size_t j = i;
            while (j < len && t[j] != '[' && t[j] != '{') j++;
            put(out, t + i, j - i);
            i = j;
        }
    }
}

static const char *pick(pcg32 *rng, const char *const *a, int n) { return a[pcg32_bounded(rng, (uint32_t)n)]; }

// A name of the given gender other than `avoid`.
static const char *pick_name(pcg32 *rng, int girl, const char *avoid) {
    for (;;) {
        const char *nm = girl ? pick(rng, GIRLS, N(GIRLS)) : pick(rng, BOYS, N(BOYS));
        if (!avoid || strcmp(nm, avoid) != 0) return nm;
    }
}

static void set_pronouns(slots *s, int girl, const char *he, const char *He, const char *his,
                         const char *His, const char *him, const char *himself) {
    slot_set(s, he, girl ? "she" : "he");
    slot_set(s, He, girl ? "She" : "He");
    slot_set(s, his, girl ? "her" : "his");
    if (His) slot_set(s, His, girl ? "Her" : "His");
    if (him) slot_set(s, him, girl ? "her" : "him");
    if (himself) slot_set(s, himself, girl ? "herself" : "himself");
}

// One story into out (text only, no separator).
static void story(sbuf *out, pcg32 *rng) {
    slots s = {0};
    char fd[64], fdc[64];
    int girl = (int)pcg32_bounded(rng, 2), fgirl = (int)pcg32_bounded(rng, 2);
    int animal = pcg32_bounded(rng, 3) == 0, fanimal = pcg32_bounded(rng, 2) == 0;
    const char *hero = pick_name(rng, girl, NULL), *friend = pick_name(rng, fgirl, hero);
    slot_set(&s, "N", hero);
    slot_set(&s, "K", animal ? pick(rng, ANIMALS, N(ANIMALS)) : girl ? "girl" : "boy");
    set_pronouns(&s, girl, "he", "He", "his", "His", "him", "himself");
    slot_set(&s, "F", friend);
    if (fanimal) snprintf(fd, sizeof fd, "%s the %s", friend, pick(rng, ANIMALS, N(ANIMALS)));
    else snprintf(fd, sizeof fd, "%s friend %s", girl ? "her" : "his", friend);
    slot_set(&s, "Fd", fd);
    snprintf(fdc, sizeof fdc, "%s", fd);
    fdc[0] = (char)(fdc[0] - (fdc[0] >= 'a' && fdc[0] <= 'z' ? 'a' - 'A' : 0));
    slot_set(&s, "FD", fdc);  // the same, at the start of a sentence
    set_pronouns(&s, fgirl, "fhe", "Fhe", "fhis", NULL, NULL, NULL);
    int mom = (int)pcg32_bounded(rng, 2);
    slot_set(&s, "M", mom ? "mom" : "dad");
    slot_set(&s, "Mc", mom ? "Mom" : "Dad");
    slot_set(&s, "O", pick(rng, TOYS, N(TOYS)));
    slot_set(&s, "OA", pick(rng, TOY_ADJ, N(TOY_ADJ)));
    slot_set(&s, "P", pick(rng, PLACES, N(PLACES)));
    slot_set(&s, "S", pick(rng, SKILLS, N(SKILLS)));
    slot_set(&s, "C", pick(rng, CRITTERS, N(CRITTERS)));

    // Opening, sometimes a "likes" sentence, the plot, sometimes an ending line.
    const char *seq[24];
    int n = 0;
    seq[n++] = pick(rng, OPENINGS, N(OPENINGS));
    if (pcg32_bounded(rng, 3) != 0) seq[n++] = pick(rng, LIKES, N(LIKES));
    const plot *p = &PLOTS[pcg32_bounded(rng, N(PLOTS))];
    for (int i = 0; i < N(p->lines) && p->lines[i]; i++) seq[n++] = p->lines[i];
    if (pcg32_bounded(rng, 2) == 0) seq[n++] = pick(rng, ENDINGS, N(ENDINGS));
    int two_paragraphs = pcg32_bounded(rng, 2) == 0;

    int fresh = 1;  // at the start of a paragraph
    for (int i = 0; i < n; i++) {
        if (strcmp(seq[i], "^") == 0) {
            if (two_paragraphs) {
                puts_(out, "\n\n");
                fresh = 1;
            }
            continue;
        }
        if (!fresh) puts_(out, " ");
        expand(out, seq[i], strlen(seq[i]), &s, rng);
        fresh = 0;
    }
    puts_(out, "\n");
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: storygen [-n STORIES] [-s SEED] [-o FILE]\n"
            "  -n STORIES  number of stories (default 1000, at most 10000000)\n"
            "  -s SEED     random seed, a non-negative integer (default 1)\n"
            "  -o FILE     output file (default stdout)\n"
            "Stories are one or two paragraphs, each followed by a line <|endoftext|>.\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *v) {
    if (!s || !*s || *s == '-' || *s == '+') return 0;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || x > max) return 0;
    *v = x;
    return 1;
}

int main(int argc, char **argv) {
    uint64_t n = 1000, seed = 1;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-n") == 0) {
            if (!parse_u64(v, 10000000, &n)) {
                fprintf(stderr, "storygen: -n wants a number of stories from 0 to 10000000, got '%s'\n", v ? v : "");
                return 2;
            }
            i++;
        } else if (strcmp(a, "-s") == 0) {
            if (!parse_u64(v, UINT64_MAX, &seed)) {
                fprintf(stderr, "storygen: -s wants a non-negative integer seed, got '%s'\n", v ? v : "");
                return 2;
            }
            i++;
        } else if (strcmp(a, "-o") == 0) {
            if (!v || !*v) {
                fprintf(stderr, "storygen: -o wants a file name\n");
                return 2;
            }
            path = v;
            i++;
        } else {
            fprintf(stderr, "storygen: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }

    FILE *f = path ? fopen(path, "wb") : stdout;
    if (!f) {
        fprintf(stderr, "storygen: %s: %s\n", path, strerror(errno));
        return 1;
    }
    sbuf b = {0};
    for (uint64_t i = 0; i < n; i++) {
        pcg32 rng;
        pcg32_seed(&rng, seed, i);  // story i depends only on (seed, i)
        b.n = 0;
        story(&b, &rng);
        puts_(&b, "<|endoftext|>\n");
        if (fwrite(b.p, 1, b.n, f) != b.n) break;
    }
    free(b.p);
    int bad = ferror(f);
    if (path) bad |= fclose(f) != 0;
    else bad |= fflush(f) != 0;
    if (bad) {
        fprintf(stderr, "storygen: %s: write failed: %s\n", path ? path : "stdout", strerror(errno));
        return 1;
    }
    return 0;
}
