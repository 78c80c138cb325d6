; c64_attn.s: the attention operations of the transformer contract on a 6502, bit-identical to
; infer/lm_ops.c and lm_kernel.c's attend_head:
;   c64_rope     lm_rope_q12 with the (cos, sin) of every frequency given (lm_cos_q15 /
;                lm_sin_q15 of pos * theta_i: the same for every head, so computed once a token):
;                a' = clamp(rshr(a c - b s, 15), 2047), b' = clamp(rshr(a s + b c, 15), 2047)
;   c64_scores   att[t] = sum_i q_i k_t,i        (int16 x int16 into int32, by sums of squares)
;   c64_softmax  lm_softmax_q15
;   c64_pv       o_i += p_t v_t,i                (Q15 probability x int8 value into int32)
; The products are c64_mul.s's 16 x 16 multiplies, the roundings and clamps c64_rq.s's.
;   void c64_rope(int16_t *out, const int16_t *v, uint8_t n, uint8_t hs, const int16_t *cs)
;   void c64_scores(int32_t *att, const int16_t *q, const int16_t *krec, uint8_t n, uint8_t hs)
;   uint32_t c64_sumsq(const int16_t *v, uint8_t n)
;   void c64_softmax(uint16_t *p, const int32_t *s, uint16_t n, const int32_t *cm_ck_dlim)
;   void c64_pv(int32_t *o, const uint16_t *p, const int8_t *v, uint8_t n, uint8_t hs)
        .include "zeropage.inc"
        .import popa, popax
        .import c64_mul_ptrs, k_mul16s, k_mul16u, k_mul16su, k_udiv32, q1lo, q1hi, q2lo, q2hi
        .importzp m_a, m_b, m_r
        .import rq_rshr, rq_out, rq_mode, _LM_EXP2_Q15, _c64_sqlo, _c64_sqhi
        .export _c64_rope, _c64_scores, _c64_softmax, _c64_pv, _c64_sample_weights, _c64_sumsq

        .segment "BSS"
a_n:    .res 2
a_hs:   .res 1
a_src:  .res 2                  ; v / q / s / p
a_src2: .res 2                  ; cs / k / v
cnt:    .res 2
j:      .res 1
acc:    .res 4
mx:     .res 4
cm:     .res 4
ck:     .res 1
dlim:   .res 4
sum:    .res 4
ns:     .res 1
pstep:  .res 1
qneg:   .res 1                  ; the sign of q_i
sgn:    .res 1                  ; the product's sign                  ; bytes of an output weight: 2 (softmax), 4 (the sampler's)
rr:     .res 3                  ; R <= 2^16
va:     .res 2
vb:     .res 2
vc:     .res 2
vs:     .res 2

        .segment "CODE"

; c64_rope --------------------------------------------------------------------------------------
_c64_rope:
        sta     a_src2          ; cs
        stx     a_src2+1
        jsr     popa
        sta     a_hs
        jsr     popa
        lsr     a
        sta     cnt             ; pairs
        jsr     popax
        sta     @ld_v+1          ; v
        stx     @ld_v+2
        jsr     popax
        sta     sreg            ; out (rq_out writes through it)
        stx     sreg+1
        jsr     c64_mul_ptrs
        lda     #1              ; RQ_I16: clamp to +-2047
        sta     rq_mode
@head:  lda     a_src2          ; a head: the frequencies from the first
        sta     @ld_cs+1
        lda     a_src2+1
        sta     @ld_cs+2
        lda     a_hs
        lsr     a
        sta     j
@pair:  ldy     #3              ; a, b; c, s
:
@ld_v:   lda     $FFFF,y
        sta     va,y
