; ws_reu_next.s: ws_next of the REU weight source (ws_reu.c has the rest and the REU's register
; map): one DMA from the stream's REU address, which then moves past the bytes, counted in
; reu_dma.h's totals (about 90 cycles a call plus a cycle a byte; the matrix kernel makes one per
; block of rows).
;   void ws_next(uint8_t s, void *buf, uint16_t n)
;   ws_nx: the same for assembly callers: A = s, the buffer and length in ws_nx_buf, ws_nx_n
        .import popa, popax
        .import _ws_stream, _ws_dma_bytes, _ws_dma_transfers
        .export _ws_next, ws_nx, ws_nx_buf, ws_nx_n

REU     = $DF00

        .segment "BSS"
ws_nx_n:   .res 2
ws_nx_buf: .res 2
s1:        .res 1

        .segment "CODE"
_ws_next:
        sta     ws_nx_n
        stx     ws_nx_n+1
        jsr     popax
        sta     ws_nx_buf
        stx     ws_nx_buf+1
        jsr     popa
ws_nx:  sta     s1              ; s * 3 = s + 2 s
        asl     a
        adc     s1              ; C = 0 from the asl (s < 128)
        tay
        lda     ws_nx_buf       ; C64 address
        sta     REU+2
        lda     ws_nx_buf+1
        sta     REU+3
        lda     _ws_stream,y    ; REU address
        sta     REU+4
        lda     _ws_stream+1,y
        sta     REU+5
        lda     _ws_stream+2,y
        sta     REU+6
        lda     ws_nx_n         ; length
        sta     REU+7
        lda     ws_nx_n+1
        sta     REU+8
        lda     #0
        sta     REU+10          ; both addresses count up
        lda     #$91            ; REU -> C64, now
        sta     REU+1
        clc                     ; the stream moves on
        lda     _ws_stream,y
        adc     ws_nx_n
        sta     _ws_stream,y
        lda     _ws_stream+1,y
        adc     ws_nx_n+1
        sta     _ws_stream+1,y
        bcc     :+
        lda     _ws_stream+2,y
        adc     #0
        sta     _ws_stream+2,y
:       clc                     ; what crossed the bus (reu_dma.h)
        lda     _ws_dma_bytes
        adc     ws_nx_n
        sta     _ws_dma_bytes
        lda     _ws_dma_bytes+1
        adc     ws_nx_n+1
        sta     _ws_dma_bytes+1
        bcc     :+
        inc     _ws_dma_bytes+2
        bne     :+
        inc     _ws_dma_bytes+3
:       inc     _ws_dma_transfers
        bne     :+
        inc     _ws_dma_transfers+1
        bne     :+
        inc     _ws_dma_transfers+2
:       rts
