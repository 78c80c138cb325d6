// rt_ps2.c: rt.h's machine services and ps2_io.h for GXemul's testmips machine (bare metal) and,
// with PS2_QEMU, for Linux o32 under qemu-user.
#include <stdint.h>
#include <string.h>

#include "export/ps2/cpu/ps2_io.h"
#include "export/rt/rt.h"

#ifdef PS2_QEMU
// ---- Linux o32: syscall number in v0 (4000 + n), arguments a0..a3, a3 != 0 on error ----------
static long sys3(long nr, long a, long b, long c) {
    register long v0 __asm__("$2") = nr;
    register long a0 __asm__("$4") = a, a1 __asm__("$5") = b, a2 __asm__("$6") = c;
    register long a3 __asm__("$7");
    __asm__ volatile("syscall" : "+r"(v0), "=r"(a3) : "r"(a0), "r"(a1), "r"(a2) : "$1", "$3", "$8", "$9", "$10", "$11", "$12", "$13", "$14",
                     "$15", "$24", "$25", "hi", "lo", "memory");
    return a3 ? -v0 : v0;
}
enum { SYS_EXIT_GROUP = 4246, SYS_READ = 4003, SYS_WRITE = 4004, SYS_OPEN = 4005, SYS_CLOSE = 4006, SYS_LSEEK = 4019 };

void rt_write(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        long w = sys3(SYS_WRITE, fd, (long)c, (long)n);
        if (w <= 0) return;
        c += w, n -= (size_t)w;
    }
}
int ps2_open(const char *name, ps2_file *f) {
    long fd = sys3(SYS_OPEN, (long)name, 0, 0);
    if (fd < 0) return -1;
    long end = sys3(SYS_LSEEK, fd, 0, 2);
    if (end < 0) return sys3(SYS_CLOSE, fd, 0, 0), -1;
    f->handle = fd, f->size = (uint32_t)end;
    return 0;
}
int ps2_read(ps2_file *f, uint32_t off, void *buf, uint32_t n) {
    if (off > f->size || n > f->size - off) return -1;
    if (sys3(SYS_LSEEK, f->handle, (long)off, 0) != (long)off) return -1;
    uint8_t *p = buf;
    while (n > 0) {
        long r = sys3(SYS_READ, f->handle, (long)p, (long)n);
        if (r <= 0) return -1;
        p += r, n -= (uint32_t)r;
    }
    return 0;
}
int rt_read_line(char *buf, int cap) {
    int n = 0;
    char ch;
    for (;;) {
        long r = sys3(SYS_READ, 0, (long)&ch, 1);
        if (r <= 0) return n > 0 ? n : -1;
        if (ch == '\n') return n;
        if (n < cap - 1) buf[n++] = ch;
    }
}
uint32_t ps2_count(void) { return 0; }
void ps2_exit(int code) {
    for (;;) sys3(SYS_EXIT_GROUP, code, 0, 0);
}

#else
// ---- GXemul testmips: console, halt and disk devices through kseg1 (uncached) ----------------
#define CONS ((volatile uint8_t *)0xB0000000)
#define HALT ((volatile uint32_t *)0xB0000010)
#define DISK ((volatile uint32_t *)0xB3000000)  // [0] offset, [4] id, [8] start (0 = read), [12] status
#define DISK_BUF ((volatile uint32_t *)0xB3004000)
#define ARGS ((const uint8_t *)0x80010000)      // "RQAG", u32 bytes, NUL-separated arguments
#define MAX_ARGS 32

char *ps2_argv[MAX_ARGS + 1];
int ps2_args(void);

void rt_write(int fd, const void *p, size_t n) {
    const uint8_t *c = p;
    if (fd == 2) *CONS = 2;  // STX: diagnostic bytes until ETX
    while (n--) *CONS = *c++;
    if (fd == 2) *CONS = 3;
}

int ps2_args(void) {
    static char block[4096];
    uint32_t len;
    if (memcmp(ARGS, "RQAG", 4) != 0) return 0;
    memcpy(&len, ARGS + 4, 4);
    if (len > sizeof block - 1) len = sizeof block - 1;
    memcpy(block, ARGS + 8, len);
    block[len] = 0;
    int argc = 0;
    for (uint32_t i = 0; i < len && argc < MAX_ARGS; argc++) {
        ps2_argv[argc] = block + i;
        while (i < len && block[i]) i++;
        i++;
    }
    ps2_argv[argc] = 0;
    return argc;
}

