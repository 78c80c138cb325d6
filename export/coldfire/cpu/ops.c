// ops.c: infer/lm_ops.c for the ColdFire build, with its two matrix-vector products renamed
// (lm_matvec_i8_c, lm_matvec_i4_c) so that matvec.S's assembly versions serve every caller.
#define lm_matvec_i8 lm_matvec_i8_c
#define lm_matvec_i4 lm_matvec_i4_c
#include "infer/lm_ops.c"
