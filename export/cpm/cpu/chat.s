; chat.s: the trigram chat model on a Z80, machine-independent (docs/z80-kernel.md). A machine
; file comes first in the assembly (the entry table at its origin, main, the console; CP/M:
; export/cpm/cpu/cpm_io.s, ZX Spectrum 48K: export/zx48/cpu/zx48_io.s) and provides what this file
; calls: the macro put_answer_char (print A), the routines newline and load_layer, and PACKED.
;
; Computes exactly the integer contract of infer/chat_kernel.h and infer/chat_encode.h:
;   x0 = counts << a;  acc_j = wrap16(bias_j + sum_i w_ji x_i);  y_j = floor(acc_j / 2^s);
;   ReLU on hidden layers;  answer = argmax (first maximum);  class 0 ends the answer.
; All sums are mod 2^16, so the order of the terms is free; the kernel chooses the order that
; skips work:
;   - weights are stored by column (input): one input updates all rows at once, so an input
;     that is zero costs nothing. Layer 1 reads only the columns of buckets that were hit; later
;     layers only the columns of the neurons that came out of the ReLU non-zero.
;   - packed layout (colrun): column i = ceil(n_out/4) bytes of 2-bit codes, row r in byte r/4
;     at bits 2(r%4)..; each byte (4 codes) dispatches to a handler generated for those 4 codes
;     (gen_handlers.py), so codes are never decoded at run time and a zero code costs an INC C.
;   - sparse layout (colrun_s): column i = three lists of the rows whose weight is +1, -1, -2,
;     so a zero weight costs nothing at all.
;   - the query half of layer 1 (bias + query columns) is computed once per query into QACC; each
;     generated character starts layer 1 from a copy of it and adds only the 21 context n-grams.
;
; Memory: the exporter appends the model descriptor at `model` (end of this code) and lays out
; weights, biases and buffers after it; accumulators live in 256-byte-aligned pages (lo byte of
; row j at page:off+j, hi byte at page+1:off+j with off = 256 - 4*ceil(n_out/4)).
;
; The machine file's entry table at its origin ORG (fixed offsets; the exporters' tests call them):
;   ORG+00h main, +03h t_forward (counts in CNT -> logits in the ACC pages, A = argmax),
;   +06h t_encq (query at LINE+1 length / LINE+2 text -> CNT[0..Q)), +09h t_encc (CTX ->
;   CNT[Q..Q+K)), +0Ch .dw probes, +0Eh .dw model, +10h .dw colrun, colrun_s, +14h the machine's
;   own entry.

; model descriptor (written by export/cpm/com.c)
D_QMASK = 0		; u16 Q-1
D_KMASK = 2		; u16 K-1
D_Q = 4			; u16 Q
D_K = 6			; u16 K
D_CTXN = 8		; u8 context characters
D_MAXQ = 9		; u8 max_query
D_MAXA = 10		; u8 max_answer
D_ASH = 11		; u8 input shift a
D_CHARSET = 12		; u16 -> charset (class k >= 1 prints charset[k-1])
D_CNT = 14		; u16 -> Q+K input counts
D_KCNT = 16		; u16 = CNT + Q
D_CTX = 18		; u16 -> context characters (lower case, oldest first)
D_QBUF = 20		; u16 -> ' ' + query + ' '
D_LINE = 22		; u16 -> BDOS 10 line buffer (max, len, text)
D_LIST = 24		; u16 -> END of the list of (column pointer, y) of the non-zero hidden
			;   outputs: fin_hidden PUSHes the entries, so they sit below it, last row first
