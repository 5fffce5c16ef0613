//! AVX2 (+FMA, F16C) quantized dot products and activation quantizers.
//!
//! Same results as the scalar references in `crate::formats` up to float summation order:
//! every per-block integer sum is exact for *all* inputs, including `-128` quants (the
//! `maddubs` sign trick of ggml's AVX2 code is only used when the activation row holds no
//! `-128`, where it is exact, and no pair sum can saturate). The quantizers are
//! byte-identical to the scalar ones.
//!
//! Techniques follow ggml's `ggml-cpu/arch/x86/quants.c` (nibble unpacking, the Q4_K scale
//! shuffle, `maddubs`/`madd` reductions); the code is our own.

use std::arch::x86_64::*;

use crate::formats::f16::F16Le;
use crate::formats::q4_0::BlockQ4_0;
use crate::formats::q4_k::BlockQ4K;
use crate::formats::q5_0::BlockQ5_0;
use crate::formats::q5_1::BlockQ5_1;
use crate::formats::q5_k::BlockQ5K;
use crate::formats::q6_k::BlockQ6K;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_1::BlockQ8_1;
use crate::formats::q8_k::BlockQ8K;

// ---------------------------------------------------------------------------------------
// Helpers (safe `#[target_feature]` functions: callable from the kernels below).

/// Exact f16 → f32, broadcast to 8 lanes. (A broadcast load: `_mm_cvtsi32_si128` tends to
/// become `vpinsrw` into whatever register is free, often an accumulator, which chains
/// every block onto the previous one's FMA.)
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn f16x8(h: F16Le) -> __m256 {
    _mm256_cvtph_ps(_mm_set1_epi16(u16::from_le_bytes(h.0) as i16))
}

/// Horizontal sum of 8 f32 lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn hsum_ps(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    hsum_ps128(s)
}

/// Horizontal sum of 4 f32 lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn hsum_ps128(s: __m128) -> f32 {
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// Loads 32 bytes starting at `s[off]`. Panics if they are not all in `s`.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn ld32(s: &[u8], off: usize) -> __m256i {
    let b = &s[off..off + 32];
    // SAFETY: `b` is 32 readable bytes; unaligned load.
    unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
}

/// Loads 16 bytes starting at `s[off]`. Panics if they are not all in `s`.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn ld16(s: &[u8], off: usize) -> __m128i {
    let b = &s[off..off + 16];
    // SAFETY: `b` is 16 readable bytes; unaligned load.
    unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
}

/// Whether any quant of the Q8 activation bytes is `-128` (0x80).
#[inline]
#[target_feature(enable = "avx2")]
fn any_i8_min<'a>(mut rows: impl Iterator<Item = &'a [u8; 32]>) -> bool {
    let m = _mm256_set1_epi8(-128);
    rows.any(|q| _mm256_movemask_epi8(_mm256_cmpeq_epi8(ld32(q, 0), m)) != 0)
}

/// Whether any Q8_0 activation quant is `-128` (decides the exact or the sign-trick path).
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
pub fn q8_0_has_min(a: &[BlockQ8_0]) -> bool {
    any_i8_min(a.iter().map(|b| &b.qs))
}

/// Σ x·y of 32 signed bytes into 8 i32 lanes. Exact unless `y` holds `-128` (the sign of
/// `-128` cannot be flipped in i8); pair sums are at most 2·128·127 so `maddubs` never
/// saturates.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn dot_i8_sign(x: __m256i, y: __m256i) -> __m256i {
    let p = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    _mm256_madd_epi16(p, _mm256_set1_epi16(1))
}

/// Σ x·y of 32 signed bytes into 8 i32 lanes, exact for all inputs (widens to i16).
#[inline]
#[target_feature(enable = "avx2")]
fn dot_i8_wide(x: &[u8; 32], y: &[u8; 32]) -> __m256i {
    let x0 = _mm256_cvtepi8_epi16(ld16(x, 0));
    let x1 = _mm256_cvtepi8_epi16(ld16(x, 16));
    let y0 = _mm256_cvtepi8_epi16(ld16(y, 0));
    let y1 = _mm256_cvtepi8_epi16(ld16(y, 16));
    _mm256_add_epi32(_mm256_madd_epi16(x0, y0), _mm256_madd_epi16(x1, y1))
}

