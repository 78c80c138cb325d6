// m6502.c: the NMOS 6502 of m6502.h.
//
// Opcodes are decoded by their bit fields where the 6502 itself is regular (aaabbbcc): cc = 01
// is the accumulator group (ORA AND EOR ADC STA LDA CMP SBC, addressing mode in bbb), cc = 10 with
// aaa in {0,1,2,3,6,7} the read-modify-write group (ASL ROL LSR ROR DEC INC); everything else is
// one case each.
#include "emu/m6502.h"

#include <stddef.h>

// ---- bus ----------------------------------------------------------------------------------------

static inline uint8_t rd(m6502 *c, uint16_t a) {
    const uint8_t *p = c->rd[a >> 8];
    return p ? p[a & 0xFF] : c->bus_read(c->ctx, a);
}

static inline void wr(m6502 *c, uint16_t a, uint8_t v) {
    uint8_t *p = c->wr[a >> 8];
    if (p) p[a & 0xFF] = v;
    else c->bus_write(c->ctx, a, v);
}

static inline uint16_t rd16(m6502 *c, uint16_t a) { return (uint16_t)(rd(c, a) | rd(c, (uint16_t)(a + 1)) << 8); }
// A pointer in zero page: its high byte comes from (z + 1) mod 256.
static inline uint16_t zp16(m6502 *c, uint8_t z) { return (uint16_t)(rd(c, z) | rd(c, (uint8_t)(z + 1)) << 8); }

uint8_t m6502_read(m6502 *c, uint16_t a) { return rd(c, a); }
void m6502_write(m6502 *c, uint16_t a, uint8_t v) { wr(c, a, v); }
void m6502_push(m6502 *c, uint8_t v) { wr(c, (uint16_t)(0x100 | c->s--), v); }
uint8_t m6502_pull(m6502 *c) { return rd(c, (uint16_t)(0x100 | ++c->s)); }

void m6502_rts(m6502 *c, unsigned cycles) {
    uint16_t lo = m6502_pull(c);
    c->pc = (uint16_t)((lo | m6502_pull(c) << 8) + 1);
    c->cycles += cycles;
}

void m6502_reset(m6502 *c, uint16_t pc) {
    c->pc = pc;
    c->a = c->x = c->y = 0;
    c->s = 0;
    c->p = M6502_U | M6502_B;
}

// ---- flags and arithmetic ---------------------------------------------------------------------

static inline void nz(m6502 *c, uint8_t v) { c->p = (uint8_t)((c->p & ~(M6502_N | M6502_Z)) | (v & 0x80) | (v ? 0 : M6502_Z)); }
static inline void setf(m6502 *c, uint8_t f, int on) { c->p = (uint8_t)(on ? c->p | f : c->p & ~f); }

static void adc(m6502 *c, uint8_t m) {
    unsigned a = c->a, carry = c->p & M6502_C;
    if (!(c->p & M6502_D)) {
        unsigned t = a + m + carry;
        setf(c, M6502_V, (~(a ^ m) & (a ^ t) & 0x80) != 0);
        setf(c, M6502_C, t > 0xFF);
        c->a = (uint8_t)t;
        nz(c, c->a);
        return;
    }
    // NMOS decimal: digit sums with the +6 adjust; Z from the binary sum, N and V from the result
    // before the high digit is adjusted, C from the adjusted high digit.
    unsigned lo = (a & 0x0F) + (m & 0x0F) + carry, hi = (a >> 4) + (m >> 4);
    if (lo > 9) lo += 6;
    if (lo > 0x0F) hi++;
    setf(c, M6502_Z, ((a + m + carry) & 0xFF) == 0);
    setf(c, M6502_N, (hi & 0x08) != 0);
    setf(c, M6502_V, (~(a ^ m) & (a ^ (hi << 4)) & 0x80) != 0);
    if (hi > 9) hi += 6;
    setf(c, M6502_C, hi > 0x0F);
    c->a = (uint8_t)(hi << 4 | (lo & 0x0F));
}

static void sbc(m6502 *c, uint8_t m) {
    unsigned a = c->a, borrow = !(c->p & M6502_C);
    unsigned t = a - m - borrow;  // the binary difference sets every flag, in both modes
    setf(c, M6502_V, ((a ^ m) & (a ^ t) & 0x80) != 0);
    setf(c, M6502_C, t < 0x100);
    nz(c, (uint8_t)t);
    if (!(c->p & M6502_D)) {
        c->a = (uint8_t)t;
        return;
    }
    int lo = (int)(a & 0x0F) - (int)(m & 0x0F) - (int)borrow, hi = (int)(a >> 4) - (int)(m >> 4);
    if (lo < 0) lo -= 6, hi--;
    if (hi < 0) hi -= 6;
    c->a = (uint8_t)((hi & 0x0F) << 4 | (lo & 0x0F));
}

