// cpm_bdos.c: the BDOS (entered by CALL 0005h with the function in C and the argument in E or
// DE) and the BIOS jump table, in C. Results follow CP/M 2.2: HL = the result, A = L, B = H.
// The real BDOS is 8080 code that destroys BC, DE and HL; here C, D and E are left holding junk
// (C = 0, DE = 0FFFFh) so that a program relying on them fails in the emulator as it would on
// a real machine. IX, IY and the alternate registers are preserved, as the real BDOS does.
#include "emu/cpm_bdos.h"

#include <string.h>

#include "emu/cpm_con.h"
#include "emu/cpm_file.h"

#define CTRL(c) ((c) & 0x1F)

static uint16_t reg(cpm_machine *m, Z80_REG_T r) { return z80ex_get_reg(m->z.cpu, r); }

static void set_result(cpm_machine *m, uint16_t hl) {
    z80ex_set_reg(m->z.cpu, regHL, hl);
    uint16_t af = reg(m, regAF);
    z80ex_set_reg(m->z.cpu, regAF, (uint16_t)((hl & 0xFF) << 8 | (af & 0xFF)));  // A = L, flags kept
    z80ex_set_reg(m->z.cpu, regBC, (uint16_t)(hl & 0xFF00));                      // B = H, C junk
    z80ex_set_reg(m->z.cpu, regDE, 0xFFFF);
}

// The console input functions end the run (cleanly) when the input is at EOF.
static int read_or_end(cpm_machine *m) {
    int c = con_in(m);
    if (c < 0) {
        cpm_end_run(m, CPM_END_EOF, 0);
    }
    return c;
}

static void echo(cpm_machine *m, uint8_t c) {
    if (!m->no_echo) con_out(m, c, 0);
}

// Echo a character typed into a line: control characters as ^X, like CP/M.
static void echo_ctl(cpm_machine *m, uint8_t c) {
    if (c < 0x20 && c != '\t') {
        echo(m, '^');
        echo(m, (uint8_t)(c + '@'));
    } else {
        echo(m, c);
    }
}

static int echo_width(uint8_t c) { return c < 0x20 && c != '\t' ? 2 : 1; }

static void rubout(cpm_machine *m, int n) {
    for (int i = 0; i < n; i++) echo(m, '\b'), echo(m, ' '), echo(m, '\b');
}

// BDOS 10: read a line into the buffer at DE (DE[0] = capacity, DE[1] = count, DE[2..] = text).
// Return (CR, or LF: mapped) ends the line and echoes CR; so does filling the buffer. Editing:
// BS/DEL erase one character, ^U/^X erase the line, ^C on an empty line warm-boots, ^E ^P ^R are
// ignored. EOF with characters typed ends the line; EOF on an empty line ends the run.
static void read_line(cpm_machine *m, uint16_t buf) {
    uint8_t *mem = m->mem;
    int cap = mem[buf], n = 0;
    uint16_t text = (uint16_t)(buf + 2);
    while (n < cap) {
        int c = con_in(m);
        if (c < 0) {
            if (n == 0) {
                cpm_end_run(m, CPM_END_EOF, 0);
                return;
            }
            break;
        }
        if (c == '\r') break;
        if (c == '\b' || c == 0x7F) {
            if (n > 0) n--, rubout(m, echo_width(mem[(uint16_t)(text + n)]));
        } else if (c == CTRL('U') || c == CTRL('X')) {
            while (n > 0) n--, rubout(m, echo_width(mem[(uint16_t)(text + n)]));
        } else if (c == CTRL('C') && n == 0) {
            echo_ctl(m, (uint8_t)c);
            cpm_end_run(m, CPM_END_WBOOT, 0);
            return;
        } else if (c == CTRL('E') || c == CTRL('P') || c == CTRL('R')) {
            continue;
        } else {
            if ((uint16_t)(text + n) >= m->map.top) {
                cpm_fail(m, "BDOS 10: line buffer at %04Xh runs into the BDOS", buf);
                return;
            }
            mem[(uint16_t)(text + n)] = (uint8_t)c;
            n++;
            echo_ctl(m, (uint8_t)c);
        }
    }
    mem[(uint16_t)(buf + 1)] = (uint8_t)n;
    echo(m, '\r');
}

