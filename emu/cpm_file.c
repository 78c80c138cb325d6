// cpm_file.c: the BDOS file functions on a host directory.
//
// A CP/M file is a sequence of 128-byte records named by an FCB (file control block, 36 bytes):
//   0 drive (0 = default, 1 = A: ...)   1-8 name   9-11 type (bit 7 = attributes)
//   12 ex (extent, 128 records each)    13 s1   14 s2 (module: 32 extents)   15 rc (records in
//   this extent)   16-31 allocation map   32 cr (current record in the extent)   33-35 r0 r1 r2
// The sequential position is s2*4096 + ex*128 + cr; random functions use r0 + 256*r1.
//
// Host mapping: every drive is the one host directory; a host file is visible when its name is
// a valid 8.3 CP/M name, matched case-insensitively (new files are created upper-case). Nothing
// is kept open between calls: each record read/write opens the host file by name, so FCBs can
// be copied and moved as freely as on a real machine. Reading the last, partial record pads it
// with 1Ah (^Z); writing always writes whole records, as CP/M does.
#include "emu/cpm_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "emu/cpm_int.h"

#define REC 128

// A host file name as the 11 upper-case bytes of an FCB name+type, or 0 when it is not 8.3.
static int host_to_fcb(const char *name, uint8_t out[11]) {
    memset(out, ' ', 11);
    int i = 0, field = 0, len = 0;
    if (name[0] == '.' || name[0] == 0) return 0;
    for (; name[i]; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.') {
            if (field == 1 || len == 0) return 0;
            field = 1, len = 0;
            continue;
        }
        if (c <= ' ' || c >= 0x7F || strchr("<>,;:=?*[]|/\\\"", c)) return 0;
        if (len >= (field ? 3 : 8)) return 0;
        out[(field ? 8 : 0) + len++] = (uint8_t)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    if (field == 1 && len == 0) return 0;  // "NAME." is not a CP/M name
    return 1;
}

// The FCB's name+type (attribute bits stripped), upper-cased.
static void fcb_pattern(const uint8_t *fcb, uint8_t pat[11]) {
    for (int i = 0; i < 11; i++) {
        uint8_t c = fcb[1 + i] & 0x7F;
        pat[i] = (uint8_t)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
}

static int has_wild(const uint8_t pat[11]) { return memchr(pat, '?', 11) != NULL; }

static int pat_match(const uint8_t pat[11], const uint8_t name[11]) {
    for (int i = 0; i < 11; i++)
        if (pat[i] != '?' && pat[i] != name[i]) return 0;
    return 1;
}

static void fcb_to_host(const uint8_t pat[11], char *out) {
    int n = 0;
    for (int i = 0; i < 8 && pat[i] != ' '; i++) out[n++] = (char)pat[i];
    if (pat[8] != ' ') {
        out[n++] = '.';
        for (int i = 8; i < 11 && pat[i] != ' '; i++) out[n++] = (char)pat[i];
    }
    out[n] = 0;
}

typedef struct {
    uint8_t key[11];
    char *name;
} entry;

static int entry_cmp(const void *a, const void *b) {
    const entry *x = a, *y = b;
    int c = memcmp(x->key, y->key, 11);
    return c ? c : strcmp(x->name, y->name);
}

// Host files matching the pattern, sorted by CP/M name (then host name: "a.txt" vs "A.TXT").
// Returns the count (-1 when the directory cannot be read: recorded as a runtime error).
static int list_matches(cpm_machine *m, const uint8_t pat[11], entry **out) {
    DIR *d = opendir(m->dir);
    if (!d) {
        cpm_fail(m, "cannot read the CP/M directory %s: %s", m->dir, strerror(errno));
        return -1;
    }
    entry *v = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        entry e;
        if (!host_to_fcb(de->d_name, e.key) || !pat_match(pat, e.key)) continue;
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", m->dir, de->d_name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        if (n == cap) v = rq_realloc(v, sizeof *v * (size_t)(cap = cap ? 2 * cap : 16));
        e.name = rq_strdup(de->d_name);
        v[n++] = e;
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, entry_cmp);
    *out = v;
    return n;
}

static void free_entries(entry *v, int n) {
    for (int i = 0; i < n; i++) free(v[i].name);
    free(v);
}

