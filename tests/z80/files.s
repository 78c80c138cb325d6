; files.s: a workout of the BDOS file functions; every result byte is printed in hex (the
; expected transcript, step by step, is in tests/test_cpm_emu.c:test_files). The host directory
; holds IN.TXT (200 bytes, 'a'+i%26) and B.DAT (1 byte) before the run; KEEP.BIN (2 records,
; byte i = i mod 256) is left behind for the host to check.
	.module files
	.area PROG (ABS)
	.org 0x100
	ld sp,(6)
	ld hl,#data		; data[i] = i mod 256, 384 bytes
	ld bc,#384
	xor a
0$:	ld (hl),a
	inc hl
	inc a
	ld d,a
	dec bc
	ld a,b
	or c
	ld a,d
	jr nz,0$

	; 1: delete a file that is not there -> FF; make it -> 00
	ld de,#fcbo
	ld c,#19
	call bdosp
	ld de,#fcbo
	ld c,#22
	call bdosp
	; 2: three sequential writes, moving the DMA each time -> 00 00 00; close -> 00
	ld hl,#data
	call write
	ld hl,#data+128
	call write
	ld hl,#data+256
	call write
	ld de,#fcbo
	ld c,#16
	call bdosp
	; 3: open through a second FCB -> 00, rc = 03
	ld de,#fcbi
	ld c,#15
	call bdosp
	ld a,(fcbi+15)
	call puthex
	; 4: two sequential reads into rbuf, compared with data -> 00 00 00 00; cr = 02
	ld de,#rbuf
	ld c,#26
	call BDOS
	ld de,#data
	call readcmp
	ld de,#data+128
	call readcmp
	ld a,(fcbi+32)
	call puthex
	; 5: file size -> 00, r0 r1 = 03 00
	ld de,#fcbi
	ld c,#35
	call bdosp
	ld a,(fcbi+33)
	call puthex
	ld a,(fcbi+34)
	call puthex
	; 6: random read of record 1 -> 00 00; a sequential read rereads it -> 00 00; then
	;    record 2 -> 00 00; then the end -> 01
	ld a,#1
	ld (fcbi+33),a
	xor a
	ld (fcbi+34),a
	ld de,#fcbi
	ld c,#33
	call bdosp
	ld hl,#rbuf
	ld de,#data+128
	call cmp128
	ld de,#data+128
	call readcmp
	ld de,#data+256
	call readcmp
	ld de,#fcbi
	ld c,#20
	call bdosp
	; 7: random read past the end -> 01; with r2 set (beyond the disk) -> 06
	ld a,#3
	ld (fcbi+33),a
	ld de,#fcbi
	ld c,#33
	call bdosp
	ld a,#1
	ld (fcbi+35),a
	ld de,#fcbi
	ld c,#33
	call bdosp
	xor a
	ld (fcbi+35),a
	; 8: IN.TXT (lower-case on the host): open -> 00, two reads -> 00 00, the last record is
	;    72 bytes then ^Z padding: byte 71 = 72 ('r'), bytes 72 and 127 = 1A; read -> 01; close -> 00
	ld de,#fcbt
	ld c,#15
	call bdosp
	ld de,#fcbt
	ld c,#20
	call bdosp
	ld de,#fcbt
	ld c,#20
	call bdosp
	ld a,(rbuf+71)
	call puthex
	ld a,(rbuf+72)
	call puthex
	ld a,(rbuf+127)
	call puthex
	ld de,#fcbt
	ld c,#20
	call bdosp
	ld de,#fcbt
	ld c,#16
	call bdosp
	; 9: search ????????.DAT: B.DAT (42 = 'B', rc 01), then OUT.DAT (4F, 03), then FF
	ld de,#fcbs
	ld c,#17
	call bdosp
	call dirent
	ld c,#18
	call bdosp
	call dirent
	ld c,#18
	call bdosp
	; 10: random write of record 5 -> 00; size -> 00, r0 = 06; set random record from the
	;     position the write left (record 5) -> 00, r0 = 05
	ld a,#5
	ld (fcbi+33),a
	ld de,#fcbi
	ld c,#34
	call bdosp
	ld de,#fcbi
	ld c,#35
	call bdosp
	ld a,(fcbi+33)
	call puthex
	ld de,#fcbi
	ld c,#36
	call bdosp
	ld a,(fcbi+33)
	call puthex
	; 11: KEEP.BIN: make -> 00, two records -> 00 00, close -> 00
	ld de,#fcbk
	ld c,#22
	call bdosp
	ld hl,#data
	call writek
	ld hl,#data+128
	call writek
	ld de,#fcbk
	ld c,#16
	call bdosp
	; 12: delete OUT.DAT -> 00; open it -> FF; delete again -> FF; make with a wildcard -> FF
	ld de,#fcbo
	ld c,#19
	call bdosp
	ld de,#fcbi
	ld c,#15
	call bdosp
	ld de,#fcbo
	ld c,#19
	call bdosp
	ld de,#fcbs
	ld c,#22
	call bdosp
	ld a,#'.
	call putc
	jp 0

; bdosp: call the BDOS (C = function, DE = FCB) and print the result.
bdosp:	call BDOS
	jp puthex

; write: set the DMA to HL and write the next record of fcbo (result printed).
write:	ex de,hl
	ld c,#26
	call BDOS
	ld de,#fcbo
	ld c,#21
	jr bdosp
writek:	ex de,hl
	ld c,#26
	call BDOS
	ld de,#fcbk
	ld c,#21
	jr bdosp

; readcmp: read the next record of fcbi into rbuf (result printed), compare it with DE.
readcmp:
	push de
	ld de,#fcbi
	ld c,#20
	call bdosp
	pop de
	ld hl,#rbuf
; cmp128: compare 128 bytes at HL and DE: prints 00 when equal, 01 when not.
cmp128:	ld b,#128
1$:	ld a,(de)
	cp (hl)
	jr nz,2$
	inc hl
	inc de
	djnz 1$
	xor a
	jp puthex
2$:	ld a,#1
	jp puthex

; dirent: print the first name byte and the rc of the directory entry at the DMA (rbuf).
dirent:	ld a,(rbuf+1)
	call puthex
	ld a,(rbuf+15)
	jp puthex

fcbo:	.db 0
	.ascii "OUT     DAT"
	.ds 24
fcbi:	.db 0
	.ascii "OUT     DAT"
	.ds 24
fcbt:	.db 1			; drive A: explicitly
	.ascii "IN      TXT"
	.ds 24
fcbs:	.db 0
	.ascii "????????DAT"
	.ds 24
fcbk:	.db 0
	.ascii "KEEP    BIN"
	.ds 24
	.include "lib.inc"
rbuf:	.ds 128
data:	.ds 384
