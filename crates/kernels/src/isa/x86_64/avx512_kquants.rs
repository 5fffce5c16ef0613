//! AVX-512 VNNI k-quant dot products (Q4_K, Q5_K, Q6_K · Q8_K).
//!
//! 64 quants per register: `maddubs` of the unsigned quants (≤ 63) with the i8 activations
//! cannot saturate, and `vpdpwssd` then multiplies the i16 pair sums by the sub-block
//! scales and accumulates in i32, so the integer part of every super-block is exact.

use std::arch::x86_64::*;

use super::avx2_quant::{f16x8, hsum_ps128, k4_scales_mins, ld32, q6k_offset_term};
use super::avx512::{f16x16, hsum512, join};
use crate::formats::f16::F16Le;
use crate::formats::q4_k::BlockQ4K;
use crate::formats::q5_k::BlockQ5K;
use crate::formats::q6_k::BlockQ6K;
use crate::formats::q8_k::BlockQ8K;

/// Loads 64 bytes starting at `s[off]`. Panics if they are not all in `s`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn ld64(s: &[u8], off: usize) -> __m512i {
    let b = &s[off..off + 64];
    // SAFETY: `b` is 64 readable bytes; unaligned load.
    unsafe { _mm512_loadu_si512(b.as_ptr().cast()) }
}

/// Per-super-block setup shared by Q4_K and Q5_K: the 8 scales broadcast to all four
/// 128-bit lanes, and the min term `−dmin·d_y·Σ m·bsums` accumulated into `acc_m`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn k4_setup(scales: &[u8; 12], dmin: F16Le, y: &BlockQ8K, acc_m: &mut __m128) -> __m512i {
    let u = k4_scales_mins(scales);
    let sm = _mm256_cvtepu8_epi16(_mm_set_epi32(
        u[3] as i32,
        u[2] as i32,
        u[1] as i32,
        u[0] as i32,
    ));
    // SAFETY: `bsums` is 32 readable bytes; unaligned load.
    let bs = unsafe { _mm256_loadu_si256(y.bsums.as_ptr().cast()) };
    let s32 = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
    let prod = _mm_madd_epi16(_mm256_extracti128_si256(sm, 1), s32);
    let dmin = _mm_mul_ps(_mm256_castps256_ps128(f16x8(dmin)), _mm_set1_ps(-y.d()));
    *acc_m = _mm_fmadd_ps(dmin, _mm_cvtepi32_ps(prod), *acc_m);
    _mm512_broadcast_i32x4(_mm256_castsi256_si128(sm))
}

/// Shuffle mask giving i16 scale `2j` in the lower 256 bits and `2j + 1` in the upper.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn k4_scale_sel(j: usize) -> __m512i {
    let b = |s: usize| ((2 * s) as u16 | ((2 * s + 1) as u16) << 8) as i16;
    join(_mm256_set1_epi16(b(2 * j)), _mm256_set1_epi16(b(2 * j + 1)))
}

/// Q4_K · Q8_K over `min(w.len(), a.len())` super-blocks (VNNI).
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn vec_dot_q4_k_q8_k_vnni(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    let m4 = _mm512_set1_epi8(0x0F);
    let mut acc = _mm512_setzero_ps();
    let mut acc_m = _mm_setzero_ps();
    for (x, y) in w.iter().zip(a) {
        let scales = k4_setup(&x.scales, x.dmin, y, &mut acc_m);
        let mut sumi = _mm512_setzero_si512();
        for j in 0..4 {
            let q = ld32(&x.qs, 32 * j);
            let q = _mm512_and_si512(join(q, _mm256_srli_epi16(q, 4)), m4);
            let p = _mm512_maddubs_epi16(q, ld64(&y.qs, 64 * j));
            let sc = _mm512_shuffle_epi8(scales, k4_scale_sel(j));
            sumi = _mm512_dpwssd_epi32(sumi, p, sc);
        }
        let d = _mm512_mul_ps(f16x16(x.d), _mm512_set1_ps(y.d()));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi), acc);
    }
    hsum512(acc) + hsum_ps128(acc_m)
}