D_ACCPG = 26		; u8 page of ACC lo (ACC hi on the next page)
D_QACCPG = 27		; u8 page of QACC lo
D_STACK = 28		; u16 initial SP
D_WK = 30		; u16 -> first context column of layer 1 (L_FN, L_STRIDE are its context part's)
D_BUF = 32		; u16 -> weight buffer when the weights are streamed from a .BIN; 0: resident
D_FCB = 34		; u16 -> FCB of the .BIN (streaming only)
D_WQ = 36		; u16 -> first query column of layer 1 (its query part has its own layout:)
D_QFN = 38		; u16 column routine of layer 1's query part
D_QSTRIDE = 40		; u8 column stride of layer 1's query part
D_KLIST = 42		; u16 -> list of the non-zero context counts (their addresses, 2 * (3*context-3) bytes)
D_CPAGE = 44		; u8 page of layer 1's 8-bit context counters; 0: no counter path (see fwd_ctx)
D_LAYERS = 48		; L records of 20 bytes:
L_NB = 0		;   u8 bytes per column = ceil(n_out/4)
L_OFF = 1		;   u8 256 - 4*nb (mod 256): row 0's offset in the accumulator pages
L_SHIFT = 2		;   u8 s
L_LAST = 3		;   u8 1 on the output layer
L_W = 4			;   u16 -> column-major weights
L_BLO = 6		;   u16 -> 4*nb bias lo bytes (padding rows 0)
L_BHI = 8		;   u16 -> 4*nb bias hi bytes
L_NOUT = 10		;   u16 n_out (1..256)
L_FN = 12		;   u16 column routine: colrun (packed codes) or colrun_s (sparse lists)
L_NBN = 14		;   u8 column stride of the next layer (its nb, or 2 for a pointer table)
L_STRIDE = 15		;   u8 column stride of this layer
L_REC0 = 16		;   u16 first 128-byte record of the layer's weights in the .BIN (streaming)
L_NREC = 18		;   u16 records of the layer's weights
L_SIZE = 20

; t_forward: the network on the counts in CNT, exactly the per-query then per-character path.
t_forward:
	call layer1_query
	call klist_scan
	jp fwd_ctx

; t_encq: query in the line buffer -> QBUF, qlen, CNT[0..Q).
t_encq:
	jp prep_query

; t_encc: CTX -> CNT[Q..Q+K).
t_encc:
	jp encc

; ---- answer: greedy generation -----------------------------------------------------------------

; answer the query in the line buffer (LINE+1 length, LINE+2 text); prints it, then CR LF.
answer:
probe_q0:
	out (0xD1),a		; region 1: the per-query part
	call prep_query
	call layer1_query
probe_q1:
	out (0xE1),a
	ld hl,(model+D_CTX)	; context: all spaces
	ld a,(model+D_CTXN)
	ld b,a
1$:	ld (hl),#' '
	inc hl
	djnz 1$
	xor a
	ld (nout),a
gen:
	ld a,(model+D_MAXA)
	ld b,a
	ld a,(nout)
	cp b
	jr nc,gen_end
probe_c0:
	out (0xD0),a		; region 0: one generation step (encode, forward, argmax)
probe_e0:
	out (0xD2),a		; region 2: context encoding
	call encc
probe_e1:
	out (0xE2),a
	call fwd_ctx
probe_c1:
	out (0xE0),a
	or a
	jr z,gen_end		; class 0: end of answer
	ld e,a			; ch = charset[k-1]
	ld d,#0
	dec de
	ld hl,(model+D_CHARSET)
	add hl,de
	ld a,(hl)
	push af
	put_answer_char
	pop af
	call ctx_push
	ld hl,#nout
	inc (hl)
	jr gen
gen_end:
	jp newline

; ctx_push: shift the context left by one and append lower(A).
ctx_push:
	call lower
	push af
	ld hl,(model+D_CTX)
	ld d,h
	ld e,l
	inc hl
	ld a,(model+D_CTXN)
	dec a
	ld c,a
	ld b,#0
	ldir			; context >= 3, so BC >= 2
	pop af
	ld (de),a
	ret

lower:
	cp #'A'
	ret c
	cp #'Z'+1
	ret nc
	add a,#32
	ret

; ---- encoder (infer/chat_encode.h) --------------------------------------------------------------

; hstep: HL = HL*31 + A (mod 2^16); 31*h = (h << 5) - h. Destroys DE.
hstep:
	ld d,h
	ld e,l
	add hl,hl
	add hl,hl
	add hl,hl
	add hl,hl
	add hl,hl
	or a
	sbc hl,de
	ld e,a
	ld d,#0
	add hl,de
	ret

; prep_query: QBUF = ' ' + lower(query[0..n)) + ' ', n = min(len, max_query); CNT[0..Q) = the
; trigram counts.
prep_query:
	ld hl,(model+D_LINE)
	inc hl
	ld b,(hl)
	inc hl
	ld a,(model+D_MAXQ)
	cp b
	jr nc,1$
	ld b,a
1$:	ld a,b
	ld (qlen),a
	ld de,(model+D_QBUF)
	ld a,#' '
	ld (de),a
	inc de
	ld a,b
	or a
	jr z,3$
2$:	ld a,(hl)
	call lower
	ld (de),a
	inc hl
	inc de
	djnz 2$
3$:	ld a,#' '
	ld (de),a
	ld hl,(model+D_Q)	; counts = 0, query and context (encc zeroes only what it listed)
	ld de,(model+D_K)
	add hl,de
	ld b,h
	ld c,l
	ld hl,(model+D_CNT)
	call zero_mem
	xor a
	ld (klen),a
	ld a,(qlen)
	or a
	ret z
	ld b,a
	ld ix,(model+D_QBUF)
4$:	ld hl,#0		; trigram t hashes p[t], p[t+1], p[t+2] from 0
	ld a,0(ix)
	call hstep
	ld a,1(ix)
	call hstep
	ld a,2(ix)
	call hstep
	ld a,(model+D_QMASK)
	and l
	ld e,a
	ld a,(model+D_QMASK+1)
	and h
	ld d,a
	ld hl,(model+D_CNT)
	add hl,de
	inc (hl)
	inc ix
	djnz 4$
	ret

; encc: CNT[Q..Q+K) = the n-gram counts of CTX: for each position p and length m = 1..3 with
; p+m <= context, the m-gram from p hashed from 7p.
encc:
	ld a,(klen)		; zero the counts the last step listed (prep_query zeroed all of them)
	or a
	jr z,3$
	ld b,a
	ld hl,(model+D_KLIST)
	xor a
4$:	ld e,(hl)
	inc hl
	ld d,(hl)
	inc hl
	ld (de),a
	djnz 4$
	ld (klen),a
3$:	ld (ksum),a		; A = 0
	ld hl,(model+D_KLIST)
	ld (ktail),hl
	ld ix,(model+D_CTX)
	ld a,(model+D_CTXN)
	ld c,a			; C = context - p
	ld hl,#0
	ld (h7),hl
1$:	ld hl,(h7)
	ld a,0(ix)
	call hstep
	call kinc
	ld a,c
	cp #2
	jr c,2$
	ld a,1(ix)
	call hstep
	call kinc
	ld a,c
	cp #3
	jr c,2$
	ld a,2(ix)
	call hstep
	call kinc
2$:	ld hl,(h7)
	ld de,#7
	add hl,de
	ld (h7),hl
	inc ix
	dec c
	jr nz,1$
	ret

; kinc: CNT[Q + (HL & (K-1))] += 1, and a count that was 0 joins the list (layer 1 visits only
; the listed columns); keeps HL and C.
kinc:
	push hl
	ld a,(model+D_KMASK)
	and l
	ld e,a
	ld a,(model+D_KMASK+1)
	and h
	ld d,a
	ld hl,(model+D_KCNT)
	add hl,de
	ld a,(hl)
	inc (hl)
	or a
	call z,klist_add	; a new bucket
	ld hl,#ksum
	inc (hl)
	pop hl
	ret

; klist_add: append the count address HL to the list; keeps HL, BC.
klist_add:
	ex de,hl
	ld hl,(ktail)
	ld (hl),e
	inc hl
	ld (hl),d
	inc hl
	ld (ktail),hl
	ld hl,#klen
	inc (hl)
	ex de,hl
	ret

; klist_scan: list the non-zero context counts (t_forward: the counts were written from outside).
klist_scan:
	ld hl,(model+D_KLIST)
	ld (ktail),hl
	xor a
	ld (klen),a
	ld (ksum),a
	ld hl,(model+D_KCNT)
	ld bc,(model+D_K)
1$:	ld a,(hl)
	or a
	jr z,2$
	push hl
	ld hl,#ksum		; the counts' sum, at most 255
	add a,(hl)
	jr nc,3$
	ld a,#255
3$:	ld (hl),a
	pop hl
	call klist_add
2$:	inc hl
	dec bc
	ld a,b
	or c
	jr nz,1$
	ret

; zero_mem: BC bytes at HL = 0 (BC >= 1).
zero_mem:
	ld (hl),#0
	dec bc
	ld a,b
	or c
	ret z
	ld d,h
	ld e,l
	inc de
	ldir
	ret

; ---- layers ------------------------------------------------------------------------------------

; layer1_query: QACC = bias1 + sum over the query buckets i of (count_i << a) * column i.
layer1_query:
	ld ix,#model+D_LAYERS
	call load_layer
	call acc_from_bias
	ld hl,#1		; x1 = 1 << a: the input of a count of 1
	ld a,(model+D_ASH)
	or a
	jr z,2$
	ld b,a
1$:	add hl,hl
	djnz 1$
2$:	ld (x1),hl
	ld a,(model+D_CPAGE)	; the context counters start at 0 (fin_l1 leaves them so)
	or a
	jr z,3$
	ld h,a
	ld l,#0
	ld bc,#256
	call zero_mem
3$:	ld hl,(model+D_QFN)	; the query part's layout
	ld (l1_go+1),hl
	ld a,(model+D_QSTRIDE)
	ld hl,(model+D_CNT)
	ld de,(model+D_WQ)
	ld bc,(model+D_Q)
	call l1_cols
	ld a,(model+D_ACCPG)	; QACC = ACC
	ld d,a
	ld a,(model+D_QACCPG)
	ld h,a
	jp copy_pages

; fwd_ctx: one generation step from QACC and the context counts; returns A = argmax.
; Layer 1's context part has two ways. The counter path (the exporter gives it a page when layer 1
; is hidden and its context part sparse): the step's context counts sum to 3*context-3 <= 63, so
; c_j = sum_i w_ji count_i fits a signed byte (|c_j| <= 126): the columns add into 8-bit counters
; (an INC or DEC per weight for a count of 1), and fin_l1 finishes the rows from QACC_j + (c_j << a)
; (mod 2^16: the same sum). Otherwise (and when counts written from outside sum to more): ACC =
; QACC, then the columns add x = count << a into the 16-bit accumulators.
fwd_ctx:
probe_l0:
	out (0xD3),a		; region 3: layer 1 from QACC and the context columns
	ld ix,#model+D_LAYERS
	call load_layer
	call layer_setup
	ld a,(model+D_CPAGE)
	or a
	jr z,5$
	ld a,(ksum)
	cp #64
	jr nc,5$
	ld hl,#colrun_c		; the counter path
	ld (kl_go+1),hl
	call l1_list
	ld a,#1
	ld (l1c),a
	jr probe_l1
