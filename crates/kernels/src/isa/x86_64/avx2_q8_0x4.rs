//! The AVX2 (+FMA, F16C) kernel of Q8_0×4, the load-time repacking of Q8_0
//! (`crate::formats::q8_0x4`): weight rows against 1 to 8 Q8_0 activation rows. The
//! output head of tied-embedding models is Q8_0, and most of a decode step's bytes.
//!
//! One arithmetic for one token and many: decoding runs it for one token, a batched step
//! or a speculative verify pass for several, and each (row, token) gets the same bits
//! whatever the token count (verification needs exactly the logits decoding computes).
//! Per group of four blocks and token, the four integer block sums are reduced in
//! integers first, then converted, scaled (one multiply of the group's four weight scales
//! by the token's four) and added by one FMA. The products use the `maddubs` sign trick,
//! exact only when no activation quant is `-128`: the callers check.

// SAFETY (module): every `unsafe fn` here only needs the CPU features named in its
// `#[target_feature]` (callers in `crate::isa::packed` and `crate::isa::multi` call them
// after `Proven` established the AVX2 tier); all memory is reached through bounds-checked
// slices, and the one raw-pointer operation (the prefetch) lives in `avx2_q5_0x4`.
use std::arch::x86_64::*;

use super::avx2_multi::{ld_ps, store};
use super::avx2_q5_0x4::{group_scales, prefetch, reduce4};
use super::avx2_quant::ld32;
use crate::formats::q8_0x4::{GROUP_BYTES, QS};

/// Q8_0×4 rows (`rows` rows of `ng` groups in `w`) against `N` Q8_0 activation rows, with
/// the tables of `crate::isa::multi` (quants `yq[b·N + t]`; group scales `gy`, per group
/// and token the four block scales twice). Per token and group the four block products
/// are reduced in integers first ([`reduce4`]), then converted and scaled once.
/// `out[t·ld + r]` gets row `r` · token `t`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C, and no activation quant may be `-128`.
/// Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::needless_range_loop)]
pub unsafe fn rows_q8_0x4<const N: usize>(
    w: &[u8],
    ng: usize,
    yq: &[[u8; 32]],
    gy: &[f32],
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    let nb = 4 * ng;
    let (yq, gy) = (&yq[..nb * N], &gy[..ng * N * 8]);
    let ones = _mm256_set1_epi16(1);
    let rb = ng * GROUP_BYTES;
    for (r, row) in w.chunks_exact(rb).enumerate() {
        prefetch(w, r * rb + pf, rb);
        let mut acc = [_mm256_setzero_ps(); N];
        // Iterators rather than indices, so the token loop has no bounds checks.
        let parts = row
            .chunks_exact(GROUP_BYTES)
            .zip(yq.chunks_exact(4 * N).zip(gy.chunks_exact(N * 8)));
        for (g, (yg, sg)) in parts {
            let dw = group_scales(g);
            let x: [__m256i; 4] = std::array::from_fn(|k| ld32(g, QS + 32 * k));
            let ax = x.map(|x| _mm256_sign_epi8(x, x));
            for t in 0..N {
                let p: [__m256i; 4] = std::array::from_fn(|k| {
                    let y = _mm256_sign_epi8(ld32(&yg[k * N + t], 0), x[k]);
                    _mm256_madd_epi16(_mm256_maddubs_epi16(ax[k], y), ones)
                });
                let s = _mm256_mul_ps(dw, ld_ps(&sg[t * 8..]));
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce4(p)), s, acc[t]);
            }
        }
        store(&acc, _mm256_setzero_ps(), out, ld, r);
    }
}
