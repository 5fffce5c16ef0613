//! AVX2 (+FMA, F16C) kernels for k-quant weight rows (Q4_K, Q5_K, Q6_K) against up to
//! eight Q8_K activation rows at once: the k-quant side of [`super::avx2_multi`].
//!
//! Each 256-element weight super-block is unpacked once into L1 scratch:
//! - `q[k]`: the 32 unsigned quants of elements `32k .. 32k+32`;
//! - `sc[k]`: 16 i16 lanes, the integer scale of each element pair in `q[k]`;
//! - `c`: 16 i16 lanes, the coefficient of each Q8_K group sum in the correction term
//!   (Q4_K/Q5_K: the sub-block minimum; Q6_K: `32 · scale` for the `−32` offset);
//! - `d`, `dc`: the float scales of the main and the correction term.
//!
//! and every token then computes `dy · (d · Σ_k sc[k]·q[k]·y − dc · Σ_g c[g]·bsum[g])`:
//! eight `maddubs`/`madd` pairs per token, however costly the unpacking was.
//!
//! Each token's arithmetic is the one-token kernels', so products of one token and of many
//! agree bit for bit (speculative verification needs decoding's exact logits): Q6_K's
//! one-token kernel is this one for one token, and `avx2_quant`'s Q4_K/Q5_K kernels sum
//! the same integer lanes and make the same two float steps per super-block.

use std::arch::x86_64::*;

use super::avx2_quant::{f16x8, hsum_ps, k4_min_coeffs, k4_scales_mins, ld16, ld32};
use crate::formats::q4_k::BlockQ4K;
use crate::formats::q5_k::BlockQ5K;
use crate::formats::q6_k::BlockQ6K;
use crate::formats::q8_k::BlockQ8K;

/// One unpacked super-block (see the module docs). Also unpacked by the VNNI kernels
/// (`super::avx512_multi_k`).
pub(crate) struct Unpacked {
    pub(crate) q: [__m256i; 8],
    pub(crate) sc: [__m256i; 8],
    pub(crate) c: __m256i,
    pub(crate) d: f32,
    pub(crate) dc: f32,
}

impl Unpacked {
    #[inline]
    #[target_feature(enable = "avx")]
    pub(crate) fn new() -> Unpacked {
        let z = _mm256_setzero_si256();
        Unpacked {
            q: [z; 8],
            sc: [z; 8],
            c: z,
            d: 0.0,
            dc: 0.0,
        }
    }
}