5$:	ld hl,#l1_add16
	ld (kl_go+1),hl
	ld a,(model+D_ACCPG)
	ld h,a			; ACC = QACC
	ld a,(model+D_QACCPG)
	ld d,a
	call copy_pages
	ld a,L_STRIDE(ix)
	cp #2
	jr nz,1$
	call l1_list		; sparse: the listed columns
	jr probe_l1
1$:	ld hl,(model+D_KCNT)	; packed: a scan of the counts finds each column's bytes on the way
	ld de,(model+D_WK)
	ld bc,(model+D_K)
	call l1_cols
probe_l1:
	out (0xE3),a
fwd_loop:
	bit 0,L_LAST(ix)
	jr nz,fwd_last
probe_f0:
	out (0xD4),a		; region 4: finishing hidden layers (shift, ReLU, list)
	ld hl,#l1c
	xor a
	cp (hl)
	ld (hl),a
	jr z,6$
	call fin_l1		; layer 1 by the counter path
	jr probe_f1
6$:	call fin_hidden
probe_f1:
	out (0xE4),a
	ld de,#L_SIZE
	add ix,de
	call load_layer
probe_b0:
	out (0xD5),a		; region 5: biases into the accumulators
	call acc_from_bias
probe_b1:
	out (0xE5),a
