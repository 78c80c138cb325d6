// cpm_file.h: the BDOS file functions of the CP/M machine (cpm_file.c) on a host directory.
#ifndef RQ_CPM_FILE_H
#define RQ_CPM_FILE_H

#include "emu/cpm_int.h"

// BDOS function fn (15-22, 33-36) with the FCB at fcb; returns the BDOS result byte (A).
uint8_t file_call(cpm_machine *m, int fn, uint16_t fcb);
void file_search_free(cpm_machine *m);

#endif
