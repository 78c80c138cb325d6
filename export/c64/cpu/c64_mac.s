; c64_mac.s: the int8 / int4 matrix-vector products of the transformer on a 6502, bit-identical
; to lm_matvec_i8 / lm_matvec_i4 (infer/lm_ops.c): acc[r] = sum_j w[r][j] * x[j], exactly.
;
; Multiply by quarter squares: a*b = f(a+b) - f(a-b) with f(n) = floor(n*n/4) (exact: a+b and
; a-b have the same parity, so both floors drop the same 0 or 1/4). With a' = a+128 (the input x,
; biased once per call into xb) and y = b+128 (the weight, in 1..255: -128 is outside the
; contract) and T[i] = f(i - 256), i = 0..511 (sq_lo / sq_hi):
;     f(a+b) = T[a' + y]        f(a-b) = T[a' + (256 - y)]     (256 - y = -y mod 256, in 1..255)
; so one column's two zero-page pointers (T lo/hi at a') serve every row and both lookups, and
; each MAC is four (ptr),y loads added into two unsigned 24-bit sums per row, P = sum f(a+b) and
; N = sum f(a-b); acc = P - N. The sums are exact in 24 bits and so is the result: every f is at
; most 2^14 and cols <= 255 (the exporter refuses wider rows for these kernels), so P, N < 2^22
; and |acc| <= 127 * 127 * 255 < 2^23.
; Rows go four at a time (the column's pointers are set once per four MACs); the weight of row R
; is read with `lda ROW_R,x`, whose address is patched per block (self-modifying code: the rows of
; a block are consecutive in the weight buffer, `stride` bytes apart). A block with fewer than
; four rows points the missing rows at its first row and drops their sums.
; int4 (assembled with C64_INT4): two passes over a block's bytes, low nibbles (even columns,
; biased x in xb[k] = x[2k]) then high nibbles (odd columns, xb[128 + k] = x[2k+1]); a table maps
; the byte to the nibble's signed value + 128. The tables are filled by c64_forward.c.
;
; cc65 calling convention: void f(int32_t *acc, const void *w, const int8_t *x, int rows, int cols)
; cols arrives in A/X, the rest on the C stack (popax pops the last pushed first).

        .include "zeropage.inc"
        .import popax
        .export _c64_matvec_i8, _c64_sq_raw, _c64_sq_page

        .segment "BSS"
; T lo (512 bytes) then T hi (512) from the first page boundary in sq_raw: ld65 2.19 does not
; align BSS for a module, so c64_forward.c finds the boundary and stores its page in sq_page.
_c64_sq_raw:    .res 1024+255
_c64_sq_page:   .res 1
.ifdef C64_INT4
        .export _c64_matvec_i4, _c64_nib_lo, _c64_nib_hi
_c64_nib_lo:    .res 256
_c64_nib_hi:    .res 256
.endif
xb:             .res 256
acc_p:          .res 12         ; P of rows 0..3, 3 bytes each
acc_n:          .res 12         ; N of rows 0..3
cols:           .res 1
nbytes:         .res 1          ; bytes per column pass
stride:         .res 1          ; bytes per weight row
mode:           .res 1          ; 0 int8, 1 int4
nval:           .res 1          ; valid rows in the block
rows:           .res 2
wp:             .res 2

        .segment "CODE"

; One MAC of row R: y = weight + 128 (FETCH 0: int8 byte; 1 / 2: low / high nibble of the byte),
; then P_R += T[a'+y], N_R += T[a'+256-y].
.macro  MAC     R, FETCH
  .if FETCH = 0
        .ident(.sprintf("row%d_%d", FETCH, R)) := * + 1
        lda     $FFFF,x
        eor     #$80
        tay
  .else
        .ident(.sprintf("row%d_%d", FETCH, R)) := * + 1
        ldy     $FFFF,x
    .if FETCH = 1
        lda     _c64_nib_lo,y
    .else
        lda     _c64_nib_hi,y
    .endif
        tay
  .endif
        lda     (ptr1),y
        clc
        adc     acc_p+3*R
        sta     acc_p+3*R
        lda     (ptr2),y
        adc     acc_p+3*R+1
        sta     acc_p+3*R+1
        bcc     :+
        inc     acc_p+3*R+2
:       tya
        eor     #$FF
        tay
        iny
        lda     (ptr1),y
        clc
        adc     acc_n+3*R
        sta     acc_n+3*R
        lda     (ptr2),y
        adc     acc_n+3*R+1
        sta     acc_n+3*R+1
        bcc     :+
        inc     acc_n+3*R+2
:
.endmacro

; Columns 0..nbytes-1 of a block of four rows; biased inputs at xb + XOFF.
.macro  COLUMNS FETCH, XOFF
        .local  col, done
        ldx     #0
col:    lda     xb+XOFF,x
        sta     ptr1
        sta     ptr2
        MAC     0, FETCH
        MAC     1, FETCH
        MAC     2, FETCH
        MAC     3, FETCH
        inx
        cpx     nbytes
        beq     done
        jmp     col