probe_r0:
	out (0xD6),a		; region 6: the columns of layers 2..L
	call run_list
probe_r1:
	out (0xE6),a
	jr fwd_loop
fwd_last:
probe_a0:
	out (0xD7),a		; region 7: output shift and argmax
	call fin_last
probe_a1:
	out (0xE7),a
	ret

; copy_pages: the rows of layer IX from pages D, D+1 (source) to H, H+1 (destination).
copy_pages:
	ld e,L_OFF(ix)
	ld l,e
	push de
	push hl
	call copy_rows
	pop hl
	pop de
	inc d
	inc h
	ex de,hl
	jr copy_rows_hl

; acc_from_bias: ACC rows of layer IX = its biases; pgoff = (off, ACC page).
acc_from_bias:
	call layer_setup
	ld d,a			; DE = ACC page : off
	ld a,(pgoff)
	ld e,a
	ld l,L_BLO(ix)
	ld h,L_BLO+1(ix)
	push de
	call copy_rows_hl
	pop de
	inc d
	ld l,L_BHI(ix)
	ld h,L_BHI+1(ix)
	jr copy_rows_hl

; layer_setup: pgoff = (off, ACC page) of layer IX, and its column routine into the CALLs of
; l1_cols and run_list. Returns A = ACC page.
layer_setup:
	ld l,L_FN(ix)
	ld h,L_FN+1(ix)
	ld (l1_go+1),hl
	ld (rl_call+1),hl
	ld a,L_OFF(ix)
	ld (pgoff),a
	ld a,(model+D_ACCPG)
	ld (pgoff+1),a
	ret