// ---------------------------------------------------------------------------------------
// Q8_0 · Q8_0

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn q8_0_block<const EXACT: bool>(x: &BlockQ8_0, y: &BlockQ8_0) -> __m256i {
    if EXACT {
        dot_i8_wide(&x.qs, &y.qs)
    } else {
        dot_i8_sign(ld32(&x.qs, 0), ld32(&y.qs, 0))
    }
}

/// `Σ_blocks (dx·dy)·Σ dot(x, y)` over 32-element blocks against Q8_0 activations, with two
/// accumulators so consecutive blocks do not wait on each other's FMA.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn sum_q8_0_blocks<X>(
    w: &[X],
    a: &[BlockQ8_0],
    dx: impl Fn(&X) -> F16Le,
    dot: impl Fn(&X, &BlockQ8_0) -> __m256i,
) -> f32 {
    let n = w.len().min(a.len());
    let (w, a) = (&w[..n], &a[..n]);
    let term = |x: &X, y: &BlockQ8_0| {
        let d = _mm256_mul_ps(f16x8(dx(x)), f16x8(y.d));
        (_mm256_cvtepi32_ps(dot(x, y)), d)
    };
    let mut acc = [_mm256_setzero_ps(); 2];
    let (w2, a2) = (w.chunks_exact(2), a.chunks_exact(2));
    let (wr, ar) = (w2.remainder(), a2.remainder());
    for (x, y) in w2.zip(a2) {
        for k in 0..2 {
            let (p, d) = term(&x[k], &y[k]);
            acc[k] = _mm256_fmadd_ps(p, d, acc[k]);
        }
    }
    for (x, y) in wr.iter().zip(ar) {
        let (p, d) = term(x, y);
        acc[0] = _mm256_fmadd_ps(p, d, acc[0]);
    }
    hsum_ps(_mm256_add_ps(acc[0], acc[1]))
}

#[target_feature(enable = "avx2,fma,f16c")]
fn q8_0_row<const EXACT: bool>(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    sum_q8_0_blocks(w, a, |x| x.d, |x, y| q8_0_block::<EXACT>(x, y))
}

/// Q8_0 · Q8_0 over `min(w.len(), a.len())` blocks (the callers pass equal lengths).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q8_0_q8_0(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    // SAFETY: same features.
    unsafe { vec_dot_q8_0_q8_0_known(w, a, q8_0_has_min(a)) }
}

/// [`vec_dot_q8_0_q8_0`] with the activation scan done by the caller: `a_has_min` must be
/// `q8_0_has_min(a)` (or `true`, which is always exact).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q8_0_q8_0_known(w: &[BlockQ8_0], a: &[BlockQ8_0], a_has_min: bool) -> f32 {
    if a_has_min {
        q8_0_row::<true>(w, a)
    } else {
        q8_0_row::<false>(w, a)
    }
}

// ---------------------------------------------------------------------------------------
// Q4_0 / Q5_0 · Q8_0: unsigned quants `q`, so `Σ (q − o)·y = maddubs(q, y) − maddubs(o, y)`
// (both exact: |pair| ≤ 2·31·128), then `madd` to i32.

/// The 32 nibbles of a 16-byte `qs` in element order (low nibbles, then high).
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn nibbles32(qs: &[u8; 16]) -> __m256i {
    let v = ld16(qs, 0);
    let both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
    _mm256_and_si256(both, _mm256_set1_epi8(0x0F))
}

