; c64_matvec.s: the int8 / int4 matrix-vector products of the transformer on a 6502, each row's
; result requantised on the spot (c64_rq.s): bit-identical to lm_matvec_i8 / lm_matvec_i4 followed
; by lm_requant_* (infer/lm_ops.c).
;
; One table lookup per multiply-accumulate, by sums of squares:
;     2 sum_j x_j w_j = sum_j (x_j + w_j)^2 - sum_j x_j^2 - sum_j w_j^2
; With |x_j| <= 128 and |w_j| <= 127, (x + w)^2 <= 255^2 fits 16 bits (c64_sqlo/c64_sqhi, c64_mul.s);
; a row of at most 255 columns sums below 2^24, and 2 acc = S - X - W is exact in 24-bit two's
; complement because |2 acc| <= 2 * 128 * 127 * 255 < 2^23 (the exporter checks every row's bound
; and refuses wider rows). W = sum_j w_j^2 is a constant of the row, stored by the exporter in the
; C64 sidecar of the REU image with a copy of the row's requantisation (a 7-byte row record:
; W as u24, m i16, p u8, k u8); X = sum_j x_j^2 once per input vector (c64_mv_input). The
; requantisation takes 2 acc with the pre-shift p + 1: floor(floor(a / 2) / 2^p) = floor(a / 2^(p+1)).
;
; The MAC of column j is unrolled code whose table addresses hold x_j (self-modifying: c64_mv_input
; patches them once per input vector, for every row of every matrix that reads it):
;     lda blk+j,x / eor #$80 / tay / lda sqlo+x_j+128,y / adc s0 / sta s0 /
;     lda sqhi+x_j+128,y / adc s1 / sta s1 / bcc / inc s2 / clc          (about 33 cycles)
; y = w + 128 and sq[x + 128 + y] = (x + w)^2. X is the row's offset in the weight block: rows of
; `stride` bytes sit back to back from blk + (MAXC - cols) (a matrix narrower than the kernel enters
; the unrolled code at column MAXC - cols), so a block holds as many rows as keep x below 256 (at
; most 8). int4 (two weights a byte, element 2k in the low nibble): the same per nibble, with
; y = w + 8 from `and #$0F / eor #$08` (low) or the table nibhi (high) and the table address
; sq + x + 248 (16 bits patched); the pad nibble of an odd row gets x = 0 and its square is in W.
;
; The driver (c64_mv_run) streams the matrix a block of rows at a time and the row records 24 at
; a time alongside (the weight source's streams 0 and 1, c64_ws.h: ws_nx, the register entry of
; ws_next), runs every row, and requantises it by the mode into the output.
;   void c64_mv_input(const int8_t *x, uint8_t cols, uint8_t bits)
;   void c64_mv_run(void)     arguments in c64_mv (c64_kernels.h)
; Assembled with C64_MAXC8 = the widest int8 row (<= 255) and C64_MAXB4 = the widest int4 row in
; bytes (0: no int4 kernel).
        .include "zeropage.inc"
        .import pusha, pushax, popa, popax, _ws_seek
.ifndef C64_TEST
        .import ws_nx, ws_nx_buf, ws_nx_n
