// cpm_con.c: the console: host bytes in and out, mapped between Unix and CP/M conventions.
//
// Output: CP/M ends lines with CR LF, Unix with LF. A CR is held back until the next byte: CR LF
// becomes LF (so does CR CR LF: the BDOS echoes CR at the end of a typed line and the program
// then prints CR LF), a CR followed by anything else (or by the end of the run) is passed
// through once, so "\r" progress lines still work; a CR right after LF (LF CR line ends) is
// dropped: the Unix LF already returned to column 0. On a terminal a held CR is written before
// the program waits for input; elsewhere it is held until the next byte or the end of the run. Every other byte is passed through unchanged (8 bits).
// Input: the host's LF is CP/M's CR (the Return key); CR LF from a DOS-style file is one CR.
// The input is a memory buffer or a file descriptor (emu/con_in.h); -1 means EOF.
#include "emu/cpm_con.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "emu/cpm_int.h"

static void emit(cpm_machine *m, uint8_t c) {
    m->last_emit = c;
    if (m->out) {
        fputc(c, m->out);
        if (m->out_tty) fflush(m->out);
    } else {
        rq_buf_u8(&m->cap, c);
    }
}

void con_out(cpm_machine *m, uint8_t c, int counted) {
    if (counted) m->st.chars++;
    if (m->pending_cr) {
        if (c == '\r') return;  // CR CR = CR: the cursor is at column 0 either way
        m->pending_cr = 0;
        if (c == '\n') {
            emit(m, '\n');
            return;
        }
        emit(m, '\r');
    }
    if (c == '\r') {
        if (m->last_emit != '\n') m->pending_cr = 1;  // LF CR: the LF already went to column 0
        return;
    }
    emit(m, c);
}

void con_flush(cpm_machine *m, int final) {
    if (m->pending_cr && (final || m->out_tty)) {
        m->pending_cr = 0;
        emit(m, '\r');
    }
    if (m->out) fflush(m->out);
}

void cpm_set_input(cpm_machine *m, const void *data, size_t n) {
    con_input_mem(&m->in, data, n);
    m->peek = -1;
    m->last_cr = 0;
}

void cpm_set_input_fd(cpm_machine *m, int fd) {
    con_input_fd(&m->in, fd);
    m->peek = -1;
    m->last_cr = 0;
}

const char *cpm_output(const cpm_machine *m, size_t *n) {
    if (n) *n = m->cap.len;
    if (!m->cap.data) return "";
    // The buffer keeps one spare byte as a terminator (appended and dropped again).
    rq_buf *b = (rq_buf *)&m->cap;
    rq_buf_u8(b, 0);
    b->len--;
    return (const char *)b->data;
}

void cpm_clear_output(cpm_machine *m) { m->cap.len = 0; }

// The next raw byte, or -1 at EOF. wait = 0: return -2 when nothing is ready yet.
static int raw_get(cpm_machine *m, int wait) {
    if (m->peek >= 0) {
        int c = m->peek;
        m->peek = -1;
        return c;
    }
    if (wait && m->in.fd >= 0 && !m->in.eof) con_flush(m, 0);  // whoever types (a person or a script) sees the prompt first
    return con_input_get(&m->in, wait);
}

// The next mapped byte: LF -> CR, and the LF of CR LF dropped.
static int get_mapped(cpm_machine *m, int wait) {
    for (;;) {
        int c = raw_get(m, wait);
        if (c < 0) return c;
        if (c == '\n' && m->last_cr) {
            m->last_cr = 0;
            continue;
        }
        m->last_cr = c == '\r';
        return c == '\n' ? '\r' : c;
    }
}

int con_in(cpm_machine *m) { return get_mapped(m, 1); }

int con_ready(cpm_machine *m) {
    if (m->peek >= 0) {
        if (!(m->peek == '\n' && m->last_cr)) return 1;
        m->peek = -1, m->last_cr = 0;  // the swallowed LF of CR LF does not count
    }
    for (;;) {
        int c = raw_get(m, 0);
        if (c < 0) return 0;
        if (c == '\n' && m->last_cr) {
            m->last_cr = 0;
            continue;
        }
        m->peek = c;
        return 1;
    }
}
