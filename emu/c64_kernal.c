// c64_kernal.c: the KERNAL jump table of the C64 model (c64.h), served in C.
//
// Devices: 0 the keyboard (lines from the host: in_fd), 3 the screen (console streams), 8 a
// disk drive whose files are the host folder `dir` (one name each, emu/hostfile.h), with its
// command channel (secondary address 15: the drive's status; the commands S: scratch and I
// initialise). Other devices are not present (error 5). As on a real 1541, OPEN of a disk file
// succeeds and a missing file shows in the drive status ("62,FILE NOT FOUND,00,00"), which is
// how cc65's open() finds out. ST ($90) follows the KERNAL: OPEN, CHKIN and CKOUT clear it, the
// last byte of a file (or of the drive status) comes with EOI ($40), and CHRIN from the drive
// returns CR without reading while ST is not 0.
//
// File names and screen bytes are PETSCII; the model translates them with c64_ascii (unshifted
// letters are lower case on the host, as VICE's file system device does). Keyboard lines: at most
// 80 characters (the screen editor's logical line; longer host lines are cut), printable ASCII;
// the host's end of input reads as an empty line. The screen: CHR$(14) (the character set
// switch cc65's start-up prints) is not text and is dropped; with `echo` a typed line is shown,
// without it the program's echo of RETURN is dropped (a terminal has moved to the next line).
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "emu/c64.h"
#include "emu/hostfile.h"

enum { ST_EOI = 0x40, ST_TIMEOUT = 0x02, ST_ABSENT = 0x80 };
enum { E_TOO_MANY = 1, E_OPEN = 2, E_NOT_OPEN = 3, E_ABSENT = 5, E_NOT_INPUT = 6, E_NOT_OUTPUT = 7 };
#define ST (m->ram[0x90])
#define MAX_FILE_BYTES (16L << 20)

static void drive_status(c64 *m, const char *s) {
    snprintf(m->drive_status, sizeof m->drive_status, "%s", s);
    m->status_pos = 0;
}

void c64_kernal_reset(c64 *m) {
    for (int i = 0; i < C64_MAX_FILES; i++) m->files[i] = (c64_file){.fd = -1};
    m->in_lfn = m->out_lfn = -1;
    drive_status(m, "73,CBM DOS V2.6 1541,00,00");
}

static void file_close(c64_file *f) {
    if (f->fd >= 0) close(f->fd);
    free(f->data);
    *f = (c64_file){.fd = -1};
}

void c64_kernal_free(c64 *m) {
    for (int i = 0; i < C64_MAX_FILES; i++) file_close(&m->files[i]);
}

static c64_file *find(c64 *m, int lfn) {
    for (int i = 0; i < C64_MAX_FILES; i++)
        if (m->files[i].open && m->files[i].lfn == lfn) return &m->files[i];
    return NULL;
}

// ---- the console --------------------------------------------------------------------------------

static void screen_out(c64 *m, int stream, uint8_t b) {
    if (b == 0x0E) return;
    if (b == 0x0D && stream == 1 && m->eat_cr) {
        m->eat_cr = 0;
        return;
    }
    m->eat_cr = 0;
    uint8_t a = c64_ascii(b);
    if (m->out) m->out(m->ud, stream, &a, 1);
}

// The next host line as typed keys (PETSCII) into m->line; the end of input is an empty line.
static void next_line(c64 *m) {
    m->line_len = m->line_pos = 0;
    m->line_ready = 1;
    char c;
    int any = 0;
    for (;;) {
        if (m->in_buf) {
            if (m->in_pos >= m->in_len) break;
            c = (char)m->in_buf[m->in_pos++];
        } else if (m->in_fd < 0 || read(m->in_fd, &c, 1) != 1) {
            break;
        }
        any = 1;
        if (c == '\n') break;
        if ((unsigned char)c >= 0x20 && (unsigned char)c <= 0x7E && m->line_len < C64_LINE_MAX) m->line[m->line_len++] = c64_petscii((uint8_t)c);
    }
    if (!any) m->in_fd = -1, m->in_len = m->in_pos;
    if (m->echo && m->out)
        for (size_t i = 0; i < m->line_len; i++) {
            uint8_t a = c64_ascii(m->line[i]);
            m->out(m->ud, 1, &a, 1);
        }
    m->eat_cr = !m->echo;
}

