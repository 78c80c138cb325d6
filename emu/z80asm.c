// z80asm.c: sdasz80/sdldz80 driver and Intel HEX reader (see z80asm.h).
#include "emu/z80asm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/binio.h"
#include "base/err.h"

static int hexval(const char *s, int ndig, unsigned *v) {
    *v = 0;
    for (int i = 0; i < ndig; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return 0;
        *v = *v << 4 | (unsigned)d;
    }
    return 1;
}

int ihx_parse(const char *text, const char *name, uint16_t *org, uint8_t **bin, size_t *n) {
    uint8_t *img = rq_calloc(65536, 1), *used = rq_calloc(65536, 1);
    unsigned lo = 0x10000, hi = 0;
    long line = 0;
    int rc = RQ_OK, ended = 0;
    for (const char *p = text; *p && !ended;) {
        line++;
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        while (len && (p[len - 1] == '\r' || p[len - 1] == ' ')) len--;
        if (len == 0) {
            p = eol ? eol + 1 : p + strlen(p);
            continue;
        }
        unsigned cnt, addr, type, sum = 0, v;
        if (p[0] != ':' || len < 11 || !hexval(p + 1, 2, &cnt) || len != 11 + 2 * cnt || !hexval(p + 3, 4, &addr) ||
            !hexval(p + 7, 2, &type)) {
            rc = rq_fail_line(RQ_EINPUT, name, line, 0, "malformed Intel HEX record");
            break;
        }
        for (size_t i = 1; i + 1 < len; i += 2) {
            if (!hexval(p + i, 2, &v)) {
                rc = rq_fail_line(RQ_EINPUT, name, line, (long)i + 1, "bad hex digit");
                break;
            }
            sum += v;
        }
        if (rc) break;
        if (sum & 0xFF) {
            rc = rq_fail_line(RQ_EINPUT, name, line, 0, "checksum mismatch");
            break;
        }
        if (type == 1) {
            ended = 1;
        } else if (type == 0) {
            if (addr + cnt > 0x10000) {
                rc = rq_fail_line(RQ_EINPUT, name, line, 0, "data beyond FFFFh");
                break;
            }
            for (unsigned i = 0; i < cnt; i++) {
                hexval(p + 9 + 2 * i, 2, &v);
                img[addr + i] = (uint8_t)v;
                used[addr + i] = 1;
            }
            if (cnt && addr < lo) lo = addr;
            if (cnt && addr + cnt > hi) hi = addr + cnt;
        } else {
            rc = rq_fail_line(RQ_EINPUT, name, line, 0, "unsupported record type %02X", type);
            break;
        }
        p = eol ? eol + 1 : p + strlen(p);
    }
    if (!rc && !ended) rc = rq_fail(RQ_EINPUT, "%s: no end-of-file record", name);
    if (!rc && hi == 0) rc = rq_fail(RQ_EINPUT, "%s: no data", name);
    if (!rc) {
        *org = (uint16_t)lo;
        *n = hi - lo;
        *bin = rq_malloc(*n);
        memcpy(*bin, img + lo, *n);
    }
    free(img);
    free(used);
    return rc;
}

// Run a shell command with its output in `log`; returns the exit status (-1: cannot run).
static int run_logged(const char *cmd, const char *log) {
    char full[16384];
    snprintf(full, sizeof full, "%s >'%s' 2>&1", cmd, log);
    int st = system(full);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

static int tool_error(const char *what, const char *log, int st) {
    uint8_t *text = NULL;
    size_t n = 0;
    if (rq_read_file(log, &text, &n) != 0) text = NULL;
    char msg[700] = "";
    if (text) {
        snprintf(msg, sizeof msg, "%s", (char *)text);
        size_t k = strlen(msg);
        while (k && (msg[k - 1] == '\n' || msg[k - 1] == ' ')) msg[--k] = 0;
    }
    free(text);
    if (st < 0 || st == 127) return rq_fail(RQ_ERUNTIME, "cannot run %s (is sdcc installed?)", what);
    return rq_fail(RQ_EINPUT, "%s failed: %s", what, msg);
}

int z80_assemble(const char *src, const char *work_dir, uint16_t *org, uint8_t **bin, size_t *n) {
    if (strchr(src, '\'') || strchr(work_dir, '\''))
        return rq_fail(RQ_EINPUT, "%s: paths with a single quote are not supported", src);
    FILE *f = fopen(src, "r");
    if (!f) return rq_fail(RQ_EINPUT, "%s: cannot open", src);
    fclose(f);
    const char *slash = strrchr(src, '/');
    char base[256];
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : src);
    char *dot = strrchr(base, '.');
    if (dot) *dot = 0;
    char out[4096], cmd[8400], log[4200], ihx[4200];
    snprintf(out, sizeof out, "%s/%s", work_dir, base);
    snprintf(log, sizeof log, "%s.log", out);
    snprintf(ihx, sizeof ihx, "%s.ihx", out);
    char srcdir[4096];
    if (!slash) snprintf(srcdir, sizeof srcdir, ".");
    else if (slash == src) snprintf(srcdir, sizeof srcdir, "/");
    else snprintf(srcdir, sizeof srcdir, "%.*s", (int)(slash - src), src);
    snprintf(cmd, sizeof cmd, "sdasz80 -plosff '-I%s' '%s.rel' '%s'", srcdir, out, src);
    int st = run_logged(cmd, log);
    if (st != 0) return tool_error("sdasz80", log, st);
    snprintf(cmd, sizeof cmd, "sdldz80 -n -m -b _CODE=0x100 -i '%s.ihx' '%s.rel'", out, out);
    st = run_logged(cmd, log);
    // sdldz80 reports undefined symbols on its output but may still exit 0: treat any as failure.
    uint8_t *text = NULL;
    size_t tn = 0;
    if (st == 0 && rq_read_file(log, &text, &tn) == 0 && strstr((char *)text, "?ASlink-Warning")) st = 1;
    free(text);
    if (st != 0) return tool_error("sdldz80", log, st);
    if (rq_read_file(ihx, &text, &tn) != 0) return RQ_ERUNTIME;
    int rc = ihx_parse((char *)text, ihx, org, bin, n);
    free(text);
    return rc;
}