static void print_string(cpm_machine *m, uint16_t p) {
    for (int i = 0; i < 65536; i++, p++) {
        if (m->mem[p] == '$') return;
        con_out(m, m->mem[p], 1);
    }
    cpm_fail(m, "BDOS 9 called from %04Xh: no '$' terminator in 64 KiB from %04Xh", cpm_caller(m), p);
}

void bdos_call(cpm_machine *m) {
    uint8_t fn = reg(m, regBC) & 0xFF;
    uint16_t de = reg(m, regDE);
    uint8_t e = de & 0xFF;
    uint16_t result = 0;
    m->st.bdos[fn]++;
    switch (fn) {
    case 0:  // system reset: the program is done
        cpm_end_run(m, CPM_END_WBOOT, 0);
        return;
    case 1: {  // console input with echo
        int c = read_or_end(m);
        if (c < 0) return;
        if (c >= 0x20 || c == '\r' || c == '\n' || c == '\t' || c == '\b') echo(m, (uint8_t)c);
        result = (uint16_t)c;
        break;
    }
    case 2:  // console output
        con_out(m, e, 1);
        break;
    case 6:  // direct console I/O: FFh input (0 = none), FEh status, FDh blocking input, else output
        if (e == 0xFF) {
            result = con_ready(m) ? (uint16_t)con_in(m) : 0;
        } else if (e == 0xFE) {
            result = con_ready(m) ? 0xFF : 0;
        } else if (e == 0xFD) {
            int c = read_or_end(m);
            if (c < 0) return;
            result = (uint16_t)c;
        } else {
            con_out(m, e, 1);
        }
        break;
    case 9:
        print_string(m, de);
        break;
    case 10:
        read_line(m, de);
        if (m->z.end) return;
        break;
    case 11:  // console status
        result = con_ready(m) ? 0xFF : 0;
        break;
    case 12:  // version: CP/M 2.2
        result = 0x0022;
        break;
    case 13:  // reset disk system: DMA back to 0080h, drive A
        m->dma = 0x80;
        m->drive = 0;
        break;
    case 14:  // select disk (every drive is the host directory)
        m->drive = e & 0x0F;
        break;
    case 24:  // login vector: drive A
        result = 1;
        break;
    case 25:  // current disk
        result = m->drive;
        break;
    case 26:  // set DMA address
        m->dma = de;
        break;
    case 32:  // get (E = FFh) or set the user number
        if (e == 0xFF) result = m->user;
        else m->user = e & 0x0F;
        break;
    case 15: case 16: case 17: case 18: case 19: case 20: case 21: case 22:
    case 33: case 34: case 35: case 36:
        result = file_call(m, fn, de);
        if (m->z.end) return;
        break;
    default:
        cpm_fail(m, "unimplemented BDOS function %d (C=%02Xh) called from %04Xh", fn, fn, cpm_caller(m));
        return;
    }
    if (!m->z.end) set_result(m, result);
}

// BIOS jump table: 0 BOOT, 1 WBOOT, 2 CONST, 3 CONIN, 4 CONOUT; the disk and device entries are
// not emulated (a CP/M program has no business calling them).
void bios_call(cpm_machine *m, int entry) {
    static const char *names[17] = {"BOOT", "WBOOT", "CONST", "CONIN", "CONOUT", "LIST", "PUNCH", "READER", "HOME",
                                    "SELDSK", "SETTRK", "SETSEC", "SETDMA", "READ", "WRITE", "LISTST", "SECTRAN"};
    m->st.bios_calls++;
    uint16_t af = reg(m, regAF);
    switch (entry) {
    case 0: case 1:
        cpm_end_run(m, CPM_END_WBOOT, 0);
        return;
    case 2:
        z80ex_set_reg(m->z.cpu, regAF, (uint16_t)((con_ready(m) ? 0xFF : 0) << 8 | (af & 0xFF)));
        return;
    case 3: {
        int c = read_or_end(m);
        if (c >= 0) z80ex_set_reg(m->z.cpu, regAF, (uint16_t)(c << 8 | (af & 0xFF)));
        return;
    }
    case 4:
        con_out(m, reg(m, regBC) & 0xFF, 1);
        return;
    default:
        cpm_fail(m, "unimplemented BIOS entry %d (%s) called from %04Xh", entry, names[entry], cpm_caller(m));
    }
}
