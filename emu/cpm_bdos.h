// cpm_bdos.h: the BDOS and BIOS of the CP/M machine (cpm_bdos.c), called by the traps of cpm.c.
#ifndef RQ_CPM_BDOS_H
#define RQ_CPM_BDOS_H

#include "emu/cpm_int.h"

// Run BDOS function C / BIOS entry `entry` (registers in the CPU; result in HL/A/B).
void bdos_call(cpm_machine *m);
void bios_call(cpm_machine *m, int entry);

#endif