static inline void cmp(m6502 *c, uint8_t r, uint8_t m) {
    setf(c, M6502_C, r >= m);
    nz(c, (uint8_t)(r - m));
}

// ASL ROL LSR ROR (aaa 0..3), DEC (6), INC (7) on v.
static uint8_t rmw(m6502 *c, unsigned aaa, uint8_t v) {
    unsigned carry = c->p & M6502_C;
    switch (aaa) {
    case 0: setf(c, M6502_C, v & 0x80), v = (uint8_t)(v << 1); break;
    case 1: setf(c, M6502_C, v & 0x80), v = (uint8_t)(v << 1 | carry); break;
    case 2: setf(c, M6502_C, v & 1), v >>= 1; break;
    case 3: setf(c, M6502_C, v & 1), v = (uint8_t)(v >> 1 | carry << 7); break;
    case 6: v--; break;
    default: v++; break;
    }
    nz(c, v);
    return v;
}

// ---- addressing -------------------------------------------------------------------------------

// Indexed base + i, with the extra cycle of a read that crosses a page.
static inline uint16_t indexed(uint16_t base, uint8_t i, unsigned *cyc, int penalty) {
    uint16_t ea = (uint16_t)(base + i);
    if (penalty && ((base ^ ea) & 0xFF00)) (*cyc)++;
    return ea;
}

// The accumulator group's effective address for mode bbb (imm: the operand's own address) and
// its cycles; stores pay the indexed cycle always (5 abs,X/Y, 6 (zp),Y) and reads when crossing.
static uint16_t ea_acc(m6502 *c, unsigned bbb, int store, unsigned *cyc) {
    uint16_t pc = c->pc, ea;
    uint8_t o = rd(c, (uint16_t)(pc + 1));
    c->pc = (uint16_t)(pc + 2);
    switch (bbb) {
    case 0: *cyc = 6; return zp16(c, (uint8_t)(o + c->x));                      // (zp,X)
    case 1: *cyc = 3; return o;                                                 // zp
    case 2: *cyc = 2; return (uint16_t)(pc + 1);                                // #imm
    case 3: *cyc = 4; c->pc++; return rd16(c, (uint16_t)(pc + 1));             // abs
    case 4: *cyc = store ? 6 : 5; return indexed(zp16(c, o), c->y, cyc, !store); // (zp),Y
    case 5: *cyc = 4; return (uint8_t)(o + c->x);                               // zp,X
    case 6: *cyc = store ? 5 : 4; c->pc++; ea = indexed(rd16(c, (uint16_t)(pc + 1)), c->y, cyc, !store); return ea;  // abs,Y
    default: *cyc = store ? 5 : 4; c->pc++; ea = indexed(rd16(c, (uint16_t)(pc + 1)), c->x, cyc, !store); return ea; // abs,X
    }
}

static void branch(m6502 *c, int taken, unsigned *cyc) {
    uint16_t pc = c->pc, next = (uint16_t)(pc + 2);
    *cyc = 2;
    c->pc = next;
    if (!taken) return;
    uint16_t to = (uint16_t)(next + (int8_t)rd(c, (uint16_t)(pc + 1)));
    *cyc += 1 + (((c->sim65_branch ? pc : next) ^ to) & 0xFF00 ? 1 : 0);
    c->pc = to;
}

// ---- one instruction ----------------------------------------------------------------------------

