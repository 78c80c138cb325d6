/* stdlib.h for the c89.py pass. */
#ifndef C64_STDLIB_H
#define C64_STDLIB_H
void exit(int status);
#endif