// The host path of the first file matching the FCB; 0 when there is none (-1: error recorded).
static int find_file(cpm_machine *m, const uint8_t *fcb, char *path, size_t cap) {
    uint8_t pat[11];
    fcb_pattern(fcb, pat);
    entry *v;
    int n = list_matches(m, pat, &v);
    if (n <= 0) return n;
    snprintf(path, cap, "%s/%s", m->dir, v[0].name);
    free_entries(v, n);
    return 1;
}

static long file_records(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return -1;
    return (long)((sb.st_size + REC - 1) / REC);
}

static long seq_pos(const uint8_t *f) { return (long)(f[14] & 0x3F) * 4096 + (long)(f[12] & 0x1F) * 128 + (f[32] & 0x7F); }

// Point ex/s2/cr at record `rec` and set rc to the records of that extent.
static void set_pos(uint8_t *f, long rec, long nrec) {
    f[32] = (uint8_t)(rec & 0x7F);
    f[12] = (uint8_t)((rec >> 7) & 0x1F);
    f[14] = (uint8_t)(rec >> 12);
    long in_ext = nrec - (rec & ~127L);
    f[15] = (uint8_t)(in_ext < 0 ? 0 : in_ext > 128 ? 128 : in_ext);
}

// Read record `rec` into the DMA buffer: 0 ok, 1 beyond the end of the file.
static uint8_t read_record(cpm_machine *m, const char *path, long rec) {
    uint8_t buf[REC];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        cpm_fail(m, "cannot open %s: %s", path, strerror(errno));
        return 0xFF;
    }
    ssize_t got = pread(fd, buf, REC, (off_t)rec * REC);
    int err = errno;
    close(fd);
    if (got < 0) {
        cpm_fail(m, "cannot read %s: %s", path, strerror(err));
        return 0xFF;
    }
    if (got == 0) return 1;
    memset(buf + got, 0x1A, (size_t)(REC - got));
    for (int i = 0; i < REC; i++) {
        uint16_t a = (uint16_t)(m->dma + i);
        if (a >= m->map.top) {
            cpm_fail(m, "DMA buffer at %04Xh runs into the BDOS area", m->dma);
            return 0xFF;
        }
        m->mem[a] = buf[i];
    }
    return 0;
}

static uint8_t write_record(cpm_machine *m, const char *path, long rec) {
    uint8_t buf[REC];
    for (int i = 0; i < REC; i++) buf[i] = m->mem[(uint16_t)(m->dma + i)];
    int fd = open(path, O_WRONLY);
    if (fd < 0) {
        cpm_fail(m, "cannot write %s: %s", path, strerror(errno));
        return 0xFF;
    }
    ssize_t put = pwrite(fd, buf, REC, (off_t)rec * REC);
    int err = errno;
    close(fd);
    if (put != REC) {
        cpm_fail(m, "cannot write %s: %s", path, put < 0 ? strerror(err) : "short write");
        return 0xFF;
    }
    return 0;
}

void file_search_free(cpm_machine *m) {
    for (int i = 0; i < m->nfound; i++) free(m->found[i]);
    free(m->found);
    m->found = NULL;
    m->nfound = m->ifound = 0;
}

// Search first/next: the next match as a directory entry at DMA+0 (result 0), or FFh.
static uint8_t search_next(cpm_machine *m) {
    if (m->ifound >= m->nfound) return 0xFF;
    const char *name = m->found[m->ifound++];
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", m->dir, name);
    long nrec = file_records(path);
    if (nrec < 0) nrec = 0;
    uint8_t d[32] = {0};
    d[0] = m->user;
    host_to_fcb(name, d + 1);
    d[15] = (uint8_t)(nrec > 128 ? 128 : nrec);  // extent 0 (one entry per file)
    if (m->dma + 32 > m->map.top) {
        cpm_fail(m, "DMA buffer at %04Xh runs into the BDOS area", m->dma);
        return 0xFF;
    }
    memcpy(m->mem + m->dma, d, 32);
    return 0;
}

