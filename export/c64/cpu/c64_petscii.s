; c64_petscii.s: ASCII <-> PETSCII for the C64 builds (c64_rt.c's translation, a permutation):
;   c64_petscii   a-z $61-$7A -> $41-$5A, A-Z $41-$5A -> $C1-$DA, $C1-$DA -> $61-$7A, LF <-> CR
;   c64_ascii     the inverse
; unsigned char c64_petscii(unsigned char c), c64_ascii(c): cc65's fastcall (c and the result
; in A, X = 0). About 20 bytes of table and 40 of code where the C version took 300.
        .export _c64_petscii, _c64_ascii
        .importzp tmp1

        .segment "CODE"

_c64_ascii:
        ldy #3                  ; the inverse's ranges
        .byte $2C               ; BIT abs: skips the LDY #0
_c64_petscii:
        ldy #0
        ldx #3                  ; three ranges of 26 letters
        sta tmp1
next:   lda tmp1
        sec
        sbc from,y
        cmp #26
        bcc in                  ; A = offset in the range
        iny
        dex
        bne next
        lda tmp1                ; not a letter: LF <-> CR, the rest unchanged
        cmp #$0A
        beq to_cr
        cmp #$0D
        bne done
        lda #$0A
        .byte $2C
to_cr:  lda #$0D
        jmp done
in:     clc
        adc to,y
done:   ldx #0
        rts

from:   .byte $61, $41, $C1, $41, $C1, $61
to:     .byte $41, $C1, $61, $61, $41, $C1

; ---- c64_rt.h's services on a C64, in assembly (cc65's C for them took 500 bytes) ------------
        .export _c64_write, _c64_args, _c64_open
        .import _write, _open, pushax, popax, popptr1
        .importzp ptr1, ptr2

        .segment "BSS"
buf:    .res 32                 ; a chunk of translated output / the translated file name
src:    .res 2
cnt:    .res 2
fdv:    .res 2
ysave:  .res 1
started: .res 1

        .segment "CODE"

; void c64_write(int fd, const void *p, unsigned n): n in A/X, p and fd on the C stack. The
; bytes go out translated, 32 at a time, through cc65's write (CKOUT + CHROUT); the first call
; sends CHR$(14) first (the lower/upper-case character set).
_c64_write:
        sta cnt
        stx cnt+1
        jsr popax
        sta src
        stx src+1
        jsr popax
        sta fdv
        stx fdv+1
        ldy #0
        lda started
        bne fill
        inc started
        lda #14
        sta buf
        iny
fill:   lda cnt
        ora cnt+1
        beq flush
        cpy #32
        beq flush
        sty ysave
        lda src
        sta ptr1
        lda src+1
        sta ptr1+1
        ldy #0
        lda (ptr1),y
        jsr _c64_petscii
        ldy ysave
        sta buf,y
        iny
        inc src
        bne @1
        inc src+1
@1:     lda cnt
        bne @2
        dec cnt+1
@2:     dec cnt
        jmp fill
flush:  tya
        beq wdone
        pha
        lda fdv
        ldx fdv+1
        jsr pushax
        lda #<buf
        ldx #>buf
        jsr pushax
        pla
        ldx #0
        jsr _write
        ldy #0
        jmp fill
wdone:  rts

; void c64_args(int argc, char **argv): argv in A/X, argc on the C stack. argv[1..] in place.
_c64_args:
        sta ptr2
        stx ptr2+1
        jsr popax
        sta cnt
        ldy #2
arg:    dec cnt
        beq adone
        lda (ptr2),y
        sta ptr1
        iny
        lda (ptr2),y
        sta ptr1+1
        iny
        sty src                 ; (the argv index)
        ldy #0
ch:     lda (ptr1),y
        beq anext
        sty ysave
        jsr _c64_ascii
        ldy ysave
        sta (ptr1),y
        iny
        bne ch
anext:  ldy src
        jmp arg
adone:  rts

; int c64_open(const char *name, int flags): flags in A/X, name on the C stack. Letters of
; both cases become the unshifted PETSCII letters a drive lists, then cc65's open(name, flags).
_c64_open:
        sta fdv
        stx fdv+1
        jsr popptr1             ; ptr1 = name, Y = 0
oc:     lda (ptr1),y
        beq oend
        cmp #$41
        bcc ox
        cmp #$5B
        bcc okeep               ; A-Z: already the drive's letters
ox:     sty ysave
        jsr _c64_petscii
        ldy ysave
okeep:  sta buf,y
        iny
        cpy #31
        bne oc
oend:   lda #0
        sta buf,y
        lda #<buf
        ldx #>buf
        jsr pushax
        lda fdv
        ldx fdv+1
        jsr pushax
        ldy #4                  ; open is variadic: the bytes of arguments in Y
        jmp _open
