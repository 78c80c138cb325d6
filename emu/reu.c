// reu.c: the REC 8726 RAM Expansion Unit (reu.h).
#include "emu/reu.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

enum { ST_IRQ = 0x80, ST_EOB = 0x40, ST_FAULT = 0x20, ST_SIZE = 0x10 };
enum { CMD_EXEC = 0x80, CMD_AUTOLOAD = 0x20, CMD_FF00 = 0x10 };
enum { CTL_FIX_C64 = 0x80, CTL_FIX_REU = 0x40 };

int reu_init(reu_dev *r, uint32_t size) {
    memset(r, 0, sizeof *r);
    if (size < REU_MIN_BYTES || size > REU_MAX_BYTES || (size & (size - 1)))
        return rq_fail(RQ_EINPUT, "an REU holds 128 KB, 256 KB, ... 16 MB (a power of two), not %lu bytes", (unsigned long)size);
    r->mem = rq_calloc(size, 1);
    r->size = size;
    r->status = size >= (256u << 10) ? ST_SIZE : 0;
    r->cmd = CMD_FF00;
    r->len = r->len_sh = 0xFFFF;
    return 0;
}

void reu_free(reu_dev *r) {
    free(r->mem);
    r->mem = NULL;
}

// The address counter wraps at the REC's 512 KB or at the size of a larger unit.
static uint32_t span(const reu_dev *r) { return r->size > (512u << 10) ? r->size : 512u << 10; }
// Bits of $DF06 that hold the bank; the others read 1.
static uint8_t bank_bits(const reu_dev *r) { return (uint8_t)((span(r) >> 16) - 1); }

uint8_t reu_read(reu_dev *r, unsigned reg) {
    switch (reg & 0x1F) {
    case 0: {
        uint8_t v = r->status;
        r->status &= (uint8_t)~(ST_IRQ | ST_EOB | ST_FAULT);
        return v;
    }
    case 1: return r->cmd;
    case 2: return (uint8_t)r->c64;
    case 3: return (uint8_t)(r->c64 >> 8);
    case 4: return (uint8_t)r->addr;
    case 5: return (uint8_t)(r->addr >> 8);
    case 6: return (uint8_t)((r->addr >> 16) | ~bank_bits(r));
    case 7: return (uint8_t)r->len;
    case 8: return (uint8_t)(r->len >> 8);
    case 9: return r->irq_mask | 0x1F;
    case 10: return r->ctl | 0x3F;
    default: return 0xFF;
    }
}

static uint64_t transfer(reu_dev *r, const reu_bus *bus) {
    unsigned type = r->cmd & 3;
    uint32_t n = r->len ? r->len : 65536u, done = 0, mask = r->size - 1;
    uint16_t c = r->c64;
    uint32_t a = r->addr;
    int fault = 0;
    r->armed = 0;
    while (done < n && !fault) {
        uint8_t *m = &r->mem[a & mask];
        if (type == 0) {
            *m = bus->read(bus->ctx, c);
        } else if (type == 1) {
            bus->write(bus->ctx, c, *m);
        } else if (type == 2) {
            uint8_t v = bus->read(bus->ctx, c);
            bus->write(bus->ctx, c, *m);
            *m = v;
        } else if (bus->read(bus->ctx, c) != *m) {
            fault = 1;
        }
        done++;
        if (!(r->ctl & CTL_FIX_C64)) c++;
        if (!(r->ctl & CTL_FIX_REU)) a = (a + 1) & (span(r) - 1);
    }
    uint64_t cycles = (uint64_t)done * (type == 2 ? 2 : 1);
    r->bytes += done, r->cycles += cycles, r->transfers++;
    if (fault) r->status |= ST_FAULT, r->verify_errors++;
    if (done == n) r->status |= ST_EOB;
    if ((r->irq_mask & 0x80) && (((r->irq_mask & 0x40) && (r->status & ST_EOB)) || ((r->irq_mask & 0x20) && fault)))
        r->status |= ST_IRQ;
    if (r->cmd & CMD_AUTOLOAD) {
        r->c64 = r->c64_sh, r->addr = r->addr_sh, r->len = r->len_sh;
    } else {
        r->c64 = c, r->addr = a;
        r->len = done == n ? 1 : (uint16_t)(n - done);
    }
    r->cmd = (uint8_t)((r->cmd & ~CMD_EXEC) | CMD_FF00);
    return cycles;
}

uint64_t reu_write(reu_dev *r, unsigned reg, uint8_t v, const reu_bus *bus) {
    switch (reg & 0x1F) {
    case 1:
        r->cmd = v;
        if (!(v & CMD_EXEC)) return 0;
        if (v & CMD_FF00) return transfer(r, bus);
        r->armed = 1;
        return 0;
    case 2: r->c64 = r->c64_sh = (uint16_t)((r->c64_sh & 0xFF00) | v); break;
    case 3: r->c64 = r->c64_sh = (uint16_t)((r->c64_sh & 0x00FF) | v << 8); break;
    case 4: r->addr = r->addr_sh = (r->addr_sh & ~0xFFu) | v; break;
    case 5: r->addr = r->addr_sh = (r->addr_sh & ~0xFF00u) | (uint32_t)v << 8; break;
    case 6: r->addr = r->addr_sh = (r->addr_sh & 0xFFFFu) | (uint32_t)(v & bank_bits(r)) << 16; break;
    case 7: r->len = r->len_sh = (uint16_t)((r->len_sh & 0xFF00) | v); break;
    case 8: r->len = r->len_sh = (uint16_t)((r->len_sh & 0x00FF) | v << 8); break;
    case 9: r->irq_mask = v & 0xE0; break;
    case 10: r->ctl = v & 0xC0; break;
    default: break;
    }
    return 0;
}

uint64_t reu_ff00(reu_dev *r, const reu_bus *bus) { return r->armed ? transfer(r, bus) : 0; }