/// Q5_K · Q8_K over `min(w.len(), a.len())` super-blocks (VNNI).
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn vec_dot_q5_k_q8_k_vnni(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    let m4 = _mm512_set1_epi8(0x0F);
    let m16 = _mm512_set1_epi8(0x10);
    let mut acc = _mm512_setzero_ps();
    let mut acc_m = _mm_setzero_ps();
    for (x, y) in w.iter().zip(a) {
        let scales = k4_setup(&x.scales, x.dmin, y, &mut acc_m);
        let hb = _mm512_broadcast_i64x4(ld32(&x.qh, 0));
        let mut sumi = _mm512_setzero_si512();
        for j in 0..4 {
            let q = ld32(&x.qs, 32 * j);
            let q = _mm512_and_si512(join(q, _mm256_srli_epi16(q, 4)), m4);
            // Bit 2j of qh[l] (lower half) / 2j + 1 (upper half), moved to bit 4.
            let cnt = join(
                _mm256_set1_epi16(2 * j as i16),
                _mm256_set1_epi16(2 * j as i16 + 1),
            );
            let h = _mm512_and_si512(_mm512_slli_epi16(_mm512_srlv_epi16(hb, cnt), 4), m16);
            let p = _mm512_maddubs_epi16(_mm512_or_si512(q, h), ld64(&y.qs, 64 * j));
            let sc = _mm512_shuffle_epi8(scales, k4_scale_sel(j));
            sumi = _mm512_dpwssd_epi32(sumi, p, sc);
        }
        let d = _mm512_mul_ps(f16x16(x.d), _mm512_set1_ps(y.d()));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi), acc);
    }
    hsum512(acc) + hsum_ps128(acc_m)
}

/// Q6_K · Q8_K over `min(w.len(), a.len())` super-blocks (VNNI). Quants are used unsigned
/// (0..64); the `−32` offset comes from the activation's group sums.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn vec_dot_q6_k_q8_k_vnni(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    let m4 = _mm512_set1_epi8(0x0F);
    let m3 = _mm512_set1_epi8(0x03);
    let cnt = |a: i16, b: i16| join(_mm256_set1_epi16(a), _mm256_set1_epi16(b));
    let (cnt_a, cnt_b) = (cnt(0, 2), cnt(4, 6));
    let mut acc = _mm512_setzero_ps();
    for (x, y) in w.iter().zip(a) {
        let sc16 =
            _mm512_castsi256_si512(_mm256_cvtepi8_epi16(super::avx2_quant::ld16(&x.scales, 0)));
        let mut sumi = _mm512_setzero_si512();
        for h in 0..2 {
            let l = ld64(&x.ql, 64 * h);
            let hb = _mm512_broadcast_i64x4(ld32(&x.qh, 32 * h));
            let hi =
                |c: __m512i| _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hb, c), m3), 4);
            // Elements 128h + 0..64 (ql low nibbles, qh bits 0-1 / 2-3) and 128h + 64..128
            // (ql high nibbles, qh bits 4-5 / 6-7); 128-bit lane k is one group of 16.
            let qa = _mm512_or_si512(_mm512_and_si512(l, m4), hi(cnt_a));
            let qb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4), hi(cnt_b));
            for (k, q) in [qa, qb].into_iter().enumerate() {
                let g = (8 * h + 4 * k) as i16;
                let idx = _mm512_set_epi64(
                    i64::from_le_bytes(i16x4(g + 3)),
                    i64::from_le_bytes(i16x4(g + 3)),
                    i64::from_le_bytes(i16x4(g + 2)),
                    i64::from_le_bytes(i16x4(g + 2)),
                    i64::from_le_bytes(i16x4(g + 1)),
                    i64::from_le_bytes(i16x4(g + 1)),
                    i64::from_le_bytes(i16x4(g)),
                    i64::from_le_bytes(i16x4(g)),
                );
                let sc = _mm512_permutexvar_epi16(idx, sc16);
                let p = _mm512_maddubs_epi16(q, ld64(&y.qs, 128 * h + 64 * k));
                sumi = _mm512_dpwssd_epi32(sumi, p, sc);
            }
        }
        let off = q6k_offset_term(x, y);
        let isum = _mm512_sub_epi32(sumi, _mm512_zextsi128_si512(_mm_cvtsi32_si128(off)));
        let d = _mm512_mul_ps(f16x16(x.d), _mm512_set1_ps(y.d()));
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(isum), acc);
    }
    hsum512(acc)
}

/// Four copies of the i16 `v`, as little-endian bytes.
#[inline]
fn i16x4(v: i16) -> [u8; 8] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[0], b[1], b[0], b[1], b[0], b[1]]
}

