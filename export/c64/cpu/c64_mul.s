; c64_mul.s: the square tables of the C64 kernels and a signed 16 x 16 -> 32-bit multiply.
;
; Tables (page-aligned, segment PAGES, filled once by c64_mul_init; 3 KB):
;   c64_sqlo/c64_sqhi[i] = (i - 256)^2           i = 1..511  (full squares, 16 bits: |i-256| <= 255)
;                                                 the sum-of-squares MAC of c64_matvec.s
;   q1lo/q1hi[i]        = floor(i^2 / 4)          i = 0..511  (quarter squares)
;   q2lo/q2hi[i]        = floor((i - 255)^2 / 4)  i = 0..511  (the same, mirrored around 255)
; Unsigned 8 x 8 by quarter squares: a * b = f(a + b) - f(|a - b|), f(n) = floor(n^2 / 4) (exact:
; a + b and a - b have the same parity). With zero-page pointers P1 = q1lo + a, P2 = q1hi + a,
; P3 = q2lo + (a ^ $FF), P4 = q2hi + (a ^ $FF) and y = b:
;   (P1),y = f(a + b)        (P3),y = q2[255 - a + b] = f(|a - b|)
; so one pointer set per multiplicand serves any number of multipliers (ptr1..ptr4 here).
;
; k_mul16s: m_r (32 bits) = m_a * m_b, both signed 16-bit, little-endian, in the zero page
; (regbank); k_mul16u both unsigned, k_mul16su m_a signed and m_b unsigned. Callers set the pointers'
; high bytes once per entry (c64_mul_ptrs): cc65's runtime uses ptr1..ptr4 too. Clobbers A, X, Y,
; ptr1..ptr4 (low bytes).
;
; k_udiv32: m_r = floor(m_r / d), d = ptr3..ptr4 (32 bits, > 0), restoring shift-subtract like
; lm_udiv; the remainder in ptr1..ptr2. k_isqrt32: m_r = floor(sqrt(m_r)) (lm_isqrt). Both clobber
; A, X, Y, ptr1..ptr4.
        .include "zeropage.inc"
        .export _c64_mul_init, c64_mul_ptrs, k_mul16s, k_mul16u, k_mul16su, k_udiv32, k_isqrt32
        .exportzp m_a, m_b, m_r
        .export _c64_sqlo, _c64_sqhi, q1lo, q1hi, q2lo, q2hi, _c64_pages

m_a     = regbank           ; 2 bytes
m_b     = regbank+2         ; 2 bytes
m_r     = regsave           ; 4 bytes

        .segment "PAGES"
_c64_pages:                     ; (3 KB of RAM the start-up uses before c64_mul_init fills it)
_c64_sqlo:  .res 512
_c64_sqhi:  .res 512
q1lo:       .res 512
q1hi:       .res 512
q2lo:       .res 512
q2hi:       .res 512

        .segment "CODE"

; void c64_mul_init(void): fill the six tables.
_c64_mul_init:
        ; quarter squares q1[i] = f(i): f(0) = 0, f(i+1) = f(i) + ((i+1) >> 1); with i+1 = 256 p + x
        ; after the inx, (i+1) >> 1 = 128 p + (x >> 1)
        lda     #0
        sta     tmp1            ; f, low byte
        sta     tmp2            ; f, high byte
        tax
@pa:    lda     tmp1            ; i = x (first page)
        sta     q1lo,x
        lda     tmp2
        sta     q1hi,x
        inx
        beq     @wrap
        txa
        lsr     a
        clc
        adc     tmp1
        sta     tmp1
        bcc     @pa
        inc     tmp2
        bne     @pa             ; always (f < 2^16)
@wrap:  lda     #128            ; f(256) = f(255) + 128
        clc
        adc     tmp1
        sta     tmp1
        bcc     @pb
        inc     tmp2
@pb:    lda     tmp1            ; i = 256 + x
        sta     q1lo+256,x
        lda     tmp2
        sta     q1hi+256,x
        inx
        beq     @q2
        txa
        lsr     a
        ora     #$80
        clc
        adc     tmp1
        sta     tmp1
        bcc     @pb
        inc     tmp2
        bne     @pb             ; always
        ; q2[255 + d] = q2[255 - d] = f(d), d = 0..255; q2[511] = f(256)