/// Byte `j` = 0xFF where bit `j` of the little-endian `qh` is set, else 0.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn bits32(qh: [u8; 4]) -> __m256i {
    let shuf = _mm256_set_epi64x(
        0x0303_0303_0303_0303,
        0x0202_0202_0202_0202,
        0x0101_0101_0101_0101,
        0,
    );
    let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(i32::from_le_bytes(qh)), shuf);
    let bit = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
    _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit)
}

#[inline]
#[target_feature(enable = "avx2")]
fn offset_dot(q: __m256i, y: __m256i, off: i8) -> __m256i {
    let p = _mm256_sub_epi16(
        _mm256_maddubs_epi16(q, y),
        _mm256_maddubs_epi16(_mm256_set1_epi8(off), y),
    );
    _mm256_madd_epi16(p, _mm256_set1_epi16(1))
}

/// Q4_0 · Q8_0 over `min(w.len(), a.len())` blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q4_0_q8_0(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    sum_q8_0_blocks(
        w,
        a,
        |x| x.d,
        |x, y| offset_dot(nibbles32(&x.qs), ld32(&y.qs, 0), 8),
    )
}

/// Q5_0 · Q8_0 over `min(w.len(), a.len())` blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q5_0_q8_0(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    sum_q8_0_blocks(
        w,
        a,
        |x| x.d,
        |x, y| {
            let hi = _mm256_and_si256(bits32(x.qh), _mm256_set1_epi8(0x10));
            let q = _mm256_or_si256(nibbles32(&x.qs), hi);
            offset_dot(q, ld32(&y.qs, 0), 16)
        },
    )
}

// ---------------------------------------------------------------------------------------
// Q5_1 · Q8_1 (Q4_1 has its own kernel at this tier, `super::avx2_lanes`): unsigned quants
// `q` (no offset), so the block sum is a plain `maddubs(q, y)` (exact: |pair| ≤ 2·31·128,
// `-128` included), scaled by `dx·dy`; the weights' offset `m` meets the activation's
// stored `s = dy·Σy` in float, `m·s` per block.

/// `[dx·dy, m·s]` of a block pair, twice (lanes 0..4), from the first four bytes of each
/// block (`d, m` of the weights, `d, s` of Q8_1): one F16C conversion and one multiply.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn dm_products(x: [u8; 4], y: [u8; 4]) -> __m128 {
    let v = _mm_setr_epi32(
        i32::from_le_bytes(x),
        i32::from_le_bytes(x),
        i32::from_le_bytes(y),
        i32::from_le_bytes(y),
    );
    let f = _mm256_cvtph_ps(v);
    _mm_mul_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1))
}

/// The first four bytes of a block (`d` then `m` for Q4_1/Q5_1, `d` then `s` for Q8_1).
#[inline]
pub(crate) fn head4(d: F16Le, m: F16Le) -> [u8; 4] {
    [d.0[0], d.0[1], m.0[0], m.0[1]]
}

/// `Σ_blocks (dx·dy)·Σ q·y + m·s` over 32-element blocks of unsigned quants against Q8_1
/// activations; two accumulators for the products as [`sum_q8_0_blocks`], one for the
/// offset terms (its lane 1), added at the end as ggml's AVX2 kernel does. `dot(q, y)`:
/// the block's products of unsigned `q` and signed `y` bytes summed into 8 i32 lanes
/// (`maddubs` + `madd` here, `vpdpbusd` in `super::avx512`).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) fn sum_q8_1_blocks<X>(
    w: &[X],
    a: &[BlockQ8_1],
    dm: impl Fn(&X) -> [u8; 4],
    unpack: impl Fn(&X) -> __m256i,
    dot: impl Fn(__m256i, __m256i) -> __m256i,
) -> f32 {
    let n = w.len().min(a.len());
    let (w, a) = (&w[..n], &a[..n]);
    // (`[dx·dy, m·s, ..]`, the block's products as i32 lanes.)
    let term = |x: &X, y: &BlockQ8_1| {
        (
            dm_products(dm(x), head4(y.d, y.s)),
            dot(unpack(x), ld32(&y.qs, 0)),
        )
    };
    let mut acc = [_mm256_setzero_ps(); 2];
    let mut acc_m = [_mm_setzero_ps(); 2];
    let (w2, a2) = (w.chunks_exact(2), a.chunks_exact(2));
    let (wr, ar) = (w2.remainder(), a2.remainder());
    for (x, y) in w2.zip(a2) {
        for k in 0..2 {
            let (ds, p) = term(&x[k], &y[k]);
            acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_broadcastss_ps(ds), acc[k]);
            acc_m[k] = _mm_add_ps(acc_m[k], ds);
        }
    }
    for (x, y) in wr.iter().zip(ar) {
        let (ds, p) = term(x, y);
        acc[0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_broadcastss_ps(ds), acc[0]);
        acc_m[0] = _mm_add_ps(acc_m[0], ds);
    }
    let m = _mm_add_ps(acc_m[0], acc_m[1]);
    hsum_ps(_mm256_add_ps(acc[0], acc[1])) + _mm_cvtss_f32(_mm_movehdup_ps(m))
}