/// A k-quant super-block that can unpack itself.
pub(crate) trait KBlock {
    /// # Safety
    /// AVX2, FMA and F16C must be available.
    unsafe fn unpack(&self, u: &mut Unpacked);
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn f16(h: crate::formats::f16::F16Le) -> f32 {
    _mm256_cvtss_f32(f16x8(h))
}

/// Scales and minimums of a Q4_K/Q5_K super-block into `sc` and `c`.
#[inline]
#[target_feature(enable = "avx2")]
fn k4_scales(scales: &[u8; 12], u: &mut Unpacked) {
    let sm = k4_scales_mins(scales);
    let b = |i: usize| (sm[i / 4] >> (8 * (i % 4))) as u8;
    for k in 0..8 {
        u.sc[k] = _mm256_set1_epi16(b(k) as i16);
    }
    u.c = k4_min_coeffs(&sm);
}

impl KBlock for BlockQ4K {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn unpack(&self, u: &mut Unpacked) {
        let m4 = _mm256_set1_epi8(0x0F);
        for j in 0..4 {
            let q = ld32(&self.qs, 32 * j);
            u.q[2 * j] = _mm256_and_si256(q, m4);
            u.q[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        }
        k4_scales(&self.scales, u);
        u.d = f16(self.d);
        u.dc = f16(self.dmin);
    }
}

impl KBlock for BlockQ5K {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn unpack(&self, u: &mut Unpacked) {
        let m4 = _mm256_set1_epi8(0x0F);
        let m16 = _mm256_set1_epi8(0x10);
        let hbits = ld32(&self.qh, 0);
        for j in 0..4 {
            let q = ld32(&self.qs, 32 * j);
            // Bit 2j of qh[l] → +16 for the low nibble, bit 2j+1 for the high nibble.
            let h = _mm256_srl_epi16(hbits, _mm_cvtsi32_si128(2 * j as i32));
            let hl = _mm256_and_si256(_mm256_slli_epi16(h, 4), m16);
            let hh = _mm256_and_si256(_mm256_slli_epi16(h, 3), m16);
            u.q[2 * j] = _mm256_or_si256(_mm256_and_si256(q, m4), hl);
            u.q[2 * j + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), hh);
        }
        k4_scales(&self.scales, u);
        u.d = f16(self.d);
        u.dc = f16(self.dmin);
    }
}

impl KBlock for BlockQ6K {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn unpack(&self, u: &mut Unpacked) {
        let m4 = _mm256_set1_epi8(0x0F);
        let m3 = _mm256_set1_epi8(0x03);
        let scales = ld16(&self.scales, 0);
        for h in 0..2 {
            let l0 = ld32(&self.ql, 64 * h);
            let l1 = ld32(&self.ql, 64 * h + 32);
            let hb = ld32(&self.qh, 32 * h);
            let hi = |s: i32| {
                let v = _mm256_and_si256(_mm256_srl_epi16(hb, _mm_cvtsi32_si128(s)), m3);
                _mm256_slli_epi16(v, 4)
            };
            u.q[4 * h] = _mm256_or_si256(_mm256_and_si256(l0, m4), hi(0));
            u.q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), hi(2));
            u.q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), hi(4));
            u.q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), hi(6));
            for k in 0..4 {
                // Elements 128h + 32k .. +32: groups 8h + 2k and 8h + 2k + 1.
                let g = (8 * h + 2 * k) as u8;
                let sel =
                    _mm_set_epi64x(i64::from_le_bytes([g + 1; 8]), i64::from_le_bytes([g; 8]));
                u.sc[4 * h + k] = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, sel));
            }
        }
        u.c = _mm256_slli_epi16(_mm256_cvtepi8_epi16(scales), 5);
        u.d = f16(self.d);
        u.dc = u.d;
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn rows_k<X: KBlock, const N: usize>(
    w: &[X],
    nb: usize,
    ys: [&[BlockQ8K]; N],
    out: &mut [f32],
    ld: usize,
) {
    let ys = ys.map(|y| &y[..nb]);
    let mut u = Unpacked::new();
    for (r, row) in w.chunks_exact(nb).enumerate() {
        let mut acc = [_mm256_setzero_ps(); N];
        for (b, x) in row.iter().enumerate() {
            // SAFETY: this function's features are the ones `unpack` needs.
            unsafe { x.unpack(&mut u) };
            for t in 0..N {
                let y = &ys[t][b];
                let mut sumi = _mm256_setzero_si256();
                for k in 0..8 {
                    let p = _mm256_maddubs_epi16(u.q[k], ld32(&y.qs, 32 * k));
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(u.sc[k], p));
                }
                // SAFETY: `bsums` is 32 readable bytes; unaligned load.
                let bs = unsafe { _mm256_loadu_si256(y.bsums.as_ptr().cast()) };
                let corr = _mm256_cvtepi32_ps(_mm256_madd_epi16(u.c, bs));
                let yd = y.d();
                let main =
                    _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(u.d * yd), acc[t]);
                acc[t] = _mm256_fnmadd_ps(corr, _mm256_set1_ps(u.dc * yd), main);
            }
        }
        for t in 0..N {
            out[t * ld + r] = hsum_ps(acc[t]);
        }
    }
}

/// Q4_K weights (`w.len() / nb` rows of `nb` super-blocks) against `N` Q8_K activation
/// rows: `out[t·ld + r]` gets row `r` · token `t`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C. Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rows_q4_k<const N: usize>(
    w: &[BlockQ4K],
    nb: usize,
    ys: [&[BlockQ8K]; N],
    out: &mut [f32],
    ld: usize,
) {
    rows_k::<_, N>(w, nb, ys, out, ld)
}

/// Q5_K weights against `N` Q8_K activation rows; as [`rows_q4_k`].
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C. Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rows_q5_k<const N: usize>(
    w: &[BlockQ5K],
    nb: usize,
    ys: [&[BlockQ8K]; N],
    out: &mut [f32],
    ld: usize,
) {
    rows_k::<_, N>(w, nb, ys, out, ld)
}

/// Q6_K weights against `N` Q8_K activation rows; as [`rows_q4_k`].
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C. Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rows_q6_k<const N: usize>(
    w: &[BlockQ6K],
    nb: usize,
    ys: [&[BlockQ8K]; N],
    out: &mut [f32],
    ld: usize,
) {
    rows_k::<_, N>(w, nb, ys, out, ld)
}
