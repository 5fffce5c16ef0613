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

/// `v`'s 32 values (bytes, element order) times `d` into `y[..32]`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn scaled_block(v: __m256i, d: __m256, y: &mut [f32]) {
    let y = &mut y[..32];
    let halves = [_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v)];
    for (h, v) in halves.iter().enumerate() {
        for (k, p) in [*v, _mm_srli_si128::<8>(*v)].iter().enumerate() {
            let f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(*p));
            // SAFETY: `y` holds 32 floats; 16h + 8k + 8 <= 32; unaligned store.
            unsafe { _mm256_storeu_ps(y.as_mut_ptr().add(16 * h + 8 * k), _mm256_mul_ps(f, d)) };
        }
    }
}

/// IQ4_NL blocks to f32, bit-identical to `iq4_nl::dequantize` (one multiply each).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dequantize_iq4_nl(blocks: &[BlockIq4Nl], out: &mut [f32]) {
    let t = table();
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(32)) {
        scaled_block(values(t, &b.qs), _mm256_set1_ps(b.d.to_f32()), y);
    }
}

/// IQ4_XS super-blocks to f32, bit-identical to `iq4_xs::dequantize` (the block scale
/// `d·(ls − 32)` first, then one multiply each).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dequantize_iq4_xs(blocks: &[BlockIq4Xs], out: &mut [f32]) {
    let t = table();
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
        let d = b.d.to_f32();
        for (ib, yb) in y.chunks_exact_mut(32).enumerate() {
            let qs: &[u8; 16] = b.qs[16 * ib..16 * ib + 16].try_into().unwrap();
            scaled_block(values(t, qs), _mm256_set1_ps(d * b.scale(ib) as f32), yb);
        }
    }
}