/// Q5_1 · Q8_1 over `min(w.len(), a.len())` blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q5_1_q8_1(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    sum_q8_1_blocks(
        w,
        a,
        |x| head4(x.d, x.m),
        |x| {
            let hi = _mm256_and_si256(bits32(x.qh), _mm256_set1_epi8(0x10));
            _mm256_or_si256(nibbles32(&x.qs), hi)
        },
        |q, y| dot_u8_i8(q, y),
    )
}

/// Σ q·y of 32 unsigned `q` (below 64) and signed `y` bytes into 8 i32 lanes, exact.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn dot_u8_i8(q: __m256i, y: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), _mm256_set1_epi16(1))
}

// ---------------------------------------------------------------------------------------
// K-quants · Q8_K

/// The 8 six-bit scales (bytes 0..8) and 8 mins (bytes 8..16) of a Q4_K/Q5_K block, as
/// `get_scale_min_k4` decodes them.
#[inline]
pub(crate) fn k4_scales_mins(s: &[u8; 12]) -> [u32; 4] {
    const K1: u32 = 0x3f3f_3f3f;
    const K2: u32 = 0x0f0f_0f0f;
    const K3: u32 = 0x0303_0303;
    let u = |i: usize| u32::from_le_bytes([s[i], s[i + 1], s[i + 2], s[i + 3]]);
    let (u0, u1, u2) = (u(0), u(4), u(8));
    [
        u0 & K1,
        (u2 & K2) | (((u0 >> 6) & K3) << 4),
        u1 & K1,
        ((u2 >> 4) & K2) | (((u1 >> 6) & K3) << 4),
    ]
}

/// Shuffle mask broadcasting 16-bit lane `i` (of 8) to all 16 lanes.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn scale_shuffle(i: usize) -> __m256i {
    let b = (2 * i) as u16 | ((2 * i + 1) as u16) << 8;
    _mm256_set1_epi16(b as i16)
}

/// The Q4_K/Q5_K minimum term's coefficients, from the mins bytes of `k4_scales_mins`
/// (`sm[2]`, `sm[3]`): 16 i16 lanes, lane `g` the minimum of sub-block `g / 2`, whose
/// Q8_K group sums are `2s` and `2s + 1`. One-token and multi-token kernels
/// (`avx2_multi_k`) both take the term as `madd(c, bsums)`, eight lanes (`m[s]` times
/// sub-block `s`'s sums), so they sum it the same way.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn k4_min_coeffs(sm: &[u32; 4]) -> __m256i {
    let mins = _mm_set_epi32(0, 0, sm[3] as i32, sm[2] as i32);
    let dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    _mm256_cvtepu8_epi16(_mm_shuffle_epi8(mins, dup))
}

