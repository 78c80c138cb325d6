// zx_tape.c: .TAP files through libspectrum's tape API (zx_tape.h).
#include "emu/zx_tape.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libspectrum.h>

#include "base/binio.h"
#include "base/err.h"

// libspectrum reports through a global callback; keep its last message for ours.
static char ls_msg[256];

static libspectrum_error on_ls_error(libspectrum_error e, const char *fmt, va_list ap) {
    vsnprintf(ls_msg, sizeof ls_msg, fmt, ap);
    return e;
}

static int ls_ready(void) {
    static int done;
    if (!done) {
        libspectrum_error_function = on_ls_error;
        if (libspectrum_init() != LIBSPECTRUM_ERROR_NONE)
            return rq_fail(RQ_ERUNTIME, "libspectrum cannot be initialised: %s", ls_msg);
        done = 1;
    }
    ls_msg[0] = 0;
    return RQ_OK;
}

static uint8_t xor_sum(const uint8_t *p, size_t n) {
    uint8_t x = 0;
    for (size_t i = 0; i < n; i++) x ^= p[i];
    return x;
}

// A ROM block holding flag, body and checksum, appended to tape.
static void add_block(libspectrum_tape *tape, uint8_t flag, const uint8_t *body, size_t n) {
    libspectrum_byte *d = libspectrum_new(libspectrum_byte, n + 2);
    d[0] = flag;
    if (n) memcpy(d + 1, body, n);
    d[n + 1] = (uint8_t)(flag ^ xor_sum(body, n));
    libspectrum_tape_block *b = libspectrum_tape_block_alloc(LIBSPECTRUM_TAPE_BLOCK_ROM);
    libspectrum_tape_block_set_data_length(b, n + 2);
    libspectrum_tape_block_set_data(b, d);
    libspectrum_tape_block_set_pause(b, 1000);
    libspectrum_tape_append_block(tape, b);
}

int zx_tap_write(const zx_tape_file *files, int n, uint8_t **tap, size_t *len) {
    *tap = NULL, *len = 0;
    if (ls_ready()) return RQ_ERUNTIME;
    libspectrum_tape *tape = libspectrum_tape_alloc();
    for (int i = 0; i < n; i++) {
        const zx_tape_file *f = &files[i];
        size_t nl = strlen(f->name);
        if (nl > 10 || f->len > 0xFFFF) {
            libspectrum_tape_free(tape);
            return rq_fail(RQ_EINPUT, "tape file '%s': a name of at most 10 characters and at most 65535 bytes, not %zu and %zu",
                           f->name, nl, f->len);
        }
        uint8_t h[17];
        h[0] = f->type;
        memset(h + 1, ' ', 10);
        memcpy(h + 1, f->name, nl);
        rq_wr_u16le(h + 11, (uint16_t)f->len);
        rq_wr_u16le(h + 13, f->param1);
        rq_wr_u16le(h + 15, f->param2);
        add_block(tape, 0x00, h, sizeof h);
        add_block(tape, 0xFF, f->data, f->len);
    }
    libspectrum_byte *buf = NULL;
    size_t blen = 0;
    libspectrum_error e = libspectrum_tape_write(&buf, &blen, tape, LIBSPECTRUM_ID_TAPE_TAP);
    libspectrum_tape_free(tape);
    if (e != LIBSPECTRUM_ERROR_NONE) {
        libspectrum_free(buf);
        return rq_fail(RQ_ERUNTIME, "libspectrum cannot write the .TAP: %s", ls_msg);
    }
    *tap = rq_malloc(blen ? blen : 1);
    memcpy(*tap, buf, blen);
    *len = blen;
    libspectrum_free(buf);
    return RQ_OK;
}

void zx_tape_files_free(zx_tape_file *files, int n) {
    for (int i = 0; files && i < n; i++) free(files[i].data);
    free(files);
}

static const char *type_name(int t) {
    return t == ZX_TAPE_PROGRAM ? "Program" : t == 1 ? "Number array" : t == 2 ? "Character array" : t == ZX_TAPE_CODE ? "Bytes" : "?";
}

