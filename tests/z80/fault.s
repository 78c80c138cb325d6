; fault.s: misbehaviour on request; the first letter of the first argument (FCB1) picks it:
;   B  BDOS function 7 (not implemented)     H  HALT          W  write into the BDOS (F000h)
;   R  stop a region never started           L  loop forever  I  BIOS LIST (not implemented)
;   D  start region 3 twice
;   X  exit code 200                         anything else: BDOS 0 (system reset)
	.module fault
	.area PROG (ABS)
	.org 0x100
	ld sp,(6)
	ld a,(0x5D)
	cp #'B
	jr z,f_bdos
	cp #'H
	jr z,f_halt
	cp #'W
	jr z,f_write
	cp #'R
	jr z,f_region
	cp #'L
	jr z,f_loop
	cp #'I
	jr z,f_bios
	cp #'D
	jr z,f_double
	cp #'X
	jr z,f_exit
	ld c,#0
	call 5
	ld a,#98		; never reached
	out (0xFE),a
f_bdos:	ld c,#7
	call 5
	ld a,#99
	out (0xFE),a
f_halt:	halt
f_write:
	ld (0xF000),a
	ld a,#99
	out (0xFE),a
f_region:
	out (0xE2),a
	ld a,#99
	out (0xFE),a
f_loop:	jr f_loop
f_bios:	ld hl,(1)
	ld de,#12		; WBOOT + 12 = LIST (entry 5)
	add hl,de
	jp (hl)
f_double:
	out (0xD3),a
	out (0xD3),a
	ld a,#99
	out (0xFE),a
f_exit:	ld a,#200
	out (0xFE),a