/// The minimum term of one super-block as 8 f32 lanes ([`k4_min_coeffs`]).
#[inline]
#[target_feature(enable = "avx2")]
fn k4_min_lanes(sm: &[u32; 4], y: &BlockQ8K) -> __m256 {
    // SAFETY: `bsums` is 32 readable bytes; unaligned load.
    let bs = unsafe { _mm256_loadu_si256(y.bsums.as_ptr().cast()) };
    _mm256_cvtepi32_ps(_mm256_madd_epi16(k4_min_coeffs(sm), bs))
}

/// Q4_K · Q8_K over `min(w.len(), a.len())` super-blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q4_k_q8_k(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    let m4 = _mm256_set1_epi8(0x0F);
    let mut acc = _mm256_setzero_ps();
    for (x, y) in w.iter().zip(a) {
        let yd = y.d();
        let u = k4_scales_mins(&x.scales);
        let sm = _mm256_cvtepu8_epi16(_mm_set_epi32(
            u[3] as i32,
            u[2] as i32,
            u[1] as i32,
            u[0] as i32,
        ));
        let corr = k4_min_lanes(&u, y);
        let sc128 = _mm256_castsi256_si128(sm);
        let scales = _mm256_set_m128i(sc128, sc128);
        let mut sumi = _mm256_setzero_si256();
        for j in 0..4 {
            let sl = _mm256_shuffle_epi8(scales, scale_shuffle(2 * j));
            let sh = _mm256_shuffle_epi8(scales, scale_shuffle(2 * j + 1));
            let q = ld32(&x.qs, 32 * j);
            let ql = _mm256_and_si256(q, m4);
            let qh = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            let pl = _mm256_maddubs_epi16(ql, ld32(&y.qs, 64 * j));
            let ph = _mm256_maddubs_epi16(qh, ld32(&y.qs, 64 * j + 32));
            let p = _mm256_add_epi32(_mm256_madd_epi16(sl, pl), _mm256_madd_epi16(sh, ph));
            sumi = _mm256_add_epi32(sumi, p);
        }
        let d = _mm256_mul_ps(f16x8(x.d), _mm256_set1_ps(yd));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
        let dmin = _mm256_cvtss_f32(f16x8(x.dmin)) * yd;
        acc = _mm256_fnmadd_ps(corr, _mm256_set1_ps(dmin), acc);
    }
    hsum_ps(acc)
}

/// Q5_K · Q8_K over `min(w.len(), a.len())` super-blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn vec_dot_q5_k_q8_k(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    debug_assert_eq!(w.len(), a.len());
    let m4 = _mm256_set1_epi8(0x0F);
    let m16 = _mm256_set1_epi8(0x10);
    let mut acc = _mm256_setzero_ps();
    for (x, y) in w.iter().zip(a) {
        let yd = y.d();
        let u = k4_scales_mins(&x.scales);
        let sm = _mm256_cvtepu8_epi16(_mm_set_epi32(
            u[3] as i32,
            u[2] as i32,
            u[1] as i32,
            u[0] as i32,
        ));
        let corr = k4_min_lanes(&u, y);
        let sc128 = _mm256_castsi256_si128(sm);
        let scales = _mm256_set_m128i(sc128, sc128);
        let hbits = ld32(&x.qh, 0);
        let mut sumi = _mm256_setzero_si256();
        for j in 0..4 {
            let sl = _mm256_shuffle_epi8(scales, scale_shuffle(2 * j));
            let sh = _mm256_shuffle_epi8(scales, scale_shuffle(2 * j + 1));
            let q = ld32(&x.qs, 32 * j);
            // Bit 2j of qh[l] → +16 for the low nibble, bit 2j+1 for the high nibble.
            let h = _mm256_srl_epi16(hbits, _mm_cvtsi32_si128(2 * j as i32));
            let hl = _mm256_and_si256(_mm256_slli_epi16(h, 4), m16);
            let hh = _mm256_and_si256(_mm256_slli_epi16(h, 3), m16);
            let ql = _mm256_or_si256(_mm256_and_si256(q, m4), hl);
            let qh = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), hh);
            let pl = _mm256_maddubs_epi16(ql, ld32(&y.qs, 64 * j));
            let ph = _mm256_maddubs_epi16(qh, ld32(&y.qs, 64 * j + 32));
            let p = _mm256_add_epi32(_mm256_madd_epi16(sl, pl), _mm256_madd_epi16(sh, ph));
            sumi = _mm256_add_epi32(sumi, p);
        }
        let d = _mm256_mul_ps(f16x8(x.d), _mm256_set1_ps(yd));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi), acc);
        let dmin = _mm256_cvtss_f32(f16x8(x.dmin)) * yd;
        acc = _mm256_fnmadd_ps(corr, _mm256_set1_ps(dmin), acc);
    }
    hsum_ps(acc)
}