@ld_cs:  lda     $FFFF,y
        sta     vc,y
        dey
        bpl     :-
        jsr     mul_ac          ; a c
        jsr     save
        jsr     mul_bs          ; b s
        sec                     ; a c - b s
        lda     acc
        sbc     m_r
        sta     m_r
        lda     acc+1
        sbc     m_r+1
        sta     m_r+1
        lda     acc+2
        sbc     m_r+2
        sta     m_r+2
        lda     acc+3
        sbc     m_r+3
        sta     m_r+3
        ldx     #15
        jsr     rq_rshr
        jsr     rq_out
        jsr     mul_as          ; a s
        jsr     save
        jsr     mul_bc          ; b c
        jsr     add_acc         ; a s + b c
        ldx     #15
        jsr     rq_rshr
        jsr     rq_out
        clc                     ; next pair
        lda     @ld_v+1
        adc     #4
        sta     @ld_v+1
        bcc     :+
        inc     @ld_v+2
:       clc
        lda     @ld_cs+1
        adc     #4
        sta     @ld_cs+1
        bcc     :+
        inc     @ld_cs+2
:       dec     cnt
        beq     @done
        dec     j
        beq     :+
        jmp     @pair
:       jmp     @head
@done:  rts

.macro  MULV    X1, X2          ; m_r = X1 * X2 (int16 each, in BSS)
        lda     X1
        sta     m_a
        lda     X1+1
        sta     m_a+1
        lda     X2
        sta     m_b
        lda     X2+1
        sta     m_b+1
        jmp     k_mul16s
.endmacro
mul_ac: MULV    va, vc
mul_bs: MULV    vb, vs
mul_as: MULV    va, vs
mul_bc: MULV    vb, vc

save:   ldx     #3
:       lda     m_r,x
        sta     acc,x
        dex
        bpl     :-
        rts

add_acc:
        clc
        lda     acc
        adc     m_r
        sta     m_r
        lda     acc+1
        adc     m_r+1
        sta     m_r+1
        lda     acc+2
        adc     m_r+2
        sta     m_r+2
        lda     acc+3
        adc     m_r+3
        sta     m_r+3
        rts

; The quarter-square product c x of the byte c patched into T1/T2 (q1[c + x] - q1[255 - c + x]).
.macro  PROD    T1, T2, LO, HI  ; LO/HI = q1[c + x] - q2[255 - c + x]: c x by quarter squares
        sec
        .ident(.concat(T1, "l")) := * + 1
        lda     q1lo,x
        .ident(.concat(T2, "l")) := * + 1
        sbc     q2lo,x
        sta     LO
        .ident(.concat(T1, "h")) := * + 1
        lda     q1hi,x
        .ident(.concat(T2, "h")) := * + 1
        sbc     q2hi,x
        sta     HI
.endmacro

; c64_scores ------------------------------------------------------------------------------------
; att[t] = sum_i q_i k_t,i by sums of squares, like the matrix kernel:
;   2 q.k = sum_i (q_i + k_i)^2 - sum_i q_i^2 - sum_i k_i^2
; where sum_i k_i^2 is stored after each key in the KV cache (a key record: hs int16, then the
; int32 sum; c64_sumsq computes it when the key is written). |q|, |k| <= 2047, so a = |q + k| <=
; 4094 = 128 ah + al (ah <= 31, al <= 127) and
;   a^2 = al^2 + 256 (ah al + 64 ah^2)
; al^2 from the table of squares, ah al by quarter squares (q1[ah + al] - q1[|al - ah|]), 64 ah^2
; from a 32-entry table; both terms 16 bits. About 170 cycles an element.
;   void c64_scores(int32_t *att, const int16_t *q, const int16_t *krec, uint8_t n, uint8_t hs)
;   uint32_t c64_sumsq(const int16_t *v, uint8_t n)       sum v_i^2 (|v_i| <= 2047)

; m_r += a^2 for the signed 16-bit a in A (high byte) and tmp1 (low byte). Clobbers A, X, Y,
; tmp1, tmp2, tmp4.
.macro  SQACC
        .local  pos, ab, sum
        cmp     #$80
        bcc     pos
        tax                     ; a = -a
        lda     #0
        sec
        sbc     tmp1
        sta     tmp1
        txa
        eor     #$FF
        adc     #0
