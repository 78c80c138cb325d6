; ws_file_next.s: ws_next of the sim65 weight source (ws_file.c has the rest): one paravirtual
; read() on the stream's host file, its position and the transfer counters updated (cc65's C for
; the same costs over 1,000 cycles a call; the matrix kernel makes one per block of rows).
;   void ws_next(uint8_t s, void *buf, uint16_t n)
;   ws_nx: the same for assembly callers: A = s, the buffer and length in ws_nx_buf, ws_nx_n
        .include "zeropage.inc"
        .import _read, pushax, popa, popax
        .import _ws_fd, _ws_pos, _ws_dma_bytes, _ws_dma_transfers
        .export _ws_next, ws_nx, ws_nx_buf, ws_nx_n

        .segment "BSS"
n:      .res 2
buf:    .res 2
s4:     .res 1
ws_nx_n   = n
ws_nx_buf = buf

        .segment "CODE"
_ws_next:
        sta     n
        stx     n+1
        jsr     popax
        sta     buf
        stx     buf+1
        jsr     popa
ws_nx:  asl     a
        tay
        asl     a
        sta     s4
        lda     _ws_fd,y        ; read(ws_fd[s], buf, n)
        ldx     _ws_fd+1,y
        jsr     pushax
        lda     buf
        ldx     buf+1
        jsr     pushax
        lda     n
        ldx     n+1
        jsr     _read
        ldy     s4
        cmp     n
        bne     @short
        cpx     n+1
        bne     @short
        clc                     ; ws_pos[s] += n
        lda     _ws_pos,y
        adc     n
        sta     _ws_pos,y
        lda     _ws_pos+1,y
        adc     n+1
        sta     _ws_pos+1,y
        bcc     @count
        lda     _ws_pos+2,y
        adc     #0
        sta     _ws_pos+2,y
        lda     _ws_pos+3,y
        adc     #0
        sta     _ws_pos+3,y
        jmp     @count
@short: lda     #$FF            ; past the end: the next seek reopens
        sta     _ws_pos,y
        sta     _ws_pos+1,y
        sta     _ws_pos+2,y
        sta     _ws_pos+3,y
@count: clc                     ; ws_dma_bytes += n, ws_dma_transfers++
        lda     _ws_dma_bytes
        adc     n
        sta     _ws_dma_bytes
        lda     _ws_dma_bytes+1
        adc     n+1
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
