// ps2_run.c: run an exported PS2 folder (ps2.h).
//   default  PS2LM.ELF on `gxemul -E testmips -C R5900 -M 32`, the folder's PS2.ISO as its disk
//            (the weights stream from it), the arguments as a block loaded at 0x80010000. GXemul
//            has one console: the program frames its fd-2 bytes with STX/ETX, ends with "#exit N"
//            and EOT, then halts; stdin stays an open pipe (GXemul spins at end of input) and a
//            hard wall-clock limit stops it in any case.
//   --fast   PS2LMQ.ELF on `qemu-mipsel -cpu 24Kc`, files by path, instructions counted by the
//            qemu plugin (export/qemu_user.h): the whole run, and the generation loop from the
//            first call of rt_lm_generate / rt_chat_main on (the program's own counter is GXemul's).
// The program's stdout goes to o->out unchanged; "#logits", "#stats" and "#exit" lines are
// parsed, every other diagnostic line goes to stderr.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/binio.h"
#include "base/err.h"
#include "export/proc.h"
#include "export/ps2/ps2.h"
#include "export/qemu_user.h"

#define GXEMUL_DEFAULT_TIMEOUT 1800.0

typedef struct {
    uint32_t *crc;
    int n, cap;
    int exit_code, have_exit;
    double st[8];  // insns gen_insns stream_insns positions streamed cached arena budget
    int have_stats;
} parsed;

static const char *const STAT_KEYS[8] = {"insns", "gen_insns", "stream_insns", "positions", "streamed", "cached", "arena", "budget"};

static void diag_line(parsed *p, const char *l, size_t n) {
    char buf[512];
    if (n >= sizeof buf) n = sizeof buf - 1;
    memcpy(buf, l, n);
    buf[n] = 0;
    unsigned step, crc;
    int code;
    if (sscanf(buf, "#logits %u %x", &step, &crc) == 2) {
        if (p->n == p->cap) p->cap = p->cap ? 2 * p->cap : 64, p->crc = rq_realloc(p->crc, (size_t)p->cap * 4);
        p->crc[p->n++] = crc;
    } else if (sscanf(buf, "#exit %d", &code) == 1) {
        p->exit_code = code, p->have_exit = 1;
    } else if (strncmp(buf, "#stats", 6) == 0) {
        for (int i = 0; i < 8; i++) {
            char key[32];
            snprintf(key, sizeof key, " %s ", STAT_KEYS[i]);
            const char *k = strstr(buf, key);
            if (k) p->st[i] = strtod(k + strlen(key), NULL);
        }
        p->have_stats = 1;
    } else {
        fprintf(stderr, "%s\n", buf);
    }
}

static void diag_text(parsed *p, const char *s, size_t n) {
    size_t a = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n') diag_line(p, s + a, i - a), a = i + 1;
    if (a < n) diag_line(p, s + a, n - a);
}

// GXemul's console: bytes outside STX..ETX are the program's stdout, inside its diagnostics.
static void demux(parsed *p, const char *s, size_t n, FILE *out) {
    rq_buf d = {0};
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == 2) in = 1;
        else if (ch == 3) in = 0;
        else if (ch == 4 && !in) break;  // EOT: the program ended
        else if (in) rq_buf_put(&d, &ch, 1);
        else fputc(ch, out);
    }
    diag_text(p, (const char *)d.data, d.len);
    rq_buf_free(&d);
}

static int file_exists(const char *dir, const char *name, char *path, size_t cap) {
    snprintf(path, cap, "%s/%s", dir, name);
    return access(path, R_OK) == 0;
}