/// `32·Σ_g sc[g]·bsum[g]` for a Q6_K block: the `−32` offset term, from the Q8_K sums.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn q6k_offset_term(x: &BlockQ6K, y: &BlockQ8K) -> i32 {
    let sc = _mm256_cvtepi8_epi16(ld16(&x.scales, 0));
    // SAFETY: `bsums` is 32 readable bytes; unaligned load.
    let bs = unsafe { _mm256_loadu_si256(y.bsums.as_ptr().cast()) };
    let p = _mm256_madd_epi16(sc, bs);
    let s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
    _mm_cvtsi128_si32(s) << 5
}

// ---------------------------------------------------------------------------------------
// Activation quantizers (byte-identical to `q8_0::quantize` / `q8_k::quantize`).

/// Largest |v| of `x` (NaNs ignored, like `f32::max`), 8 lanes at a time.
#[inline]
#[target_feature(enable = "avx2")]
fn amax8(x: &[f32]) -> f32 {
    let abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
    let mut m = _mm256_setzero_ps();
    for c in x.chunks_exact(8) {
        // SAFETY: `c` is 8 readable f32s; unaligned load.
        let v = unsafe { _mm256_loadu_ps(c.as_ptr()) };
        // `max_ps` returns its second operand when either is NaN: NaNs leave `m` alone.
        m = _mm256_max_ps(_mm256_and_ps(v, abs), m);
    }
    let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)))
}

/// `x` rounded to f16, nearest even: [`F16Le::from_f32`]'s bits with the conversion
/// inlined (`half` dispatches at run time to an out-of-line F16C call, which cost a third
/// of a block's quantization).
#[inline]
#[target_feature(enable = "f16c")]
fn f16_of(x: f32) -> F16Le {
    let h = _mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(_mm_set_ss(x));
    F16Le((_mm_extract_epi16::<0>(h) as u16).to_le_bytes())
}

/// Packs 4×8 i32 lanes to 32 bytes in order, saturating to i8.
#[inline]
#[target_feature(enable = "avx2")]
fn pack_i8(v: [__m256i; 4]) -> __m256i {
    let ab = _mm256_packs_epi32(v[0], v[1]);
    let cd = _mm256_packs_epi32(v[2], v[3]);
    let p = _mm256_packs_epi16(ab, cd);
    _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

/// The quants of one block of `quantize_row_q8_0_ref` (and `quantize_row_q8_1_ref`, which
/// quantizes alike) for the inverse scale `id`: `roundf(x·id)`, saturated as `as i8`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn quants_q8(xb: &[f32], id: f32) -> __m256i {
    let sign = _mm256_set1_ps(-0.0);
    let half = _mm256_set1_ps(0.5);
    let one = _mm256_set1_ps(1.0);
    let xb = &xb[..32];
    let vid = _mm256_set1_ps(id);
    let mut q = [_mm256_setzero_si256(); 4];
    for (k, c) in xb.chunks_exact(8).enumerate() {
        // SAFETY: `c` is 8 readable f32s; unaligned load.
        let t = _mm256_mul_ps(unsafe { _mm256_loadu_ps(c.as_ptr()) }, vid);
        // roundf: truncate, then step away from zero when the dropped part is ≥ 0.5
        // (`t − trunc(t)` is exact).
        let r = _mm256_round_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        let frac = _mm256_andnot_ps(sign, _mm256_sub_ps(t, r));
        let step = _mm256_or_ps(_mm256_and_ps(t, sign), one);
        let up = _mm256_cmp_ps(frac, half, _CMP_GE_OQ);
        let r = _mm256_add_ps(r, _mm256_and_ps(up, step));
        // `as i8` saturates (±inf included) and maps NaN to 0.
        let r = _mm256_min_ps(
            _mm256_max_ps(r, _mm256_set1_ps(-128.0)),
            _mm256_set1_ps(127.0),
        );
        let r = _mm256_and_ps(r, _mm256_cmp_ps(t, t, _CMP_ORD_Q));
        q[k] = _mm256_cvtps_epi32(r);
    }
    pack_i8(q)
}