// One 512-byte disc read into the device buffer; 0 when the device says it succeeded.
static int disk_sector(uint32_t byte_off) {
    DISK[0] = byte_off;
    DISK[4] = 0;
    DISK[8] = 0;
    return DISK[12] == 1 ? 0 : -1;
}

static int disc_read(uint32_t off, void *buf, uint32_t n) {
    uint8_t *p = buf;
    while (n > 0) {
        uint32_t sec = off & ~511u, in = off - sec, k = 512 - in;
        if (k > n) k = n;
        if (disk_sector(sec)) return -1;
        if (((in | (uint32_t)(uintptr_t)p | k) & 3) == 0) {
            uint32_t *d = (uint32_t *)(void *)p;
            volatile uint32_t *s = DISK_BUF + in / 4;
            for (uint32_t i = 0; i < k / 4; i++) d[i] = s[i];
        } else {
            volatile uint8_t *s = (volatile uint8_t *)DISK_BUF + in;
            for (uint32_t i = 0; i < k; i++) p[i] = s[i];
        }
        off += k, p += k, n -= k;
    }
    return 0;
}

static uint32_t le32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static int upper(int c) { return c >= 'a' && c <= 'z' ? c - 32 : c; }

// ISO 9660: the primary volume descriptor at sector 16 holds the root directory record (at byte
// 156: extent LBA at +2, size at +10, both little-endian halves); each directory record has its
// length at 0, extent at 2, size at 10, name length at 32, name at 33 ("NAME.EXT;1").
int ps2_open(const char *name, ps2_file *f) {
    static uint8_t sec[2048];
    const char *base = name;
    for (const char *c = name; *c; c++)
        if (*c == '/') base = c + 1;
    size_t bl = strlen(base);
    if (disc_read(16 * 2048, sec, 2048) || sec[0] != 1 || memcmp(sec + 1, "CD001", 5) != 0) return -1;
    uint32_t dir = le32(sec + 156 + 2) * 2048, dlen = le32(sec + 156 + 10);
    for (uint32_t s = 0; s < dlen; s += 2048) {
        if (disc_read(dir + s, sec, 2048)) return -1;
        for (uint32_t i = 0; i < 2048 && sec[i];) {
            const uint8_t *r = sec + i;
            uint32_t nl = r[32];
            const char *nm = (const char *)r + 33;
            uint32_t j = 0;
            while (j < bl && j < nl && upper(base[j]) == nm[j]) j++;
            if (j == bl && (nl == bl || (nl > bl && nm[bl] == ';')) && !(r[25] & 2)) {
                f->handle = (long)le32(r + 2) * 2048, f->size = le32(r + 10);
                return 0;
            }
            i += r[0];
        }
    }
    return -1;
}

int ps2_read(ps2_file *f, uint32_t off, void *buf, uint32_t n) {
    if (off > f->size || n > f->size - off) return -1;
    return disc_read((uint32_t)f->handle + off, buf, n);
}

int rt_read_line(char *buf, int cap) {  // the console returns 0 while no key is waiting
    int n = 0;
    for (;;) {
        int ch = *CONS;
        if (ch == 0) continue;
        if (ch == '\n' || ch == '\r') return n;
        if (n < cap - 1) buf[n++] = (char)ch;
    }
}

uint32_t ps2_count(void) {
    uint32_t c;
    __asm__ volatile("mfc0 %0, $9" : "=r"(c));
    return c;
}

void ps2_exit(int code) {
    rt_puts(2, "#exit ");
    rt_put_dec(2, code);
    rt_puts(2, "\n");
    for (;;) *HALT = 0;
}
#endif

long rt_read_file(const char *name, void *buf, size_t cap) {
    ps2_file f;
    if (ps2_open(name, &f)) return -1;
    if (f.size > cap) return -2;
    if (ps2_read(&f, 0, buf, f.size)) return -1;
    return (long)f.size;
}
