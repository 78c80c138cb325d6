; c64_norm.s: lm_rmsnorm_q8 (infer/lm_ops.c) on a 6502, bit-identical, for n <= 255:
;   1. s from max|x| and B = lm_norm_bits(n) (shift right until below 2^B, or left while the
;      largest stays below 2^B and the shifted epsilon below 2^30); xs_i = x_i >> s (<< -s)
;   2. t = sum xs_i^2 + eps_ss >> 2s (<< -2s)      (|xs_i| < 2^B <= 2^15: 16-bit squares)
;   3. t * 4^e in [2^28, 2^30); r = isqrt; inv = udiv(2^30, r)   (c64_mul.s)
;   4. u_i = rshr(xs_i * inv, 15 - e)               (inv <= 2^16: signed x unsigned multiply)
;   5. out_i = sat8(rshr(u_i * g_i, gk))            (|u_i| <= 2^15; c64_rq.s does the rest)
;   void c64_rmsnorm(int8_t *out, const int32_t *x, const int16_t *g, uint8_t gk, uint8_t n,
;                    uint32_t eps_ss)
        .include "zeropage.inc"
        .import popa, popax, popeax
        .import c64_mul_ptrs, k_mul16s, k_mul16su, k_udiv32, k_isqrt32
        .importzp m_a, m_b, m_r
        .import rq_post, rq_rshr, rq_k, rq_mode, c64_blk
        .export _c64_rmsnorm

gp2     = regbank+4             ; g_i's address (regbank+4/5 are free: cc65 -O keeps no register variables)
xsp     = tmp1                  ; xs_i in the matrix kernel's block buffer (free between matrices; 2n <= dim + 255 bytes)

        .segment "BSS"
eps:    .res 4
n:      .res 1
gk:     .res 1
xp:     .res 2
gp:     .res 2
mx:     .res 4
bb:     .res 1                  ; B
s:      .res 1                  ; the shift, signed
t:      .res 4
e:      .res 1                  ; signed
inv:    .res 3                  ; (2^15, 2^16]
sh:     .res 1
v:      .res 2                  ; xs_i

        .segment "CODE"
_c64_rmsnorm:
        sta     eps             ; eps_ss: A/X/sreg
        stx     eps+1
        lda     sreg
        sta     eps+2
        lda     sreg+1
        sta     eps+3
        jsr     popa
        sta     n
        jsr     popa
        sta     gk
        jsr     popax
        sta     gp
        stx     gp+1
        jsr     popax
        sta     xp
        stx     xp+1
        jsr     popax
        sta     sreg            ; the output pointer (rq_post writes through it)
        stx     sreg+1
        jsr     c64_mul_ptrs
        ; B = (31 - ceil(log2 n)) / 2
        ldx     #0
        lda     #1
:       cmp     n
        bcs     :+
        inx
        asl     a
        bcc     :-              ; (2^8 > n: at most 8)
:       stx     bb
        sec
        lda     #31
        sbc     bb
        lsr     a
        sta     bb
        ; 1. mx = max |x_i|
        lda     #0
        sta     mx
        sta     mx+1
        sta     mx+2
        sta     mx+3
        jsr     first
@max:   jsr     load            ; m_r = x_i
        bit     m_r+3
        bpl     :+
        jsr     neg
:       lda     m_r+3           ; m_r > mx ?
        cmp     mx+3
        bcc     @nmax
        bne     @take
        lda     m_r+2
        cmp     mx+2
        bcc     @nmax
        bne     @take
        lda     m_r+1
        cmp     mx+1
        bcc     @nmax
        bne     @take
        lda     m_r
        cmp     mx
        bcc     @nmax
        beq     @nmax
@take:  ldx     #3
:       lda     m_r,x
        sta     mx,x
        dex
        bpl     :-
@nmax:  jsr     next
        bne     @max
        ; s: right while mx >= 2^B; else, mx > 0, left while allowed
        lda     #0
        sta     s
        ldx     bb              ; mx >= 2^B: mx >> B != 0
        ldy     #3
:       lda     mx,y
        sta     m_r,y
        dey
        bpl     :-
        jsr     shr_x           ; m_r = mx >> B
        lda     m_r
        ora     m_r+1
        ora     m_r+2
        ora     m_r+3
        beq     @small
@right: inc     s               ; one more shift while (mx >> s) >= 2^B, i.e. (mx >> (s + B)) != 0
        lsr     m_r+3
        ror     m_r+2
        ror     m_r+1
        ror     m_r
        lda     m_r
        ora     m_r+1
        ora     m_r+2
        ora     m_r+3
        bne     @right
        jmp     @sum
@small: lda     mx              ; mx = 0: s = 0
        ora     mx+1
        bne     :+
        jmp     @sum
