; c64_rq.s: the requantisation of the transformer contract on a 6502 (infer/lm_ops.h):
;     y = rshr((v >> p) * m, k),   rshr(a, k) = (a + 2^(k-1)) >> k  (k >= 1; a for k = 0)
; then, by mode, y saturated to int8 (lm_requant_i8), clamped to +-2047 into int16
; (lm_requant_i16 with the attention's limit), added to an int32 (lm_requant_add) or stored as
; int32 (the logits, the embedding row). Bit-identical to lm_requant for every input of the
; contract: v is a 24-bit signed value here (every requantised number on the C64 is below 2^23 in
; magnitude: matrix rows of at most 255 columns, attention output and SwiGLU products, int8
; embeddings) and the writer's pre-shift keeps |v >> p| < 2^15 (lm_image.c checks it), so the
; product is a signed 16 x 16 multiply (c64_mul.s) and everything after it is 32-bit.
;
; rq_core: v in tmp1..tmp3 (little-endian), rq_m/rq_p/rq_k, rq_mode; writes through the pointer
; in sreg and advances it. Clobbers A, X, Y, tmp4, ptr1..ptr4 (their low bytes), regbank 0..3,
; regsave. The caller sets the multiply pointers' high bytes (c64_mul_ptrs) once.
; Modes: RQ_I8 0, RQ_I16 1, RQ_ADD 2, RQ_I32 3, RQ_ACC 4 (no requantisation: v >> 1 as int32, the
; matrix kernels' accumulator for tests).
;
;   void c64_requant(uint8_t mode, void *y, const int32_t *acc, const lm_rq *rq, uint16_t n)
;   void c64_requant1(uint8_t mode, void *y, const int32_t *acc, const lm_rq *rq, uint16_t n)
; the same over arrays (one rq per element; one rq for all), for tests and the C callers.
; rq_post (the multiply's product in m_r: rshr by rq_k, out by mode), rq_rshr (m_r = rshr(m_r, X))
; and rq_out (m_r out by mode) serve the other kernels.
        .include "zeropage.inc"
        .import k_mul16s, c64_mul_ptrs
        .importzp m_a, m_b, m_r
        .import popa, popax
        .export rq_core, rq_post, rq_rshr, rq_out, rq_m, rq_p, rq_k, rq_mode, _c64_requant, _c64_requant1, _c64_glu, bitmask

        .segment "BSS"
rq_m:   .res 2
rq_p:   .res 1
rq_k:   .res 1
rq_mode: .res 1
ar_acc: .res 2
ar_rq:  .res 2
ar_n:   .res 2
ar_one: .res 1
ar_i:   .res 1

        .segment "RODATA"
bitmask: .byte 1, 2, 4, 8, 16, 32, 64, 128

        .segment "CODE"

rq_core:
        lda     rq_mode
        cmp     #4
        bne     :+
        jmp     acc_out
        ; t = v >> p (arithmetic), the low 16 bits (|t| < 2^15)
:       ldx     rq_p
        cpx     #8
        bcc     @bits
        lda     #0              ; whole bytes (p >= 8): the sign byte above v
        ldy     tmp3
        bpl     :+
        lda     #$FF
:       sta     tmp4
@bytes: lda     tmp2
        sta     tmp1
        lda     tmp3
        sta     tmp2
        lda     tmp4
        sta     tmp3
        txa
        sbc     #8              ; C = 1 from the cpx
        tax
        cpx     #8
        bcs     @bytes
@bits:  cpx     #4              ; 4..7: 8 - x left shifts, t = tmp2:tmp3 (unrolled)
        bcs     @left
        txa                     ; 0..3: x right shifts, t = tmp1:tmp2
        beq     @t01
@right: lda     tmp3
        cmp     #$80
        ror     tmp3
        ror     tmp2
        ror     tmp1
        dex
        bne     @right
@t01:   lda     tmp1
        sta     m_a
        lda     tmp2
        sta     m_a+1
        jmp     @mul
@left:  cpx     #6
        bcc     :+
        beq     @s2
        bcs     @s1             ; x = 7
:       cpx     #5
        beq     @s3
        asl     tmp1            ; x = 4
        rol     tmp2
        rol     tmp3
@s3:    asl     tmp1
        rol     tmp2
        rol     tmp3
@s2:    asl     tmp1
        rol     tmp2
        rol     tmp3
@s1:    asl     tmp1
        rol     tmp2
        rol     tmp3
        lda     tmp2
        sta     m_a
        lda     tmp3
        sta     m_a+1
@mul:   lda     rq_m
        sta     m_b
        lda     rq_m+1
        sta     m_b+1
        jsr     k_mul16s          ; m_r = t * m
; rq_post: m_r = rshr(m_r, rq_k), then out by rq_mode (the entry after the multiply).
rq_post:
        ldx     rq_k
        jsr     rq_rshr
        jmp     out

; rq_rshr: m_r = rshr(m_r, X) = (m_r + 2^(X-1)) >> X, arithmetic, X = 0..31 (X = 0: m_r).
; Clobbers A, X, Y, tmp3, tmp4.
rq_rshr:
        txa
        bne     :+
        rts
:       stx     tmp3            ; k
        dex                     ; add 2^(k-1) at byte (k-1) >> 3
        txa
        and     #7
        tay
        txa
        lsr     a
        lsr     a
        lsr     a
        tax
        clc
        lda     bitmask,y
        adc     m_r,x
        sta     m_r,x
        bcc     @shift
@carry: inx                     ; propagate the carry
        cpx     #4
        beq     @shift
        inc     m_r,x
        beq     @carry
@shift: lda     #0
        ldy     m_r+3
        bpl     :+
        lda     #$FF
:       sta     tmp4            ; sign
        ldx     tmp3
        txa
        and     #7
        cmp     #5
        bcs     @sleft
@sbyte: cpx     #8              ; whole bytes, then at most 4 right shifts
        bcc     @sbits
        lda     m_r+1
        sta     m_r
        lda     m_r+2
        sta     m_r+1
        lda     m_r+3
        sta     m_r+2
        lda     tmp4
        sta     m_r+3
        txa
        sbc     #8
        tax
        bne     @sbyte
        rts
@sbits: txa
        beq     @done
:       lda     m_r+3
        cmp     #$80
        ror     m_r+3
        ror     m_r+2
        ror     m_r+1
        ror     m_r
        dex
        bne     :-
@done:  rts
@sleft: ; k & 7 >= 5: shift left by 8 - (k & 7) through a fifth byte, then whole bytes
        eor     #7              ; 7 - (k & 7) = shifts - 1
        tay
:       asl     m_r
        rol     m_r+1
        rol     m_r+2
        rol     m_r+3
        rol     tmp4
        dey
        bpl     :-
        txa                     ; k + (8 - k & 7) = 8 (k >> 3) + 8: k >> 3 + 1 whole bytes
        lsr     a
        lsr     a
        lsr     a
        tax
        lda     tmp4            ; the sign of the result
        asl     a
        lda     #0
        bcc     :+
        lda     #$FF
:       sta     tmp3            ; fill byte
        lda     m_r+1           ; one byte down (the fifth byte becomes byte 3)
        sta     m_r
        lda     m_r+2
        sta     m_r+1
        lda     m_r+3
        sta     m_r+2
        lda     tmp4
        sta     m_r+3
        txa
        beq     @done
:       lda     m_r+1
        sta     m_r
        lda     m_r+2
        sta     m_r+1
        lda     m_r+3
        sta     m_r+2
        lda     tmp3
        sta     m_r+3
        dex
        bne     :-
        rts

; out: m_r by rq_mode into (sreg), sreg advanced.
rq_out:
out:    ldy     #0
        lda     rq_mode
        beq     out_i8
        cmp     #1
        beq     out_i16
        cmp     #2
        beq     out_add
        ; RQ_I32
        lda     m_r
        sta     (sreg),y
        iny
        lda     m_r+1
        sta     (sreg),y
        iny
        lda     m_r+2
        sta     (sreg),y
        iny
        lda     m_r+3
        sta     (sreg),y
        lda     #4
        jmp     advance
out_add:
        clc
        lda     (sreg),y
        adc     m_r
        sta     (sreg),y
        iny
        lda     (sreg),y
        adc     m_r+1
        sta     (sreg),y
        iny
        lda     (sreg),y
        adc     m_r+2
        sta     (sreg),y
        iny
        lda     (sreg),y
        adc     m_r+3
        sta     (sreg),y
        lda     #4
        bne     advance
out_i8: lda     m_r+3           ; sat8: clamp to [-127, 127]
        bmi     @neg
        ora     m_r+2
        ora     m_r+1
        bne     @pmax
        lda     m_r
        bpl     @st8
@pmax:  lda     #127
        bne     @st8
@neg:   and     m_r+2           ; negative: every upper byte $FF and m_r in [$81, $FF]
        and     m_r+1
        cmp     #$FF
        bne     @nmin
        lda     m_r
        bpl     @nmin
        cmp     #$81
        bcs     @st8
@nmin:  lda     #$81            ; -127
@st8:   sta     (sreg),y
        lda     #1
        bne     advance
out_i16:
        lda     m_r+3           ; clamp to [-2047, 2047]
        bmi     @neg
        ora     m_r+2
        bne     @pmax
        lda     m_r+1
        cmp     #8
        bcc     @st16
@pmax:  lda     #$FF
        sta     m_r
        lda     #$07
        bne     @st16
@neg:   and     m_r+2
        cmp     #$FF
        bne     @nmin
        lda     m_r+1
        cmp     #$F8            ; >= -2048 ...
        bcc     @nmin
        bne     @st16           ; > $F8xx: inside
        lda     m_r             ; $F8xx: -2048 + low byte: -2048 itself is outside
        bne     @st16n
@nmin:  lda     #$01            ; -2047 = $F801
        sta     m_r
        lda     #$F8
        bne     @st16
@st16n: lda     #$F8
@st16:  tax                     ; A = high byte
        lda     m_r
        sta     (sreg),y
        iny
        txa
        sta     (sreg),y
        lda     #2
advance:
        clc
        adc     sreg
        sta     sreg
        bcc     :+
        inc     sreg+1
:       rts

; RQ_ACC: v >> 1 (the kernels hold 2 acc), sign-extended to int32.
acc_out:
        ldy     #0
        lda     tmp3
        cmp     #$80
        ror     a
        tax
        lda     tmp2
        ror     a
        pha
        lda     tmp1
        ror     a
        sta     (sreg),y
        iny
        pla
        sta     (sreg),y
        iny
        txa
        sta     (sreg),y
        iny
        asl     a
        lda     #0
        bcc     :+
        lda     #$FF
:       sta     (sreg),y
        lda     #4
        bne     advance

_c64_requant1:
        ldy     #1
        .byte   $2C             ; bit abs: skips the ldy #0
_c64_requant:
        ldy     #0
        sty     ar_one
        sta     ar_n
        stx     ar_n+1
        jsr     popax
        sta     ar_rq
        stx     ar_rq+1
        jsr     popax
        sta     ar_acc
        stx     ar_acc+1
        jsr     popax
        sta     sreg
        stx     sreg+1
        jsr     popa
        sta     rq_mode
        jsr     c64_mul_ptrs
@loop:  lda     ar_n
        ora     ar_n+1
        bne     :+
        rts
:       lda     ar_acc          ; v = acc[i] (low 24 bits), rq = rq[i]
        sta     @a1+1
        lda     ar_acc+1
        sta     @a1+2
        ldx     #2
@a1:    lda     $FFFF,x
        sta     tmp1,x
        dex
        bpl     @a1
        lda     ar_rq
        sta     @a2+1
        lda     ar_rq+1
        sta     @a2+2
        ldx     #3
@a2:    lda     $FFFF,x
        sta     rq_m,x
        dex
        bpl     @a2
        jsr     rq_core
        clc
        lda     ar_acc
        adc     #4
        sta     ar_acc
        bcc     :+
        inc     ar_acc+1
:       lda     ar_one
        bne     :+
        clc
        lda     ar_rq
        adc     #4
        sta     ar_rq
        bcc     :+
        inc     ar_rq+1
:       lda     ar_n
        bne     :+
        dec     ar_n+1
:       dec     ar_n
        jmp     @loop

; void c64_glu(int8_t *out, const int8_t *h1, const int8_t *h3, const int16_t *silu,
;              const lm_rq *rq, uint8_t n): SwiGLU as in lm_kernel.c,
;   out_i = sat8(requant(silu[h1_i + 128] * h3_i, rq))     (|silu * h3| < 2^22)
_c64_glu:
        sta     ar_n
        jsr     popax           ; rq
        sta     ptr1
        stx     ptr1+1
        ldy     #3
:       lda     (ptr1),y
        sta     rq_m,y
        dey
        bpl     :-
        jsr     popax           ; silu: the entries below and above index 128
        sta     @s0+1
        sta     @s2+1
        stx     @s0+2
        stx     @s2+2
        clc
        adc     #1
        sta     @s1+1
        sta     @s3+1
        txa
        adc     #0
        sta     @s1+2
        sta     @s3+2
        inc     @s2+2
        inc     @s3+2
        jsr     popax
        sta     @h3+1
        stx     @h3+2
        jsr     popax
        sta     @h1+1
        stx     @h1+2
        jsr     popax
        sta     sreg
        stx     sreg+1
        lda     #0              ; RQ_I8
        sta     rq_mode
        sta     ar_i          ; i
        jsr     c64_mul_ptrs
@el:    ldx     ar_i
@h1:    lda     $FFFF,x         ; silu[h1 + 128]: byte offset 2 (h1 ^ $80)
        eor     #$80
        asl     a
        tay
        bcs     @up
@s0:    lda     $FFFF,y
        sta     m_a
@s1:    lda     $FFFF,y
        sta     m_a+1
        jmp     @h3
@up:
@s2:    lda     $FFFF,y
        sta     m_a
@s3:    lda     $FFFF,y
        sta     m_a+1
@h3:    lda     $FFFF,x         ; h3, sign-extended
        sta     m_b
        lda     #0
        bit     m_b
        bpl     :+
        lda     #$FF
:       sta     m_b+1
        jsr     k_mul16s
        lda     m_r             ; v = the product (24 bits)
        sta     tmp1
        lda     m_r+1
        sta     tmp2
        lda     m_r+2
        sta     tmp3
        jsr     rq_core
        inc     ar_i
        lda     ar_i
        cmp     ar_n
        bne     @el
        rts