.else                           ; the kernel test program's weight source is C (ws_next)
        .import _ws_next
        .export ws_nx, ws_nx_buf, ws_nx_n   ; (c64_attn.s's too)
        .segment "BSS"
ws_nx_n:   .res 2
ws_nx_buf: .res 2
        .segment "CODE"
ws_nx:  jsr     pusha
        lda     ws_nx_buf
        ldx     ws_nx_buf+1
        jsr     pushax
        lda     ws_nx_n
        ldx     ws_nx_n+1
        jmp     _ws_next
.endif
        .import _c64_sqlo, _c64_sqhi, c64_mul_ptrs, k_mul16u
        .importzp m_a, m_b, m_r
        .import rq_core, rq_m, rq_p, rq_k, rq_mode
        .export _c64_mv_input, _c64_mv_run, _c64_mv, c64_blk
        .import _c64_arena
.if C64_MAXB4 > 0
        .export _c64_nibhi
.endif

MAXROWS = 8                     ; rows per block at most
RECROWS = 24                    ; row records read at a time at most
BODY8   = 25                    ; bytes of one int8 column's code
BODY4   = 53                    ; bytes of one int4 byte's code (two columns)
.ifdef C64_BLKBYTES              ; the exporter's bound for the model's row widths
BLKMAX  = C64_BLKBYTES
.elseif C64_MAXB4 > C64_MAXC8     ; else any width up to the kernels'
BLKMAX  = C64_MAXB4 + 255
.else
BLKMAX  = C64_MAXC8 + 255
.endif

        .segment "BSS"
_c64_mv:                        ; struct c64_mv_args (c64_kernels.h)
mv_out:  .res 2
mv_woff: .res 4
mv_roff: .res 4
mv_rows: .res 2
mv_mode: .res 1
; the loaded input
in_stride: .res 1               ; bytes per row
in_per:    .res 1               ; rows per block
in_dst:    .res 2               ; where a block's first row goes
in_nsx:    .res 3               ; -sum x^2 mod 2^24
in_cols:   .res 1
in_x:      .res 2
in_pbytes: .res 2               ; bytes of a whole block
in_recrows: .res 1              ; records read at a time: a multiple of per, at most RECROWS
recleft:   .res 1               ; records left in rec
; the run
left:    .res 2
nrows:   .res 1                 ; rows in this block
cnt:     .res 1
ri:      .res 1                 ; record offset in rec
xsave:   .res 1
optr:    .res 2
; the block and the records: the start of the forward's arena (c64_forward.h: kw, C64_KWB bytes;
; c64_attn.s uses the same bytes between matrices, c64_norm.s keeps its xs there)
blk     = _c64_arena
c64_blk = blk
rec     = blk + BLKMAX
.assert BLKMAX + 7 * RECROWS <= C64_KWB, error, "c64_matvec.s: C64_KWB is too small for the block buffer"
.if C64_MAXB4 > 0
_c64_nibhi: .res 256            ; ((b >> 4) ^ 8): the high nibble's y (filled by c64_mv_input)
nib_ok:  .res 1
.endif

        .segment "CODE"

; One MAC of the int8 kernel: column J.
.macro  MAC8    J
        lda     blk+J,x
        eor     #$80
        tay
        lda     _c64_sqlo,y     ; low byte patched: x_J + 128
        adc     tmp1
        sta     tmp1
        lda     _c64_sqhi,y     ; low byte patched
        adc     tmp2
        sta     tmp2
        bcc     :+
        inc     tmp3
        clc
:
.endmacro

; The squares' adds of one MAC with y set; SQ: table addresses (patched).
.macro  SQADD
        lda     _c64_sqlo,y
        adc     tmp1
        sta     tmp1
        lda     _c64_sqhi,y
        adc     tmp2
        sta     tmp2
        bcc     :+
        inc     tmp3
        clc
:
.endmacro

mv8_code:
.repeat C64_MAXC8, J
        MAC8    J
.endrep
        jmp     rowdone
        .assert (* - mv8_code) = BODY8 * C64_MAXC8 + 3, error, "int8 MAC body size"

.if C64_MAXB4 > 0
mv4_code:
.repeat C64_MAXB4, K
        lda     blk+K,x
        and     #$0F
        eor     #$08
        tay
        SQADD
        ldy     blk+K,x
        lda     _c64_nibhi,y
        tay
        SQADD
.endrep
        jmp     rowdone
        .assert (* - mv4_code) = BODY4 * C64_MAXB4 + 3, error, "int4 MAC body size"
.endif

; c64_mv_input(x, cols, bits): patch the kernel of `bits` for input x, compute -sum x^2.
_c64_mv_input:
        pha                     ; bits
        jsr     popa
        sta     in_cols
        jsr     popax
        sta     in_x
        stx     in_x+1
        lda     #0
        sta     in_nsx
        sta     in_nsx+1
        sta     in_nsx+2
        pla
.if C64_MAXB4 > 0
        cmp     #4
        bne     :+
        jmp     input4
:
.endif
        ; int8: stride = cols, first body = MAXC8 - cols
        lda     in_cols
        sta     in_stride
        jsr     set_per
        sec
        lda     #C64_MAXC8
        sbc     in_cols
        sta     tmp3
        lda     #<mv8_code
        ldx     #>mv8_code
        ldy     #BODY8
        jsr     locate
        lda     in_x
        sta     ptr2
        lda     in_x+1
        sta     ptr2+1
        lda     in_cols
        beq     @done
        ldy     #0