:
        ; k = 1 - s = 1, 2, ...: (mx << k) < 2^B, 2k < 31, eps <= 2^30 >> 2k
        lda     mx              ; m_r = mx << 1 (16 bits suffice: mx < 2^B <= 2^15, checked below)
        sta     m_r
        lda     mx+1
        sta     m_r+1
        lda     #0              ; t = 2^30 >> 2k, starting at k = 1: 2^28
        sta     t
        sta     t+1
        sta     t+2
        lda     #$10
        sta     t+3
        ldy     #1              ; k
@left:  asl     m_r             ; mx << k
        rol     m_r+1
        bcs     @sum
        ldx     bb              ; (mx << k) >> B != 0: stop
        lda     m_r
        sta     m_b
        lda     m_r+1
        sta     m_b+1
:       cpx     #0
        beq     :+
        lsr     m_b+1
        ror     m_b
        dex
        bne     :-
:       lda     m_b
        ora     m_b+1
        bne     @sum
        cpy     #16             ; 2k < 31
        bcs     @sum
        lda     eps+3           ; eps <= t ?
        cmp     t+3
        bcc     @ok
        bne     @sum
        lda     eps+2
        cmp     t+2
        bcc     @ok
        bne     @sum
        lda     eps+1
        cmp     t+1
        bcc     @ok
        bne     @sum
        lda     eps
        cmp     t
        beq     @ok
        bcs     @sum
@ok:    dec     s
        iny
        ldx     #2              ; t >>= 2
:       lsr     t+3
        ror     t+2
        ror     t+1
        ror     t
        dex
        bne     :-
        jmp     @left
        ; 2. t = sum xs^2 + the shifted epsilon
@sum:   lda     #0
        sta     t
        sta     t+1
        sta     t+2
        sta     t+3
        jsr     first
@sq:    jsr     getxs           ; m_a = xs_i, kept in the matrix kernel's block buffer
        ldy     #0
        lda     m_a
        sta     (xsp),y
        sta     m_b
        iny
        lda     m_a+1
        sta     (xsp),y
        sta     m_b+1
        jsr     k_mul16s
        clc
        lda     t
        adc     m_r
        sta     t
        lda     t+1
        adc     m_r+1
        sta     t+1
        lda     t+2
        adc     m_r+2
        sta     t+2
        lda     t+3
        adc     m_r+3
        sta     t+3
        jsr     next
        bne     @sq
        ldy     #3              ; m_r = eps >> 2s, or << -2s
:       lda     eps,y
        sta     m_r,y
        dey
        bpl     :-
        lda     s
        bmi     @epsl
        asl     a
        cmp     #32
        bcc     :+
        lda     #0              ; 2s >= 32: nothing
        sta     m_r
        sta     m_r+1
        sta     m_r+2
        sta     m_r+3
        beq     @addeps
:       tax
        jsr     shr_x
        jmp     @addeps
@epsl:  eor     #$FF            ; -2s left shifts
        clc
        adc     #1
        asl     a
        tax
:       asl     m_r
        rol     m_r+1
        rol     m_r+2
        rol     m_r+3
        dex
        bne     :-
@addeps:
        clc
        lda     t
        adc     m_r
        sta     t
        lda     t+1
        adc     m_r+1
        sta     t+1
        lda     t+2
        adc     m_r+2
        sta     t+2
        lda     t+3
        adc     m_r+3
        sta     t+3
        ora     t+2
        ora     t+1
        ora     t
        bne     @norm
        ldy     n               ; t = 0: all zero
        lda     #0
:       dey
        sta     (sreg),y
        bne     :-
        rts
        ; 3. e with t 4^e in [2^28, 2^30), r = isqrt, inv = 2^30 / r
@norm:  lda     #0
        sta     e
@down:  lda     t+3             ; t >= 2^30: >> 2, e--
        cmp     #$40
        bcc     @up
        ldx     #2
:       lsr     t+3
        ror     t+2
        ror     t+1
        ror     t
        dex
        bne     :-
        dec     e
        jmp     @down
@up:    lda     t+3             ; t < 2^28: << 2, e++
        cmp     #$10
        bcs     @root
        ldx     #2
:       asl     t
        rol     t+1
        rol     t+2
        rol     t+3
        dex
        bne     :-
        inc     e
        jmp     @up
@root:  ldy     #3
:       lda     t,y
        sta     m_r,y
        dey
        bpl     :-
        jsr     k_isqrt32         ; r in [2^14, 2^15)
        lda     m_r
        sta     ptr3
        lda     m_r+1
        sta     ptr3+1
        lda     #0
        sta     ptr4
        sta     ptr4+1
        sta     m_r
        sta     m_r+1
        sta     m_r+2
        lda     #$40
        sta     m_r+3
        jsr     k_udiv32          ; inv = 2^30 / r
        lda     m_r
        sta     inv
        lda     m_r+1
        sta     inv+1
        lda     m_r+2
        sta     inv+2
        jsr     c64_mul_ptrs    ; (k_udiv32 / k_isqrt32 used the pointers)
        sec                     ; sh = 15 - e
        lda     #15
        sbc     e
        sta     sh
        ; 4-5. per element
        lda     gk
        sta     rq_k
        lda     #0              ; RQ_I8
        sta     rq_mode
        jsr     first