@q2:    ldy     #255            ; x = d = 0, y = 255 - d
@m:     lda     q1lo,x
        sta     q2lo+255,x
        sta     q2lo,y
        lda     q1hi,x
        sta     q2hi+255,x
        sta     q2hi,y
        dey
        inx
        bne     @m
        lda     q1lo+256
        sta     q2lo+511
        lda     q1hi+256
        sta     q2hi+511
        ; full squares sq[256 + t] = sq[256 - t] = t^2, t = 0..255: t^2 += d, d = 2t + 1
        lda     #0
        sta     tmp1            ; t^2
        sta     tmp2
        sta     tmp4            ; d high byte
        lda     #1
        sta     tmp3            ; d low byte
        ldx     #0              ; t
        ldy     #0              ; 256 - t (mod 256)
@sq:    lda     tmp1
        sta     _c64_sqlo+256,x
        sta     _c64_sqlo,y     ; t = 0 writes sq[0], overwritten below
        lda     tmp2
        sta     _c64_sqhi+256,x
        sta     _c64_sqhi,y
        clc
        lda     tmp1
        adc     tmp3
        sta     tmp1
        lda     tmp2
        adc     tmp4
        sta     tmp2
        clc                     ; d += 2
        lda     tmp3
        adc     #2
        sta     tmp3
        bcc     :+
        inc     tmp4
:       dey
        inx
        bne     @sq
        lda     #0              ; sq[0] = (-256)^2 does not fit: never read (|x + w| <= 255)
        sta     _c64_sqlo
        sta     _c64_sqhi
        rts

; The high bytes of ptr1..ptr4 for k_mul16s/k_mul16u.
c64_mul_ptrs:
        lda     #>q1lo
        sta     ptr1+1
        lda     #>q1hi
        sta     ptr2+1
        lda     #>q2lo
        sta     ptr3+1
        lda     #>q2hi
        sta     ptr4+1
        rts

; One unsigned 8 x 8 product of the pointer set's a and y = b: A = low byte, Y = high byte.
.macro  MUL8
        sec
        lda     (ptr1),y
        sbc     (ptr3),y
        tax
        lda     (ptr2),y
        sbc     (ptr4),y
        tay
        txa
.endmacro

.macro  SETA    ZA
        lda     ZA
        sta     ptr1
        sta     ptr2
        eor     #$FF
        sta     ptr3
        sta     ptr4
.endmacro

; m_r = m_a * m_b, unsigned 16 x 16 -> 32.
k_mul16u:
        SETA    m_a
        ldy     m_b
        MUL8                    ; a0 b0
        sta     m_r
        sty     m_r+1
        ldy     m_b+1
        MUL8                    ; a0 b1
        clc
        adc     m_r+1
        sta     m_r+1
        tya
        adc     #0
        sta     m_r+2           ; <= $FF: a0 b1 + carry < 2^16
        SETA    m_a+1
        ldy     m_b
        MUL8                    ; a1 b0
        clc
        adc     m_r+1
        sta     m_r+1
        tya
        adc     m_r+2
        sta     m_r+2
        lda     #0
        rol     a
        sta     m_r+3
        ldy     m_b+1
        MUL8                    ; a1 b1
        clc
        adc     m_r+2
        sta     m_r+2
        tya
        adc     m_r+3
        sta     m_r+3
        rts

; m_r = m_a * m_b, signed 16 x 16 -> 32: the unsigned product minus 2^16 b when a < 0 and minus
; 2^16 a when b < 0 (mod 2^32).
k_mul16s:
        jsr     k_mul16u
        bit     m_a+1
        bpl     :+
        sec
        lda     m_r+2
        sbc     m_b
        sta     m_r+2
        lda     m_r+3
        sbc     m_b+1
        sta     m_r+3
:       bit     m_b+1
        bpl     :+
        sec
        lda     m_r+2
        sbc     m_a
        sta     m_r+2
        lda     m_r+3
        sbc     m_a+1
        sta     m_r+3
:       rts

; m_r = m_a * m_b, m_a signed, m_b unsigned 16-bit.
k_mul16su:
        jsr     k_mul16u
        bit     m_a+1
        bpl     :+
        sec
        lda     m_r+2
        sbc     m_b
        sta     m_r+2
        lda     m_r+3
        sbc     m_b+1
        sta     m_r+3
:       rts

; m_r = m_r / d (d = ptr3..ptr4), remainder in ptr1..ptr2.
k_udiv32:
        lda     #0
        sta     ptr1
        sta     ptr1+1
        sta     ptr2
        sta     ptr2+1
        ldx     #32