@col:   sty     tmp1            ; j
        lda     (ptr2),y
        eor     #$80            ; b = x + 128
        tax
        jsr     subsq
        txa
        ldy     #7
        sta     (ptr1),y
        ldy     #14
        sta     (ptr1),y
        clc
        lda     ptr1
        adc     #BODY8
        sta     ptr1
        bcc     :+
        inc     ptr1+1
:       ldy     tmp1
        iny
        cpy     in_cols
        bne     @col
@done:  rts

; The first MAC's code of a kernel: ptr1 = A/X (the kernel's code) + Y (its MAC's bytes) * tmp3
; (the first column's MAC), patched into the jump `go`; in_dst = blk + tmp3.
locate: pha
        txa
        pha
        sty     m_b
        lda     #0
        sta     m_b+1
        sta     m_a+1
        lda     tmp3
        sta     m_a
        jsr     c64_mul_ptrs
        jsr     k_mul16u
        pla
        tax
        pla
        clc
        adc     m_r
        sta     ptr1
        sta     go+1
        txa
        adc     m_r+1
        sta     ptr1+1
        sta     go+2
        clc
        lda     tmp3
        adc     #<blk
        sta     in_dst
        lda     #>blk
        adc     #0
        sta     in_dst+1
        rts

; in_nsx -= x^2 for X = x + 128 (x^2 = sq[x + 256]).
subsq:  sec
        lda     in_nsx
        sbc     _c64_sqlo+128,x
        sta     in_nsx
        lda     in_nsx+1
        sbc     _c64_sqhi+128,x
        sta     in_nsx+1
        bcs     :+
        dec     in_nsx+2
:       rts

; rows per block: as many as keep (rows - 1) * stride <= 255, at most MAXROWS (c64_blk_bytes)
set_per:
        ldx     #1              ; per rows: the last one's offset (per - 1) stride <= 255
        lda     #0
@more:  cpx     #MAXROWS
        beq     @done
        clc
        adc     in_stride       ; row per's offset
        bcs     @done
        inx
        bne     @more
@done:  stx     in_per
        lda     #0              ; in_pbytes = per * stride
        sta     in_pbytes
        sta     in_pbytes+1
        ldy     in_per
:       clc
        lda     in_pbytes
        adc     in_stride
        sta     in_pbytes
        bcc     :+
        inc     in_pbytes+1
:       dey
        bne     :--
        lda     #0              ; in_recrows = per * floor(RECROWS / per)
:       clc
        adc     in_per
        cmp     #RECROWS+1
        bcc     :-
        sec
        sbc     in_per
        sta     in_recrows
        rts

.if C64_MAXB4 > 0
input4:
        lda     nib_ok
        bne     :++
        ldx     #0
:       txa
        lsr     a
        lsr     a
        lsr     a
        lsr     a
        eor     #8
        sta     _c64_nibhi,x
        inx
        bne     :-
        inc     nib_ok
:       lda     in_cols         ; stride = (cols + 1) / 2 (cols <= 255)
        clc
        adc     #1
        ror     a
        sta     in_stride
        jsr     set_per
        sec
        lda     #C64_MAXB4
        sbc     in_stride
        sta     tmp3            ; first
        lda     #<mv4_code
        ldx     #>mv4_code
        ldy     #BODY4
        jsr     locate
        lda     in_x
        sta     ptr2
        lda     in_x+1
        sta     ptr2+1
        lda     #0
        sta     tmp4            ; column j
@byte:  ldy     tmp4
        cpy     in_cols
        bcs     @done
        lda     (ptr2),y
        ldy     #9              ; the low nibble's two table addresses
        jsr     patch4
        inc     tmp4
        ldy     tmp4
        lda     #0              ; the pad column of an odd row: x = 0
        cpy     in_cols
        bcs     :+
        lda     (ptr2),y
:       ldy     #35             ; the high nibble's
        jsr     patch4
        inc     tmp4
        clc
        lda     ptr1
        adc     #BODY4
        sta     ptr1
        bcc     @byte
        inc     ptr1+1
        bne     @byte
@done:  rts

; Patch the int4 MAC at (ptr1) + y for input A: sq + (x + 128) + 120 into the operands at y and
; y + 7; nsx -= x^2.
patch4: eor     #$80
        sta     tmp2            ; b = x + 128
        tax
        jsr     subsq
        clc
        lda     tmp2
        adc     #120
        sta     (ptr1),y        ; sqlo + b + 120
        tax
        lda     #>_c64_sqlo
        adc     #0
        iny
        sta     (ptr1),y
        iny
        iny
        iny
        iny
        iny
        iny                     ; y + 7: the sqhi operand
        txa
        sta     (ptr1),y
        lda     #>_c64_sqhi
        cpx     #120            ; carried iff b + 120 wrapped below 120
        bcs     :+
        adc     #1
:       iny
        sta     (ptr1),y
        rts
.endif

; c64_mv_run(): the matrix of c64_mv (rows at REU w_off, records at rec_off) times the loaded
; input, each row requantised by mode into out.
_c64_mv_run:
        lda     #0              ; ws_seek(0, w_off)
        jsr     pusha
        lda     mv_woff+2
        sta     sreg
        lda     mv_woff+3
        sta     sreg+1
        lda     mv_woff
        ldx     mv_woff+1
        jsr     _ws_seek
        lda     #1              ; ws_seek(1, rec_off)
        jsr     pusha
        lda     mv_roff+2
        sta     sreg
        lda     mv_roff+3
        sta     sreg+1
        lda     mv_roff
        ldx     mv_roff+1
        jsr     _ws_seek
        lda     mv_rows
        sta     left
        lda     mv_rows+1
        sta     left+1
        lda     mv_out
        sta     optr
        lda     mv_out+1
        sta     optr+1
        lda     mv_mode
        sta     rq_mode
        lda     #0
        sta     recleft
block:  lda     left+1          ; n = min(left, per)
        bne     @full
        lda     left
        bne     :+
        rts
:       cmp     in_per
        bcc     @part
@full:  lda     in_per          ; a whole block: per * stride bytes
        sta     nrows
        lda     in_pbytes
        sta     ws_nx_n
        lda     in_pbytes+1
        sta     ws_nx_n+1
        jmp     @read
@part:  sta     nrows           ; the last block: n * stride
        tax
        lda     #0
        sta     ws_nx_n
        sta     ws_nx_n+1
:       clc
        lda     ws_nx_n
        adc     in_stride
        sta     ws_nx_n
        bcc     :+
        inc     ws_nx_n+1
:       dex
        bne     :--
@read:  lda     in_dst          ; the block's weights
        sta     ws_nx_buf
        lda     in_dst+1
        sta     ws_nx_buf+1
        lda     #0
        jsr     ws_nx
        lda     recleft         ; the records: in_recrows at a time (a multiple of per)
        bne     @have
        lda     left+1
        bne     :+
        lda     left
        cmp     in_recrows
        bcc     :++
:       lda     in_recrows
:       sta     recleft
        asl     a               ; 7 n bytes
        asl     a
        asl     a
        sec
        sbc     recleft
        sta     ws_nx_n
        lda     #0
        sta     ws_nx_n+1
        sta     ri
        lda     #<rec
        sta     ws_nx_buf
        lda     #>rec
        sta     ws_nx_buf+1
        lda     #1
        jsr     ws_nx
@have:  sec                     ; recleft -= n, left -= n
        lda     recleft
        sbc     nrows
        sta     recleft
        sec
        lda     left
        sbc     nrows
        sta     left
        bcs     :+
        dec     left+1
:       jsr     c64_mul_ptrs    ; (the weight source used the zero page)
        lda     optr
        sta     sreg
        lda     optr+1
        sta     sreg+1
        lda     nrows
        sta     cnt
        ldx     #0
row:    stx     xsave
        ldy     ri              ; s = -sum x^2 - W
        sec
        lda     in_nsx
        sbc     rec,y
        sta     tmp1
        lda     in_nsx+1
        sbc     rec+1,y
        sta     tmp2
        lda     in_nsx+2
        sbc     rec+2,y
        sta     tmp3
        clc
go:     jmp     mv8_code        ; patched: the first column's MAC
rowdone:
        ldy     ri              ; tmp1..3 = 2 acc; the requantisation with p + 1
        lda     rec+3,y
        sta     rq_m
        lda     rec+4,y
        sta     rq_m+1
        lda     rec+5,y
        clc
        adc     #1
        sta     rq_p
        lda     rec+6,y
        sta     rq_k
        jsr     rq_core
        clc
        lda     ri
        adc     #7
        sta     ri
        clc
        lda     xsave
        adc     in_stride
        tax
        dec     cnt
        bne     row
        lda     sreg
        sta     optr
        lda     sreg+1
        sta     optr+1
        jmp     block