@out:   ldy     #0              ; v = xs_i
        lda     (xsp),y
        sta     m_a
        iny
        lda     (xsp),y
        sta     m_a+1
        lda     sh
        cmp     #31
        bcc     :+
        lda     #0              ; sh >= 31: u = 0
        sta     m_r
        sta     m_r+1
        sta     m_r+2
        sta     m_r+3
        beq     @u
:       lda     inv+2
        beq     @mul
        lda     #0              ; inv = 2^16: v << 16
        sta     m_r
        sta     m_r+1
        lda     m_a
        sta     m_r+2
        lda     m_a+1
        sta     m_r+3
        jmp     @rs
@mul:   lda     inv
        sta     m_b
        lda     inv+1
        sta     m_b+1
        jsr     k_mul16su         ; v * inv
@rs:    ldx     sh
        jsr     rq_rshr         ; u = rshr(v inv, sh), |u| <= 2^15
@u:     ldy     #0              ; m_b = g_i
        lda     (gp2),y
        sta     m_b
        iny
        lda     (gp2),y
        sta     m_b+1
        lda     m_r+2           ; u = +2^15 (not an int16): (-2^15) * (-g)
        bne     @u16
        lda     m_r+1
        cmp     #$80
        bne     @u16
        lda     #0
        sta     m_a
        lda     #$80
        sta     m_a+1
        sec
        lda     #0
        sbc     m_b
        sta     m_b
        lda     #0
        sbc     m_b+1
        sta     m_b+1
        jmp     @gm
@u16:   lda     m_r
        sta     m_a
        lda     m_r+1
        sta     m_a+1
@gm:    jsr     k_mul16s
        jsr     rq_post         ; sat8(rshr(u g, gk)) to *out++
        jsr     next
        beq     :+
        jmp     @out
:       rts

; The element walk: cnt counts the elements left; the x operand of `load` and the g pointer move on.
first:  lda     xp
        sta     xl+1
        lda     xp+1
        sta     xl+2
        lda     gp
        sta     gp2
        lda     gp+1
        sta     gp2+1
        lda     #<c64_blk
        sta     xsp
        lda     #>c64_blk
        sta     xsp+1
        lda     n
        sta     cnt
        rts
next:   clc                     ; x += 4, g += 2, xs += 2; Z set when done
        lda     xsp
        adc     #2
        sta     xsp
        bcc     :+
        inc     xsp+1
:       clc
        lda     xl+1
        adc     #4
        sta     xl+1
        bcc     :+
        inc     xl+2
:       clc
        lda     gp2
        adc     #2
        sta     gp2
        bcc     :+
        inc     gp2+1
:       dec     cnt
        rts

; m_r = x_i (the element at the walk).
load:   ldy     #3
xl:     lda     $FFFF,y
        sta     m_r,y
        dey
        bpl     xl
        rts

; m_a = xs_i = x_i >> s (s >= 0) or x_i << -s, its low 16 bits (|xs| < 2^15).
getxs:  jsr     load
        lda     s
        bmi     @l
        tax
        jsr     asr_x
        jmp     @t
@l:     eor     #$FF
        tax
        inx
:       asl     m_r
        rol     m_r+1
        dex
        bne     :-
@t:     lda     m_r
        sta     m_a
        lda     m_r+1
        sta     m_a+1
        rts

; m_r = -m_r
neg:    sec
        ldx     #0
        ldy     #4
:       lda     #0
        sbc     m_r,x
        sta     m_r,x
        inx
        dey
        bne     :-
        rts

; m_r >>= X, logical (shr_x) or arithmetic (asr_x), X = 0..31.
shr_x:  lda     #0
        beq     shift
asr_x:  lda     #0
        bit     m_r+3
        bpl     shift
        lda     #$FF
shift:  sta     fill
@bytes: cpx     #8
        bcc     @bits
        lda     m_r+1
        sta     m_r
        lda     m_r+2
        sta     m_r+1
        lda     m_r+3
        sta     m_r+2
        lda     fill
        sta     m_r+3
        txa
        sbc     #8
        tax
        bne     @bytes
        rts
@bits:  txa
        beq     @done
:       lda     fill
        asl     a               ; C = the fill bit
        ror     m_r+3
        ror     m_r+2
        ror     m_r+1
        ror     m_r
        dex
        bne     :-
@done:  rts

        .segment "BSS"
fill:   .res 1
cnt:    .res 1
