; echo.s: line input (BDOS 10) in a loop: prints "> ", reads a line into an 8-byte buffer,
; prints CR LF and then "[line]"; an empty line exits with code 55h.
	.module echo
	.area PROG (ABS)
	.org 0x100
	ld sp,(6)
loop:
	ld de,#prompt
	call puts
	ld de,#buf
	ld c,#10
	call BDOS
	call crlf
	ld a,(buf+1)
	or a
	jr z,done
	ld a,#'[
	call putc
	ld a,(buf+1)
	ld b,a
	ld hl,#buf+2
1$:	push bc
	push hl
	ld a,(hl)
	call putc
	pop hl
	pop bc
	inc hl
	djnz 1$
	ld a,#']
	call putc
	call crlf
	jr loop
done:
	ld a,#0x55
	jp exit

prompt:	.ascii "> $"
buf:	.db 8			; capacity
	.ds 9			; count + 8 characters
	.include "lib.inc"
