// sim65.c: sim65 2.19's machine and paravirtual hooks on the m6502 core (sim65.h).
#include "emu/sim65.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "emu/hostfile.h"

static const uint8_t MAGIC[5] = {'s', 'i', 'm', '6', '5'};

int sim65_load(sim65 *s, const uint8_t *prog, size_t n, const char *name) {
    memset(s->mem, 0xFF, sizeof s->mem);  // sim65 fills memory with an illegal opcode
    for (int i = 0; i < 5; i++)
        if ((size_t)i >= n || prog[i] != MAGIC[i]) return rq_fail_at(RQ_EINPUT, name, i, "not a sim65 program (no \"sim65\" header)");
    if (n < 12) return rq_fail_at(RQ_EINPUT, name, (long)n, "truncated sim65 header (12 bytes)");
    if (prog[5] != 2) return rq_fail_at(RQ_EINPUT, name, 5, "sim65 header version %d (sim65 2.19 reads 2)", prog[5]);
    if (prog[6] != 0) return rq_fail_at(RQ_EINPUT, name, 6, "CPU type %d: only 6502 programs (0) run here", prog[6]);
    unsigned load = prog[8] | prog[9] << 8, reset = prog[10] | prog[11] << 8;
    if (load + (n - 12) > SIM65_HOOKS)
        return rq_fail_at(RQ_EINPUT, name, 8, "%zu bytes loaded at $%04X reach past $%04X (the hooks)", n - 12, load, SIM65_HOOKS - 1);
    memcpy(s->mem + load, prog + 12, n - 12);
    for (int i = 0; i < SIM65_MAX_FDS; i++) s->fd[i] = -1;
    s->mem[0xFFFC] = (uint8_t)reset, s->mem[0xFFFD] = (uint8_t)(reset >> 8);
    s->sp_zp = prog[7];
    return 0;
}

// ---- the hooks: cc65's calling convention ------------------------------------------------------

static unsigned get_ax(const m6502 *c) { return c->a | (unsigned)c->x << 8; }
static void set_ax(m6502 *c, unsigned v) { c->a = (uint8_t)v, c->x = (uint8_t)(v >> 8); }
static unsigned rd16(const sim65 *s, unsigned a) { return s->mem[a & 0xFFFF] | s->mem[(a + 1) & 0xFFFF] << 8; }
static void wr16(sim65 *s, unsigned a, unsigned v) { s->mem[a & 0xFFFF] = (uint8_t)v, s->mem[(a + 1) & 0xFFFF] = (uint8_t)(v >> 8); }
static unsigned sp(const sim65 *s) { return s->mem[s->sp_zp] | s->mem[(uint8_t)(s->sp_zp + 1)] << 8; }

// The word at the C stack pointer; the pointer then moves up by incr (sim65's PopParam).
static unsigned pop(sim65 *s, unsigned incr) {
    unsigned p = sp(s), v = rd16(s, p);
    p += incr;
    s->mem[s->sp_zp] = (uint8_t)p, s->mem[(uint8_t)(s->sp_zp + 1)] = (uint8_t)(p >> 8);
    return v;
}

static int host_fd(const sim65 *s, unsigned fd) { return fd < SIM65_MAX_FDS ? s->fd[fd] : -1; }

static void pv_open(sim65 *s, m6502 *c) {
    unsigned mode_words = (unsigned)(c->y - 4);  // Y: the bytes of arguments of the variadic call
    pop(s, mode_words);
    unsigned flags = pop(s, 2), name = pop(s, 2);
    char path[1024];
    size_t n = 0;
    while (n < sizeof path - 1 && (path[n] = (char)s->mem[(name + n) & 0xFFFF]) != 0) n++;
    path[n] = 0;
    int of = (flags & 3) == 1 ? O_RDONLY : (flags & 3) == 2 ? O_WRONLY : O_RDWR;
    if (flags & 0x10) of |= O_CREAT;
    if (flags & 0x20) of |= O_TRUNC;
    if (flags & 0x40) of |= O_APPEND;
    if (flags & 0x80) of |= O_EXCL;
    int g = 3;
    while (g < SIM65_MAX_FDS && s->fd[g] >= 0) g++;
    int h = g < SIM65_MAX_FDS ? host_open_in(s->dir, path, of, 0644) : -1;
    if (h < 0) {
        set_ax(c, 0xFFFF);
        return;
    }
    s->fd[g] = h;
    set_ax(c, (unsigned)g);
}

static void pv_close(sim65 *s, m6502 *c) {
    unsigned fd = get_ax(c);
    int h = host_fd(s, fd);
    if (fd > 2 && h >= 0) {
        close(h);
        s->fd[fd] = -1;
        set_ax(c, 0);
    } else {
        set_ax(c, fd <= 2 ? 0 : 0xFFFF);
    }
}

