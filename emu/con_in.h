// con_in.h: console input of the machine models (the CP/M console, the Spectrum's keyboard):
// bytes from a memory buffer or from a file descriptor, read with read(2) and no stdio buffering
// so that a status check with poll(2) is honest. The end of input is sticky; on a terminal ^D
// ends it.
#ifndef RQ_CON_IN_H
#define RQ_CON_IN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *buf;  // memory input (malloc'd), or NULL
    size_t len, pos;
    int fd;        // fd input when buf is NULL; -1: none (at the end)
    int tty;       // fd is a terminal
    int eof;
} con_input;

void con_input_fd(con_input *in, int fd);  // replaces any input
void con_input_mem(con_input *in, const void *data, size_t n);
void con_input_free(con_input *in);
// The next byte; -1 at the end of input; with wait = 0, -2 when none is ready yet.
int con_input_get(con_input *in, int wait);

#endif