/// Every row of `w` (`nb` super-blocks each) against `T` Q8_K tokens `a[t]` (`nb`
/// super-blocks each): `out[t·ld + r]` gets exactly [`vec_dot_q6_k_q8_k_vnni`]`(row r,
/// a[t])`. The weights of a super-block are unpacked (quants to unsigned bytes, the
/// sub-block scales spread for `vpdpwssd`) once for all tokens; each token then adds its
/// `maddubs`/`vpdpwssd` products (integer, exact whatever their order), its offset term
/// and the same float steps as the one-token kernel. Prefetches `pf` bytes ahead.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics if a slice is
/// too short.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn q6_k_rows_tokens<const T: usize>(
    w: &[BlockQ6K],
    nb: usize,
    a: [&[BlockQ8K]; T],
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    if nb == 0 {
        return;
    }
    let a: [&[BlockQ8K]; T] = std::array::from_fn(|t| &a[t][..nb]);
    let m4 = _mm512_set1_epi8(0x0F);
    let m3 = _mm512_set1_epi8(0x03);
    let cnt = |a: i16, b: i16| join(_mm256_set1_epi16(a), _mm256_set1_epi16(b));
    let (cnt_a, cnt_b) = (cnt(0, 2), cnt(4, 6));
    let rows = w.len() / nb;
    for r in 0..rows {
        let row = &w[r * nb..(r + 1) * nb];
        let mut acc = [_mm512_setzero_ps(); T];
        for (b, x) in row.iter().enumerate() {
            super::avx512_multi::prefetch_ahead(x, pf);
            let sc16 =
                _mm512_castsi256_si512(_mm256_cvtepi8_epi16(super::avx2_quant::ld16(&x.scales, 0)));
            let mut qs = [_mm512_setzero_si512(); 4];
            let mut scs = [_mm512_setzero_si512(); 4];
            for h in 0..2 {
                let l = ld64(&x.ql, 64 * h);
                let hb = _mm512_broadcast_i64x4(ld32(&x.qh, 32 * h));
                let hi = |c: __m512i| {
                    _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hb, c), m3), 4)
                };
                let qa = _mm512_or_si512(_mm512_and_si512(l, m4), hi(cnt_a));
                let qb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4), hi(cnt_b));
                for (k, q) in [qa, qb].into_iter().enumerate() {
                    let g = (8 * h + 4 * k) as i16;
                    let idx = _mm512_set_epi64(
                        i64::from_le_bytes(i16x4(g + 3)),
                        i64::from_le_bytes(i16x4(g + 3)),
                        i64::from_le_bytes(i16x4(g + 2)),
                        i64::from_le_bytes(i16x4(g + 2)),
                        i64::from_le_bytes(i16x4(g + 1)),
                        i64::from_le_bytes(i16x4(g + 1)),
                        i64::from_le_bytes(i16x4(g)),
                        i64::from_le_bytes(i16x4(g)),
                    );
                    scs[2 * h + k] = _mm512_permutexvar_epi16(idx, sc16);
                    qs[2 * h + k] = q;
                }
            }
            let dx = f16x16(x.d);
            for (acc, a) in acc.iter_mut().zip(&a) {
                let y = &a[b];
                let mut sumi = _mm512_setzero_si512();
                for j in 0..4 {
                    let p = _mm512_maddubs_epi16(qs[j], ld64(&y.qs, 64 * j));
                    sumi = _mm512_dpwssd_epi32(sumi, p, scs[j]);
                }
                let off = q6k_offset_term(x, y);
                let isum = _mm512_sub_epi32(sumi, _mm512_zextsi128_si512(_mm_cvtsi32_si128(off)));
                let d = _mm512_mul_ps(dx, _mm512_set1_ps(y.d()));
                *acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(isum), *acc);
            }
        }
        for (t, acc) in acc.iter().enumerate() {
            out[t * ld + r] = hsum512(*acc);
        }
    }
}

/// Q4_K and Q5_K super-blocks for [`k4_rows_tokens`]: their unsigned quants (0..16 /
/// 0..32) in the one-token kernels' register order, and the fields the float steps use.
pub trait K4Block {
    fn scales(&self) -> &[u8; 12];
    fn d(&self) -> F16Le;
    fn dmin(&self) -> F16Le;
    /// The four 64-quant registers `j = 0..4` exactly as the one-token kernel builds them
    /// (`maddubs`'s unsigned operand).
    ///
    /// # Safety
    /// AVX-512 F/BW/VL and AVX2 must be available.
    unsafe fn quants(&self) -> [__m512i; 4];
}

/// [`K4Block`]'s accessors of the super-block header (`scales`, `d`, `dmin`), which Q4_K
/// and Q5_K lay out alike.
macro_rules! k4_header {
    () => {
        #[inline]
        fn scales(&self) -> &[u8; 12] {
            &self.scales
        }
        #[inline]
        fn d(&self) -> F16Le {
            self.d
        }
        #[inline]
        fn dmin(&self) -> F16Le {
            self.dmin
        }
    };
}

impl K4Block for BlockQ4K {
    k4_header!();
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    unsafe fn quants(&self) -> [__m512i; 4] {
        // Plain loops, not `std::array::from_fn`, around intrinsics (ARCHITECTURE.md,
        // Invariants).
        let m4 = _mm512_set1_epi8(0x0F);
        let mut out = [_mm512_setzero_si512(); 4];
        for (j, o) in out.iter_mut().enumerate() {
            let q = ld32(&self.qs, 32 * j);
            *o = _mm512_and_si512(join(q, _mm256_srli_epi16(q, 4)), m4);
        }
        out
    }
}

