// reu.h: a Commodore RAM Expansion Unit (REC 8726 controller: 1700/1764/1750 and the larger
// compatible units up to 16 MB) on the C64's expansion port, registers at $DF00.
//
//   $DF00 status   (read only) bit 7 interrupt pending, 6 end of block, 5 fault (verify
//                  mismatch), 4 size (1: 256 Kbit chips, every REU but the 128 KB 1700), 3-0
//                  version 0. Reading it clears bits 7-5.
//   $DF01 command  bit 7 execute, 5 autoload, 4 FF00 (1: start at once; 0: start at the CPU's
//                  next write to $FF00), 1-0 type: 00 C64 -> REU, 01 REU -> C64, 10 swap,
//                  11 verify. After a transfer bit 7 is clear and bit 4 set.
//   $DF02/03       C64 address                 $DF04/05/06 REU address (bank in $DF06)
//   $DF07/08       length, 0 = 65536 bytes     $DF09 interrupt mask (7 enable, 6 end, 5 fault)
//   $DF0A          address control: bit 7 fix the C64 address, bit 6 fix the REU address
//   Unused bits read 1 ($DF06 above the bank bits, $DF09 bits 4-0, $DF0A bits 5-0), $DF0B-$DF1F
//   read $FF, and the 32 registers repeat through $DF00-$DFFF.
// A transfer moves one byte per cycle (swap: two) with the CPU halted; the machine adds those
// cycles to its DMA count, apart from the CPU's. Without autoload the address registers are left
// after the last byte and the length at 1; with it they are reloaded with the values last
// written. A verify stops after the first mismatch (fault set; end of block too when it was the
// last byte). The REU address counts with a carry into the bank and wraps at the end of the REU
// (memory of a unit smaller than 512 KB repeats up to the REC's 512 KB address space).
// The interrupt line is not connected to the CPU model (no IRQs): bit 7 of the status is kept.
#ifndef RQ_EMU_REU_H
#define RQ_EMU_REU_H

#include <stddef.h>
#include <stdint.h>

#define REU_MIN_BYTES (128L << 10)
#define REU_MAX_BYTES (16L << 20)

typedef struct {
    uint8_t (*read)(void *ctx, uint16_t addr);      // the C64 side of a transfer (its bus)
    void (*write)(void *ctx, uint16_t addr, uint8_t v);
    void *ctx;
} reu_bus;

typedef struct {
    uint8_t *mem;                  // size bytes, owned
    uint32_t size;                 // a power of two, 128 KB .. 16 MB
    uint8_t status, cmd, irq_mask, ctl;
    uint16_t c64, len;             // working registers
    uint32_t addr;                 // REU address (bank:hi:lo)
    uint16_t c64_sh, len_sh;       // the values last written (autoload)
    uint32_t addr_sh;
    int armed;                     // execute written with FF00 clear: waiting for $FF00
    uint64_t bytes, cycles, transfers;
    uint64_t verify_errors;
} reu_dev;

// A zeroed REU of size bytes (a power of two in 128 KB .. 16 MB): 0, or RQ_EINPUT.
int reu_init(reu_dev *r, uint32_t size);
void reu_free(reu_dev *r);
// Register access (reg: the address bits 0-4). A write may start a transfer over bus; the
// cycles it stole are returned (0: none).
uint8_t reu_read(reu_dev *r, unsigned reg);
uint64_t reu_write(reu_dev *r, unsigned reg, uint8_t v, const reu_bus *bus);
// The CPU wrote to $FF00: an armed transfer starts. Returns the cycles stolen.
uint64_t reu_ff00(reu_dev *r, const reu_bus *bus);

#endif