/// The scales of four consecutive blocks (`x`: 128 elements): `d = amax / 127` before f16
/// rounding and `id = 1 / d` (0 where `d` is 0), each lane exactly the scalar division.
/// Four blocks share one pair of divisions, and their maxima are independent chains.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn scales4_q8(x: &[f32]) -> (__m128, __m128) {
    let a = _mm_setr_ps(
        amax8(&x[..32]),
        amax8(&x[32..64]),
        amax8(&x[64..96]),
        amax8(&x[96..128]),
    );
    let d = _mm_div_ps(a, _mm_set1_ps(127.0));
    let id = _mm_div_ps(_mm_set1_ps(1.0), d);
    (d, _mm_and_ps(id, _mm_cmpneq_ps(d, _mm_setzero_ps())))
}

/// The lanes of a 4-lane vector.
#[inline]
#[target_feature(enable = "avx2")]
fn lanes4(v: __m128) -> [f32; 4] {
    let mut out = [0f32; 4];
    // SAFETY: `out` is 4 writable f32s; unaligned store.
    unsafe { _mm_storeu_ps(out.as_mut_ptr(), v) };
    out
}

/// Four lanes rounded to f16 (nearest even), as [`f16_of`] per lane.
#[inline]
#[target_feature(enable = "f16c")]
fn f16_of4(v: __m128) -> [F16Le; 4] {
    let h = _mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
    let b = (_mm_cvtsi128_si64(h) as u64).to_le_bytes();
    [
        F16Le([b[0], b[1]]),
        F16Le([b[2], b[3]]),
        F16Le([b[4], b[5]]),
        F16Le([b[6], b[7]]),
    ]
}

/// `(d, id)` of one block, as [`scales4_q8`] computes them per lane.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn scale_q8(xb: &[f32]) -> (f32, f32) {
    let d = amax8(&xb[..32]) / 127.0;
    (d, if d != 0.0 { 1.0 / d } else { 0.0 })
}

/// Σq of a block's 32 quants, exactly: 1·q pair sums in i16, then i32 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn sum_q8(q: __m256i) -> i32 {
    let s = _mm256_madd_epi16(
        _mm256_maddubs_epi16(_mm256_set1_epi8(1), q),
        _mm256_set1_epi16(1),
    );
    let s = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
    _mm_cvtsi128_si32(s)
}

/// `f(block, d, f16(d), quants)` for each of the first `nb` blocks of `x`, in order, as
/// `quantize_row_q8_0_ref` computes them (`d` before f16 rounding); groups of four blocks
/// take their scales from [`scales4_q8`].
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn each_block_q8(x: &[f32], nb: usize, mut f: impl FnMut(usize, f32, F16Le, __m256i)) {
    let groups = nb / 4;
    for (g, xs) in x[..128 * groups].chunks_exact(128).enumerate() {
        let (d, id) = scales4_q8(xs);
        let (dh, d, id) = (f16_of4(d), lanes4(d), lanes4(id));
        for i in 0..4 {
            f(4 * g + i, d[i], dh[i], quants_q8(&xs[32 * i..], id[i]));
        }
    }
    for b in 4 * groups..nb {
        let xb = &x[32 * b..32 * b + 32];
        let (d, id) = scale_q8(xb);
        f(b, d, f16_of(d), quants_q8(xb, id));
    }
}