uint8_t file_call(cpm_machine *m, int fn, uint16_t at) {
    if (fn == 18) return search_next(m);  // works from the state of search first (DE unused)
    if (at > 0xFFFF - 36 || at + 36 > m->map.top) {
        cpm_fail(m, "BDOS %d called from %04Xh with an FCB at %04Xh in the BDOS area", fn, cpm_caller(m), at);
        return 0xFF;
    }
    uint8_t *f = m->mem + at;
    char path[4096];
    uint8_t pat[11];
    fcb_pattern(f, pat);
    int found;
    switch (fn) {
    case 15: {  // open: 0 found (ex kept; s2 and cr reset as programs expect), FFh not found
        if ((found = find_file(m, f, path, sizeof path)) <= 0) return 0xFF;
        long nrec = file_records(path);
        long rec = (long)(f[12] & 0x1F) * 128;
        if (rec > 0 && rec >= nrec) return 0xFF;  // that extent does not exist
        set_pos(f, rec, nrec);
        memset(f + 16, 0, 16);
        return 0;
    }
    case 16:  // close: nothing is buffered
        return find_file(m, f, path, sizeof path) > 0 ? 0 : 0xFF;
    case 17: {  // search first ("?" in the drive byte matches every file too)
        file_search_free(m);
        if (f[0] == '?') memset(pat, '?', 11);
        entry *v;
        int n = list_matches(m, pat, &v);
        if (n < 0) return 0xFF;
        m->found = rq_malloc(sizeof(char *) * (size_t)(n ? n : 1));
        for (int i = 0; i < n; i++) m->found[i] = v[i].name;
        free(v);
        m->nfound = n;
        return search_next(m);
    }
    case 19: {  // delete every match
        entry *v;
        int n = list_matches(m, pat, &v);
        if (n < 0) return 0xFF;
        for (int i = 0; i < n; i++) {
            snprintf(path, sizeof path, "%s/%s", m->dir, v[i].name);
            if (unlink(path) != 0) {
                cpm_fail(m, "cannot delete %s: %s", path, strerror(errno));
                break;
            }
        }
        free_entries(v, n);
        return n > 0 ? 0 : 0xFF;
    }
    case 20: {  // read sequential: 0 ok, 1 end of file
        if ((found = find_file(m, f, path, sizeof path)) <= 0) return found < 0 ? 0xFF : 1;
        long rec = seq_pos(f), nrec = file_records(path);
        if (rec >= nrec) return 1;
        uint8_t r = read_record(m, path, rec);
        if (r == 0) set_pos(f, rec + 1, nrec);
        return r;
    }
    case 21: {  // write sequential: 0 ok, 1 no such file (never made)
        if ((found = find_file(m, f, path, sizeof path)) <= 0) return found < 0 ? 0xFF : 1;
        long rec = seq_pos(f);
        uint8_t r = write_record(m, path, rec);
        if (r == 0) set_pos(f, rec + 1, file_records(path));
        return r;
    }
    case 22: {  // make: create (an existing file of that name is truncated), FFh for wildcards
        if (has_wild(pat)) return 0xFF;
        if ((found = find_file(m, f, path, sizeof path)) < 0) return 0xFF;
        if (!found) {
            char name[16];
            fcb_to_host(pat, name);
            snprintf(path, sizeof path, "%s/%s", m->dir, name);
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            cpm_fail(m, "cannot create %s: %s", path, strerror(errno));
            return 0xFF;
        }
        close(fd);
        set_pos(f, (long)(f[12] & 0x1F) * 128, 0);
        f[13] = 0;
        memset(f + 16, 0, 16);
        return 0;
    }
    case 33: case 34: {  // read / write random at r0 + 256*r1: 0 ok, 1 unwritten data, 6 beyond the disk
        if (f[35] != 0) return 6;
        long rec = f[33] | (long)f[34] << 8;
        if ((found = find_file(m, f, path, sizeof path)) <= 0) return found < 0 ? 0xFF : (fn == 33 ? 1 : 5);
        long nrec = file_records(path);
        uint8_t r;
        if (fn == 33) {
            r = rec >= nrec ? 1 : read_record(m, path, rec);
        } else {
            r = write_record(m, path, rec);
            nrec = file_records(path);
        }
        set_pos(f, rec, nrec);  // the record is not advanced: a sequential read rereads it
        return r;
    }
    case 35: {  // file size in records into r0..r2
        if ((found = find_file(m, f, path, sizeof path)) <= 0) return 0xFF;
        long nrec = file_records(path);
        f[33] = (uint8_t)nrec, f[34] = (uint8_t)(nrec >> 8), f[35] = (uint8_t)(nrec >> 16);
        return 0;
    }
    case 36: {  // set random record from the sequential position
        long rec = seq_pos(f);
        f[33] = (uint8_t)rec, f[34] = (uint8_t)(rec >> 8), f[35] = (uint8_t)(rec >> 16);
        return 0;
    }
    }
    return 0xFF;
}
