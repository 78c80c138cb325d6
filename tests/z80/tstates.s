; tstates.s: a program whose T-state count is worked out by hand from the Z80 timings
; (Zilog UM0080). The expected numbers are in tests/test_cpm_emu.c:test_tstates_by_hand.
	.module tstates
	.area PROG (ABS)
	.org 0x100
	out (0xD0),a		; 11  start region 0 (not counted in region 0)
	ld b,#10		;  7
1$:	djnz 1$			; 13 x 9 (taken) + 8 (falls through) = 125
	nop			;  4
	ld c,#12		;  7  BDOS 12: version
	call 5			; 17  + JP 0EC06h at 0005h: 10 + trapped RET: 10  = 37
	ld hl,#src		; 10
	ld de,#buf		; 10
	ld bc,#3		; 10
	ldir			; 21 + 21 + 16 = 58 (ED prefix)
	ld ix,#buf		; 14 (DD prefix)
	inc 1(ix)		; 23 (DD prefix + displacement)
	out (0xE0),a		; 11  stop region 0 (not counted)
	out (0xD1),a		; 11  region 1 is empty
	out (0xE1),a		; 11
	ld a,#7			;  7
	out (0xFE),a		; 11  exit code 7: the run ends after this instruction
src:	.db 1,2,3
buf:	.db 0,0,0,0x55
