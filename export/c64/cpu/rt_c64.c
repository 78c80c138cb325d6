// rt_c64.c: the machine services of export/rt/rt.h for the chat program on the C64 (the KERNAL:
// screen, keyboard, drive 8) and under sim65 (host files, stdin and stdout), and its main.
// The shared program (export/rt/chat_main.c over infer/chat_kernel.c) runs unchanged on top.
#include <fcntl.h>
#include <unistd.h>

#include "c64_rt.h"
#include "export/rt/rt.h"

#ifdef C64_REU
unsigned char cbm_k_basin(void);  // cc65's c64.lib: the KERNAL's CHRIN
#endif

void rt_write(int fd, const void *p, size_t n) { c64_write(fd, p, (unsigned)n); }

long rt_read_file(const char *name, void *buf, size_t cap) {
    int fd = c64_open(name, O_RDONLY), k;
    size_t n = 0;
    char extra;
    if (fd < 0) return -1;
    while (n < cap && (k = read(fd, (char *)buf + n, cap - n < 1024 ? (unsigned)(cap - n) : 1024u)) > 0) n += (size_t)k;
    k = n == cap ? read(fd, &extra, 1) : 0;
    close(fd);
    return k > 0 ? -2 : (long)n;
}

// One console line. On a C64 the screen editor collects it up to RETURN (which it does not echo:
// the program prints the new line), and an empty line ends the chat: a keyboard has no end of
// input. Under sim65: bytes from fd 0 up to LF, -1 at its end.
int rt_read_line(char *buf, int cap) {
    int n = 0;
#ifdef C64_REU
    unsigned char c;
    while ((c = cbm_k_basin()) != 13)
        if (n < cap - 1) buf[n++] = (char)c64_ascii(c);
    c64_write(1, "\n", 1);
    buf[n] = 0;
    return n ? n : -1;
#else
    char c;
    for (;;) {
        if (read(0, &c, 1) <= 0) return n > 0 ? n : -1;
        if (c == '\n') break;
        if (c != '\r' && n < cap - 1) buf[n++] = c;
    }
    buf[n] = 0;
    return n;
#endif
}

int main(int argc, char **argv) {
    c64_args(argc, argv);
    return rt_chat_main(argc, argv);
}