pos:    asl     tmp1            ; ah = |a| >> 7, al = |a| & 127
        rol     a
        lsr     tmp1
        sta     tmp2            ; ah
        clc
        adc     tmp1
        tax                     ; ah + al
        lda     tmp1
        sec
        sbc     tmp2
        bcs     ab
        eor     #$FF            ; |al - ah|
        adc     #1
ab:     tay
        sec                     ; ah al = q1[ah + al] - q1[|al - ah|]
        lda     q1lo,x
        sbc     q1lo,y
        sta     tmp4
        lda     q1hi,x
        sbc     q1hi,y
        tax
        ldy     tmp2            ; + 64 ah^2
        clc
        lda     tmp4
        adc     ah2lo,y
        sta     tmp4
        txa
        adc     ah2hi,y
        tax                     ; (tmp4, x): ah al + 64 ah^2 < 2^16
        ldy     tmp1
        clc                     ; m_r += al^2
        lda     m_r
        adc     _c64_sqlo+256,y
        sta     m_r
        lda     m_r+1
        adc     _c64_sqhi+256,y
        sta     m_r+1
        bcc     sum
        inc     m_r+2
        bne     sum
        inc     m_r+3
sum:    clc                     ; m_r += 256 (ah al + 64 ah^2)
        lda     m_r+1
        adc     tmp4
        sta     m_r+1
        txa
        adc     m_r+2
        sta     m_r+2
        bcc     :+
        inc     m_r+3
:
.endmacro

_c64_sumsq:
        sta     a_hs            ; n
        jsr     popax
        sta     sq_v+1
        stx     sq_v+2
        jsr     sumsq
        lda     m_r+2
        sta     sreg
        lda     m_r+3
        sta     sreg+1
        lda     m_r
        ldx     m_r+1
        rts

; m_r = sum of the squares of the a_hs int16 at sq_v's operand.
sumsq:  lda     #0
        sta     m_r
        sta     m_r+1
        sta     m_r+2
        sta     m_r+3
        sta     tmp3            ; byte offset
        lda     sq_v+1          ; the high bytes: the same operand, y + 1
        sta     sq_vh+1
        lda     sq_v+2
        sta     sq_vh+2
sq_el:  ldy     tmp3
sq_v:   lda     $FFFF,y
        sta     tmp1
        iny
sq_vh:  lda     $FFFF,y
        SQACC
        inc     tmp3
        inc     tmp3
        dec     a_hs
        beq     :+
        jmp     sq_el
:       rts

_c64_scores:
        sta     a_hs
        jsr     popa
        sta     cnt             ; positions
        jsr     popax
        sta     ptr1            ; key records
        stx     ptr1+1
        jsr     popax
        sta     sc_ql+1         ; q (low bytes at q + 2i, high at q + 2i + 1: the same operand, y + 1)
        stx     sc_ql+2
        sta     sc_qh+1
        stx     sc_qh+2
        sta     sq_v+1
        stx     sq_v+2
        jsr     popax
        sta     ptr2            ; att
        stx     ptr2+1
        lda     cnt
        bne     :+
        rts
:       lda     a_hs            ; Q2 = sum q_i^2
        pha
        jsr     sumsq
        pla
        sta     a_hs
        ldx     #3
:       lda     m_r,x
        sta     acc,x
        dex
        bpl     :-
        lda     a_hs            ; the record: 2 hs bytes of key, then its sum of squares
        asl     a
        sta     j
sc_pos: lda     #0              ; S = sum (q_i + k_i)^2
        sta     m_r
        sta     m_r+1
        sta     m_r+2
        sta     m_r+3
        tay
sc_el:  sty     tmp3
        lda     (ptr1),y
        clc
sc_ql:  adc     $FFFF,y
        sta     tmp1
        iny
        lda     (ptr1),y