@bit:   asl     m_r             ; (rem:q) <<= 1, the quotient bit enters at m_r bit 0
        rol     m_r+1
        rol     m_r+2
        rol     m_r+3
        rol     ptr1
        rol     ptr1+1
        rol     ptr2
        rol     ptr2+1
        bcs     @sub            ; rem >= 2^32 > d
        lda     ptr2+1          ; rem >= d ?
        cmp     ptr4+1
        bcc     @next
        bne     @sub
        lda     ptr2
        cmp     ptr4
        bcc     @next
        bne     @sub
        lda     ptr1+1
        cmp     ptr3+1
        bcc     @next
        bne     @sub
        lda     ptr1
        cmp     ptr3
        bcc     @next
@sub:   sec
        lda     ptr1
        sbc     ptr3
        sta     ptr1
        lda     ptr1+1
        sbc     ptr3+1
        sta     ptr1+1
        lda     ptr2
        sbc     ptr4
        sta     ptr2
        lda     ptr2+1
        sbc     ptr4+1
        sta     ptr2+1
        inc     m_r             ; the quotient bit
@next:  dex
        bne     @bit
        rts

; m_r = floor(sqrt(m_r)) by lm_isqrt's method: x = m_r, root (ptr1..ptr2), bit (ptr3..ptr4).
t0      = tmp1
t1      = tmp2
t2      = tmp3
t3      = tmp4
k_isqrt32:
        lda     #0
        sta     ptr1
        sta     ptr1+1
        sta     ptr2
        sta     ptr2+1
        sta     ptr3
        sta     ptr3+1
        sta     ptr4
        lda     #$40            ; bit = 2^30
        sta     ptr4+1
@down:  lda     ptr4+1          ; while bit > x: bit >>= 2
        cmp     m_r+3
        bcc     @loop
        bne     @shr
        lda     ptr4
        cmp     m_r+2
        bcc     @loop
        bne     @shr
        lda     ptr3+1
        cmp     m_r+1
        bcc     @loop
        bne     @shr
        lda     ptr3
        cmp     m_r
        bcc     @loop
        beq     @loop
@shr:   jsr     bit_shr2
        lda     ptr3
        ora     ptr3+1
        ora     ptr4
        ora     ptr4+1
        bne     @down
        jmp     @end            ; x = 0
@loop:  clc                     ; tmp = root + bit (in regbank+4, tmp1, tmp2, tmp3: 4 bytes)
        lda     ptr1
        adc     ptr3
        sta     t0
        lda     ptr1+1
        adc     ptr3+1
        sta     t1
        lda     ptr2
        adc     ptr4
        sta     t2
        lda     ptr2+1
        adc     ptr4+1
        sta     t3
        lda     m_r+3           ; x >= tmp ?
        cmp     t3
        bcc     @no
        bne     @yes
        lda     m_r+2
        cmp     t2
        bcc     @no
        bne     @yes
        lda     m_r+1
        cmp     t1
        bcc     @no
        bne     @yes
        lda     m_r
        cmp     t0
        bcc     @no
@yes:   sec                     ; x -= tmp
        lda     m_r
        sbc     t0
        sta     m_r
        lda     m_r+1
        sbc     t1
        sta     m_r+1
        lda     m_r+2
        sbc     t2
        sta     m_r+2
        lda     m_r+3
        sbc     t3
        sta     m_r+3
        lsr     ptr2+1          ; root = (root >> 1) + bit
        ror     ptr2
        ror     ptr1+1
        ror     ptr1
        clc
        lda     ptr1
        adc     ptr3
        sta     ptr1
        lda     ptr1+1
        adc     ptr3+1
        sta     ptr1+1
        lda     ptr2
        adc     ptr4
        sta     ptr2
        lda     ptr2+1
        adc     ptr4+1
        sta     ptr2+1
        jmp     @nxt
@no:    lsr     ptr2+1          ; root >>= 1
        ror     ptr2
        ror     ptr1+1
        ror     ptr1
@nxt:   jsr     bit_shr2
        lda     ptr3
        ora     ptr3+1
        ora     ptr4
        ora     ptr4+1
        beq     @end
        jmp     @loop
@end:   lda     ptr1
        sta     m_r
        lda     ptr1+1
        sta     m_r+1
        lda     ptr2
        sta     m_r+2
        lda     ptr2+1
        sta     m_r+3
        rts

bit_shr2:
        ldx     #2
:       lsr     ptr4+1
        ror     ptr4
        ror     ptr3+1
        ror     ptr3
        dex
        bne     :-
        rts
