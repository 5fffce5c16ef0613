//! AVX2 (+FMA, F16C) kernels for Q8_0×4, the load-time repacking of Q8_0
//! (`crate::formats::q8_0x4`): one weight row against one Q8_0 activation row (decode),
//! and against up to 8 (a batched decode step). The output head of tied-embedding models
//! is Q8_0, and most of a decode step's bytes.
//!
//! Per group of four blocks the scales take one conversion, one multiply with the
//! activation scales (from a per-call table) and a shuffle per block, where stock Q8_0
//! needs two broadcasts, two conversions and a multiply per block. The products use the
//! `maddubs` sign trick, exact only when no activation quant is `-128`: the callers check.

// SAFETY (module): every `unsafe fn` here only needs the CPU features named in its
// `#[target_feature]` (callers in `crate::isa::packed` and `crate::isa::multi` call them
// after `Proven` established the AVX2 tier); all memory is reached through bounds-checked
// slices, and the one raw-pointer operation (the prefetch) lives in `avx2_q5_0x4`.
use std::arch::x86_64::*;

use super::avx2_multi::{ld_ps, store};
use super::avx2_q5_0x4::{group_scales, lanes, prefetch, reduce4, TAB};
use super::avx2_quant::{hsum_ps, ld32};
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_0x4::{GROUP_BYTES, QS};

/// Every Q8_0×4 row of `w` (rows of `rb` bytes, whole groups) · one Q8_0 activation row
/// `a` with its table `tab` ([`TAB`] f32 per group: the four `dy` twice)
/// into `out`, prefetching `pf` bytes ahead of the row being read.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C, and no quant of `a` may be `-128` (the result
/// would be wrong, not unsafe). Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rows_q8_0x4_q8_0(
    w: &[u8],
    rb: usize,
    a: &[BlockQ8_0],
    tab: &[f32],
    out: &mut [f32],
    pf: usize,
) {
    for (r, (o, row)) in out.iter_mut().zip(w.chunks_exact(rb)).enumerate() {
        prefetch(w, r * rb + pf, rb);
        *o = row_q8_0x4(row, a, tab);
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn row_q8_0x4(w: &[u8], a: &[BlockQ8_0], tab: &[f32]) -> f32 {
    let ng = w.len() / GROUP_BYTES;
    let (a, tab) = (&a[..ng * 4], &tab[..ng * TAB]);
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_ps(); 2];
    let groups = w.chunks_exact(GROUP_BYTES).zip(a.chunks_exact(4));
    for ((g, ys), t) in groups.zip(tab.chunks_exact(TAB)) {
        let d = lanes(_mm256_mul_ps(group_scales(g), ld_ps(t)));
        for k in 0..4 {
            let x = ld32(g, QS + 32 * k);
            let y = _mm256_sign_epi8(ld32(&ys[k].qs, 0), x);
            let p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(x, x), y), ones);
            acc[k & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), d[k], acc[k & 1]);
        }
    }
    hsum_ps(_mm256_add_ps(acc[0], acc[1]))
}

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
