; zx48_io.s: the ZX Spectrum 48K machine part of the chat program (export/zx48/README.md). The
; build puts a two-line prelude in front (ORG = the code address, a page; PACKED = 1 when the
; packed layout's byte handlers are assembled in) and the machine-independent kernel
; export/cpm/cpu/chat.s behind it, which calls back into put_answer_char, newline and
; load_layer below.
;
; Started from BASIC by USR (the loader: CLEAR ORG-1: LOAD "" CODE: RANDOMIZE USR ORG):
;   ORG+00h main     chat: '> ' prompt, a line typed on the keyboard, the answer; an empty line
;                    (or one starting with '!') returns to BASIC
;   ORG+14h oneshot  answers the BASIC string a$ once (LET a$="hello": RANDOMIZE USR ORG+20)
; (ORG+03h..ORG+13h: the kernel's entry table, chat.s.)
;
; The ROM and its interrupt need IY = 5C3Ah (the system variables); the kernel never touches IY.
; The ROM's calculator needs H'L' back as USR found it; the kernel uses the alternate registers,
; so H'L' is saved on BASIC's stack. The program runs on its own stack (D_STACK, uncontended
; memory) and answers with interrupts off: the layer code moves SP into its list of active units
; (fin_hidden), and a 50 Hz interrupt in the middle would push the ROM's handler frame there.
; Interrupts are on only while waiting for a key (HALT: the IM 1 handler scans the keyboard into
; LAST-K and sets bit 5 of FLAGS).
	.module chat
	.area KERN (ABS)
	.org ORG

CHAN_OPEN = 0x1601	; open stream A (2: the upper screen) as the current channel
CLS = 0x0D6B		; clear the screen, print position to the top left
LAST_K = 0x5C08		; the last key the interrupt decoded
FLAGS = 0x5C3B		; bit 3: keys decode in L mode (letters, not keywords); bit 5: a new key
SCR_CT = 0x5C8C		; scrolls left before the ROM stops at 'scroll?'
VARS = 0x5C4B		; -> the BASIC variables
K_ENTER = 13
K_DELETE = 12
C_LEFT = 8		; print code: cursor left

; put_answer_char: print A through the ROM (channel 2 is open).
	.macro put_answer_char
	rst 0x10
	.endm

	jp main
	jp t_forward
	jp t_encq
	jp t_encc
	.dw probes
	.dw model
	.dw colrun		; 0 without the packed layout
	.dw colrun_s
	jp oneshot

; ---- entry from BASIC and back -------------------------------------------------------------------

main:
	ld hl,#chat_loop
	jr enter
oneshot:
	ld hl,#answer_avar
; enter: save H'L' and BASIC's SP, switch to the program's stack, open channel 2, go to HL.
enter:
	exx
	push hl			; H'L', for the ROM's calculator after USR
	exx
	ld (basic_sp),sp
	ld sp,(model+D_STACK)
	push hl
	ld a,#2
	call CHAN_OPEN
	ret			; to chat_loop or answer_avar

; leave: back to BASIC (USR returns 0) with its stack, H'L' and interrupts on.
leave:
	ld sp,(basic_sp)
	exx
	pop hl
	exx
	ei
	ld bc,#0
	ret

; ---- chat mode -----------------------------------------------------------------------------------

chat_loop:
	call CLS
1$:	call scroll_ok
	ld a,#'>'
	rst 0x10
	ld a,#' '
	rst 0x10
	call getline
	ld hl,(model+D_LINE)
	inc hl
	ld a,(hl)
	or a
	jr z,leave		; an empty line returns to BASIC
	inc hl
	ld a,(hl)
	cp #'!'
	jr z,leave		; so does '!'
	call answer_di
	jr 1$

; getline: a line from the keyboard into the line buffer (LINE+1 length, LINE+2 text), echoed;
; DELETE removes the last character, ENTER ends it.
getline:
	ld hl,(model+D_LINE)
	inc hl
	ld (hl),#0
gl_key:
	ld hl,#FLAGS
	set 3,(hl)		; L mode: letters arrive as letters
	ei
	halt			; the next interrupt scans the keyboard
	bit 5,(hl)
	jr z,gl_key
	res 5,(hl)
	ld a,(LAST_K)
	cp #K_ENTER
	jr z,gl_end
	cp #K_DELETE
	jr z,gl_del
	cp #' '
	jr c,gl_key		; other control codes and
	cp #0x80
	jr nc,gl_key		; graphics and keyword tokens are ignored
	ld c,a
	ld hl,(model+D_LINE)
	inc hl
	ld a,(hl)
	inc a
	jr z,gl_key		; 255 characters: full
	ld (hl),a
	ld e,a
	ld d,#0
	add hl,de
	ld (hl),c
	ld a,c
	rst 0x10
	jr gl_key
gl_del:
	ld hl,(model+D_LINE)
	inc hl
	ld a,(hl)
	or a
	jr z,gl_key
	dec (hl)
	ld a,#C_LEFT
	rst 0x10
	ld a,#' '
	rst 0x10
	ld a,#C_LEFT
	rst 0x10
	jr gl_key
gl_end:
	jp newline

; ---- one-shot: the answer to a$ ------------------------------------------------------------------

; answer_avar: find the string variable a$ among the BASIC variables (VARS: records until 80h;
; a string variable is 41h..5Ah = 40h + letter, a 2-byte length, the text), copy it to the line
; buffer (at most 255 bytes), answer it and return to BASIC. Without a$, nothing is printed.
answer_avar:
	ld hl,(VARS)
av_next:
	ld a,(hl)
	cp #0x80
	jp z,leave		; the end: no a$
	cp #0x41
	jr z,av_found
	and #0xE0		; the other kinds, by the top 3 bits of the name byte
	cp #0x40
	jr z,av_str		; another string: 2-byte length
	cp #0x60
	jr z,av_num1		; a one-letter number: 5 bytes
	cp #0xA0
	jr z,av_numn		; a number with a longer name: letters until bit 7, then 5 bytes
	cp #0xE0
	jr z,av_for		; a FOR control variable: 18 bytes
	jr av_str		; arrays (80h, C0h): a 2-byte length like strings
av_numn:
	inc hl
	bit 7,(hl)
	jr z,av_numn
av_num1:
	ld de,#6
	jr av_skip
av_for:
	ld de,#19
av_skip:
	add hl,de
	jr av_next
av_str:
	inc hl
	ld e,(hl)
	inc hl
	ld d,(hl)
	inc hl
	add hl,de
	jr av_next
av_found:
	inc hl
	ld c,(hl)
	inc hl
	ld b,(hl)
	inc hl
	ld a,b			; at most 255 characters
	or a
	jr z,1$
	ld c,#255
1$:	ld de,(model+D_LINE)
	inc de
	ld a,c
	ld (de),a
	inc de
	ld b,#0
	or a
	jr z,2$
	ldir
2$:	call scroll_ok
	call answer_di
	jp leave

; ---- what chat.s calls ---------------------------------------------------------------------------

; answer_di: the kernel's answer with interrupts off (see the top of this file).
answer_di:
	di
	call answer
	ei
	ret

; newline: end the line; the answer's lines never make the ROM ask 'scroll?'.
newline:
	ld a,#K_ENTER
	rst 0x10
scroll_ok:
	ld a,#255
	ld (SCR_CT),a
	ret

; load_layer: the weights are resident.
load_layer:
	ret

basic_sp:
	.dw 0