; copy_rows: 4*nb bytes from DE to HL. copy_rows_hl: from HL to DE.
copy_rows:
	ex de,hl
copy_rows_hl:
	ld a,L_NB(ix)
	add a,a
	add a,a
	ld c,a
	ld b,#0
	or a
	jr nz,1$
	inc b			; 4*64 = 256 rows
1$:	ldi			; 4*nb bytes, 4 at a time (P/V = BC != 0)
	ldi
	ldi
	ldi
	jp pe,1$
	ret

; l1_cols: for BC columns with counts at HL and weights from DE on, A bytes apart: add
; (count << a) * column to ACC (pgoff and the column routine in l1_go set).
l1_cols:
	ld (l1c_st+1),a
	ld a,c			; BC columns as DJNZ rounds: B inner, C outer
	ld c,b
	ld b,a
	or a
	jr z,l1c_1
	inc c
l1c_1:	ld a,(hl)
	inc hl
	or a
	jr nz,l1c_3
l1c_2:	ld a,e			; next column
l1c_st:	add a,#0
	ld e,a
	jr c,l1c_5
	djnz l1c_1
	dec c
	jr nz,l1c_1
	ret
l1c_5:	inc d
	djnz l1c_1
	dec c
	jr nz,l1c_1
	ret
l1c_3:	push hl
	push de
	push bc
	ex de,hl		; HL = the column
	call count_x
	ld bc,(pgoff)
	call l1_go
	pop bc
	pop de
	pop hl
	jr l1c_2

; l1_list: the context columns of layer 1 (IX, sparse layout) for the counts in the list, through
; kl_go (patched): l1_add16 adds (count << a) * column to ACC (pgoff and l1_go set), colrun_c adds
; count * column to the 8-bit counters.
l1_list:
	ld a,(klen)
	or a
	ret z
	ld b,a
	ld hl,(model+D_KLIST)
l1l_1:	push bc
	ld e,(hl)
	inc hl
	ld d,(hl)
	inc hl
	push hl
	ex de,hl		; HL -> the count
	ld a,(hl)
	ld de,(model+D_KCNT)
	or a
	sbc hl,de		; HL = the bucket
	add hl,hl		; a pointer per column
	ld de,(model+D_WK)
	add hl,de		; HL = the column, A = the count
kl_go:	call l1_add16
	pop hl
	pop bc
	djnz l1l_1
	ret

l1_add16:
	call count_x
	ld bc,(pgoff)
	jp l1_go

