; timing.s: straight-line code touching every instruction group (8/16-bit loads, ALU, rotates
; and shifts, bit operations, block steps, exchanges, stack, I/O, jumps, calls and returns with
; known outcomes) and the CB, ED, DD, FD and DD CB prefixes. Every instruction between the
; region-5 OUTs in the listing runs exactly once (the subroutines sit inside the range too), so the emulator's region 5 must equal the sum of the T-state
; column that sdasz80 prints in the listing: an independent timing table.
	.module timing
	.area PROG (ABS)
	.org 0x100
	; (the CCP's stack, which holds 0000h: EX (SP) has a word to swap)
	ld hl,#scratch
	ld ix,#scratch
	ld iy,#scratch+8
	ld bc,#scratch+16
	ld de,#scratch+24
	out (0xD5),a		; start region 5
	; 8-bit loads
	ld a,b
	ld a,#0x12
	ld a,(hl)
	ld (hl),a
	ld (hl),#0x34
	ld a,(bc)
	ld a,(de)
	ld (bc),a
	ld (de),a
	ld a,(scratch+3)
	ld (scratch+4),a
	ld a,2(ix)
	ld 2(ix),a
	ld 2(iy),#5
	ld b,3(iy)
	ld i,a
	ld a,i
	ld a,r
	ld r,a
	; 16-bit loads and the stack
	ld bc,#scratch+16
	push hl
	ld hl,(scratch)
	ld (scratch+6),hl
	pop hl
	push de
	ld de,(scratch+2)
	ld (scratch+10),bc
	pop de
	push ix
	ld ix,(scratch+4)
	ld (scratch+12),iy
	pop ix
	push iy
	pop iy
	push af
	pop af
	ex de,hl
	ex de,hl
	ex af,af'
	exx
	exx
	ex af,af'
	ex (sp),hl
	ex (sp),hl
	ex (sp),ix
	ex (sp),ix
	push hl
	ld hl,#0
	add hl,sp
	ld sp,hl
	pop hl
	inc sp
	dec sp
	; 8-bit arithmetic and logic
	add a,b
	add a,#3
	add a,(hl)
	adc a,c
	adc a,2(ix)
	sub c
	sub #1
	sbc a,(hl)
	sbc a,1(iy)
	and #0x7F
	and d
	or d
	or (hl)
	xor e
	xor 3(ix)
	cp (hl)
	cp #9
	cp 1(iy)
	inc a
	dec c
	inc (hl)
	dec (hl)
	inc 1(iy)
	dec 1(ix)
	daa
	cpl
	neg
	scf
	ccf
	nop
	di
	im 1
	; 16-bit arithmetic
	add hl,bc
	adc hl,de
	sbc hl,de
	add ix,bc
	add iy,iy
	add ix,sp
	inc bc
	dec de
	inc ix
	dec iy
	inc iy
	dec ix
	ld hl,#scratch
	ld ix,#scratch
	ld iy,#scratch+8
	; rotates and shifts
	rlca
	rrca
	rla
	rra
	rlc b
	rrc (hl)
	rl 3(ix)
	rr c
	sla d
	sra (hl)
	srl e
	rlc 4(iy)
	rld
	rrd
	; bit operations
	bit 3,a
	bit 7,(hl)
	bit 1,2(ix)
	bit 6,3(iy)
	set 0,(hl)
	res 7,b
	set 2,4(iy)
	res 5,5(ix)
	; block steps (one iteration each) with HL, DE, BC set up
	ld hl,#scratch
	ld de,#scratch+32
	ld bc,#4
	ldi
	ldd
	cpi
	cpd
	; I/O to a port the machine does not use
	ld bc,#0x0010
	out (0x10),a
	in a,(0x10)
	out (c),b
	in d,(c)
	ld hl,#scratch
	outi
	ini
	; jumps, calls and returns whose outcome is known
	jr over
sub:	ret
sub2:	xor a
	ret z			; taken: 11
over:	jp over2
over2:
1$:	jr 2$
2$:	xor a			; Z set, C clear
	jp z,3$
3$:	jp nz,0			; not taken: still 10
	jr z,4$
4$:	call sub
	call z,sub2
	ld hl,#5$
	jp (hl)
5$:	ld ix,#6$
	jp (ix)
6$:	ld iy,#7$
	jp (iy)
7$:
	out (0xE5),a		; stop region 5
	xor a
	out (0xFE),a
scratch:
	.ds 48