int zx_tap_read(const uint8_t *tap, size_t len, const char *path, zx_tape_file **files, int *n) {
    *files = NULL, *n = 0;
    if (ls_ready()) return RQ_ERUNTIME;
    if (len == 0) return rq_fail(RQ_EINPUT, "%s: an empty file, not a .TAP", path);
    libspectrum_tape *tape = libspectrum_tape_alloc();
    if (libspectrum_tape_read(tape, tap, len, LIBSPECTRUM_ID_TAPE_TAP, path) != LIBSPECTRUM_ERROR_NONE) {
        libspectrum_tape_free(tape);
        // libspectrum does not say where: walk the length words to the block that overruns.
        size_t at = 0;
        while (at + 2 <= len && at + 2 + (size_t)rq_rd_u16le(tap + at) <= len) at += 2 + rq_rd_u16le(tap + at);
        return rq_fail_at(RQ_EINPUT, path, (long)at, "not a .TAP: the block here runs past the end of the file (%s)",
                          ls_msg[0] ? ls_msg : "libspectrum cannot read it");
    }
    int cap = 4, rc = RQ_OK;
    zx_tape_file *fs = rq_calloc((size_t)cap, sizeof *fs), *cur = NULL;
    size_t at = 0;  // file offset of the block: TAP stores them in order, each after a u16 length
    libspectrum_tape_iterator it;
    for (libspectrum_tape_block *b = libspectrum_tape_iterator_init(&it, tape); b && !rc; b = libspectrum_tape_iterator_next(&it)) {
        size_t bl = libspectrum_tape_block_data_length(b);
        const uint8_t *d = libspectrum_tape_block_data(b);
        if (libspectrum_tape_block_type(b) != LIBSPECTRUM_TAPE_BLOCK_ROM || bl < 2) {
            rc = rq_fail_at(RQ_EINPUT, path, (long)at, "a %zu-byte tape block: not a ROM block (flag, data, checksum)", bl);
            break;
        }
        if (xor_sum(d, bl) != 0) {
            rc = rq_fail_at(RQ_EINPUT, path, (long)at, "checksum error in the %s block (the ROM reports 'R Tape loading error')",
                            d[0] == 0 ? "header" : "data");
            break;
        }
        if (!cur) {  // expecting a header
            if (d[0] != 0x00 || bl != 19) {
                rc = rq_fail_at(RQ_EINPUT, path, (long)at, "a headerless %zu-byte block (flag %02Xh) where a header was expected", bl - 2, d[0]);
                break;
            }
            if (d[1] != ZX_TAPE_PROGRAM && d[1] != ZX_TAPE_CODE && d[1] != 1 && d[1] != 2) {
                rc = rq_fail_at(RQ_EINPUT, path, (long)at, "header of unknown type %d", d[1]);
                break;
            }
            if (*n == cap) fs = rq_realloc(fs, sizeof *fs * (size_t)(cap *= 2));
            cur = &fs[(*n)++];
            memset(cur, 0, sizeof *cur);
            cur->type = d[1];
            memcpy(cur->name, d + 2, 10);
            for (int k = 9; k >= 0 && cur->name[k] == ' '; k--) cur->name[k] = 0;
            cur->len = rq_rd_u16le(d + 12);
            cur->param1 = rq_rd_u16le(d + 14);
            cur->param2 = rq_rd_u16le(d + 16);
            cur->offset = at;
        } else {  // its data
            if (d[0] != 0xFF || bl != cur->len + 2) {
                rc = rq_fail_at(RQ_EINPUT, path, (long)at,
                                "the data of %s: \"%s\" (header at byte %zu) should be a %zu-byte block with flag FFh, not %zu bytes "
                                "with flag %02Xh",
                                type_name(cur->type), cur->name, cur->offset, cur->len, bl - 2, d[0]);
                break;
            }
            cur->data = rq_malloc(cur->len ? cur->len : 1);
            memcpy(cur->data, d + 1, cur->len);
            cur = NULL;
        }
        at += 2 + bl;
    }
    libspectrum_tape_free(tape);
    if (!rc && cur)
        rc = rq_fail_at(RQ_EINPUT, path, (long)len, "the tape ends after the header of %s: \"%s\" (byte %zu), without its data",
                        type_name(cur->type), cur->name, cur->offset);
    if (!rc && *n == 0) rc = rq_fail(RQ_EINPUT, "%s: a .TAP without any file", path);
    if (rc) {
        zx_tape_files_free(fs, *n);
        *n = 0;
        return rc;
    }
    *files = fs;
    return RQ_OK;
}

int zx_tap_read_file(const char *path, zx_tape_file **files, int *n) {
    uint8_t *buf;
    size_t len;
    *files = NULL, *n = 0;
    int rc = rq_read_file(path, &buf, &len);
    if (rc) return rc;
    rc = zx_tap_read(buf, len, path, files, n);
    free(buf);
    return rc;
}