impl K4Block for BlockQ5K {
    k4_header!();
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    unsafe fn quants(&self) -> [__m512i; 4] {
        let (m4, m16) = (_mm512_set1_epi8(0x0F), _mm512_set1_epi8(0x10));
        let hb = _mm512_broadcast_i64x4(ld32(&self.qh, 0));
        let mut out = [_mm512_setzero_si512(); 4];
        for (j, o) in out.iter_mut().enumerate() {
            let q = ld32(&self.qs, 32 * j);
            let q = _mm512_and_si512(join(q, _mm256_srli_epi16(q, 4)), m4);
            let cnt = join(
                _mm256_set1_epi16(2 * j as i16),
                _mm256_set1_epi16(2 * j as i16 + 1),
            );
            let h = _mm512_and_si512(_mm512_slli_epi16(_mm512_srlv_epi16(hb, cnt), 4), m16);
            *o = _mm512_or_si512(q, h);
        }
        out
    }
}

/// Every row of `w` (`nb` super-blocks each) against `T` Q8_K tokens `a[t]`: `out[t·ld +
/// r]` gets exactly [`vec_dot_q4_k_q8_k_vnni`] / [`vec_dot_q5_k_q8_k_vnni`]`(row r,
/// a[t])`. A super-block's quants, its sub-block scales spread for `vpdpwssd`, its mins
/// and its two f16 factors are unpacked once for all tokens; each token then adds its
/// integer products (exact in any order), its min term and the one-token kernel's float
/// steps in the same order. Prefetches `pf` bytes ahead.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics if a slice is
/// too short.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn k4_rows_tokens<X: K4Block, const T: usize>(
    w: &[X],
    nb: usize,
    a: [&[BlockQ8K]; T],
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    if nb == 0 {
        return;
    }
    let a: [&[BlockQ8K]; T] = std::array::from_fn(|t| &a[t][..nb]);
    let mut sel = [_mm512_setzero_si512(); 4];
    for (j, x) in sel.iter_mut().enumerate() {
        *x = k4_scale_sel(j);
    }
    let rows = w.len() / nb;
    for r in 0..rows {
        let row = &w[r * nb..(r + 1) * nb];
        let mut acc = [_mm512_setzero_ps(); T];
        let mut acc_m = [_mm_setzero_ps(); T];
        for (b, x) in row.iter().enumerate() {
            super::avx512_multi::prefetch_ahead(x, pf);
            // The weights' half of `k4_setup`.
            let u = k4_scales_mins(x.scales());
            let sm = _mm256_cvtepu8_epi16(_mm_set_epi32(
                u[3] as i32,
                u[2] as i32,
                u[1] as i32,
                u[0] as i32,
            ));
            let mins = _mm256_extracti128_si256(sm, 1);
            let scales = _mm512_broadcast_i32x4(_mm256_castsi256_si128(sm));
            let mut scs = [_mm512_setzero_si512(); 4];
            for (x, s) in scs.iter_mut().zip(&sel) {
                *x = _mm512_shuffle_epi8(scales, *s);
            }
            // SAFETY: this function's features cover `quants`'.
            let qs = unsafe { x.quants() };
            let dmin = _mm256_castps256_ps128(f16x8(x.dmin()));
            let dx = f16x16(x.d());
            for t in 0..T {
                let y = &a[t][b];
                // The token's half of `k4_setup`: the min term.
                // SAFETY: `bsums` is 32 readable bytes; unaligned load.
                let bs = unsafe { _mm256_loadu_si256(y.bsums.as_ptr().cast()) };
                let s32 =
                    _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
                let prod = _mm_madd_epi16(mins, s32);
                let dm = _mm_mul_ps(dmin, _mm_set1_ps(-y.d()));
                acc_m[t] = _mm_fmadd_ps(dm, _mm_cvtepi32_ps(prod), acc_m[t]);
                let mut sumi = _mm512_setzero_si512();
                for j in 0..4 {
                    let p = _mm512_maddubs_epi16(qs[j], ld64(&y.qs, 64 * j));
                    sumi = _mm512_dpwssd_epi32(sumi, p, scs[j]);
                }
                let d = _mm512_mul_ps(dx, _mm512_set1_ps(y.d()));
                acc[t] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sumi), acc[t]);
            }
        }
        for t in 0..T {
            out[t * ld + r] = hsum512(acc[t]) + hsum_ps128(acc_m[t]);
        }
    }
}
