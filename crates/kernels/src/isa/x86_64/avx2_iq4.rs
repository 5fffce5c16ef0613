//! AVX2 (+FMA, F16C) dot products of the non-linear 4-bit formats: IQ4_NL · Q8_0 and
//! IQ4_XS · Q8_K. The nibbles index the 16-value table with one `pshufb`; the values
//! (−127..113) are never `−128`, so the `maddubs` sign trick with the activation as the
//! unsigned side is exact for every activation, `−128` included (`|−128|` is 128 unsigned),
//! and no pair sum (at most 2·128·127) saturates. Same results as the scalar references in
//! `crate::formats::{iq4_nl, iq4_xs}` up to float summation order.
//!
//! Technique as in ggml's `ggml-cpu/arch/x86/quants.c` (the table lookup, block scales
//! applied with `madd` in integers); the code is our own.

use std::arch::x86_64::*;

use super::avx2_quant::{dot_i8_sign, hsum_ps, ld32, nibbles32, sum_q8_0_blocks};
use crate::formats::iq4_nl::{BlockIq4Nl, KVALUES};
use crate::formats::iq4_xs::BlockIq4Xs;
use crate::formats::k_common::QK_K;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_k::BlockQ8K;

/// [`KVALUES`] in both 128-bit lanes, for `pshufb`.
#[inline]
#[target_feature(enable = "avx2")]
fn table() -> __m256i {
    let k = KVALUES;
    _mm256_broadcastsi128_si256(_mm_setr_epi8(
        k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8], k[9], k[10], k[11], k[12], k[13],
        k[14], k[15],
    ))
}

/// The 32 values of a block's 16 index bytes, in element order.
#[inline]
#[target_feature(enable = "avx2")]
fn values(table: __m256i, qs: &[u8; 16]) -> __m256i {
    _mm256_shuffle_epi8(table, nibbles32(qs))
}

/// IQ4_NL · Q8_0 over `min(w.len(), a.len())` blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_iq4_nl_q8_0(w: &[BlockIq4Nl], a: &[BlockQ8_0]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    let t = table();
    sum_q8_0_blocks(
        w,
        a,
        |x| x.d,
        |x, y| dot_i8_sign(ld32(&y.qs, 0), values(t, &x.qs)),
    )
}

/// IQ4_XS · Q8_K over `min(w.len(), a.len())` super-blocks: each block's sum times its
/// scale `ls − 32` in integers (at most 8·32·2·128·127·… < 2³¹), one FMA per super-block.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_iq4_xs_q8_k(w: &[BlockIq4Xs], a: &[BlockQ8K]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    let t = table();
    let mut acc = _mm256_setzero_ps();
    for (x, y) in w.iter().zip(a) {
        let mut sumi = _mm256_setzero_si256();
        for ib in 0..QK_K / 32 {
            let qs: &[u8; 16] = x.qs[16 * ib..16 * ib + 16].try_into().unwrap();
            let a8 = ld32(&y.qs, 32 * ib);
            let p16 = _mm256_maddubs_epi16(
                _mm256_sign_epi8(a8, a8),
                _mm256_sign_epi8(values(t, qs), a8),
            );
            let s = _mm256_set1_epi16(x.scale(ib) as i16);
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16, s));
        }
        let d = _mm256_set1_ps(x.d.to_f32() * y.d());
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_ps(acc)
}
