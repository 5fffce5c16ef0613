//! AVX-512 quantized dot products for the 32-element formats (Q8_0, Q4_0, Q5_0 · Q8_0;
//! Q4_1, Q5_1 · Q8_1).
//!
//! Two blocks per 512-bit register, multiplied with `vpdpbusd` (u8 × i8, four products
//! summed into i32 without saturation): signed weights are offset to unsigned (`w + 128`,
//! `q`) and the offset times `Σ y` is subtracted again, so every integer sum is exact for
//! all inputs. (AVX-512 without VNNI uses the AVX2 kernels: an i16-widening Q8_0 kernel
//! with one block per register measured slower than AVX2's.) Q4_1/Q5_1 take one block per
//! 256-bit register instead (see their section); their quants need no offset.
//!
//! SAFETY (whole file): each kernel is an `unsafe fn` only because of its
//! `#[target_feature]`; `isa::quant` calls them after a `Proven` tier shows the CPU has
//! those features. Memory is read through references to whole blocks (`ld32` etc.), never
//! past a slice's end.

use std::arch::x86_64::*;

use super::avx2_quant::{head4, hsum_ps, ld32, sum_q8_1_blocks};
use crate::formats::f16::F16Le;
use crate::formats::q4_0::BlockQ4_0;
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q5_0::BlockQ5_0;
use crate::formats::q5_1::BlockQ5_1;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_1::BlockQ8_1;

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

/// `[dx0·dy0; 8 lanes, dx1·dy1; 8 lanes]`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn pair_scales(dx0: F16Le, dy0: F16Le, dx1: F16Le, dy1: F16Le) -> __m512 {
    let h = |d: F16Le| u16::from_le_bytes(d.0) as i16;
    let v = _mm_cvtph_ps(_mm_setr_epi16(h(dx0), h(dy0), h(dx1), h(dy1), 0, 0, 0, 0));
    let p = _mm_mul_ps(v, _mm_movehdup_ps(v));
    let idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
    _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(p))
}

/// Σ x·y per 4-byte group of signed bytes, exact: `(x + 128)·y − 128·y` with `vpdpbusd`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
fn dot_i8_vnni(x: __m512i, y: __m512i, corr: __m512i) -> __m512i {
    let xu = _mm512_xor_si512(x, _mm512_set1_epi8(-128));
    _mm512_sub_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), xu, y), corr)
}

/// `128·Σ y` per 4-byte group (the correction for [`dot_i8_vnni`]).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
fn corr128(y: __m512i) -> __m512i {
    _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(-128), y)
}

/// The quants of blocks `i` and `i + 1` of `b` (zeros past the end).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub(crate) fn q8_pair(b: &[BlockQ8_0], i: usize) -> __m512i {
    let hi = match b.get(i + 1) {
        Some(x) => ld32(&x.qs, 0),
        None => _mm256_setzero_si256(),
    };
    join(ld32(&b[i].qs, 0), hi)
}

/// Scales of the block pair `i`, `i + 1` (the missing second block of an odd tail gets a
/// zero scale; its products are zero anyway).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn scales_pair(
    dx: impl Fn(usize) -> F16Le,
    dy: impl Fn(usize) -> F16Le,
    i: usize,
    n: usize,
) -> __m512 {
    if i + 1 < n {
        pair_scales(dx(i), dy(i), dx(i + 1), dy(i + 1))
    } else {
        pair_scales(dx(i), dy(i), F16Le::ZERO, F16Le::ZERO)
    }
}

/// Q8_0 · Q8_0 over `min(w.len(), a.len())` blocks (VNNI).
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn vec_dot_q8_0_q8_0_vnni(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    let n = w.len().min(a.len());
    let (w, a) = (&w[..n], &a[..n]);
    let mut acc = [_mm512_setzero_ps(); 2];
    let mut i = 0;
    while i < n {
        let y = q8_pair(a, i);
        let p = dot_i8_vnni(q8_pair(w, i), y, corr128(y));
        let d = scales_pair(|k| w[k].d, |k| a[k].d, i, n);
        let k = (i / 2) & 1;
        acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), d, acc[k]);
        i += 2;
    }
    hsum512(_mm512_add_ps(acc[0], acc[1]))
}

// ---------------------------------------------------------------------------------------
// Q4_0 / Q5_0 · Q8_0 (VNNI): unsigned quants `q`; `Σ (q − o)·y = dpbusd(q, y) − dpbusd(o, y)`.