sc_qh:  adc     $FFFF,y
        SQACC
        ldy     tmp3
        iny
        iny
        cpy     j
        beq     :+
        jmp     sc_el
:       sec                     ; att[t] = (S - Q2 - sum k^2) / 2, y at the sum
        lda     m_r
        sbc     acc
        sta     m_r
        lda     m_r+1
        sbc     acc+1
        sta     m_r+1
        lda     m_r+2
        sbc     acc+2
        sta     m_r+2
        lda     m_r+3
        sbc     acc+3
        sta     m_r+3
        sec
        lda     m_r
        sbc     (ptr1),y
        sta     m_r
        iny
        lda     m_r+1
        sbc     (ptr1),y
        sta     m_r+1
        iny
        lda     m_r+2
        sbc     (ptr1),y
        sta     m_r+2
        iny
        lda     m_r+3
        sbc     (ptr1),y
        cmp     #$80            ; (the halving: arithmetic)
        ror     a
        ldy     #3
        sta     (ptr2),y
        lda     m_r+2
        ror     a
        dey
        sta     (ptr2),y
        lda     m_r+1
        ror     a
        dey
        sta     (ptr2),y
        lda     m_r
        ror     a
        dey
        sta     (ptr2),y
        clc                     ; next record: += 2 hs + 4; att += 4
        lda     j
        adc     #4
        adc     ptr1
        sta     ptr1
        bcc     :+
        inc     ptr1+1
:       clc
        lda     ptr2
        adc     #4
        sta     ptr2
        bcc     :+
        inc     ptr2+1
:       dec     cnt
        beq     :+
        jmp     sc_pos
:       rts

; c64_pv ----------------------------------------------------------------------------------------
; o_i += p_t v_t,i, one position at a time: p_t = ph 256 + pl (<= 2^15) is patched into the
; quarter-square lookups, then each |v| (<= 128) gives pl |v| + 256 ph |v| from four pairs.
_c64_pv:
        sta     a_hs
        jsr     popa
        sta     cnt
        jsr     popax
        sta     ptr1            ; v
        stx     ptr1+1
        jsr     popax
        sta     a_src2          ; p
        stx     a_src2+1
        jsr     popax
        sta     a_src           ; o
        stx     a_src+1
        lda     cnt
        bne     pv_pos
        rts
pv_pos:   lda     a_src2          ; p_t
        sta     ptr3
        lda     a_src2+1
        sta     ptr3+1
        ldy     #0
        lda     (ptr3),y
        sta     ppl1l
        sta     ppl1h
        eor     #$FF
        sta     ppl2l
        sta     ppl2h
        iny
        lda     (ptr3),y
        sta     pph1l
        sta     pph1h
        eor     #$FF
        sta     pph2l
        sta     pph2h
        and     ppl2l           ; p_t = 0 (both complements $FF): nothing to add
        cmp     #$FF
        bne     :+
        jmp     pv_skip
:       lda     a_src           ; o_0
        sta     ptr2
        lda     a_src+1
        sta     ptr2+1
        lda     #0
        sta     j               ; i
pv_el:    ldy     j               ; |v|, its sign
        lda     (ptr1),y
        sta     sgn
        bpl     :+
        eor     #$FF
        clc
        adc     #1
:       tax
        PROD    "ppl1", "ppl2", m_r, m_r+1        ; pl |v|
        PROD    "pph1", "pph2", vc, vc+1          ; ph |v|
        clc
        lda     m_r+1
        adc     vc
        sta     m_r+1
        lda     vc+1
        adc     #0
        sta     m_r+2
        lda     #0
        sta     m_r+3
        bit     sgn
        bpl     :+
        sec                     ; negate
        lda     #0
        sbc     m_r
        sta     m_r
        lda     #0
        sbc     m_r+1
        sta     m_r+1
        lda     #0
        sbc     m_r+2
        sta     m_r+2
        lda     #$FF
        sta     m_r+3