static uint8_t keyboard_in(c64 *m) {
    if (!m->line_ready) next_line(m);
    if (m->line_pos < m->line_len) return m->line[m->line_pos++];
    m->line_ready = 0;
    return 0x0D;
}

// ---- drive 8 ------------------------------------------------------------------------------------

static void run_command(c64 *m, const char *cmd) {
    if (cmd[0] == 'i') {
        drive_status(m, "00, OK,00,00");
    } else if (cmd[0] == 's' && strchr(cmd, ':')) {
        const char *name = strchr(cmd, ':') + 1;
        int dfd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
        if (dfd >= 0 && host_name_ok(name) && !strpbrk(name, "*?") && unlinkat(dfd, name, 0) == 0) n = 1;
        if (dfd >= 0) close(dfd);
        char s[48];
        snprintf(s, sizeof s, "01, FILES SCRATCHED,%02d,00", n);
        drive_status(m, s);
    } else if (cmd[0]) {
        drive_status(m, "31,SYNTAX ERROR,00,00");
    }
}

// OPEN of a disk channel: parse "[@][0]:NAME[,TYPE][,MODE]" and open the host file.
static void disk_open(c64 *m, c64_file *f, const char *spec) {
    if (f->sa == 15) {
        f->mode = 'c';
        run_command(m, spec);
        return;
    }
    int replace = 0;
    const char *s = spec;
    if (*s == '@') replace = 1, s++;
    if (s[0] >= '0' && s[0] <= '9' && s[1] == ':') s += 2;
    else if (s[0] == ':') s++;
    char name[64];
    size_t n = strcspn(s, ",");
    snprintf(name, sizeof name, "%.*s", (int)(n < 63 ? n : 63), s);
    f->mode = f->sa == 1 ? 'w' : 'r';
    for (const char *o = s + n; *o == ','; o += 1 + strcspn(o + 1, ","))
        if (o[1] == 'r' || o[1] == 'w' || o[1] == 'a') f->mode = o[1];
    if (!name[0] || strpbrk(name, "*?") || !host_name_ok(name)) {
        drive_status(m, "33,SYNTAX ERROR,00,00");
        return;
    }
    if (f->mode == 'r') {
        int fd = host_open_in(m->dir, name, O_RDONLY, 0);
        if (fd < 0) {
            drive_status(m, "62,FILE NOT FOUND,00,00");
            return;
        }
        size_t cap = 4096;
        f->data = rq_malloc(cap);
        for (ssize_t k; (k = read(fd, f->data + f->len, cap - f->len)) > 0;) {
            f->len += (size_t)k;
            if (f->len == cap && cap < (size_t)MAX_FILE_BYTES) f->data = rq_realloc(f->data, cap *= 2);
            if (f->len == cap) break;
        }
        close(fd);
    } else {
        int fd = host_open_in(m->dir, name, O_WRONLY, 0);
        if (f->mode == 'w' && fd >= 0 && !replace) {
            close(fd);
            drive_status(m, "63,FILE EXISTS,00,00");
            return;
        }
        if (fd >= 0) close(fd);
        f->fd = host_open_in(m->dir, name, f->mode == 'a' ? O_WRONLY | O_APPEND : O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (f->fd < 0) {
            drive_status(m, f->mode == 'a' ? "62,FILE NOT FOUND,00,00" : "26,WRITE PROTECT ON,00,00");
            return;
        }
    }
    drive_status(m, "00, OK,00,00");
}

static uint8_t disk_in(c64 *m, c64_file *f) {
    if (ST) return 0x0D;  // the KERNAL reads nothing after an error or the end of a file
    if (f->mode == 'c') {
        uint8_t b = (uint8_t)m->drive_status[m->status_pos];
        if (!b) {
            ST |= ST_EOI;
            drive_status(m, "00, OK,00,00");
            return 0x0D;
        }
        m->status_pos++;
        return b;  // digits, commas and upper-case letters: the same codes in PETSCII
    }
    if (f->data && f->pos < f->len) {
        uint8_t b = f->data[f->pos++];
        if (f->pos == f->len) ST |= ST_EOI;
        return b;
    }
    ST |= ST_EOI | ST_TIMEOUT;  // a file that was not found: the drive does not talk
    return 0x0D;
}

static void disk_out(c64 *m, c64_file *f, uint8_t b) {
    if (f->mode == 'c') {
        if (m->cmd_len < sizeof m->cmd - 1) m->cmd[m->cmd_len++] = (char)c64_ascii(b);
    } else if (f->fd >= 0) {
        if (write(f->fd, &b, 1) != 1) ST |= ST_TIMEOUT;
    } else {
        ST |= ST_TIMEOUT;
    }
}

// ---- the jump table -----------------------------------------------------------------------------

static void carry(m6502 *c, int on) { c->p = (uint8_t)(on ? c->p | M6502_C : c->p & ~M6502_C); }
static void fail(m6502 *c, uint8_t code) { c->a = code, carry(c, 1); }

static void k_open(c64 *m, m6502 *c) {
    int lfn = m->ram[0xB8], dev = m->ram[0xBA], sa = m->ram[0xB9];
    c64_file *f = NULL;
    if (lfn == 0) return fail(c, E_NOT_INPUT);  // as the KERNAL: logical file 0 cannot be opened
    ST = 0;                                     // the table lookup clears the status
    if (find(m, lfn)) return fail(c, E_OPEN);
    for (int i = 0; i < C64_MAX_FILES && !f; i++)
        if (!m->files[i].open) f = &m->files[i];
    if (!f) return fail(c, E_TOO_MANY);
    if (dev != 0 && dev != 3 && dev != 8) {
        ST |= ST_ABSENT;
        return fail(c, E_ABSENT);
    }
    *f = (c64_file){.open = 1, .lfn = (uint8_t)lfn, .dev = (uint8_t)dev, .sa = (uint8_t)sa, .fd = -1};
    carry(c, 0);
    if (dev != 8) return;
    char spec[256];
    unsigned n = m->ram[0xB7], at = m->ram[0xBB] | m->ram[0xBC] << 8;
    for (unsigned i = 0; i < n; i++) spec[i] = (char)c64_ascii(m6502_read(c, (uint16_t)(at + i)));
    spec[n] = 0;
    disk_open(m, f, spec);
}

static void k_chkin(c64 *m, m6502 *c, int out) {
    ST = 0;  // the KERNAL's table lookup clears the status (so a finished read's EOI is gone)
    c64_file *f = find(m, c->x);
    if (!f) return fail(c, E_NOT_OPEN);
    if (out ? f->dev == 0 || f->mode == 'r' : f->dev == 3 || (f->dev == 8 && (f->mode == 'w' || f->mode == 'a')))
        return fail(c, out ? E_NOT_OUTPUT : E_NOT_INPUT);
    if (out) m->out_lfn = f->lfn, m->ram[0x9A] = f->dev;
    else m->in_lfn = f->lfn, m->ram[0x99] = f->dev;
    carry(c, 0);
}

static void k_clrch(c64 *m) {
    if (m->cmd_len) {
        m->cmd[m->cmd_len] = 0;
        run_command(m, m->cmd);
        m->cmd_len = 0;
    }
    m->in_lfn = m->out_lfn = -1;
    m->ram[0x99] = 0, m->ram[0x9A] = 3;
}

static void k_basin(c64 *m, m6502 *c) {
    c64_file *f = m->in_lfn < 0 ? NULL : find(m, m->in_lfn);
    c->a = f && f->dev == 8 ? disk_in(m, f) : keyboard_in(m);
    carry(c, 0);
}

static void k_bsout(c64 *m, m6502 *c) {
    c64_file *f = m->out_lfn < 0 ? NULL : find(m, m->out_lfn);
    if (f && f->dev == 8) disk_out(m, f, c->a);
    else screen_out(m, f && f->lfn == m->err_lfn ? 2 : 1, c->a);
    carry(c, 0);
}

static void k_close(c64 *m, m6502 *c) {
    c64_file *f = find(m, c->a);
    if (f) {
        if (m->in_lfn == f->lfn) m->in_lfn = -1;
        if (m->out_lfn == f->lfn) m->out_lfn = -1;
        file_close(f);
    }
    carry(c, 0);
}

static const struct {
    uint16_t at;
    const char *name;
} NAMES[] = {{0xFF81, "CINT"}, {0xFF84, "IOINIT"}, {0xFF87, "RAMTAS"}, {0xFF8A, "RESTOR"}, {0xFF8D, "VECTOR"},
             {0xFF90, "SETMSG"}, {0xFF93, "SECOND"}, {0xFF96, "TKSA"}, {0xFF99, "MEMTOP"}, {0xFF9C, "MEMBOT"},
             {0xFF9F, "SCNKEY"}, {0xFFA2, "SETTMO"}, {0xFFA5, "ACPTR"}, {0xFFA8, "CIOUT"}, {0xFFAB, "UNTLK"},
             {0xFFAE, "UNLSN"}, {0xFFB1, "LISTEN"}, {0xFFB4, "TALK"}, {0xFFB7, "READST"}, {0xFFBA, "SETLFS"},
             {0xFFBD, "SETNAM"}, {0xFFC0, "OPEN"}, {0xFFC3, "CLOSE"}, {0xFFC6, "CHKIN"}, {0xFFC9, "CKOUT"},
             {0xFFCC, "CLRCHN"}, {0xFFCF, "CHRIN"}, {0xFFD2, "CHROUT"}, {0xFFD5, "LOAD"}, {0xFFD8, "SAVE"},
             {0xFFDB, "SETTIM"}, {0xFFDE, "RDTIM"}, {0xFFE1, "STOP"}, {0xFFE4, "GETIN"}, {0xFFE7, "CLALL"},
             {0xFFEA, "UDTIM"}, {0xFFED, "SCREEN"}, {0xFFF0, "PLOT"}, {0xFFF3, "IOBASE"}};

int c64_kernal_trap(c64 *m) {
    m6502 *c = &m->cpu;
    m->kernal_calls++;
    switch (c->pc) {
    case 0xFFBA: m->ram[0xB8] = c->a, m->ram[0xBA] = c->x, m->ram[0xB9] = c->y; break;            // SETLFS
    case 0xFFBD: m->ram[0xB7] = c->a, m->ram[0xBB] = c->x, m->ram[0xBC] = c->y; break;            // SETNAM
    case 0xFFC0: k_open(m, c); break;
    case 0xFFC3: k_close(m, c); break;
    case 0xFFC6: k_chkin(m, c, 0); break;
    case 0xFFC9: k_chkin(m, c, 1); break;
    case 0xFFCC: k_clrch(m); break;
    case 0xFFE7:                                                                                  // CLALL
        for (int i = 0; i < C64_MAX_FILES; i++) file_close(&m->files[i]);
        k_clrch(m);
        break;
    case 0xFFCF: k_basin(m, c); break;
    case 0xFFD2: k_bsout(m, c); break;
    case 0xFFB7: c->a = ST; break;                                                                // READST
    case 0xFFE4:                                                                                  // GETIN
        if (m->in_lfn >= 0 || m->line_ready || m->in_fd >= 0 || (m->in_buf && m->in_pos < m->in_len)) k_basin(m, c);
        else c->a = 0, carry(c, 0);
        break;
    case 0xFFE1: c->p &= (uint8_t)~M6502_Z; break;                                                // STOP: not pressed
    case 0xFF90: m->ram[0x9D] = c->a; break;                                                      // SETMSG
    case 0xFFA2: break;                                                                           // SETTMO
    case 0xFFDE: {                                                                                // RDTIM: 60 Hz jiffies
        uint64_t j = c64_cycles(m) / 16421;
        c->a = (uint8_t)j, c->x = (uint8_t)(j >> 8), c->y = (uint8_t)(j >> 16);
        break;
    }
    case 0xFFED: c->x = 40, c->y = 25; break;                                                     // SCREEN
    case 0xFFF0: if (c->p & M6502_C) c->x = 0, c->y = 0; break;                                   // PLOT (no cursor kept)
    case 0xFFF3: c->x = 0x00, c->y = 0xDC; break;                                                 // IOBASE
    case 0xFF99: if (c->p & M6502_C) c->x = 0x00, c->y = 0xA0; break;                             // MEMTOP
    case 0xFF9C: if (c->p & M6502_C) c->x = 0x00, c->y = 0x08; break;                             // MEMBOT
    default: {
        const char *name = "(not an entry)";
        for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
            if (NAMES[i].at == c->pc) name = NAMES[i].name;
        m->end = C64_END_ERROR;
        snprintf(m->err, sizeof m->err, "the program called the KERNAL's %s ($%04X), which this C64 model does not serve", name, c->pc);
        return M6502_STOP;
    }
    }
    m6502_rts(c, 6);
    return M6502_DONE;
}