/// The 32 nibbles of a 16-byte `qs` in element order (low nibbles, then high).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub(crate) fn nibbles(qs: &[u8; 16]) -> __m256i {
    let v = super::avx2_quant::ld16(qs, 0);
    let both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
    _mm256_and_si256(both, _mm256_set1_epi8(0x0F))
}

/// Byte `j` = 0x10 where bit `j` of the little-endian `qh` is set, else 0.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
pub(crate) fn bit4s(qh: [u8; 4]) -> __m256i {
    let m = _mm256_movm_epi8(u32::from_le_bytes(qh));
    _mm256_and_si256(m, _mm256_set1_epi8(0x10))
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
fn offset_dot_vnni(q: __m512i, y: __m512i, off: i8) -> __m512i {
    let z = _mm512_setzero_si512();
    let p = _mm512_dpbusd_epi32(z, q, y);
    _mm512_sub_epi32(p, _mm512_dpbusd_epi32(z, _mm512_set1_epi8(off), y))
}

/// Q4_0 · Q8_0 over `min(w.len(), a.len())` blocks (VNNI).
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn vec_dot_q4_0_q8_0_vnni(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    let n = w.len().min(a.len());
    let (w, a) = (&w[..n], &a[..n]);
    let mut acc = _mm512_setzero_ps();
    let mut i = 0;
    while i < n {
        let hi = w
            .get(i + 1)
            .map_or(_mm256_setzero_si256(), |x| nibbles(&x.qs));
        let p = offset_dot_vnni(join(nibbles(&w[i].qs), hi), q8_pair(a, i), 8);
        let d = scales_pair(|k| w[k].d, |k| a[k].d, i, n);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), d, acc);
        i += 2;
    }
    hsum512(acc)
}

/// Q5_0 · Q8_0 over `min(w.len(), a.len())` blocks (VNNI).
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn vec_dot_q5_0_q8_0_vnni(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    let n = w.len().min(a.len());
    let (w, a) = (&w[..n], &a[..n]);
    let q5 = |x: &BlockQ5_0| _mm256_or_si256(nibbles(&x.qs), bit4s(x.qh));
    let mut acc = _mm512_setzero_ps();
    let mut i = 0;
    while i < n {
        let hi = w.get(i + 1).map_or(_mm256_setzero_si256(), q5);
        let p = offset_dot_vnni(join(q5(&w[i]), hi), q8_pair(a, i), 16);
        let d = scales_pair(|k| w[k].d, |k| a[k].d, i, n);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), d, acc);
        i += 2;
    }
    hsum512(acc)
}

// ---------------------------------------------------------------------------------------
// Q4_1 / Q5_1 · Q8_1 (VNNI): unsigned quants with no offset, so the block sums are plain
// `vpdpbusd(q, y)`; the weights' `m` meets the activation's `s` in float, `m·s` per block.
// One block per 256-bit register: the AVX2 kernel's loop with `vpdpbusd` for
// `maddubs`+`madd`. (A two-blocks-per-zmm version as Q4_0's measured no faster on Zen 4,
// 13.7 against 14.1 GMAC/s at 4096×576: the pair's scale and offset shuffles cost what the
// halved `vpdpbusd` count saves.)

/// Σ q·y of 32 unsigned `q` and signed `y` bytes into 8 i32 lanes (`vpdpbusd`, exact).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
fn dot_u8_i8_vnni(q: __m256i, y: __m256i) -> __m256i {
    _mm256_dpbusd_epi32(_mm256_setzero_si256(), q, y)
}

/// Q4_1 · Q8_1 over `min(w.len(), a.len())` blocks (VNNI).
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn vec_dot_q4_1_q8_1_vnni(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    sum_q8_1_blocks(
        w,
        a,
        |x| head4(x.d, x.m),
        |x| nibbles(&x.qs),
        |q, y| dot_u8_i8_vnni(q, y),
    )
}

/// Q5_1 · Q8_1 over `min(w.len(), a.len())` blocks (VNNI).
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn vec_dot_q5_1_q8_1_vnni(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    sum_q8_1_blocks(
        w,
        a,
        |x| head4(x.d, x.m),
        |x| _mm256_or_si256(nibbles(&x.qs), bit4s(x.qh)),
        |q, y| dot_u8_i8_vnni(q, y),
    )
}