static int step(m6502 *c) {
    const uint16_t pc = c->pc;
    const uint8_t op = rd(c, pc);
    unsigned cyc = 2, aaa = op >> 5, bbb = (op >> 2) & 7;
    uint16_t ea;
    uint8_t v;

    if ((op & 3) == 1 && op != 0x89) {  // ORA AND EOR ADC STA LDA CMP SBC
        ea = ea_acc(c, bbb, aaa == 4, &cyc);
        if (aaa == 4) {
            wr(c, ea, c->a);
        } else {
            v = rd(c, ea);
            switch (aaa) {
            case 0: nz(c, c->a |= v); break;
            case 1: nz(c, c->a &= v); break;
            case 2: nz(c, c->a ^= v); break;
            case 3: adc(c, v); break;
            case 5: nz(c, c->a = v); break;
            case 6: cmp(c, c->a, v); break;
            default: sbc(c, v); break;
            }
        }
        goto done;
    }
    if ((op & 3) == 2 && aaa != 4 && aaa != 5 && (bbb == 1 || bbb == 3 || bbb == 5 || bbb == 7 || (bbb == 2 && aaa < 4))) {
        // ASL ROL LSR ROR DEC INC: zp 5, A 2, abs 6, zp,X 6, abs,X 7
        uint8_t o = rd(c, (uint16_t)(pc + 1));
        switch (bbb) {
        case 2: c->a = rmw(c, aaa, c->a), c->pc = (uint16_t)(pc + 1), cyc = 2; goto done;
        case 1: ea = o, cyc = 5, c->pc = (uint16_t)(pc + 2); break;
        case 5: ea = (uint8_t)(o + c->x), cyc = 6, c->pc = (uint16_t)(pc + 2); break;
        case 3: ea = rd16(c, (uint16_t)(pc + 1)), cyc = 6, c->pc = (uint16_t)(pc + 3); break;
        default: ea = (uint16_t)(rd16(c, (uint16_t)(pc + 1)) + c->x), cyc = 7, c->pc = (uint16_t)(pc + 3); break;
        }
        wr(c, ea, rmw(c, aaa, rd(c, ea)));
        goto done;
    }

    uint8_t o = rd(c, (uint16_t)(pc + 1));
    uint16_t w;
    switch (op) {
    // ---- loads and stores of X and Y
    case 0xA2: nz(c, c->x = o), c->pc = (uint16_t)(pc + 2); break;
    case 0xA0: nz(c, c->y = o), c->pc = (uint16_t)(pc + 2); break;
    case 0xA6: nz(c, c->x = rd(c, o)), cyc = 3, c->pc = (uint16_t)(pc + 2); break;
    case 0xA4: nz(c, c->y = rd(c, o)), cyc = 3, c->pc = (uint16_t)(pc + 2); break;
    case 0xB6: nz(c, c->x = rd(c, (uint8_t)(o + c->y))), cyc = 4, c->pc = (uint16_t)(pc + 2); break;
    case 0xB4: nz(c, c->y = rd(c, (uint8_t)(o + c->x))), cyc = 4, c->pc = (uint16_t)(pc + 2); break;
    case 0xAE: nz(c, c->x = rd(c, rd16(c, (uint16_t)(pc + 1)))), cyc = 4, c->pc = (uint16_t)(pc + 3); break;
    case 0xAC: nz(c, c->y = rd(c, rd16(c, (uint16_t)(pc + 1)))), cyc = 4, c->pc = (uint16_t)(pc + 3); break;
    case 0xBE: cyc = 4, ea = indexed(rd16(c, (uint16_t)(pc + 1)), c->y, &cyc, 1), nz(c, c->x = rd(c, ea)), c->pc = (uint16_t)(pc + 3); break;
    case 0xBC: cyc = 4, ea = indexed(rd16(c, (uint16_t)(pc + 1)), c->x, &cyc, 1), nz(c, c->y = rd(c, ea)), c->pc = (uint16_t)(pc + 3); break;
    case 0x86: wr(c, o, c->x), cyc = 3, c->pc = (uint16_t)(pc + 2); break;
    case 0x84: wr(c, o, c->y), cyc = 3, c->pc = (uint16_t)(pc + 2); break;
    case 0x96: wr(c, (uint8_t)(o + c->y), c->x), cyc = 4, c->pc = (uint16_t)(pc + 2); break;
    case 0x94: wr(c, (uint8_t)(o + c->x), c->y), cyc = 4, c->pc = (uint16_t)(pc + 2); break;
    case 0x8E: wr(c, rd16(c, (uint16_t)(pc + 1)), c->x), cyc = 4, c->pc = (uint16_t)(pc + 3); break;
    case 0x8C: wr(c, rd16(c, (uint16_t)(pc + 1)), c->y), cyc = 4, c->pc = (uint16_t)(pc + 3); break;
    // ---- compares of X and Y, BIT
    case 0xE0: cmp(c, c->x, o), c->pc = (uint16_t)(pc + 2); break;
    case 0xC0: cmp(c, c->y, o), c->pc = (uint16_t)(pc + 2); break;
    case 0xE4: cmp(c, c->x, rd(c, o)), cyc = 3, c->pc = (uint16_t)(pc + 2); break;
    case 0xC4: cmp(c, c->y, rd(c, o)), cyc = 3, c->pc = (uint16_t)(pc + 2); break;
    case 0xEC: cmp(c, c->x, rd(c, rd16(c, (uint16_t)(pc + 1)))), cyc = 4, c->pc = (uint16_t)(pc + 3); break;
    case 0xCC: cmp(c, c->y, rd(c, rd16(c, (uint16_t)(pc + 1)))), cyc = 4, c->pc = (uint16_t)(pc + 3); break;
    case 0x24:
    case 0x2C:
        if (op == 0x24) v = rd(c, o), cyc = 3, c->pc = (uint16_t)(pc + 2);
        else v = rd(c, rd16(c, (uint16_t)(pc + 1))), cyc = 4, c->pc = (uint16_t)(pc + 3);
        c->p = (uint8_t)((c->p & ~(M6502_N | M6502_V | M6502_Z)) | (v & 0xC0) | ((v & c->a) ? 0 : M6502_Z));
        break;
    // ---- register transfers, increments, flags
    case 0xAA: nz(c, c->x = c->a), c->pc++; break;
    case 0xA8: nz(c, c->y = c->a), c->pc++; break;
    case 0x8A: nz(c, c->a = c->x), c->pc++; break;
    case 0x98: nz(c, c->a = c->y), c->pc++; break;
    case 0xBA: nz(c, c->x = c->s), c->pc++; break;
    case 0x9A: c->s = c->x, c->pc++; break;
    case 0xE8: nz(c, ++c->x), c->pc++; break;
    case 0xC8: nz(c, ++c->y), c->pc++; break;
    case 0xCA: nz(c, --c->x), c->pc++; break;
    case 0x88: nz(c, --c->y), c->pc++; break;
    case 0x18: c->p &= (uint8_t)~M6502_C, c->pc++; break;
    case 0x38: c->p |= M6502_C, c->pc++; break;
    case 0x58: c->p &= (uint8_t)~M6502_I, c->pc++; break;
    case 0x78: c->p |= M6502_I, c->pc++; break;
    case 0xD8: c->p &= (uint8_t)~M6502_D, c->pc++; break;
    case 0xF8: c->p |= M6502_D, c->pc++; break;
    case 0xB8: c->p &= (uint8_t)~M6502_V, c->pc++; break;
    case 0xEA: c->pc++; break;
    // ---- stack
    case 0x48: m6502_push(c, c->a), cyc = 3, c->pc++; break;
    case 0x08: m6502_push(c, c->p | M6502_B | M6502_U), cyc = 3, c->pc++; break;
    case 0x68: nz(c, c->a = m6502_pull(c)), cyc = 4, c->pc++; break;
    case 0x28: c->p = m6502_pull(c) | M6502_B | M6502_U, cyc = 4, c->pc++; break;
    // ---- branches
    case 0x10: branch(c, !(c->p & M6502_N), &cyc); break;
    case 0x30: branch(c, (c->p & M6502_N) != 0, &cyc); break;
    case 0x50: branch(c, !(c->p & M6502_V), &cyc); break;
    case 0x70: branch(c, (c->p & M6502_V) != 0, &cyc); break;
    case 0x90: branch(c, !(c->p & M6502_C), &cyc); break;
    case 0xB0: branch(c, (c->p & M6502_C) != 0, &cyc); break;
    case 0xD0: branch(c, !(c->p & M6502_Z), &cyc); break;
    case 0xF0: branch(c, (c->p & M6502_Z) != 0, &cyc); break;
    // ---- jumps, calls, returns, BRK
    case 0x4C: c->pc = rd16(c, (uint16_t)(pc + 1)), cyc = 3; break;
    case 0x6C:  // the pointer's high byte comes from the same page: JMP ($12FF) reads $12FF, $1200
        w = rd16(c, (uint16_t)(pc + 1));
        c->pc = (uint16_t)(rd(c, w) | rd(c, (uint16_t)((w & 0xFF00) | ((w + 1) & 0xFF))) << 8), cyc = 5;
        break;
    case 0x20:
        w = rd16(c, (uint16_t)(pc + 1));
        m6502_push(c, (uint8_t)((pc + 2) >> 8)), m6502_push(c, (uint8_t)(pc + 2));
        c->pc = w, cyc = 6;
        break;
    case 0x60: m6502_rts(c, 0), cyc = 6; break;
    case 0x40:
        c->p = m6502_pull(c) | M6502_B | M6502_U;
        w = m6502_pull(c);
        c->pc = (uint16_t)(w | m6502_pull(c) << 8), cyc = 6;
        break;
    case 0x00:
        m6502_push(c, (uint8_t)((pc + 2) >> 8)), m6502_push(c, (uint8_t)(pc + 2)), m6502_push(c, c->p | M6502_B | M6502_U);
        c->p |= M6502_I;
        c->pc = rd16(c, 0xFFFE), cyc = 7;
        break;
    default:
        c->bad_pc = pc, c->bad_op = op;
        return M6502_ILLEGAL;
    }
done:
    c->cycles += cyc;
    c->last = cyc;
    c->insns++;
    return M6502_RUN;
}

int m6502_run(m6502 *c, uint64_t until) {
    while (c->cycles < until) {
        if (c->trap_pages && c->trap_pages[c->pc >> 8]) {
            int r = c->trap(c->ctx, c);
            if (r == M6502_STOP) return M6502_STOP;
            if (r == M6502_DONE) continue;
        }
        int r = step(c);
        if (r) return r;
    }
    return M6502_RUN;
}
