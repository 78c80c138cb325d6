; c64_crc.s: CRC-32 (zlib, base/crc32.c's polynomial) of a buffer, table-driven, one byte per
; ~40 cycles: for the start-up check of the whole REU image (base/crc32.c's bitwise loop in cc65 C
; costs over 1,000 cycles per byte). The four byte planes of the 256-entry table (T0 = low byte
; ... T3 = high byte) are built by c64_main.c in c64_scratch[0..1023].
;   void c64_crc_update(uint8_t *crc, const uint8_t *buf, uint16_t n)
; crc: the running (already complemented) CRC, 4 bytes little-endian, updated in place:
;   i = c0 ^ b;  c = (c >> 8) ^ T[i]
        .include "zeropage.inc"
        .import popax, _c64_scratch
        .export _c64_crc_update

        .segment "CODE"
_c64_crc_update:
        sta     tmp1            ; n (low)
        stx     tmp2            ; n (high)
        jsr     popax
        sta     ptr1            ; buf
        stx     ptr1+1
        jsr     popax
        sta     ptr2            ; crc
        stx     ptr2+1
        ldy     #3
:       lda     (ptr2),y
        sta     c0,y
        dey
        bpl     :-
        ldy     #0
        lda     tmp1
        ora     tmp2
        beq     done
        lda     tmp1            ; count pages: inner loop runs y = 0..255, last page partial
        beq     loop
        inc     tmp2            ; a partial page first counts as one
loop:   lda     (ptr1),y
        eor     c0
        tax
        lda     _c64_scratch,x
        eor     c1
        sta     c0
        lda     _c64_scratch+256,x
        eor     c2
        sta     c1
        lda     _c64_scratch+512,x
        eor     c3
        sta     c2
        lda     _c64_scratch+768,x
        sta     c3
        iny
        bne     :+
        inc     ptr1+1
:       dec     tmp1
        bne     loop
        dec     tmp2
        bne     loop
done:   ldy     #3
:       lda     c0,y
        sta     (ptr2),y
        dey
        bpl     :-
        rts

        .segment "BSS"
c0:     .res    1
c1:     .res    1
c2:     .res    1
c3:     .res    1
