; con.s: the other console functions, each result printed in hex:
; 12 version, 11 status, 1 input with echo, 6 in its FEh status / FFh input / FDh blocking input
; modes, the drive and user functions 13/14/24/25/32, the BIOS CONOUT and CONST entries, and
; finally BDOS 1 at the end of the input (the run ends there, cleanly).
	.module con
	.area PROG (ABS)
	.org 0x100
	ld sp,(6)
	ld c,#12		; version -> 22
	call BDOS
	call puthex
	ld c,#11		; status with input waiting -> FF
	call BDOS
	call puthex
	ld c,#1			; 'x' echoed -> "x78 "
	call BDOS
	call puthex
	ld c,#6			; direct status -> FF
	ld e,#0xFE
	call BDOS
	call puthex
	ld c,#6			; direct input, no echo -> 79 ('y')
	ld e,#0xFF
	call BDOS
	call puthex
	ld c,#6			; the host's LF arrives as CR -> 0D
	ld e,#0xFF
	call BDOS
	call puthex
	ld c,#6			; blocking direct input -> 7A ('z')
	ld e,#0xFD
	call BDOS
	call puthex
	ld c,#6			; input at EOF: no character -> 00
	ld e,#0xFF
	call BDOS
	call puthex
	ld c,#11		; status at EOF -> 00
	call BDOS
	call puthex
	ld c,#25		; current disk -> 00
	call BDOS
	call puthex
	ld c,#32		; set user 5, get it back -> 05
	ld e,#5
	call BDOS
	ld c,#32
	ld e,#0xFF
	call BDOS
	call puthex
	ld c,#14		; select B:, current disk -> 01
	ld e,#1
	call BDOS
	ld c,#25
	call BDOS
	call puthex
	ld c,#13		; reset disks: back to A: -> 00
	call BDOS
	ld c,#25
	call BDOS
	call puthex
	ld c,#24		; login vector -> 01
	call BDOS
	call puthex
	ld hl,(1)		; BIOS WBOOT entry; CONOUT is 3 entries later
	ld de,#9
	add hl,de
	ld c,#'Q
	call jphl		; -> "Q"
	ld hl,(1)		; CONST at EOF -> 00
	inc hl
	inc hl
	inc hl
	call jphl
	call puthex
	ld c,#1			; console input at EOF: the run ends here (exit 0)
	call BDOS
	ld a,#99		; never reached
	jp exit
jphl:	jp (hl)
	.include "lib.inc"
