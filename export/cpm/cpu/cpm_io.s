; cpm_io.s: the CP/M 2.2 machine part of the chat program (docs/z80-kernel.md): the entry table
; at 0100h, main (one-shot from the command tail, or chat mode at a '> ' prompt), the console
; through BDOS 2/9/10, and the weights streamed from a .BIN (BDOS 15/26/33). The computation
; itself (encoder, layers, the answer loop) is the machine-independent chat.s, which the build
; appends to this file (export/cpm/cpm.mk: cpm_io.s + chat.s, with the packed layout's handlers);
; it calls back into what a machine file provides:
;   put_answer_char   macro: print the answer character in A (may destroy every register but IX)
;   newline           routine: end the answer's line
;   load_layer        routine: make layer IX's weights readable (streaming) or nothing
; and a machine file sets PACKED (1: the kernel has the packed layout's byte handlers).
;
; Entry points (fixed addresses, used by the exporter's tests through the emulator):
;   0100h main       chat mode (no command tail) or one-shot (command tail)
;   0103h t_forward  counts already in CNT (Q+K bytes) -> logits in the ACC pages, A = argmax
;   0106h t_encq     query at LINE+1 (length) / LINE+2 (text) -> CNT[0..Q)
;   0109h t_encc     context in CTX -> CNT[Q..Q+K)
;   010Ch .dw probes (addresses of the T-state probe OUTs the exporter keeps or NOPs out)
;   010Eh .dw model  (the descriptor; = end of the kernel)
;   0110h .dw colrun, colrun_s (the column routines of the two weight layouts)
;   0114h t_open     open and check the .BIN of a streaming build (main does this first)
	.module chat
	.area KERN (ABS)
	.org 0x100

PACKED = 1		; the packed layout's 256 byte handlers are assembled in
BDOS = 5
CR = 13
LF = 10

; put_answer_char: CP/M terminals print the answer in upper case (BDOS 2).
	.macro put_answer_char
	call upper
	ld e,a
	ld c,#2
	call BDOS
	.endm

	jp main
	jp t_forward
	jp t_encq
	jp t_encc
	.dw probes
	.dw model
	.dw colrun
	.dw colrun_s
	jp open_bin

; ---- entry points ------------------------------------------------------------------------------

main:
	ld sp,(model+D_STACK)
	call open_bin
	ld a,(0x80)		; command tail length
	or a
	jr z,chat_mode
	ld b,a			; one-shot: the tail without its leading spaces is the query
	ld hl,#0x81
1$:	ld a,(hl)
	cp #' '
	jr nz,2$
	inc hl
	djnz 1$
	jr chat_mode		; a tail of spaces only: chat mode
2$:	ld de,(model+D_LINE)
	inc de
	ld a,b
	ld (de),a
	inc de
	ld c,b
	ld b,#0
	ldir
	call answer
	jp 0

chat_mode:
	ld de,#prompt
	ld c,#9
	call BDOS
	ld de,(model+D_LINE)
	ld a,#255
	ld (de),a
	ld c,#10
	call BDOS
	call crlf
	ld hl,(model+D_LINE)
	inc hl
	ld a,(hl)
	or a
	jp z,0			; an empty line exits
	inc hl
	ld a,(hl)
	cp #'!'
	jp z,0			; so does '!'
	call answer
	jr chat_mode

prompt:	.ascii "> $"

newline:
crlf:
	ld e,#CR
	ld c,#2
	call BDOS
	ld e,#LF
	ld c,#2
	jp BDOS

upper:
	cp #'a'
	ret c
	cp #'z'+1
	ret nc
	sub #32
	ret

; ---- streamed weights --------------------------------------------------------------------------

; open_bin: when the weights are streamed, open the .BIN (its FCB is in the model data) and
; check its header record ("RQZ1"); otherwise nothing. A missing or foreign file ends the program
; with a message.
open_bin:
	ld hl,(model+D_BUF)
	ld a,h
	or l
	ret z
	ld de,(model+D_FCB)
	ld c,#15
	call BDOS
	inc a
	jr z,bin_error		; 0FFh: not found
	ld ix,#hdr_layer	; record 0 into the buffer
	call load_layer
	ld hl,(model+D_BUF)
	ld de,#bin_magic
	ld b,#4
1$:	ld a,(de)
	cp (hl)
	jr nz,bin_error
	inc hl
	inc de
	djnz 1$
	ret
bin_error:
	ld de,#bin_msg
	ld c,#9
	call BDOS
	jp 0
bin_magic:
	.ascii "RQZ1"
bin_msg:
	.ascii "CANNOT READ THE WEIGHTS FILE (.BIN)"
	.db 13,10
	.ascii "$"
hdr_layer = . - L_REC0		; a pseudo layer record: record 0, 1 record
	.dw 0, 1

; load_layer: read layer IX's weight records into the buffer (BDOS 26 set DMA, 33 read random);
; nothing when the weights are resident.
load_layer:
	ld hl,(model+D_BUF)
	ld a,h
	or l
	ret z
	ld (ldma),hl
	ld l,L_REC0(ix)
	ld h,L_REC0+1(ix)
	ld (lrec),hl
	ld c,L_NREC(ix)
	ld b,L_NREC+1(ix)
	push ix
1$:	push bc
	ld de,(ldma)
	ld c,#26
	call BDOS
	ld hl,(model+D_FCB)
	ld de,#33		; r0, r1, r2
	add hl,de
	ld de,(lrec)
	ld (hl),e
	inc hl
	ld (hl),d
	inc hl
	ld (hl),#0
	ld de,(model+D_FCB)
	ld c,#33
	call BDOS
	or a
	jr nz,bin_error
	ld hl,(ldma)
	ld de,#128
	add hl,de
	ld (ldma),hl
	ld hl,(lrec)
	inc hl
	ld (lrec),hl
	pop bc
	dec bc
	ld a,b
	or c
	jr nz,1$
	pop ix
	ret

; ---- variables of the streaming ----------------------------------------------------------------
ldma:	.dw 0
lrec:	.dw 0
