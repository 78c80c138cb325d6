; hello.s: console output through BDOS 9, 2 and 6, ending with a RET to the CCP's 0000h.
; Checks the output mapping: CR LF and LF CR -> LF, a lone CR passes through, 8-bit bytes pass
; through.
	.module hello
	.area PROG (ABS)
	.org 0x100
	ld de,#msg		; keep the stack the CCP gave us: a final RET is a warm boot
	ld c,#9
	call BDOS
	ld e,#'!
	ld c,#2
	call BDOS
	ld e,#13		; CR LF through direct console I/O
	ld c,#6
	call BDOS
	ld e,#10
	ld c,#6
	call BDOS
	ld de,#msg2
	ld c,#9
	call BDOS
	ret

msg:	.ascii "Hello, CP/M"
	.db 13,10
	.ascii "line 2"
	.db 0x80,0xFF
	.ascii "$"
msg2:	.ascii "A"
	.db 13			; lone CR: passed through
	.ascii "B"
	.db 13,10		; CR LF: LF
	.ascii "C"
	.db 10,13		; LF CR: LF
	.ascii "D"
	.db 13			; lone CR at the end of the run: passed through
	.ascii "$"
BDOS = 5
