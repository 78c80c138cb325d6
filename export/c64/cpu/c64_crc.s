; c64_crc.s: base/crc32.h's crc32_update (zlib's CRC-32) for the C64 program, in 6502 assembly:
; table-driven, about 50 cycles a byte, while a table is lent (c64_crc_table); bitwise, about
; 250 cycles a byte, otherwise (base/crc32.c's loop in cc65 C costs over 8,000). The start-up
; checks of the REU image, its sidecar and the tokenizer run with the table; the table lives in
; RAM the forward reuses later.
;   void c64_crc_table(void *t)    build the 1 KB table at t (four 256-byte planes: byte 0 of
;                                  every entry, then byte 1, ...) and use it; NULL: no table
;   uint32_t crc32_update(uint32_t crc, const void *buf, size_t n)
        .include "zeropage.inc"
        .import popax, popeax
        .export _crc32_update, _c64_crc_table

c0      = tmp1                  ; the running CRC (complemented), little-endian
c1      = tmp2
c2      = tmp3
c3      = tmp4

        .segment "BSS"
tab:    .res 2                  ; the table, 0: none
count:  .res 2

        .segment "CODE"

_c64_crc_table:
        sta     tab
        stx     tab+1
        sta     ptr1
        stx     ptr1+1
        ora     tab+1
        bne     :+
        rts
:       clc                     ; the four planes' addresses into the table loop's operands
        lda     tab
        sta     t0+1
        sta     t1+1
        sta     t2+1
        sta     t3+1
        lda     tab+1
        sta     t0+2
        adc     #1
        sta     t1+2
        adc     #1
        sta     t2+2
        adc     #1
        sta     t3+2
        ldy     #0              ; entry i: c = i, 8 times c = (c >> 1) ^ (poly & -(c & 1))
@entry: sty     c0
        lda     #0
        sta     c1
        sta     c2
        sta     c3
        jsr     crc8
        lda     c0
        sta     (ptr1),y
        inc     ptr1+1
        lda     c1
        sta     (ptr1),y
        inc     ptr1+1
        lda     c2
        sta     (ptr1),y
        inc     ptr1+1
        lda     c3
        sta     (ptr1),y
        dec     ptr1+1
        dec     ptr1+1
        dec     ptr1+1
        iny
        bne     @entry
        rts

; Eight bits of the CRC: c = (c >> 1) ^ (poly & -(c & 1)), eight times. Clobbers A, X.
crc8:   ldx     #8
@bit:   lsr     c3
        ror     c2
        ror     c1
        ror     c0
        bcc     :+
        lda     c3
        eor     #$ED
        sta     c3
        lda     c2
        eor     #$B8
        sta     c2
        lda     c1
        eor     #$83
        sta     c1
        lda     c0
        eor     #$20
        sta     c0
:       dex
        bne     @bit
        rts

_crc32_update:
        sta     count
        stx     count+1
        jsr     popax
        sta     ptr1
        stx     ptr1+1
        jsr     popeax          ; crc: A/X low word, sreg high word
        eor     #$FF
        sta     c0
        txa
        eor     #$FF
        sta     c1
        lda     sreg
        eor     #$FF
        sta     c2
        lda     sreg+1
        eor     #$FF
        sta     c3
        ldy     #0
        lda     count           ; pages: the inner loop counts count low byte down, then pages
        beq     :+
        inc     count+1         ; a partial page counts as one
:       lda     count+1
        beq     done
        lda     tab+1
        beq     bitwise
tloop:  lda     (ptr1),y
        eor     c0
        tax
t0:     lda     $FFFF,x
        eor     c1
        sta     c0
t1:     lda     $FFFF,x
        eor     c2
        sta     c1
t2:     lda     $FFFF,x
        eor     c3
        sta     c2
t3:     lda     $FFFF,x
        sta     c3
        iny
        bne     :+
        inc     ptr1+1
:       dec     count
        bne     tloop
        dec     count+1
        bne     tloop
        beq     done
bitwise:
        lda     (ptr1),y
        eor     c0
        sta     c0
        jsr     crc8
        iny
        bne     :+
        inc     ptr1+1
:       dec     count
        bne     bitwise
        dec     count+1
        bne     bitwise
done:   lda     c3
        eor     #$FF
        sta     sreg+1
        lda     c2
        eor     #$FF
        sta     sreg
        lda     c1
        eor     #$FF
        tax
        lda     c0
        eor     #$FF
        rts
