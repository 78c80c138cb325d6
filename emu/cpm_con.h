// cpm_con.h: the console of the CP/M machine (cpm_con.c): host bytes in and out, CR LF <-> LF.
#ifndef RQ_CPM_CON_H
#define RQ_CPM_CON_H

#include "emu/cpm_int.h"

void con_out(cpm_machine *m, uint8_t c, int counted);  // one byte to the console (CR LF -> LF)
void con_flush(cpm_machine *m, int final);  // final: the run is over, write a held CR
int con_in(cpm_machine *m);        // blocking: next byte (LF -> CR) or -1 at EOF
int con_ready(cpm_machine *m);     // non-blocking: 1 when a byte is waiting

#endif
