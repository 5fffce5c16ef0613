//! AVX-512 VNNI kernels for several tokens against the same weight rows that give each
//! (row, token) **the bits of the one-token kernel** (`super::avx512`): speculative
//! verification's rows must equal plain decoding's, and the batched kernels
//! (`super::avx512_multi`) sum in another order.
//!
//! Q8_0 · Q8_0 ([`q8_0_rows_tokens`]): the one-token kernel `vec_dot_q8_0_q8_0_vnni` holds
//! two blocks per register (lanes 0–7 the eight 4-quant groups of block `2p`, lanes 8–15
//! those of block `2p + 1`), turns each lane's exact integer group sum into f32, multiplies
//! it by the pair's `dx·dy` (f32 products) with one FMA into accumulator `p mod 2`, and
//! ends with `hsum512(acc0 + acc1)`. Here the same lanes, the same FMA chain per lane and
//! the same final reduction run for up to 8 tokens per weight load: each block pair of a
//! row is loaded and made unsigned once, its two scales converted once, and every token
//! adds only `vpdpbusd` (its `−128·Σy` correction as the start value: the same exact
//! integer), one conversion, one scale product and one FMA. The token side is laid out
//! once per product ([`Q8Pair`], [`q8_0_pairs`]) and shared by all rows.
//!
//! SAFETY (whole file): each kernel is an `unsafe fn` only because of its
//! `#[target_feature]`; `isa::rowwise` calls them after a `Proven` tier shows the CPU has
//! those features. Memory is reached through bounds-checked slices and references; the
//! one raw-pointer operation is the prefetch hint, which cannot fault.

use std::arch::x86_64::*;

use super::avx512::{hsum512, q8_pair};
use super::avx512_multi::prefetch_ahead;
use crate::formats::f16::F16Le;
use crate::formats::q8_0::BlockQ8_0;

/// One token's block pair `2p, 2p + 1` laid out for [`q8_0_rows_tokens`] (a missing
/// second block of an odd row is zeros, as the one-token kernel reads it).
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug)]
pub struct Q8Pair {
    /// The two blocks' quants (signed bytes).
    pub y: [u8; 64],
    /// `−128·Σ y` per 4-quant group (the correction of the unsigned weights `w + 128`).
    pub nc: [i32; 16],
    /// The two block scales, eight lanes each.
    pub dy: [f32; 16],
}

impl Q8Pair {
    pub const ZERO: Q8Pair = Q8Pair {
        y: [0; 64],
        nc: [0; 16],
        dy: [0.0; 16],
    };
}

/// Both scales of a pair as f32 lanes `[a; 8, b; 8]` (exact conversions).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn scale_lanes(a: F16Le, b: F16Le) -> __m512 {
    let h = u16::from_le_bytes(a.0) as i32 | (u16::from_le_bytes(b.0) as i32) << 16;
    let v = _mm_cvtph_ps(_mm_cvtsi32_si128(h));
    let idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(v))
}

/// The scales of block pair `2p` of `b` (zero for a missing second block).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
fn pair_d(b: &[BlockQ8_0], i: usize) -> __m512 {
    scale_lanes(b[i].d, b.get(i + 1).map_or(F16Le::ZERO, |x| x.d))
}

/// Lays out one activation row `a` as `a.len().div_ceil(2)` pairs in `out`.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics if `out` is
/// too short.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn q8_0_pairs(a: &[BlockQ8_0], out: &mut [Q8Pair]) {
    let np = a.len().div_ceil(2);
    for (p, o) in out[..np].iter_mut().enumerate() {
        let y = q8_pair(a, 2 * p);
        let corr = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(-128), y);
        let nc = _mm512_sub_epi32(_mm512_setzero_si512(), corr);
        // SAFETY: each field is 64 writable bytes; unaligned stores.
        unsafe {
            _mm512_storeu_si512(o.y.as_mut_ptr().cast(), y);
            _mm512_storeu_si512(o.nc.as_mut_ptr().cast(), nc);
            _mm512_storeu_ps(o.dy.as_mut_ptr(), pair_d(a, 2 * p));
        }
    }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld_i(v: &[u8; 64]) -> __m512i {
    // SAFETY: 64 readable bytes; unaligned load.
    unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld_nc(v: &[i32; 16]) -> __m512i {
    // SAFETY: 64 readable bytes; unaligned load.
    unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn ld_f(v: &[f32; 16]) -> __m512 {
    // SAFETY: 16 readable f32; unaligned load.
    unsafe { _mm512_loadu_ps(v.as_ptr()) }
}

/// Every row of `w` (`nb` blocks each) against `T` tokens (`tabs[t]`: token `t`'s
/// [`q8_0_pairs`], at least `nb.div_ceil(2)` of them): `out[t·ld + r]` gets exactly
/// `vec_dot_q8_0_q8_0_vnni(row r, token t)`. Prefetches `pf` bytes ahead of each row.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics if a slice is
/// too short.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn q8_0_rows_tokens<const T: usize>(
    w: &[BlockQ8_0],
    nb: usize,
    tabs: [&[Q8Pair]; T],
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    if nb == 0 {
        return;
    }
    let np = nb.div_ceil(2);
    let tabs: [&[Q8Pair]; T] = std::array::from_fn(|t| &tabs[t][..np]);
    let rows = w.len() / nb;
    for r in 0..rows {
        let row = &w[r * nb..(r + 1) * nb];
        let mut acc = [[_mm512_setzero_ps(); 2]; T];
        for p in 0..np {
            let i = 2 * p;
            if i % 4 == 0 {
                prefetch_ahead(&row[i], pf);
            }
            let xu = _mm512_xor_si512(q8_pair(row, i), _mm512_set1_epi8(-128));
            let dx = pair_d(row, i);
            let k = p & 1;
            for t in 0..T {
                let e = &tabs[t][p];
                let s = _mm512_dpbusd_epi32(ld_nc(&e.nc), xu, ld_i(&e.y));
                let d = _mm512_mul_ps(dx, ld_f(&e.dy));
                acc[t][k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), d, acc[t][k]);
            }
        }
        for (t, a) in acc.iter().enumerate() {
            out[t * ld + r] = hsum512(_mm512_add_ps(a[0], a[1]));
        }
    }
}

/// The one-token kernel's arithmetic in scalar code, lane by lane (the twin the tests
/// compare [`q8_0_rows_tokens`] with, bit for bit).
pub fn q8_0_one_token_order(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    let n = w.len().min(a.len());
    let mut acc = [[0f32; 16]; 2];
    let mut i = 0;
    while i < n {
        let k = (i / 2) & 1;
        for lane in 0..16 {
            let b = i + lane / 8;
            let g = lane % 8;
            let (s, d) = if b < n {
                let s: i32 = (0..4)
                    .map(|j| w[b].qs[4 * g + j] as i8 as i32 * a[b].qs[4 * g + j] as i8 as i32)
                    .sum();
                (s, w[b].d.to_f32() * a[b].d.to_f32())
            } else {
                (0, 0.0)
            };
            acc[k][lane] = (s as f32).mul_add(d, acc[k][lane]);
        }
        i += 2;
    }
    let v: [f32; 16] = std::array::from_fn(|l| acc[0][l] + acc[1][l]);
    // hsum512: 256-bit halves, then 128-bit halves, then (0+2, 1+3), then the two.
    let h8: [f32; 8] = std::array::from_fn(|l| v[l] + v[l + 8]);
    let h4: [f32; 4] = std::array::from_fn(|l| h8[l] + h8[l + 4]);
    let (s0, s1) = (h4[0] + h4[2], h4[1] + h4[3]);
    s0 + s1
}
