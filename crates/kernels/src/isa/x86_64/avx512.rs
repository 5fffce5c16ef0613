//! AVX-512 helpers shared by the kernels of this tier. The 32-element formats' one-token
//! kernels are `super::avx512_lanes`, the k-quants' `super::avx512_kquants`.
//!
//! SAFETY (whole file): each helper has the `#[target_feature]`s of its callers, which run
//! only after a `Proven` tier shows the CPU has them.

use std::arch::x86_64::*;

use super::avx2_quant::hsum_ps;
use crate::formats::f16::F16Le;

/// Horizontal sum of 16 f32 lanes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub(crate) fn hsum512(v: __m512) -> f32 {
    let lo = _mm512_castps512_ps256(v);
    let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    hsum_ps(_mm256_add_ps(lo, hi))
}

/// Exact f16 → f32, broadcast to 16 lanes (see `avx2_quant::f16x8`).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub(crate) fn f16x16(h: F16Le) -> __m512 {
    _mm512_cvtph_ps(_mm256_set1_epi16(u16::from_le_bytes(h.0) as i16))
}

/// Two 32-byte halves in one register (`b` in the upper half).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub(crate) fn join(a: __m256i, b: __m256i) -> __m512i {
    _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1)
}