done:
.endmacro

; Patch the four row addresses of the loop with fetch mode FETCH: row R at wp + R * stride
; (R < nval), else at wp.
.macro  PATCH   FETCH
        .local  r1, r2, r3
        lda     wp
        ldx     wp+1
        sta     .ident(.sprintf("row%d_0", FETCH))
        stx     .ident(.sprintf("row%d_0", FETCH))+1
        ldy     nval
        cpy     #2
        bcc     r1
        clc
        adc     stride
        bcc     r1
        inx
r1:     sta     .ident(.sprintf("row%d_1", FETCH))
        stx     .ident(.sprintf("row%d_1", FETCH))+1
        cpy     #3
        bcc     r2
        clc
        adc     stride
        bcc     r2
        inx
r2:     sta     .ident(.sprintf("row%d_2", FETCH))
        stx     .ident(.sprintf("row%d_2", FETCH))+1
        cpy     #4
        bcc     r3
        clc
        adc     stride
        bcc     r3
        inx
r3:     sta     .ident(.sprintf("row%d_3", FETCH))
        stx     .ident(.sprintf("row%d_3", FETCH))+1
.endmacro

; 1 <= cols <= 255 (int4: 2 <= cols): the exporter builds these kernels only for such models.
_c64_matvec_i8:
        sta     cols
        sta     nbytes
        sta     stride
        ldy     #0
        sty     mode
        jmp     common

.ifdef C64_INT4
_c64_matvec_i4:
        sta     cols
        clc
        adc     #1
        ror     a               ; (cols + 1) / 2, 9-bit safe
        sta     stride
        ldy     #1
        sty     mode
.endif

common: jsr     popax           ; rows
        sta     rows
        stx     rows+1
        jsr     popax           ; x -> xb (biased)
        sta     ptr1
        stx     ptr1+1
        ldy     #0
.ifdef C64_INT4
        lda     mode
        bne     bias4
.endif
bias8:  lda     (ptr1),y
        eor     #$80
        sta     xb,y
        iny
        cpy     cols
        bne     bias8
        beq     biased
.ifdef C64_INT4
bias4:  tya                     ; column j = y: even -> xb[j/2], odd -> xb[128 + j/2]
        lsr     a
        tax
        lda     (ptr1),y
        eor     #$80
        bcs     :+
        sta     xb,x
        bcc     :++
:       sta     xb+128,x
:       iny
        cpy     cols
        bne     bias4
.endif
biased: jsr     popax           ; w
        sta     wp
        stx     wp+1
        jsr     popax           ; acc
        sta     regsave         ; the output pointer (zero page: sta (regsave),y)
        stx     regsave+1
        lda     _c64_sq_page
        sta     ptr1+1
        clc
        adc     #2
        sta     ptr2+1

block:  lda     rows+1          ; rows left (a 16-bit int >= 0)
        bne     four
        lda     rows
        bne     :+
        rts
:       cmp     #4
        bcc     :+
four:   lda     #4
:       sta     nval
        ldx     #23
        lda     #0
:       sta     acc_p,x         ; acc_n follows acc_p
        dex
        bpl     :-
.ifdef C64_INT4
        lda     mode
        beq     :+
        jmp     block4
.endif
:       PATCH   0
        COLUMNS 0, 0
.ifdef C64_INT4
        jmp     store
block4: PATCH   1
        PATCH   2
        lda     stride
        sta     nbytes
        COLUMNS 1, 0
        lda     cols
        lsr     a
        sta     nbytes
        COLUMNS 2, 128
.endif

store:  ldy     #0              ; acc[r] = P_r - N_r, sign-extended to 32 bits
        ldx     #0
st:     sec
        lda     acc_p,x
        sbc     acc_n,x
        sta     (regsave),y
        iny
        lda     acc_p+1,x
        sbc     acc_n+1,x
        sta     (regsave),y
        iny
        lda     acc_p+2,x
        sbc     acc_n+2,x
        sta     (regsave),y
        iny
        cmp     #$80            ; C = sign
        lda     #0
        sbc     #0              ; C=1 (negative): 0, else $FF; inverted below
        eor     #$FF
        sta     (regsave),y
        iny
        inx
        inx
        inx
        dec     nval
        bne     st
        tya                     ; accp += 4 * rows done
        clc
        adc     regsave
        sta     regsave
        bcc     :+
        inc     regsave+1
:       tya                     ; rows -= y / 4; wp += stride * rows done (= 4 when more follow)
        lsr     a
        lsr     a
        sta     tmp1
        lda     rows
        sec
        sbc     tmp1
        sta     rows
        bcs     :+
        dec     rows+1
:       ldx     #4
adv:    lda     wp
        clc
        adc     stride
        sta     wp
        bcc     :+
        inc     wp+1
:       dex
        bne     adv
        jmp     block
