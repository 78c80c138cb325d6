// rt_linux.c: the machine services of rt.h over Linux system calls (rt_sys.h), and the process
// entry rt_start that a target's crt0 calls with argc/argv. It runs RT_ENTRY: the program the
// exporter chose (RT_PROGRAM: rt_lm_main or rt_chat_main, export/rt_build.h) unless the target
// wraps it (the PowerPC build's prompt.txt -> output.txt mode).
#include "export/rt/rt.h"
#include "export/rt/rt_sys.h"

#ifndef RT_PROGRAM
#define RT_PROGRAM rt_lm_main
#endif
#ifndef RT_ENTRY
#define RT_ENTRY RT_PROGRAM
#endif
int RT_ENTRY(int argc, char **argv);

int rt_tee_fd = -1;

static void write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        long k = rt_sys_write(fd, c, n);
        if (k <= 0) {
            // A failed write is an error (a full disk, a closed pipe): say so where we still can.
            if (fd != 2) rt_sys_write(2, "retroqat: write failed\n", 23);
            rt_sys_exit(1);
        }
        c += k, n -= (size_t)k;
    }
}

void rt_write(int fd, const void *p, size_t n) {
    write_all(fd, p, n);
    if (fd == 1 && rt_tee_fd >= 0) write_all(rt_tee_fd, p, n);
}

long rt_read_file(const char *name, void *buf, size_t cap) {
    long fd = rt_sys_open(name, RT_O_RDONLY, 0);
    if (fd < 0) return -1;
    size_t got = 0;
    long k = 1;
    while (got < cap && (k = rt_sys_read((int)fd, (char *)buf + got, cap - got)) > 0) got += (size_t)k;
    if (k > 0) {  // cap bytes read: is there more?
        char extra;
        k = rt_sys_read((int)fd, &extra, 1);
        if (k > 0) got = cap + 1;
    }
    rt_sys_close((int)fd);
    if (k < 0) return -1;
    return got > cap ? -2 : (long)got;
}

// Console input through a small buffer: one read system call per chunk, not per byte.
static char in_buf[256];
static int in_len, in_pos, in_eof;

static int in_byte(void) {
    if (in_pos == in_len) {
        if (in_eof) return -1;
        long k = rt_sys_read(0, in_buf, sizeof in_buf);
        if (k <= 0) {
            in_eof = 1;
            return -1;
        }
        in_len = (int)k, in_pos = 0;
    }
    return (unsigned char)in_buf[in_pos++];
}

int rt_read_line(char *buf, int cap) {
    int n = 0, c;
    while ((c = in_byte()) >= 0 && c != '\n')
        if (n < cap - 1) buf[n++] = (char)c;  // a longer line is cut to cap - 1 bytes
    if (c < 0 && n == 0) return -1;
    if (cap > 0) buf[n] = 0;
    return n;
}

int rt_start(int argc, char **argv);
int rt_start(int argc, char **argv) { return RT_ENTRY(argc, argv); }