; colrun_c: the 8-bit context counters (page D_CPAGE, row offsets as ACC's) += code(r) * A for the
; rows of a sparse column (HL = its pointer-table entry): +1 rows INC and -1 rows DEC for a count
; of 1, else (and for -2) an 8-bit addition; no carries: the sums fit a byte (fwd_ctx).
colrun_c:
	ld e,(hl)
	inc hl
	ld d,(hl)		; DE = the column's three lists
	ld c,a			; C = count
	ld a,(model+D_CPAGE)
	ld h,a			; H = the counter page
	dec c
	jr nz,3$
	ld a,(de)		; count 1: +1 rows
	inc de
	or a
	call nz,c_inc
	ld a,(de)		; -1 rows
	inc de
	or a
	call nz,c_dec
	ld c,#-2		; -2 rows
	jr 4$
3$:	inc c
	ld a,(de)		; +count rows
	inc de
	or a
	call nz,c_add
	xor a
	sub c
	ld c,a
	ld a,(de)		; -count rows
	inc de
	or a
	call nz,c_add
	sla c			; -2 count rows
4$:	ld a,(de)
	inc de
	or a
	ret z
; c_add: counter[H:row] += C for the A >= 1 rows listed at DE; c_inc, c_dec: += 1, -= 1. Two rows
; per round; an odd count enters the second copy first.
c_add:
	srl a
	ld b,a
	jr nc,1$
	inc b
	jr 2$
1$:	ld a,(de)
	inc de
	ld l,a
	ld a,(hl)
	add a,c
	ld (hl),a
2$:	ld a,(de)
	inc de
	ld l,a
	ld a,(hl)
	add a,c
	ld (hl),a
	djnz 1$
	ret
c_inc:
	srl a
	ld b,a
	jr nc,1$
	inc b
	jr 2$
1$:	ld a,(de)
	inc de
	ld l,a
	inc (hl)
2$:	ld a,(de)
	inc de
	ld l,a
	inc (hl)
	djnz 1$
	ret
c_dec:
	srl a
	ld b,a
	jr nc,1$
	inc b
	jr 2$
1$:	ld a,(de)
	inc de
	ld l,a
	dec (hl)
2$:	ld a,(de)
	inc de
	ld l,a
	dec (hl)
	djnz 1$
	ret

; count_x: DE = x = A << a for a count A >= 1 (1 << a precomputed: most counts are 1). Keeps HL.
count_x:
	ld de,(x1)
	dec a
	ret z
	inc a
	ld e,a
	ld d,#0
	ld a,(model+D_ASH)
	or a
	ret z
	ld b,a
1$:	sla e
	rl d
	djnz 1$
	ret

; l1_go: the column routine of the layer-1 part being run (patched).
l1_go:	jp colrun

	.if PACKED
; The column routines (one per weight layout, in the layer's L_FN): ACC[off + r] += code(r) * x
; for the rows r of one column. HL = the column (packed: its first byte; sparse: its entry in the
; layer's pointer table), DE = x (1..32767: zero inputs are never run), BC = ACC lo page, off.
; Every register may change.

; colrun: the packed layout. colrun_b walks the column's bytes with HL' and dispatches each byte
; to its handler, which jumps back to colrun_b until C wraps to 0 after the column's last row.
colrun:
	push hl
	exx
	pop hl
	exx
colrun_b:
	exx
	ld a,(hl)
	inc hl
	exx
	ld l,a
	ld h,#>htab_lo
	ld a,(hl)
	inc h
	ld h,(hl)
	ld l,a
	jp (hl)
	.else
colrun = 0		; not assembled in: every layer is sparse (layer_setup patches the CALLs)
	.endif

; colrun_s: the sparse layout. The column is three lists (+1, -1, -2 rows), each a count byte
; and the page offsets (off + r) of its rows. The addends are x, -x and -2x (mod 2^16), so a -2 is
; one addition of -2x, never two subtractions. For 0 < x < 256 (layer 1's inputs with small counts,
; most hidden outputs) the addends x, -x and, when x <= 128, -2x have the high bytes 00, FF, FF: the
; short loops add the low byte only and correct the high byte on a carry (+x) or on a missing carry
; (-x, -2x): ~44 T per non-zero weight (two rows per loop round). Otherwise the long loop adds both
; bytes (~66 T).
colrun_s:
	ld a,(hl)
	inc hl
	ld h,(hl)
	ld l,a			; HL = the column's three lists
	ld a,d
	or a
	jr nz,crs_long
	ld c,e			; C = x
	ld d,b			; D = ACC lo page
	ld a,(hl)		; the +1 rows
	inc hl
	or a
	call nz,add_short
	xor a
	sub c
	ld c,a			; C = -x (low byte; its high byte is FF)
	ld a,(hl)		; the -1 rows
	inc hl
	or a
	call nz,sub_short
	ld a,(hl)		; the -2 rows (rare)
	or a
	ret z
	inc hl
	sla c			; C = -2x (low byte); carry = x <= 128: its high byte is FF
	jp c,sub_short
	ld b,a			; 128 < x < 256: -2x = FExxh, the long loop
	ld a,#0xFE
	ld (al_h1+1),a
	ld (al_h2+1),a
	ld a,b
	jp add_long

; x >= 256: x, -x, -2x through the long loop (the high byte patched into it).
crs_long:
	push hl
	ld hl,#0
	or a
	sbc hl,de
	ld (xneg),hl		; -x
	add hl,hl
	ld (xneg2),hl		; -2x
	pop hl
	ld c,e
	ld a,d
	ld (al_h1+1),a
	ld (al_h2+1),a
	ld d,b			; D = ACC lo page
	ld a,(hl)		; the +1 rows
	inc hl
	or a
	call nz,add_long
	ld bc,(xneg)
	ld a,b
	ld (al_h1+1),a
	ld (al_h2+1),a
	ld a,(hl)		; the -1 rows
	inc hl
	or a
	call nz,add_long
	ld a,(hl)		; the -2 rows
	or a
	ret z
	inc hl
	ld bc,(xneg2)
	ld e,a
	ld a,b
	ld (al_h1+1),a
	ld (al_h2+1),a
	ld a,e
	jp add_long

; add_short: ACC[D:row] += C for the A >= 1 rows listed at HL (HL moves past them): 0 < C < 256
; is +x, so the high byte changes only on a carry. Two rows per round; an odd count enters the
; second copy first.
add_short:
	srl a
	ld b,a
	jr nc,as_1
	inc b
	jr as_2
as_1:	ld e,(hl)
	inc hl
	ld a,(de)
	add a,c
	ld (de),a
	jr c,as_c1
as_2:	ld e,(hl)
	inc hl
	ld a,(de)
	add a,c
	ld (de),a
	jr c,as_c2
as_3:	djnz as_1
	ret
as_c1:	inc d
	ex de,hl
	inc (hl)
	ex de,hl
	dec d
	jp as_2
as_c2:	inc d
	ex de,hl
	inc (hl)
	ex de,hl
	dec d
	jp as_3

; sub_short: the same for an addend FFxxh (C = its low byte, -x or -2x): the high byte goes down
; by one unless the low byte carries.
sub_short:
	srl a
	ld b,a
	jr nc,ss_1
	inc b
	jr ss_2
ss_1:	ld e,(hl)
	inc hl
	ld a,(de)
	add a,c
	ld (de),a
	jr nc,ss_c1
ss_2:	ld e,(hl)
	inc hl
	ld a,(de)
	add a,c
	ld (de),a
	jr nc,ss_c2
ss_3:	djnz ss_1
	ret
ss_c1:	inc d
	ex de,hl
	dec (hl)
	ex de,hl
	dec d
	jp ss_2
ss_c2:	inc d
	ex de,hl
	dec (hl)
	ex de,hl
	dec d
	jp ss_3

; add_long: ACC[D:row] += (high byte patched into al_h1 and al_h2, C) for the A >= 1 rows listed
; at HL, both bytes.
add_long:
	srl a
	ld b,a
	jr nc,al_1
	inc b
	jr al_2
al_1:	ld e,(hl)
	inc hl
	ld a,(de)
	add a,c
	ld (de),a
	inc d
	ld a,(de)
al_h1:	adc a,#0
	ld (de),a
	dec d
al_2:	ld e,(hl)
	inc hl
	ld a,(de)
	add a,c
	ld (de),a
	inc d
	ld a,(de)
al_h2:	adc a,#0
	ld (de),a
	dec d
	djnz al_1
	ret

; fin_hidden: y_j = max(0, floor(acc_j / 2^s)) for layer IX; the list receives (column j of the
; next layer, y_j) for every y_j != 0. The entries are PUSHed with SP in the list (an interrupt
; would only write below SP, into list space not yet used; the exporter leaves room below).
fin_hidden:
	ld hl,#fh_chain
	call fin_setup
	ld (fh_jp+1),hl
	ld a,(model+D_ACCPG)
	inc a
	ld h,a			; H = the high-byte page
	ld l,L_OFF(ix)
	ld (fh_sp+1),sp
	ld sp,(model+D_LIST)
fh_row:
	ld a,(hl)
	or a
	jp m,fh_next		; negative: ReLU gives 0
	ld d,a
	dec h
	ld e,(hl)
	inc h
fh_jp:	jp fh_chain		; non-negative: the floor shift is a logical shift
fh_chain:
	.rept 15
	srl d
	rr e
	.endm
	ld a,d
	or e
	jr z,fh_next
	push de			; y
	exx
	push hl			; the column: entry = column lo, hi, y lo, hi
	exx
fh_next:
	exx
	add hl,de
	exx
	inc l
	djnz fh_row
; fin_end: the list's length; SP back.
fin_end:
	ld (lpos),sp		; entries = (LIST - SP) / 4
	ld hl,#0
	add hl,sp
	ex de,hl
	ld hl,(model+D_LIST)
	or a
	sbc hl,de
	srl h
	rr l
	srl h
	rr l
	ld (lcnt),hl
fh_sp:	ld sp,#0
	ret

; fin_setup: for finishing layer IX: HL' = column 0 of the next layer, DE' = its stride, B = the
; rows (256 -> 0 -> 256 rounds of DJNZ); HL = the entry into the chain of 15 SRL D / RR E at HL
; that shifts by s (15 - s steps before it).
fin_setup:
	exx
	ld l,L_SIZE+L_W(ix)
	ld h,L_SIZE+L_W+1(ix)
	ld e,L_NBN(ix)
	ld d,#0
	exx
	ld a,#15
	sub L_SHIFT(ix)
	add a,a
	add a,a
	ld e,a
	ld d,#0
	add hl,de
	ld b,L_NOUT(ix)
	ret

; fin_l1: fin_hidden for layer 1 on the counter path: acc_j = QACC_j + (c_j << a) (mod 2^16, c_j
; the signed 8-bit counter, shifted as (c_j << 8) >> (8 - a)), and c_j back to 0 for the next step.
fin_l1:
	ld hl,#fl_schain
	call fin_setup
	ld (fl_sjp+1),hl
	ld a,(model+D_ASH)	; enter the chain of 8 SRA D / RR E after a of them
	add a,a
	add a,a
	ld e,a
	ld d,#0
	ld hl,#fl_achain
	add hl,de
	ld (fl_ajp+1),hl
	ld a,(model+D_CPAGE)
	ld (fl_cp+1),a
	ld a,(model+D_QACCPG)
	ld (fl_qp+1),a
	ld c,#0
	ld l,L_OFF(ix)
	ld (fh_sp+1),sp
	ld sp,(model+D_LIST)
fl_row:
fl_cp:	ld h,#0			; the counter page
	ld a,(hl)
	ld (hl),c		; C = 0
	ld d,a
	ld e,c
fl_ajp:	jp fl_achain
fl_achain:
	.rept 8
	sra d
	rr e
	.endm
fl_qp:	ld h,#0			; QACC lo, then hi
	ld a,(hl)
	add a,e
	ld e,a
	inc h
	ld a,(hl)
	adc a,d
	jp m,fl_next		; negative: ReLU gives 0
	ld d,a
fl_sjp:	jp fl_schain
fl_schain:
	.rept 15
	srl d
	rr e
	.endm
	ld a,d
	or e
	jr z,fl_next
	push de
	exx
	push hl
	exx
fl_next:
	exx
	add hl,de
	exx
	inc l
	dec b
	jp nz,fl_row
	jp fin_end

; run_list: ACC += y * column for every (column, y) in the list.
run_list:
	ld hl,(lcnt)
	ld a,h
	or l
	ret z
	ld hl,(lpos)
rl_1:	ld e,(hl)
	inc hl
	ld d,(hl)
	inc hl
	push de			; the column
	ld e,(hl)
	inc hl
	ld d,(hl)
	inc hl			; DE = y
	ex (sp),hl		; HL = the column, the list position on the stack
	ld bc,(pgoff)
rl_call:
	call colrun
	pop hl
	ld bc,(lcnt)
	dec bc
	ld (lcnt),bc
	ld a,b
	or c
	jr nz,rl_1
	ret

; fin_last: logits y_j = floor(acc_j / 2^s) (arithmetic shift), written back in place; A = the
; first j with the largest y_j.
fin_last:
	ld a,L_SHIFT(ix)
	ld (shcnt),a
	ld hl,#0		; best so far, sign bit flipped: -32768
	ld (bestv),hl
	xor a
	ld (bestj),a
	ld c,a
	ld b,L_NOUT(ix)
	ld a,(model+D_ACCPG)
	ld h,a
	ld l,L_OFF(ix)
1$:	ld e,(hl)
	inc h
	ld d,(hl)
	ld a,(shcnt)
	or a
	jr z,3$
	push bc
	ld b,a
2$:	sra d
	rr e
	djnz 2$
	pop bc
3$:	ld (hl),d
	dec h
	ld (hl),e
	push hl
	ld a,d			; signed compare as unsigned with the sign bits flipped
	xor #0x80
	ld d,a
	ld hl,(bestv)
	or a
	sbc hl,de
	jr nc,4$		; y_j <= best: the first maximum stays
	ld (bestv),de
	ld a,c
	ld (bestj),a
4$:	pop hl
	inc l
	inc c
	djnz 1$
	ld a,(bestj)
	ret

; ---- variables ---------------------------------------------------------------------------------
qlen:	.db 0
x1:	.dw 0
klen:	.db 0			; entries in the list of non-zero context counts
ksum:	.db 0			; their sum (at most 255)
l1c:	.db 0			; 1: layer 1 took the counter path this step
ktail:	.dw 0			; its end
xneg:	.dw 0
xneg2:	.dw 0
nout:	.db 0
h7:	.dw 0
pgoff:	.db 0, 0		; row offset, ACC page (loaded as BC: C = off, B = page)
cptr:	.dw 0
lcnt:	.dw 0
lpos:	.dw 0
shcnt:	.db 0
bestv:	.dw 0
bestj:	.db 0
probes:	.dw probe_q0, probe_q1, probe_c0, probe_c1, probe_e0, probe_e1, probe_l0, probe_l1
	.dw probe_f0, probe_f1, probe_b0, probe_b1, probe_r0, probe_r1, probe_a0, probe_a1, 0

; the packed layout's byte handlers (generated by gen_handlers.py into handlers.s next to the
; assembled file), then the end of the kernel
	.if PACKED
	.include "handlers.s"
	.endif
; the exporter appends the model descriptor here
model:
