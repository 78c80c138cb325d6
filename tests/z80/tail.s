; tail.s: prints what the CCP left in page zero: the tail length and text at 0080h, then the
; default FCBs at 005Ch and 006Ch as "DD |NAME....TYP|".
	.module tail
	.area PROG (ABS)
	.org 0x100
	ld sp,(6)
	ld a,(0x80)
	call puthex
	ld a,#'[
	call putc
	ld a,(0x80)
	or a
	jr z,2$
	ld b,a
	ld hl,#0x81
1$:	push bc
	push hl
	ld a,(hl)
	call putc
	pop hl
	pop bc
	inc hl
	djnz 1$
2$:	ld a,#']
	call putc
	ld hl,#0x5C
	call fcb
	ld hl,#0x6C
	call fcb
	jp 0

; fcb: print the drive byte at HL in hex and the 11 name bytes between bars.
fcb:	push hl
	ld a,(hl)
	call puthex
	ld a,#'|
	call putc
	pop hl
	inc hl
	ld b,#11
3$:	push bc
	push hl
	ld a,(hl)
	call putc
	pop hl
	pop bc
	inc hl
	djnz 3$
	ld a,#'|
	jp putc
	.include "lib.inc"
