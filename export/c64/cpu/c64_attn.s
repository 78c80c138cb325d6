; c64_attn.s: the attention of the transformer contract on a 6502, bit-identical to infer/lm_ops.c
; and lm_kernel.c's attend_head (docs/lm-contract.md), for heads of C64_HS values (even, 2..16,
; an assembly-time constant):
;   c64_rope     lm_rope_q12 with the (cos, sin) of every frequency given (lm_cos_q15 /
;                lm_sin_q15 of pos * theta_i: the same for every head, so computed once a token):
;                a' = clamp(rshr(a c - b s, 15), 2047), b' = clamp(rshr(a s + b c, 15), 2047)
;   c64_kvrec    a position's key record (below) and its values in sign-magnitude, for the KV cache
;   c64_scores   att[t] = sum_i q_i k_t,i over n key records read from the KV cache, and their max
;   c64_softmax  lm_softmax_q15 in place (c64_att_layer: the layer's cm, ck, dlim first)
;   c64_exp2s    its exponentials, not normalised (lm_sample_weights with the sampler's constants)
;   c64_pv       o_i = sum_t p_t v_t,i over n value records read from the KV cache
; The KV cache comes through the weight source's stream 3 (c64_ws.h: kv_k_begin / kv_v_begin put
; it at a head's first record), up to 255 bytes of records at a time into the chunk buffer.
;
; Scores by tables of the query. A key's values are |k| <= 2047, so w = k + 2048 is 12 bits,
; three nibbles n0 + 16 n1 + 256 n2, and
;   q.k = sum_i q_i (w_i - 136) - 2048 sum_i q_i + 136 sum_i q_i
;       = sum_i [T_i(n0) + 16 T_i(n1) + 256 T_i(n2)] + C,   T_i(n) = 16384 + q_i (n - 8)
;   C   = 136 sum_i q_i - 16384 * 273 * hs
; (w - 136 - 2048 = k - 2184 + ... : 8 * 273 = 2184 = the digits' offset). T_i holds 16 entries of
; 16 bits (8..32760, so sums of 8 need no sign), built once per head; a key record holds, for every
; value i and nibble L, the index 16 i + n_L into the tables, so a score costs 3 hs table reads
; and 16-bit adds (about 90 cycles a value) instead of hs 12 x 12-bit products.
;
; Softmax: e_t = 0 when s_t <= max - Dz (Dz: the smallest d that gives 0, by dlim or by the
; exponent reaching 16), else a = rshr(-(mx - s_t) cm, ck) negated = floor((D cm + c) / 2^ck)
; with D = mx - s_t, c = 2^(ck-1) - 1; e_t = EXP2[a & 255] >> (a >> 8). D cm comes from a table of
; the multiples of cm (768 bytes, built once per layer) when cm < 2^16 and Dz <= 2^24 (three
; reads), else from three 16 x 16 products. p_t = (e_t R + 2^(15+ns)) >> (16+ns) by quarter
; squares with R's bytes fixed.
;
; p*v: p_t = 256 ph + pl (<= 2^15) fixed for a position's hs values: pl |v| (and ph |v| when
; ph > 0) by quarter squares with p's bytes in the pointers, added or subtracted by v's sign into
; 24-bit sums (|o| <= 127 (32769 + n / 2) < 2^23 for lm_softmax_q15's p). Positions with p_t = 0
; cost a test.
;   void c64_rope(int16_t *out, const int16_t *v, uint8_t n, uint8_t hs, const int16_t *cs)
;   void c64_kvrec(uint8_t *krec, const int16_t *k, int8_t *v)
;   void c64_scores(int32_t *att, const int16_t *q, uint16_t n)     (c64_att_max: their max)
;   void c64_att_layer(const int32_t *cm_ck_dlim)
;   void c64_softmax(int32_t *s, uint16_t n)        (max c64_att_max; p_t in the low half of s[t])
;   uint32_t c64_exp2s(uint32_t *e, const int32_t *s, uint16_t n)
;   void c64_pv(int32_t *o, const int32_t *p, uint16_t n)           (p_t the low half of p[t])
        .include "zeropage.inc"
        .import popa, popax
        .import c64_mul_ptrs, k_mul16s, k_mul16u, k_udiv32, q1lo, q1hi, q2lo, q2hi
        .importzp m_a, m_b, m_r
        .import rq_rshr, rq_out, rq_mode, bitmask, _LM_EXP2_Q15
        .import ws_nx, ws_nx_buf, ws_nx_n, _c64_arena
        .export _c64_rope, _c64_kvrec, _c64_scores, _c64_att_layer, _c64_softmax, _c64_pv
        .export _c64_exp2s, _c64_att_max

HS      = C64_HS
.if HS < 2 || HS > 16 || (HS .mod 2) <> 0
        .error "c64_attn.s: the head size must be even, 2..16"
.endif
KREC    = 3 * HS                ; a key record
KV      = 3                     ; the weight source's stream of the KV cache
; RAM: the kernels' workspace at the start of the forward's arena (c64_forward.h: kw, C64_KWB
; bytes, shared with c64_matvec.s's block buffer) holds the query's tables and a chunk of records;
; the multiples of cm follow it (u.mtab: 768 bytes)
TL      = _c64_arena            ; T_i(n) = TL/TH[16 i + n]
TH      = _c64_arena + 16 * HS
CHUNK   = _c64_arena + 32 * HS
.if C64_KWB - 32 * HS > 255
CHB     = 255
.else
CHB     = C64_KWB - 32 * HS
.endif
.assert CHB >= KREC, error, "c64_attn.s: C64_KWB too small"
KCH     = CHB / KREC            ; key records per chunk
VCH     = CHB / HS              ; value records per chunk
M0      = _c64_arena + C64_KWB  ; M[x] = cm x: three planes
M1      = M0 + 256
M2      = M0 + 512

        .segment "BSS"
a_hs:   .res 1                  ; (rope)
a_src2: .res 2
cnt:    .res 2                  ; (rope: pairs) positions left
j:      .res 1
acc:    .res 4
va:     .res 2
vb:     .res 2
vc:     .res 2
vs:     .res 2
cin:    .res 1                  ; records in this chunk
ap:     .res 2                  ; scores / probabilities: the next one
po:     .res 2
vp:     .res 2                  ; the next value record
cc:     .res 4                  ; the scores' C
qsum:   .res 4
o0:     .res HS                 ; p*v sums, 24 bits
o1:     .res HS
o2:     .res HS
cm:     .res 4                  ; softmax: the layer's constants
ck:     .res 1
dlim:   .res 4
dz:     .res 4                  ; the smallest D giving 0
cadd:   .res 4                  ; c = 2^(ck-1) - 1
shb:    .res 1                  ; a = Y >> ck: byte ck >> 3,
shr:    .res 1                  ; then right shifts (ck & 7 <= 4)
shl:    .res 1                  ; or left shifts (8 - (ck & 7))
fast:   .res 1                  ; D cm by the table
_c64_att_max:                   ; the scores' max (c64_scores), the softmax's
mx:     .res 4
mxt:    .res 1                  ; (scores: mx's top byte ^ $80)
lim:    .res 4                  ; (fast) e = 0 when s < lim = mx - Dz + 1
sum:    .res 4
a_n:    .res 2
ps_s:   .res 2                  ; the scores
pe_s:   .res 2                  ; the weights' slots
endy:   .res 1                  ; (walk)
endh:   .res 1
wloop:  .res 2                  ; the e-pass: its fast or slow step
r16:    .res 1                  ; R = 2^16
ns:     .res 1
rb:     .res 1                  ; the rounding's byte and bit
rv:     .res 1
nsh:    .res 1                  ; p = (Z >> 16) >> ns: right shifts, or
nsl:    .res 1                  ; left shifts of Z >> 16 (and p = Z >> 24),
nsz:    .res 1                  ; or z3 >> (ns - 8)
z4:     .res 1
tt:     .res 1
dd:     .res 4                  ; (dcm)
xx:     .res 4

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

add_acc:clc
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

; c64_kvrec -------------------------------------------------------------------------------------
; krec[L hs + i] = 16 i + nibble L of k_i + 2048; v_i -> |v_i| + 128 (v_i < 0), |v_i| <= 127.
_c64_kvrec:
        sta     ptr3            ; v
        stx     ptr3+1
        jsr     popax
        sta     ptr2            ; k
        stx     ptr2+1
        jsr     popax
        sta     ptr1            ; krec
        stx     ptr1+1
        ldy     #HS-1
kv_v:   lda     (ptr3),y
        bpl     :+
        eor     #$FF
        clc
        adc     #$81            ; -v + 128
:       sta     (ptr3),y
        dey
        bpl     kv_v
        ldx     #0              ; i
kv_k:   txa
        asl     a
        tay
        lda     (ptr2),y
        sta     tmp1            ; w's low byte (k's)
        iny
        lda     (ptr2),y
        clc
        adc     #8
        sta     tmp2            ; w >> 8
        txa
        asl     a
        asl     a
        asl     a
        asl     a
        sta     tmp3            ; 16 i
        txa
        tay
        lda     tmp1
        and     #15
        ora     tmp3
        sta     (ptr1),y
        tya
        clc
        adc     #HS
        tay
        lda     tmp1
        lsr     a
        lsr     a
        lsr     a
        lsr     a
        ora     tmp3
        sta     (ptr1),y
        tya
        clc
        adc     #HS
        tay
        lda     tmp2
        ora     tmp3
        sta     (ptr1),y
        inx
        cpx     #HS
        bne     kv_k
        rts

; Next chunk of records of the KV stream: cin = min(cnt, A) records of X bytes each into the chunk
; buffer, cnt -= cin. Z set when none were left.
next_chunk:
        stx     tmp1
        sta     tmp2
        lda     cnt+1
        bne     nc_full
        lda     cnt
        bne     :+
        rts
:       cmp     tmp2
        bcc     nc_m
nc_full:lda     tmp2
nc_m:   sta     cin
        tax
        lda     #0
        clc
:       adc     tmp1
        dex
        bne     :-
        sta     ws_nx_n
        stx     ws_nx_n+1
        lda     #<CHUNK
        sta     ws_nx_buf
        sta     vp
        lda     #>CHUNK
        sta     ws_nx_buf+1
        sta     vp+1
        lda     #KV
        jsr     ws_nx
        sec
        lda     cnt
        sbc     cin
        sta     cnt
        bcs     :+
        dec     cnt+1
:       lda     #1              ; (Z clear)
        rts

; c64_scores ------------------------------------------------------------------------------------
b0      = ptr1                  ; the sum of the nibbles 0 (x 1) and 2 (x 256), and C
b1      = ptr1+1
b2      = ptr2
b3      = ptr2+1
f0      = ptr3                  ; the sum of the nibbles 1 (x 16)
f1      = ptr3+1
f2      = ptr4
xend    = tmp1

_c64_scores:
        sta     cnt
        stx     cnt+1
        jsr     popax
        sta     ptr1            ; q
        stx     ptr1+1
        jsr     popax
        sta     ap              ; att
        stx     ap+1
        lda     #0              ; mx = -2^31
        sta     mx
        sta     mx+1
        sta     mx+2
        sta     mxt
        lda     #$80
        sta     mx+3
        ; the tables, and qsum = sum q_i
        lda     #0
        sta     qsum
        sta     qsum+1
        sta     qsum+2
        sta     qsum+3
        tax                     ; 16 i + n
        tay                     ; 2 i
sc_ti:  lda     (ptr1),y
        sta     tmp1            ; q_i
        iny
        lda     (ptr1),y
        sta     tmp2
        iny
        sty     tmp4
        ldy     #0              ; its sign
        asl     a
        bcc     :+
        dey
:       sty     tmp3
        clc
        lda     qsum
        adc     tmp1
        sta     qsum
        lda     qsum+1
        adc     tmp2
        sta     qsum+1
        lda     qsum+2
        adc     tmp3
        sta     qsum+2
        lda     qsum+3
        adc     tmp3
        sta     qsum+3
        lda     tmp1            ; v = 16384 - 8 q_i
        asl     a
        sta     ptr2
        lda     tmp2
        rol     a
        asl     ptr2
        rol     a
        asl     ptr2
        rol     a
        sta     ptr2+1
        sec
        lda     #0
        sbc     ptr2
        sta     ptr2
        lda     #$40
        sbc     ptr2+1
        sta     ptr2+1
        ldy     #16
sc_tn:  lda     ptr2
        sta     TL,x
        clc
        adc     tmp1
        sta     ptr2
        lda     ptr2+1
        sta     TH,x
        adc     tmp2
        sta     ptr2+1
        inx
        dey
        bne     sc_tn
        ldy     tmp4
        cpy     #2 * HS
        bne     sc_ti
        ; cc = 136 qsum - 16384 * 273 * hs = (qsum << 3) + (qsum << 7) - K
        ldx     #3
:       lda     qsum,x
        sta     m_r,x
        dex
        bpl     :-
        ldy     #3
        jsr     shl_mr
        ldx     #3
:       lda     m_r,x
        sta     cc,x
        dex
        bpl     :-
        ldy     #4
        jsr     shl_mr
        clc
        ldx     #0
        ldy     #4
:       lda     cc,x
        adc     m_r,x
        sta     cc,x
        inx
        dey
        bne     :-
        sec
        lda     cc
        sbc     #<(16384 * 273 * HS)
        sta     cc
        lda     cc+1
        sbc     #>(16384 * 273 * HS)
        sta     cc+1
        lda     cc+2
        sbc     #^(16384 * 273 * HS)
        sta     cc+2
        lda     cc+3
        sbc     #((16384 * 273 * HS) >> 24)
        sta     cc+3
sc_chunk:
        lda     #KCH
        ldx     #KREC
        jsr     next_chunk
        bne     :+
        rts
:       lda     ap              ; (the weight source may use the zero page)
        sta     sreg
        lda     ap+1
        sta     sreg+1
        ldx     #0
sc_pos: lda     cc              ; B = C, F = 0
        sta     b0
        lda     cc+1
        sta     b1
        lda     cc+2
        sta     b2
        lda     cc+3
        sta     b3
        lda     #0
        sta     f0
        sta     f1
        sta     f2
        txa
        clc
        adc     #HS
        sta     xend
        clc
sc_el:  ; value i of the record at x - i
        ldy     CHUNK,x         ; B += T(n0)
        lda     b0
        adc     TL,y
        sta     b0
        lda     b1
        adc     TH,y
        sta     b1
        bcc     sc_l2
        inc     b2
        bne     :+
        inc     b3
:       clc
sc_l2:
        ldy     CHUNK+2*HS,x         ; B += 256 T(n2)
        lda     b1
        adc     TL,y
        sta     b1
        lda     b2
        adc     TH,y
        sta     b2
        bcc     sc_l1
        inc     b3
        clc
sc_l1:
        ldy     CHUNK+HS,x         ; F += T(n1)
        lda     f0
        adc     TL,y
        sta     f0
        lda     f1
        adc     TH,y
        sta     f1
        bcc     sc_nx
        inc     f2
        clc
sc_nx:  inx
        cpx     xend
        bne     sc_el
        txa                     ; the next record (C = 1 from the cpx)
        adc     #2 * HS - 1
        tax
        lda     f0              ; s = B + 16 F
        asl     a
        rol     f1
        rol     f2
        asl     a
        rol     f1
        rol     f2
        asl     a
        rol     f1
        rol     f2
        asl     a
        rol     f1
        rol     f2
        ldy     #0
        clc
        adc     b0
        sta     (sreg),y
        sta     b0
        iny
        lda     f1
        adc     b1
        sta     (sreg),y
        sta     b1
        iny
        lda     f2
        adc     b2
        sta     (sreg),y
        sta     b2
        iny
        lda     b3
        adc     #0
        sta     (sreg),y
        eor     #$80            ; s > mx (signed)?
        cmp     mxt
        bcc     sc_nm
        bne     :+
        lda     b2
        cmp     mx+2
        bcc     sc_nm
        bne     :+
        lda     b1
        cmp     mx+1
        bcc     sc_nm
        bne     :+
        lda     b0
        cmp     mx
        bcc     sc_nm
:       lda     b0
        sta     mx
        lda     b1
        sta     mx+1
        lda     b2
        sta     mx+2
        lda     (sreg),y
        sta     mx+3
        eor     #$80
        sta     mxt
sc_nm:  clc
        lda     sreg
        adc     #4
        sta     sreg
        bcc     :+
        inc     sreg+1
:       dec     cin
        beq     :+
        jmp     sc_pos
:       lda     sreg
        sta     ap
        lda     sreg+1
        sta     ap+1
        jmp     sc_chunk

; m_r <<= Y
shl_mr: asl     m_r
        rol     m_r+1
        rol     m_r+2
        rol     m_r+3
        dey
        bne     shl_mr
        rts

; c64_pv ----------------------------------------------------------------------------------------
ph1     = regbank               ; ph's pointer set (pl's: ptr1..ptr4)
ph2     = regbank+2
ph3     = regbank+4
ph4     = sreg
pp      = tmp1                  ; p_t

_c64_pv:
        sta     cnt
        stx     cnt+1
        jsr     popax
        sta     ap              ; p
        stx     ap+1
        jsr     popax
        sta     po              ; o
        stx     po+1
        ldx     #HS-1
        lda     #0
:       sta     o0,x
        sta     o1,x
        sta     o2,x
        dex
        bpl     :-
pv_chunk:
        lda     #VCH
        ldx     #HS
        jsr     next_chunk
        bne     :+
        jmp     pv_out
:       lda     #>q1lo          ; (the weight source may use the zero page)
        sta     ptr1+1
        sta     ph1+1
        lda     #>q1hi
        sta     ptr2+1
        sta     ph2+1
        lda     #>q2lo
        sta     ptr3+1
        sta     ph3+1
        lda     #>q2hi
        sta     ptr4+1
        sta     ph4+1
        lda     ap
        sta     pp
        lda     ap+1
        sta     pp+1
pv_pos: ldy     #1
        lda     (pp),y          ; ph
        bne     pv_ph
        dey
        lda     (pp),y          ; pl
        bne     :+
        jmp     pv_next         ; p_t = 0
:       sta     ptr1            ; pl |v| = q1[pl + |v|] - q2[255 - pl + |v|]
        sta     ptr2
        eor     #$FF
        sta     ptr3
        sta     ptr4
        lda     vp
        sta     vr0+1
        lda     vp+1
        sta     vr0+2
        ldx     #0
pv_e0:
vr0:    lda     $FFFF,x
        bmi     pv_n0
        tay
        sec
        lda     (ptr1),y
        sbc     (ptr3),y
        sta     tmp3
        lda     (ptr2),y
        sbc     (ptr4),y
        tay
        clc
        lda     o0,x
        adc     tmp3
        sta     o0,x
        tya
        adc     o1,x
        sta     o1,x
        bcc     pv_c0
        inc     o2,x
pv_c0:  inx
        cpx     #HS
        bne     pv_e0
        jmp     pv_next
pv_n0:  and     #$7F
        tay
        sec
        lda     (ptr1),y
        sbc     (ptr3),y
        sta     tmp3
        lda     (ptr2),y
        sbc     (ptr4),y
        sta     tmp4
        sec
        lda     o0,x
        sbc     tmp3
        sta     o0,x
        lda     o1,x
        sbc     tmp4
        sta     o1,x
        bcs     pv_c0
        dec     o2,x
        bcc     pv_c0             ; (always)
pv_ph:  sta     ph1             ; ph |v| too
        sta     ph2
        eor     #$FF
        sta     ph3
        sta     ph4
        dey
        lda     (pp),y
        sta     ptr1
        sta     ptr2
        eor     #$FF
        sta     ptr3
        sta     ptr4
        lda     vp
        sta     vr1+1
        lda     vp+1
        sta     vr1+2
        ldx     #0
pv_e1:
vr1:    lda     $FFFF,x
        bmi     pv_n1
        tay
        jsr     prod
        clc
        lda     o0,x
        adc     tmp3
        sta     o0,x
        lda     o1,x
        adc     tmp4
        sta     o1,x
        lda     o2,x
        adc     m_r
        sta     o2,x
        jmp     pv_c1
pv_n1:  and     #$7F
        tay
        jsr     prod
        sec
        lda     o0,x
        sbc     tmp3
        sta     o0,x
        lda     o1,x
        sbc     tmp4
        sta     o1,x
        lda     o2,x
        sbc     m_r
        sta     o2,x
pv_c1:  inx
        cpx     #HS
        bne     pv_e1
pv_next:clc
        lda     vp
        adc     #HS
        sta     vp
        bcc     :+
        inc     vp+1
:       clc
        lda     pp
        adc     #4
        sta     pp
        bcc     :+
        inc     pp+1
:       dec     cin
        beq     :+
        jmp     pv_pos
:       lda     pp
        sta     ap
        lda     pp+1
        sta     ap+1
        jmp     pv_chunk
pv_out: lda     po              ; o_i: the sums sign-extended
        sta     ptr1
        lda     po+1
        sta     ptr1+1
        ldx     #0
        ldy     #0
:       lda     o0,x
        sta     (ptr1),y
        iny
        lda     o1,x
        sta     (ptr1),y
        iny
        lda     o2,x
        sta     (ptr1),y
        iny
        and     #$80
        beq     :+
        lda     #$FF
:       sta     (ptr1),y
        iny
        inx
        cpx     #HS
        bne     :--
        rts

; (tmp3, tmp4, m_r) = p |v| for y = |v|: pl |v| + 256 ph |v|
prod:   sec
        lda     (ptr1),y
        sbc     (ptr3),y
        sta     tmp3
        lda     (ptr2),y
        sbc     (ptr4),y
        sta     tmp4
        sec
        lda     (ph1),y
        sbc     (ph3),y
        sta     m_r
        lda     (ph2),y
        sbc     (ph4),y
        tay
        clc
        lda     tmp4
        adc     m_r
        sta     tmp4
        tya
        adc     #0
        sta     m_r
        rts

; c64_softmax -----------------------------------------------------------------------------------
; void c64_softmax(int32_t *s, uint16_t n): lm_softmax_q15 in place, p_t in the low half of s[t]
; (the max in c64_att_max, the constants of c64_att_layer)
_c64_softmax:
        sta     a_n
        stx     a_n+1
        jsr     popax
        sta     ps_s
        stx     ps_s+1
        sta     pe_s
        stx     pe_s+1
        jsr     weights
        jmp     normal

; uint32_t c64_exp2s(uint32_t *e, const int32_t *s, uint16_t n): the softmax's e_t (not
; normalised) into e, their sum (lm_sample_weights with the sampler's tm, tk, dlim: c64_att_layer)
_c64_exp2s:
        sta     a_n
        stx     a_n+1
        jsr     popax
        sta     ps_s
        stx     ps_s+1
        jsr     popax
        sta     pe_s
        stx     pe_s+1
        jsr     weights
        lda     sum+2
        sta     sreg
        lda     sum+3
        sta     sreg+1
        lda     sum
        ldx     sum+1
        rts

; void c64_att_layer(const int32_t *cm_ck_dlim): the constants of the softmaxes that follow (cm, ck,
; dlim: the layer's, or lm_sampler's tm, tk, dlim): Dz, c, the shifts of a; the table when it serves.
_c64_att_layer:
        sta     tmp1
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
        ; a = (Y >> ck): byte ck >> 3, then r = ck & 7 right (r <= 4) or 8 - r left
        lda     ck
        lsr     a
        lsr     a
        lsr     a
        sta     shb
        lda     ck
        and     #7
        ldx     #0
        cmp     #5
        bcc     :+
        eor     #7              ; 8 - r = (r ^ 7) + 1
        tax
        inx
        lda     #0
:       sta     shr
        stx     shl
        ; h = 2^(ck-1) (ck > 0) or 1 (ck = 0); c = h - 1 (ck > 0) or 0
        ldx     ck
        beq     :+
        dex
:       jsr     pow2
        ldx     #3
:       lda     m_r,x
        sta     xx,x            ; h
        dex
        bpl     :-
        clc                     ; (c = h - 1: 0 for ck = 0 too)
        ldx     #0
        ldy     #4
:       lda     m_r,x
        sbc     #0
        sta     cadd,x
        inx
        dey
        bne     :-
        ; Dz = dlim + 1, and when ck <= 19 at most floor((2^(ck+12) - h) / cm) + 1 (a reaches 4096)
        ldx     #3
:       lda     dlim,x
        sta     dz,x
        dex
        bpl     :-
        jsr     inc_dz
        lda     ck
        cmp     #20
        bcs     su_fast
        clc
        adc     #12
        tax
        jsr     pow2
        sec
        ldx     #0
        ldy     #4
:       lda     m_r,x
        sbc     xx,x
        sta     m_r,x
        inx
        dey
        bne     :-
        ldx     #3
:       lda     cm,x
        sta     ptr3,x          ; (ptr3..ptr4: the divisor)
        dex
        bpl     :-
        jsr     k_udiv32
        lda     #1              ; Da = q + 1
        clc
        adc     m_r
        sta     m_r
        ldx     #1
        ldy     #3
:       lda     m_r,x
        adc     #0
        sta     m_r,x
        inx
        dey
        bne     :-
        lda     m_r+3           ; Dz = min(Dz, Da)
        cmp     dz+3
        bcc     su_da
        bne     su_fast
        lda     m_r+2
        cmp     dz+2
        bcc     su_da
        bne     su_fast
        lda     m_r+1
        cmp     dz+1
        bcc     su_da
        bne     su_fast
        lda     m_r
        cmp     dz
        bcs     su_fast
su_da:  ldx     #3
:       lda     m_r,x
        sta     dz,x
        dex
        bpl     :-
        ; fast: cm < 2^16 and Dz < 2^24: D cm = M[d0] + 256 M[d1] + 65536 M[d2], M[x] = cm x
su_fast:lda     cm+2
        ora     cm+3
        ora     dz+3
        beq     :+
        lda     #0
        sta     fast
        rts
:       lda     #1
        sta     fast
        lda     #0
        sta     m_r
        sta     m_r+1
        sta     m_r+2
        tax
su_mb:  lda     m_r
        sta     M0,x
        clc
        adc     cm
        sta     m_r
        lda     m_r+1
        sta     M1,x
        adc     cm+1
        sta     m_r+1
        lda     m_r+2
        sta     M2,x
        adc     #0
        sta     m_r+2
        inx
        bne     su_mb
        rts

inc_dz: inc     dz
        bne     :+
        inc     dz+1
        bne     :+
        inc     dz+2
        bne     :+
        inc     dz+3
:       rts

; m_r = 2^X (X < 32)
pow2:   lda     #0
        sta     m_r
        sta     m_r+1
        sta     m_r+2
        sta     m_r+3
        txa
        and     #7
        tay
        txa
        lsr     a
        lsr     a
        lsr     a
        tax
        lda     bitmask,y
        sta     m_r,x
        rts

ps      = sreg                  ; s_t = (ps),y
pe      = tmp1                  ; e_t = (pe),y

; The walk over n int32 slots from ps_s (and pe_s): ps, pe at their starts, Y = 0; the end is
; Y = endy with ps+1 (pe+1) = endh.
walk:   lda     ps_s
        sta     ps
        lda     ps_s+1
        sta     ps+1
        lda     pe_s
        sta     pe
        lda     pe_s+1
        sta     pe+1
        lda     a_n+1
        sta     tt
        lda     a_n
        asl     a
        rol     tt
        asl     a
        rol     tt
        sta     endy
        clc
        lda     tt
        adc     ps_s+1
        sta     endh
        ldy     #0
        rts

; The weights: e_t = 0 if s_t - mx < -dlim, else exp2(rshr((s_t - mx) cm, ck)), mx = c64_att_max;
; e_t into the slot t of pe_s (uint32), sum = sum e_t.
d0      = tmp3                  ; D = mx - s_t (fast: 3 bytes)
d1      = tmp4
d2      = regbank+4
yi      = regbank+5             ; the slot's y
y4      = ptr1                  ; m_r..y4: D cm + c (y4 = 0)
a0      = m_a                   ; a
a1      = m_a+1
e0      = m_b                   ; e
e1      = m_b+1

weights:
        lda     #0
        sta     sum
        sta     sum+1
        sta     sum+2
        sta     sum+3
        sta     y4
        lda     fast
        bne     :+
        jsr     c64_mul_ptrs    ; (slow: the products)
        lda     #<w_s
        sta     wloop
        lda     #>w_s
        sta     wloop+1
        jsr     walk
        jmp     (wloop)
:       lda     #<w_f
        sta     wloop
        lda     #>w_f
        sta     wloop+1
        sec                     ; lim = mx - Dz + 1 (or -2^31 when below)
        ldx     #0
        ldy     #4
:       lda     mx,x
        sbc     dz,x
        sta     lim,x
        inx
        dey
        bne     :-
        bvs     w_low
        inc     lim             ; + 1 (no overflow: mx - Dz + 1 <= mx)
        bne     w_lt
        inc     lim+1
        bne     w_lt
        inc     lim+2
        bne     w_lt
        inc     lim+3
        jmp     w_lt
w_low:  lda     #0
        sta     lim
        sta     lim+1
        sta     lim+2
        lda     #$80
        sta     lim+3
w_lt:   lda     lim+3
        eor     #$80
        sta     lim+3           ; (its sign flipped: the compare below)
        jsr     walk
        jmp     (wloop)
        ; fast: s_t < lim: 0; else D = mx - s_t < Dz < 2^24 and Y = c + M[d0] + 256 M[d1] + 65536 M[d2]
w_f:    sty     yi
        iny
        iny
        iny
        lda     (ps),y
        eor     #$80
        cmp     lim+3
        bcc     w_z
        bne     w_fd
        dey
        lda     (ps),y
        cmp     lim+2
        bcc     w_z
        bne     w_fd
        dey
        lda     (ps),y
        cmp     lim+1
        bcc     w_z
        bne     w_fd
        dey
        lda     (ps),y
        cmp     lim
        bcs     w_fd
w_z:    lda     #0
        sta     e0
        sta     e1
        jmp     w_st
w_fd:   ldy     yi
        sec
        lda     mx
        sbc     (ps),y
        tax
        iny
        lda     mx+1
        sbc     (ps),y
        sta     d1
        iny
        lda     mx+2
        sbc     (ps),y
        sta     d2
        clc
        lda     M0,x
        adc     cadd
        sta     m_r
        lda     M1,x
        adc     cadd+1
        sta     m_r+1
        lda     M2,x
        adc     cadd+2
        sta     m_r+2
        lda     cadd+3
        adc     #0
        sta     m_r+3
        ldx     d1
        clc
        lda     m_r+1
        adc     M0,x
        sta     m_r+1
        lda     m_r+2
        adc     M1,x
        sta     m_r+2
        lda     m_r+3
        adc     M2,x
        sta     m_r+3
        ldx     d2
        clc
        lda     m_r+2
        adc     M0,x
        sta     m_r+2
        lda     m_r+3
        adc     M1,x
        sta     m_r+3
        jmp     w_exp
        ; slow: D = mx - s_t (32 bits); D >= Dz: 0; else D cm by 16 x 16 products
w_s:    sty     yi
        sec
        ldx     #0
:       lda     mx,x
        sbc     (ps),y
        sta     m_r,x
        iny
        inx
        txa
        eor     #4
        bne     :-
        lda     m_r+3           ; D >= Dz ?
        cmp     dz+3
        bcc     w_sd
        bne     w_sz
        lda     m_r+2
        cmp     dz+2
        bcc     w_sd
        bne     w_sz
        lda     m_r+1
        cmp     dz+1
        bcc     w_sd
        bne     w_sz
        lda     m_r
        cmp     dz
        bcc     w_sd
w_sz:   jmp     w_z
w_sd:   jsr     dcm
        lda     #0
        sta     y4
        clc
        ldx     #0
        ldy     #4
:       lda     m_r,x
        adc     cadd,x
        sta     m_r,x
        inx
        dey
        bne     :-
        ; a = Y >> ck (< 4096); e = EXP2[a & 255] >> (a >> 8)
w_exp:  ldx     shb
        lda     shl
        bne     w_left
        lda     m_r+1,x
        sta     a1
        lda     m_r,x
        ldy     shr
        beq     w_a
:       lsr     a1
        ror     a
        dey
        bne     :-
        jmp     w_a
w_left: lda     m_r+2,x
        sta     a1
        lda     m_r+1,x
        sta     a0
        lda     m_r,x
        ldy     shl
:       asl     a
        rol     a0
        rol     a1
        dey
        bne     :-
        lda     a0
w_a:    asl     a
        tay
        bcs     w_hi
        lda     _LM_EXP2_Q15,y
        sta     e0
        lda     _LM_EXP2_Q15+1,y
        jmp     w_sh
w_hi:   lda     _LM_EXP2_Q15+256,y
        sta     e0
        lda     _LM_EXP2_Q15+257,y
w_sh:   ldx     a1
        beq     w_e1
        cpx     #8
        bcs     w_big
        sta     e1
        lda     e0
:       lsr     e1
        ror     a
        dex
        bne     :-
        sta     e0
        jmp     w_st
w_big:  beq     :++             ; (x = 8)
:       lsr     a
        dex
        cpx     #8
        bne     :-
:       sta     e0
        lda     #0
w_e1:   sta     e1
        ; sum += e; the slot = e (uint32); the next
w_st:   clc
        lda     sum
        adc     e0
        sta     sum
        lda     sum+1
        adc     e1
        sta     sum+1
        bcc     :+
        inc     sum+2
        bne     :+
        inc     sum+3
:       ldy     yi
        lda     e0
        sta     (pe),y
        iny
        lda     e1
        sta     (pe),y
        iny
        lda     #0
        sta     (pe),y
        iny
        sta     (pe),y
        iny
        bne     :+
        inc     ps+1
        inc     pe+1
:       cpy     endy
        bne     :+
        lda     ps+1
        cmp     endh
        beq     :++
:       jmp     (wloop)
:       rts

; m_r = D cm mod 2^32 (D = m_r; D cm < 2^31): D_lo cm_lo + (D_lo cm_hi + D_hi cm_lo) << 16.
dcm:    ldy     #3
:       lda     m_r,y
        sta     dd,y
        dey
        bpl     :-
        lda     dd
        sta     m_a
        lda     dd+1
        sta     m_a+1
        lda     cm
        sta     m_b
        lda     cm+1
        sta     m_b+1
        jsr     k_mul16u
        ldy     #3
:       lda     m_r,y
        sta     xx,y
        dey
        bpl     :-
        lda     cm+2
        ora     cm+3
        beq     :+
        lda     cm+2
        sta     m_b
        lda     cm+3
        sta     m_b+1
        jsr     k_mul16u        ; (m_a: D_lo still)
        jsr     add_hi
:       lda     dd+2
        ora     dd+3
        beq     :+
        lda     dd+2
        sta     m_a
        lda     dd+3
        sta     m_a+1
        lda     cm
        sta     m_b
        lda     cm+1
        sta     m_b+1
        jsr     k_mul16u
        jsr     add_hi
:       ldy     #3
:       lda     xx,y
        sta     m_r,y
        dey
        bpl     :-
        rts
add_hi: clc
        lda     xx+2
        adc     m_r
        sta     xx+2
        lda     xx+3
        adc     m_r+1
        sta     xx+3
        rts

; p_t = (e_t R + 2^(15+ns)) >> (16 + ns), ns: S >> ns < 2^16, R = 2^31 / (S >> ns) <= 2^16, e_t
; and p_t in the slots (pe_s, in place). e R = e0 R0 + 256 (e0 R1 + e1 R0) + 65536 e1 R1 by quarter
; squares (R's bytes in the pointer sets), + 65536 e when R = 2^16.
r1      = regbank               ; R1's pointer set (R0's: ptr1..ptr4)
r2      = regbank+2
r3      = regbank+4
r4      = sreg
ee1     = tmp4
ni      = tmp3                  ; the slot's y
normal: ldy     #3
:       lda     sum,y
        sta     ptr3,y
        dey
        bpl     :-
        lda     #0
        sta     ns
nm_ns:  lda     ptr4
        ora     ptr4+1
        beq     :+
        lsr     ptr4+1
        ror     ptr4
        ror     ptr3+1
        ror     ptr3
        inc     ns
        bne     nm_ns
:       lda     #0
        sta     m_r
        sta     m_r+1
        sta     m_r+2
        lda     #$80
        sta     m_r+3
        jsr     k_udiv32
        jsr     walk            ; (pe, endy, endh; ps = r4 is set below)
        lda     #>q1lo          ; the pointer sets of R0 and R1
        sta     ptr1+1
        sta     r1+1
        lda     #>q1hi
        sta     ptr2+1
        sta     r2+1
        lda     #>q2lo
        sta     ptr3+1
        sta     r3+1
        lda     #>q2hi
        sta     ptr4+1
        sta     r4+1
        lda     m_r             ; R0
        sta     ptr1
        sta     ptr2
        eor     #$FF
        sta     ptr3
        sta     ptr4
        lda     m_r+1           ; R1
        sta     r1
        sta     r2
        eor     #$FF
        sta     r3
        sta     r4
        lda     m_r+2           ; R = 2^16 (R0 = R1 = 0)
        sta     r16
        ; the rounding: bit 15 + ns, byte rb; the shift: ns <= 4 right, 5..8 8 - ns left, else z3 >> (ns - 8)
        lda     ns
        clc
        adc     #15
        tax
        and     #7
        tay
        lda     bitmask,y
        sta     rv
        txa
        lsr     a
        lsr     a
        lsr     a
        sta     rb
        lda     #0
        sta     nsh
        sta     nsl
        sta     nsz
        ldx     ns
        cpx     #5
        bcs     :+
        stx     nsh
        jmp     nm_go
:       cpx     #9
        bcs     :+
        txa
        eor     #7
        tax
        inx
        stx     nsl
        jmp     nm_go
:       txa
        sbc     #8
        sta     nsz
nm_go:  ldy     #0
nm_pt:  sty     ni
        iny
        lda     (pe),y
        sta     ee1
        dey
        ora     (pe),y
        bne     :+
        jmp     nm_nx           ; e = 0: p = 0 (the slot's low half is 0)
:       lda     (pe),y
        tay                     ; Z = e0 R0 + 256 e0 R1 (+ e1 ...)
        sec
        lda     (ptr1),y
        sbc     (ptr3),y
        sta     m_r
        lda     (ptr2),y
        sbc     (ptr4),y
        sta     m_r+1
        sec
        lda     (r1),y
        sbc     (r3),y
        tax
        lda     (r2),y
        sbc     (r4),y
        sta     m_r+2
        clc
        txa
        adc     m_r+1
        sta     m_r+1
        bcc     :+
        inc     m_r+2
:       lda     #0
        sta     m_r+3
        ldy     ee1
        beq     nm_16
        sec                     ; + 256 e1 R0
        lda     (ptr1),y
        sbc     (ptr3),y
        tax
        lda     (ptr2),y
        sbc     (ptr4),y
        sta     tt
        clc
        txa
        adc     m_r+1
        sta     m_r+1
        lda     tt
        adc     m_r+2
        sta     m_r+2
        bcc     :+
        inc     m_r+3
:       sec                     ; + 65536 e1 R1
        lda     (r1),y
        sbc     (r3),y
        tax
        lda     (r2),y
        sbc     (r4),y
        sta     tt
        clc
        txa
        adc     m_r+2
        sta     m_r+2
        lda     tt
        adc     m_r+3
        sta     m_r+3
nm_16:  lda     r16             ; R = 2^16: + 65536 e
        beq     nm_rnd
        ldy     ni
        clc
        lda     (pe),y
        adc     m_r+2
        sta     m_r+2
        lda     ee1
        adc     m_r+3
        sta     m_r+3
nm_rnd: ldx     rb              ; + 2^(15+ns)
        clc
        lda     m_r,x
        adc     rv
        sta     m_r,x
        bcc     :+
        inc     m_r+1,x
        bne     :+
        inc     m_r+2,x
:       ldx     nsh             ; p = (Z >> 16) >> ns
        beq     nm_lf
:       lsr     m_r+3
        ror     m_r+2
        dex
        bne     :-
        lda     m_r+3
        ldx     m_r+2
        jmp     nm_sp
nm_lf:  ldx     nsl
        beq     nm_s0
        lda     #0
        sta     z4
:       asl     m_r+2
        rol     m_r+3
        rol     z4
        dex
        bne     :-
        lda     z4
        ldx     m_r+3
        jmp     nm_sp
nm_s0:  ldx     nsz
        bne     :+
        lda     m_r+3
        ldx     m_r+2
        jmp     nm_sp
:       lda     m_r+3
:       lsr     a
        dex
        bne     :-
        tax
        lda     #0
nm_sp:  ldy     ni
        iny
        sta     (pe),y
        dey
        txa
        sta     (pe),y
nm_nx:  lda     ni              ; the next slot
        clc
        adc     #4
        tay
        bne     :+
        inc     pe+1
:       cpy     endy
        beq     :+
        jmp     nm_pt
:       lda     pe+1
        cmp     endh
        beq     :+
        jmp     nm_pt
:       rts