:       ldy     #0              ; o_i += m_r
        clc
        lda     (ptr2),y
        adc     m_r
        sta     (ptr2),y
        iny
        lda     (ptr2),y
        adc     m_r+1
        sta     (ptr2),y
        iny
        lda     (ptr2),y
        adc     m_r+2
        sta     (ptr2),y
        iny
        lda     (ptr2),y
        adc     m_r+3
        sta     (ptr2),y
        clc
        lda     ptr2
        adc     #4
        sta     ptr2
        bcc     :+
        inc     ptr2+1
:       inc     j
        lda     j
        cmp     a_hs
        beq     pv_skip
        jmp     pv_el
pv_skip:  clc                     ; next position: p += 2, v += hs
        lda     a_src2
        adc     #2
        sta     a_src2
        bcc     :+
        inc     a_src2+1
:       clc
        lda     ptr1
        adc     a_hs
        sta     ptr1
        bcc     :+
        inc     ptr1+1
:       dec     cnt
        beq     :+
        jmp     pv_pos
:       rts

; c64_softmax -----------------------------------------------------------------------------------
_c64_softmax:
        jsr     params          ; {cm, ck, dlim} (lm_layer's int32s)
        jsr     popax
        sta     a_n
        stx     a_n+1
        jsr     popax
        sta     a_src           ; s
        stx     a_src+1
        jsr     popax
        sta     a_src2          ; p
        stx     a_src2+1
        lda     #2              ; p_t: uint16
        sta     pstep
        jsr     weights
        jmp     normal

; uint32_t c64_sample_weights(const lm_sampler *s, const int32_t *logits, int n, uint32_t *e):
; lm_sample_weights (lm_sampler begins with tm, tk, dlim: softmax's cm, ck, dlim), e uint32.
_c64_sample_weights:
        sta     a_src2          ; e
        stx     a_src2+1
        jsr     popax
        sta     a_n
        stx     a_n+1
        jsr     popax
        sta     a_src           ; logits
        stx     a_src+1
        jsr     popax
        jsr     params
        lda     #4
        sta     pstep
        jsr     weights
        lda     sum+2
        sta     sreg
        lda     sum+3
        sta     sreg+1
        lda     sum
        ldx     sum+1
        rts

; cm, ck, dlim from the three int32s at A/X.
params: sta     tmp1
        stx     tmp2
        ldy     #0
:       lda     (tmp1),y
        sta     cm,y
        iny
        cpy     #4
        bne     :-
        lda     (tmp1),y
        sta     ck
        ldy     #8
:       lda     (tmp1),y
        sta     dlim-8,y
        iny
        cpy     #12
        bne     :-
        rts

; The weights: mx = max s_t; e_t = 0 if s_t - mx < -dlim, else exp2(rshr((s_t - mx) cm, ck)),
; into p (pstep bytes each); sum = sum e_t.
weights:
        jsr     c64_mul_ptrs
        ; mx = max s_t
        jsr     walk
        jsr     ld_s
        ldy     #3
:       lda     m_r,y
        sta     mx,y
        dey
        bpl     :-
@max:   jsr     step
        beq     @e
        jsr     ld_s            ; m_r > mx (signed) ?
        sec
        lda     mx
        sbc     m_r
        lda     mx+1
        sbc     m_r+1
        lda     mx+2
        sbc     m_r+2
        lda     mx+3
        sbc     m_r+3
        bvc     :+
        eor     #$80
:       bpl     @max            ; mx - s >= 0
        ldy     #3
:       lda     m_r,y
        sta     mx,y
        dey
        bpl     :-
        jmp     @max
        ; e_t into p, S = sum e_t
@e:     lda     #0
        sta     sum
        sta     sum+1
        sta     sum+2
        sta     sum+3
        jsr     walk
@et:    jsr     ld_s            ; D = mx - s_t >= 0
        sec
        lda     mx
        sbc     m_r
        sta     m_r
        lda     mx+1
        sbc     m_r+1
        sta     m_r+1
        lda     mx+2
        sbc     m_r+2
        sta     m_r+2
        lda     mx+3
        sbc     m_r+3
        sta     m_r+3
        lda     dlim            ; D > dlim: e = 0
        cmp     m_r
        lda     dlim+1
        sbc     m_r+1
        lda     dlim+2
        sbc     m_r+2
        lda     dlim+3
        sbc     m_r+3
        bcs     :+
        jmp     @zero
:       jsr     dcm             ; m_r = -(D cm) = d cm
        ldx     ck
        jsr     rq_rshr         ; u = rshr(d cm, ck) <= 0
        sec                     ; a = -u
        lda     #0
        sbc     m_r
        sta     m_r
        lda     #0
        sbc     m_r+1
        sta     m_r+1
        lda     #0
        sbc     m_r+2
        bne     @zero
        lda     #0
        sbc     m_r+3
        bne     @zero
        lda     m_r+1           ; a >> 8 >= 16: 0
        cmp     #16
        bcs     @zero
        tax                     ; e = EXP2[a & 255] >> (a >> 8)
        lda     m_r
        asl     a
        tay
        bcs     @hi
        lda     _LM_EXP2_Q15,y
        sta     m_a
        lda     _LM_EXP2_Q15+1,y
        jmp     @sh
@hi:    lda     _LM_EXP2_Q15+256,y
        sta     m_a
        lda     _LM_EXP2_Q15+257,y
@sh:    sta     m_a+1
        cpx     #0
        beq     @store
:       lsr     m_a+1
        ror     m_a
        dex
        bne     :-
        jmp     @store
@zero:  lda     #0
        sta     m_a
        sta     m_a+1
@store: jsr     st_p            ; p_t = e
        clc                     ; S += e
        lda     sum
        adc     m_a
        sta     sum
        lda     sum+1
        adc     m_a+1
        sta     sum+1
        bcc     :+
        inc     sum+2
        bne     :+
        inc     sum+3
:       jsr     step
        beq     :+
        jmp     @et
:       rts

        ; ns: S >> ns < 2^16; R = 2^31 / (S >> ns)
normal: ldy     #3
:       lda     sum,y
        sta     ptr3,y
        dey
        bpl     :-
        lda     #0
        sta     ns
@ns:    lda     ptr4
        ora     ptr4+1
        beq     :+
        lsr     ptr4+1
        ror     ptr4
        ror     ptr3+1
        ror     ptr3
        inc     ns
        bne     @ns
:       lda     #0
        sta     m_r
        sta     m_r+1
        sta     m_r+2
        lda     #$80
        sta     m_r+3
        jsr     k_udiv32
        lda     m_r
        sta     rr
        lda     m_r+1
        sta     rr+1
        lda     m_r+2
        sta     rr+2
        jsr     c64_mul_ptrs
        ; p_t = (e_t R + 2^(15+ns)) >> (16 + ns)
        jsr     walk
@pt:    jsr     ld_p            ; m_a = e_t
        lda     m_a             ; e_t = 0: p_t = 0 (st_p stores m_a as it is)
        ora     m_a+1
        beq     @st
        lda     rr+2
        beq     @mul
        lda     #0              ; R = 2^16
        sta     m_r
        sta     m_r+1
        lda     m_a
        sta     m_r+2
        lda     m_a+1
        sta     m_r+3
        jmp     @round
@mul:   lda     rr
        sta     m_b
        lda     rr+1
        sta     m_b+1
        jsr     k_mul16u
@round: lda     ns              ; bit 15 + ns: byte 1 + (ns + 7) >> 3 ...
        clc
        adc     #15
        pha
        and     #7
        tay
        pla
        lsr     a
        lsr     a
        lsr     a
        tax
        lda     bitm,y
        clc
        adc     m_r,x
        sta     m_r,x
        bcc     @take
:       inx
        cpx     #4
        beq     @take
        inc     m_r,x
        beq     :-
@take:  lda     m_r+2           ; >> 16, then >> ns
        sta     m_a
        lda     m_r+3
        sta     m_a+1
        ldx     ns
        beq     @st
:       lsr     m_a+1
        ror     m_a
        dex
        bne     :-
@st:    jsr     st_p
        jsr     step
        bne     @pt
        rts

; m_r = -(D * cm) for D = m_r (0 <= D <= dlim, D cm < 2^31): the low 32 bits of the product.
dcm:    ldy     #3
:       lda     m_r,y
        sta     acc,y
        dey
        bpl     :-
        lda     acc             ; D_lo cm_lo
        sta     m_a
        lda     acc+1
        sta     m_a+1
        lda     cm
        sta     m_b
        lda     cm+1
        sta     m_b+1
        jsr     k_mul16u
        ldy     #3
:       lda     m_r,y
        sta     vc,y            ; (vc, vs: 4 bytes of scratch here)
        dey
        bpl     :-
        lda     cm+2            ; + D_lo cm_hi << 16
        ora     cm+3
        beq     :+
        lda     cm+2
        sta     m_b
        lda     cm+3
        sta     m_b+1
        jsr     k_mul16u
        jsr     add_hi
:       lda     acc+2           ; + D_hi cm_lo << 16
        ora     acc+3
        beq     :+
        lda     acc+2
        sta     m_a
        lda     acc+3
        sta     m_a+1
        lda     cm
        sta     m_b
        lda     cm+1
        sta     m_b+1
        jsr     k_mul16u
        jsr     add_hi
:       sec                     ; negate
        ldx     #0
        ldy     #4
:       lda     #0
        sbc     vc,x
        sta     m_r,x
        inx
        dey
        bne     :-
        rts
add_hi: clc
        lda     vc+2
        adc     m_r
        sta     vc+2
        lda     vc+3
        adc     m_r+1
        sta     vc+3
        rts

; The walk over positions: cnt counts down from n, the s operand moves by 4, the p operand by 2.
walk:   lda     a_src
        sta     lso+1
        lda     a_src+1
        sta     lso+2
        lda     a_src2
        sta     ldp+1
        sta     stp+1
        lda     a_src2+1
        sta     ldp+2
        sta     stp+2
        lda     a_n
        sta     cnt
        lda     a_n+1
        sta     cnt+1
        rts
step:   clc                     ; Z set after the last position
        lda     lso+1
        adc     #4
        sta     lso+1
        bcc     :+
        inc     lso+2
:       clc
        lda     ldp+1
        adc     pstep
        sta     ldp+1
        sta     stp+1
        bcc     :+
        inc     ldp+2
        inc     stp+2
:       lda     cnt
        bne     :+
        dec     cnt+1
:       dec     cnt
        lda     cnt
        ora     cnt+1
        rts
ld_s:   ldy     #3              ; m_r = s_t
lso:    lda     $FFFF,y
        sta     m_r,y
        dey
        bpl     lso
        rts
ld_p:   ldy     #1              ; m_a = p_t
ldp:     lda     $FFFF,y
        sta     m_a,y
        dey
        bpl     ldp
        rts
st_p:   ldy     pstep           ; p_t = m_a (zero-extended to pstep bytes)
        dey
        lda     #0
        sta     m_a+2
        sta     m_a+3
:       lda     m_a,y
stp:    sta     $FFFF,y
        dey
        bpl     :-
        rts

        .segment "RODATA"
ah2lo:  .repeat 32, H           ; 64 ah^2, ah = 0..31
        .byte   <(64 * H * H)
        .endrep
ah2hi:  .repeat 32, H
        .byte   >(64 * H * H)
        .endrep
bitm:   .byte   1, 2, 4, 8, 16, 32, 64, 128
