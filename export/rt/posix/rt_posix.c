// rt_posix.c: the machine services of rt.h over POSIX, so the target programs also build and run
// natively on the host (tests/test_rt.c compares them with the host runtime without an emulator).
#include <fcntl.h>
#include <unistd.h>

#include "export/rt/rt.h"

void rt_write(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w <= 0) return;
        c += w, n -= (size_t)w;
    }
}

long rt_read_file(const char *name, void *buf, size_t cap) {
    int fd = open(name, O_RDONLY);
    if (fd < 0) return -1;
    size_t n = 0;
    for (;;) {
        if (n == cap) {
            char extra;
            ssize_t r = read(fd, &extra, 1);
            close(fd);
            return r > 0 ? -2 : (long)n;
        }
        ssize_t r = read(fd, (char *)buf + n, cap - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    return (long)n;
}

int rt_read_line(char *buf, int cap) {
    int n = 0;
    for (;;) {
        char c;
        ssize_t r = read(0, &c, 1);
        if (r <= 0) return n > 0 ? n : -1;
        if (c == '\n') break;
        if (c == '\r') continue;
        if (n < cap - 1) buf[n++] = c;
    }
    buf[n] = 0;
    return n;
}

#ifndef RT_PROGRAM
#define RT_PROGRAM rt_lm_main
#endif
int main(int argc, char **argv) { return RT_PROGRAM(argc, argv); }