int ps2_run(const char *dir, const rq_run_opts *o, rq_run_result *r) {
    int fast = o->flag && o->flag[0] != NULL;  // the target's only run flag: --fast
    char elf[1100], model[1100], tok[1100], iso[1100];
    int chat = file_exists(dir, "CHAT.RQI", model, sizeof model);
    if (!file_exists(dir, chat ? (fast ? "PS2CHATQ.ELF" : "PS2CHAT.ELF") : (fast ? "PS2LMQ.ELF" : "PS2LM.ELF"), elf, sizeof elf))
        return rq_fail(RQ_EINPUT, "%s: not a PS2 export (no %s): export it with --target ps2 -o %s", dir,
                       chat ? "PS2CHAT.ELF" : "PS2LM.ELF", dir);
    if (!chat) file_exists(dir, "MODEL.RQS", model, sizeof model), file_exists(dir, "TOK.TOK", tok, sizeof tok);
    if (!fast && !file_exists(dir, "PS2.ISO", iso, sizeof iso)) return rq_fail(RQ_EINPUT, "%s: no PS2.ISO (the disc GXemul reads)", dir);

    // the program's argv
    char nbuf[4][32];
    const char *args[64];
    int na = 0;
    args[na++] = chat ? "PS2CHAT.ELF" : "PS2LM.ELF";
    if (chat) {
        args[na++] = "-m", args[na++] = fast ? model : "CHAT.RQI";
        if (o->debug_logits) args[na++] = "-d";
        for (int i = 0; i < o->nargs && na < 60; i++) args[na++] = o->args[i];
    } else {
        uint32_t temp_q8 = (uint32_t)(o->temp * 256 + 0.5);
        if (o->temp > 0 && temp_q8 == 0) temp_q8 = 1;
        uint32_t topp_q15 = o->topp <= 0 || o->topp >= 1 ? 32768 : (uint32_t)(o->topp * 32768 + 0.5);
        snprintf(nbuf[0], 32, "%d", o->steps);
        snprintf(nbuf[1], 32, "%u", temp_q8);
        snprintf(nbuf[2], 32, "%u", topp_q15);
        snprintf(nbuf[3], 32, "%ld", o->seed);
        args[na++] = "-m", args[na++] = fast ? model : "MODEL.RQS";
        args[na++] = "-k", args[na++] = fast ? tok : "TOK.TOK";
        args[na++] = "-i", args[na++] = o->prompt ? o->prompt : "";
        args[na++] = "-n", args[na++] = nbuf[0];
        args[na++] = "-T", args[na++] = nbuf[1];
        args[na++] = "-P", args[na++] = nbuf[2];
        args[na++] = "-s", args[na++] = nbuf[3];
        args[na++] = "-S";
        if (o->debug_logits) args[na++] = "-d";
    }
    args[na] = NULL;

    rq_proc p = {0};
    rq_proc_result res;
    char tmpl[] = "/tmp/rq-ps2-XXXXXX", argfile[64], load[96];
    int rc;
    uint64_t fast_insns = 0, fast_gen0 = 0;
    p.timeout = o->timeout > 0 ? o->timeout : fast ? 600 : GXEMUL_DEFAULT_TIMEOUT;
    if (fast) {
        static const qu_cpu MIPS2 = {.nm = "mipsel-linux-gnu-nm", .qemu = "qemu-mipsel", .qemu_cpu = "24Kc"};
        qu_run q = {.bin = elf, .args = args + 1, .timeout = p.timeout, .n_marks = 1,
                    .marks = {qu_symbol(&MIPS2, elf, chat ? "rt_chat_main" : "rt_lm_generate")}};
        qu_result qr;
        rc = qu_run_program(&MIPS2, &q, &qr);
        if (rc) return rc;
        if (!qr.counted && !qr.p.timed_out) {
            qu_result_free(&qr);
            return rq_fail(RQ_ERUNTIME, "qemu-mipsel: the instruction-count plugin did not report");
        }
        fast_insns = qr.insns, fast_gen0 = qr.mark_first[0];
        res = qr.p;
    } else {
        // the argument block: "RQAG", u32 length, the NUL-separated arguments
        rq_buf b = {0};
        rq_buf_put(&b, "RQAG", 4);
        rq_buf_u32(&b, 0);
        for (int i = 0; i < na; i++) rq_buf_put(&b, args[i], strlen(args[i]) + 1);
        rq_wr_u32le(b.data + 4, (uint32_t)b.len - 8);
        if (b.len > 4096) {
            rq_buf_free(&b);
            return rq_fail(RQ_EINPUT, "ps2: the arguments take %zu bytes, the program's block holds 4088", b.len - 8);
        }
        if (!mkdtemp(tmpl)) return rq_fail(RQ_ERUNTIME, "ps2: cannot create a temporary folder");
        snprintf(argfile, sizeof argfile, "%s/ARGS.BIN", tmpl);
        rc = rq_write_atomic(argfile, b.data, b.len);
        rq_buf_free(&b);
        if (rc) return rc;
        snprintf(load, sizeof load, "0x80010000:%s", argfile);
        char disk[1200];
        snprintf(disk, sizeof disk, "r:%s", iso);
        const char *gx[] = {"stdbuf", "-o0", "gxemul", "-q", "-E", "testmips", "-C", "R5900", "-M", "32", "-d", disk, load, elf, NULL};
        p.argv = gx;
        p.keep_stdin_open = 1;
        p.stop_marker = "\x04";
        rc = rq_proc_run(&p, &res);
        unlink(argfile);
        rmdir(tmpl);
    }
    if (rc) return rc;

    parsed ps = {0};
    if (fast) {
        fwrite(res.out, 1, res.out_len, o->out);
        diag_text(&ps, res.err, res.err_len);
        ps.exit_code = res.exit_code, ps.have_exit = 1;
    } else {
        demux(&ps, res.out, res.out_len, o->out);
        if (res.err_len) fwrite(res.err, 1, res.err_len, stderr);
    }
    fflush(o->out);
    if (res.timed_out) {
        fprintf(stderr, "retroqat: %s: stopped after %.0f s of wall clock (--timeout)\n", fast ? "qemu-mipsel" : "gxemul", p.timeout);
        r->exit_code = 124;
    } else if (!ps.have_exit) {
        fprintf(stderr, "retroqat: gxemul ended without the program's exit line (exit %d)\n", res.exit_code);
        r->exit_code = 1;
    } else {
        r->exit_code = ps.exit_code;
    }
    rq_proc_result_free(&res);

    r->logit_crc = ps.crc, r->n_crc = ps.n;
    if (fast) ps.st[0] = (double)fast_insns, ps.st[1] = (double)(fast_insns - fast_gen0);
    r->unit = "insns";
    r->count = (uint64_t)ps.st[0];
    r->tokens = (uint64_t)ps.st[3];
    if (ps.have_stats) {
        r->stats = cJSON_CreateObject();
        double pos = ps.st[3] > 0 ? ps.st[3] : 1;
        cJSON_AddNumberToObject(r->stats, "gen_insns_per_token", ps.st[1] / pos);  // the generation loop only (insns_per_token includes loading)
        if (!fast) cJSON_AddNumberToObject(r->stats, "stream_insns_per_token", ps.st[2] / pos);
        cJSON_AddNumberToObject(r->stats, "bytes_streamed_per_token", ps.st[4] / pos);
        cJSON_AddNumberToObject(r->stats, "bytes_cached", ps.st[5]);
        cJSON_AddNumberToObject(r->stats, "arena_high_water", ps.st[6]);
        cJSON_AddNumberToObject(r->stats, "ram_budget", ps.st[7]);
    }
    return 0;
}