static void pv_read(sim65 *s, m6502 *c) {
    unsigned count = get_ax(c), buf = pop(s, 2), fd = pop(s, 2);
    int h = fd == 0 ? s->in_fd : fd > 2 ? host_fd(s, fd) : -1;
    uint8_t tmp[65536];
    ssize_t r;
    if (fd == 0 && s->in_buf) {
        r = (ssize_t)(s->in_len - s->in_pos < count ? s->in_len - s->in_pos : count);
        memcpy(tmp, s->in_buf + s->in_pos, (size_t)r);
        s->in_pos += (size_t)r;
    } else {
        r = h >= 0 ? read(h, tmp, count) : fd == 0 ? 0 : -1;
    }
    for (ssize_t i = 0; i < r; i++) s->mem[(buf + (unsigned)i) & 0xFFFF] = tmp[i];
    set_ax(c, r < 0 ? 0xFFFF : (unsigned)r);
}

static void pv_write(sim65 *s, m6502 *c) {
    unsigned count = get_ax(c), buf = pop(s, 2), fd = pop(s, 2);
    uint8_t tmp[65536];
    for (unsigned i = 0; i < count; i++) tmp[i] = s->mem[(buf + i) & 0xFFFF];
    ssize_t r = -1;
    if (fd == 1 || fd == 2) {
        if (s->out) s->out(s->ud, (int)fd, tmp, count);
        r = count;
    } else if (fd > 2 && host_fd(s, fd) >= 0) {
        r = write(host_fd(s, fd), tmp, count);
    }
    set_ax(c, r < 0 ? 0xFFFF : (unsigned)r);
}

// argv on the C stack: the pointer array (argc + 1 words) below the stack pointer, the strings
// below it, the new stack pointer below them; argv[argc] is the header's zero-page address
// (0 for cc65's programs: NULL), as sim65 2.19 writes it.
static void pv_args(sim65 *s, m6502 *c) {
    unsigned argv = get_ax(c), p = sp(s), args = p - ((unsigned)s->argc + 1) * 2;
    wr16(s, argv, args);
    p = args;
    for (int i = 0; i < s->argc; i++) {
        size_t len = strlen(s->argv[i]);
        p -= (unsigned)len + 1;
        for (size_t k = 0; k <= len; k++) s->mem[(p + k) & 0xFFFF] = (uint8_t)s->argv[i][k];
        wr16(s, args, p);
        args += 2;
    }
    wr16(s, args, s->sp_zp);
    wr16(s, s->sp_zp, p);
    set_ax(c, (unsigned)s->argc);
}

static int trap(void *ctx, m6502 *c) {
    sim65 *s = ctx;
    if (c->pc < SIM65_HOOKS || c->pc > SIM65_HOOKS + 5) return M6502_RUN;
    s->hook_calls++;
    switch (c->pc - SIM65_HOOKS) {
    case 0: pv_open(s, c); break;
    case 1: pv_close(s, c); break;
    case 2: pv_read(s, c); break;
    case 3: pv_write(s, c); break;
    case 4: pv_args(s, c); break;
    default:
        s->end = SIM65_END_EXIT, s->exit_code = c->a;
        s->cycles = c->cycles - c->last;  // sim65 exits inside the JSR/JMP, before counting it
        return M6502_STOP;
    }
    m6502_rts(c, 0);
    return M6502_DONE;
}

void sim65_start(sim65 *s) {
    m6502 *c = &s->cpu;
    memset(c, 0, sizeof *c);
    for (int p = 0; p < 256; p++) c->rd[p] = c->wr[p] = s->mem + 256 * p;
    memset(s->traps, 0, sizeof s->traps);
    s->traps[SIM65_HOOKS >> 8] = 1;
    c->trap_pages = s->traps, c->trap = trap, c->ctx = s;
    c->sim65_branch = 1;
    m6502_reset(c, (uint16_t)(s->mem[0xFFFC] | s->mem[0xFFFD] << 8));
    s->end = 0;
}

int sim65_run(sim65 *s, uint64_t until) {
    m6502 *c = &s->cpu;
    int r = m6502_run(c, until);
    if (r == M6502_STOP) return 0;
    s->cycles = c->cycles;
    if (r == M6502_ILLEGAL) {
        s->end = SIM65_END_ILLEGAL, s->exit_code = SIM65_EXIT_ERROR;
        return rq_fail(RQ_ERUNTIME, "illegal opcode $%02X at address $%04X after %llu cycles", c->bad_op, c->bad_pc,
                       (unsigned long long)c->cycles);
    }
    return 0;
}

void sim65_limit(sim65 *s) {
    s->end = SIM65_END_LIMIT, s->exit_code = SIM65_EXIT_TIMEOUT;
    s->cycles = s->cpu.cycles;
}

void sim65_free(sim65 *s) {
    for (int i = 3; i < SIM65_MAX_FDS; i++)
        if (s->fd[i] >= 0) close(s->fd[i]), s->fd[i] = -1;
}
