// con_in.c: console input from memory or a file descriptor (con_in.h).
#include "emu/con_in.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"

void con_input_free(con_input *in) {
    free(in->buf);
    in->buf = NULL;
}

void con_input_fd(con_input *in, int fd) {
    con_input_free(in);
    memset(in, 0, sizeof *in);
    in->fd = fd;
    in->tty = fd >= 0 && isatty(fd);
}

void con_input_mem(con_input *in, const void *data, size_t n) {
    con_input_free(in);
    memset(in, 0, sizeof *in);
    in->buf = rq_malloc(n ? n : 1);
    if (n) memcpy(in->buf, data, n);
    in->len = n;
    in->fd = -1;
}

int con_input_get(con_input *in, int wait) {
    if (in->eof) return -1;
    if (in->buf) {
        if (in->pos < in->len) return in->buf[in->pos++];
        in->eof = 1;
        return -1;
    }
    if (in->fd < 0) {
        in->eof = 1;
        return -1;
    }
    if (!wait) {
        struct pollfd p = {.fd = in->fd, .events = POLLIN};
        int r;
        while ((r = poll(&p, 1, 0)) < 0 && errno == EINTR) {}
        if (r <= 0) return -2;
    }
    for (;;) {
        uint8_t b;
        ssize_t r = read(in->fd, &b, 1);
        if (r == 1 && !(b == 0x04 && in->tty)) return b;
        if (r < 0 && errno == EINTR) continue;
        in->eof = 1;  // EOF or a read error both end the input
        return -1;
    }
}