/// `quantize_row_q8_0_ref` over `min(x.len() / 32, out.len())` blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_row_q8_0(x: &[f32], out: &mut [BlockQ8_0]) {
    let nb = (x.len() / 32).min(out.len());
    each_block_q8(x, nb, |i, _, dh, q| {
        let b = &mut out[i];
        b.d = dh;
        // SAFETY: `qs` is 32 writable bytes; unaligned store.
        unsafe { _mm256_storeu_si256(b.qs.as_mut_ptr().cast(), q) };
    });
}

/// `quantize_row_q8_1_ref` over `min(x.len() / 32, out.len())` blocks: as Q8_0, plus
/// `s = f16(d·Σq)` with the exact integer sum and `d` before f16 rounding.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_row_q8_1(x: &[f32], out: &mut [BlockQ8_1]) {
    let nb = (x.len() / 32).min(out.len());
    each_block_q8(x, nb, |i, d, dh, q| {
        let b = &mut out[i];
        b.d = dh;
        // SAFETY: `qs` is 32 writable bytes; unaligned store.
        unsafe { _mm256_storeu_si256(b.qs.as_mut_ptr().cast(), q) };
        b.s = f16_of(sum_q8(q) as f32 * d);
    });
}

/// `quantize_row_q8_K_ref` over `min(x.len() / 256, out.len())` super-blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn quantize_row_q8_k(x: &[f32], out: &mut [BlockQ8K]) {
    for (xb, b) in x.chunks_exact(256).zip(out.iter_mut()) {
        let amax = amax8(xb);
        if amax == 0.0 {
            *b = BlockQ8K::default();
            continue;
        }
        // The first element of largest magnitude (the scalar loop keeps the first).
        let max = xb.iter().copied().find(|v| v.abs() == amax).unwrap_or(amax);
        let iscale = -127.0 / max;
        let vis = _mm256_set1_ps(iscale);
        let magic = _mm256_set1_ps(12582912.0);
        for (qc, xc) in b.qs.chunks_exact_mut(32).zip(xb.chunks_exact(32)) {
            let mut q = [_mm256_setzero_si256(); 4];
            for (k, c) in xc.chunks_exact(8).enumerate() {
                // SAFETY: `c` is 8 readable f32s; unaligned load.
                let t = _mm256_mul_ps(vis, unsafe { _mm256_loadu_ps(c.as_ptr()) });
                // nearest_int: the low mantissa bits of t + 1.5·2²³.
                let v = _mm256_castps_si256(_mm256_add_ps(t, magic));
                let i = _mm256_sub_epi32(
                    _mm256_and_si256(v, _mm256_set1_epi32(0x007f_ffff)),
                    _mm256_set1_epi32(0x0040_0000),
                );
                // `.min(127) as i8` truncates: keep the low byte (exact through packus).
                let i = _mm256_min_epi32(i, _mm256_set1_epi32(127));
                q[k] = _mm256_and_si256(i, _mm256_set1_epi32(0xFF));
            }
            let ab = _mm256_packus_epi32(q[0], q[1]);
            let cd = _mm256_packus_epi32(q[2], q[3]);
            let p = _mm256_packus_epi16(ab, cd);
            let p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            // SAFETY: `qc` is 32 writable bytes; unaligned store.
            unsafe { _mm256_storeu_si256(qc.as_mut_ptr().cast(), p) };
        }
        for (g, s) in b.bsums.iter_mut().enumerate() {
            let sum: i32 = b.qs[16 * g..16 * g + 16]
                .iter()
                .map(|&q| q as i8 as i32)
                .sum();
            *s = (sum as i16).to_le_bytes();
        }
        b.d = (1.0 / iscale).to_le_bytes();
    }
}
