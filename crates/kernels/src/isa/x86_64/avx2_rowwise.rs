//! AVX2 rowwise kernels of Q4_1 · Q8_1 and Q8_0 · Q8_0 (stock blocks): up to four tokens
//! per weight load, each (row, token) **bit-identical** to the one-token kernels
//! [`avx2_quant::vec_dot_q4_1_q8_1`] and [`avx2_quant::vec_dot_q8_0_q8_0_known`] (the
//! sign-trick path).
//!
//! The one-token kernel spends most of a block on float work that is the same for every
//! token but for the token's scale: unpacking the nibbles, converting the row's f16 scale
//! (and offset), the `dx·dy` product. Here a block's weights are unpacked and its scales
//! converted once, and one multiply forms the products for four tokens at once against a
//! table of the tokens' scales (`ds`: per block, token `t`'s `dy` in lane `2t` and, for
//! Q8_1, its `s` in lane `2t + 1`). Each token then pays its integer block sum, one permute
//! that broadcasts its `dx·dy`, the conversion and the FMA. Every value is computed by the
//! same operation on the same operands as in the one-token kernel (a product of two f32 is
//! the same whichever lane forms it), and it meets the same accumulator in the same order:
//! two accumulators taken by block parity, the offset terms `m·s` summed per parity in
//! their own lane, the same horizontal sum at the end.
//!
//! SAFETY (whole file): each kernel is an `unsafe fn` only because of its
//! `#[target_feature]`; `isa::rowwise` calls them after a `Proven` tier shows the CPU has
//! AVX2, FMA and F16C. Memory is reached through bounds-checked slices.

use std::arch::x86_64::*;

use super::avx2_quant::{self, hsum_ps, ld32, nibbles32};
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_1::BlockQ8_1;

/// Most tokens per group: each holds two accumulators, and the group's offset products
/// fill one register (two lanes per token).
pub const GROUP: usize = 4;

/// The token groups of `n` tokens: as few as [`GROUP`] allows, as even as possible (a
/// group of one token shares nothing: 5 tokens run as 3 + 2, not 4 + 1).
pub fn groups(n: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let g = n.div_ceil(GROUP);
    (0..g).map(move |i| i * n / g..(i + 1) * n / g)
}

/// Q4_1 rows `w` (`nb` blocks each) against the tokens `a` (`tokens.len()` rows of `nb`
/// Q8_1 blocks, indexed by `tokens`): `out[tokens[i]·ld + r]` = row `r` · token
/// `tokens[i]`. `ds[g·nb + b]` holds the scales of group `g` ([`groups`] of `tokens`) at
/// block `b` ([`scale_table`]).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C. Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q4_1_rows(
    w: &[BlockQ4_1],
    nb: usize,
    a: &[BlockQ8_1],
    tokens: &[usize],
    ds: &[Scales],
    out: &mut [f32],
    ld: usize,
) {
    let tok = |t: usize| &a[t * nb..(t + 1) * nb];
    for (r, x) in w.chunks_exact(nb).enumerate() {
        for (g, ts) in groups(tokens.len()).map(|r| &tokens[r]).enumerate() {
            let ds = &ds[g * nb..(g + 1) * nb];
            macro_rules! group {
                ($n:literal) => {{
                    let mut y: [&[BlockQ8_1]; $n] = [&[]; $n];
                    for (y, &t) in y.iter_mut().zip(ts) {
                        *y = tok(t);
                    }
                    let v = q4_1_group::<$n>(x, y, ds);
                    for (i, &t) in ts.iter().enumerate() {
                        out[t * ld + r] = v[i];
                    }
                }};
            }
            match ts.len() {
                1 => group!(1),
                2 => group!(2),
                3 => group!(3),
                _ => group!(4),
            }
        }
    }
}

/// One row against `T` tokens (see the module docs for the arithmetic).
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn q4_1_group<const T: usize>(x: &[BlockQ4_1], y: [&[BlockQ8_1]; T], ds: &[Scales]) -> [f32; T] {
    let nb = x.len();
    let ds = &ds[..nb];
    // Two accumulators per token (and for the offset terms), taken by block parity.
    let mut acc = [[_mm256_setzero_ps(); T]; 2];
    let mut acc_m = [_mm256_setzero_ps(); 2];
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn block<const T: usize>(
        x: &BlockQ4_1,
        y: &[&[BlockQ8_1]; T],
        b: usize,
        ds: &Scales,
        acc: &mut [__m256; T],
        acc_m: &mut __m256,
    ) {
        let q = nibbles32(&x.qs);
        // [dx, m] in every lane pair, times the tokens' [dy, s]: lane 2t + 1 is token t's
        // m·s (the one-token kernel's `dm_products`, four at once).
        let dm = f16_pair(avx2_quant::head4(x.d, x.m));
        *acc_m = _mm256_add_ps(*acc_m, _mm256_mul_ps(dm, ld8(&ds.pairs)));
        let dx = avx2_quant::f16x8(x.d);
        for t in 0..T {
            let p = avx2_quant::dot_u8_i8(q, ld32(&y[t][b].qs, 0));
            let d = _mm256_mul_ps(dx, ld8(&ds.d[t]));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), d, acc[t]);
        }
    }
    let mut b = 0;
    while b + 2 <= nb {
        for k in 0..2 {
            block(&x[b + k], &y, b + k, &ds[b + k], &mut acc[k], &mut acc_m[k]);
        }
        b += 2;
    }
    if b < nb {
        block(&x[b], &y, b, &ds[b], &mut acc[0], &mut acc_m[0]);
    }
    let mut m = [0f32; 8];
    st8(&mut m, _mm256_add_ps(acc_m[0], acc_m[1]));
    std::array::from_fn(|t| hsum_ps(_mm256_add_ps(acc[0][t], acc[1][t])) + m[2 * t + 1])
}

/// Q8_0 rows `w` against tokens `tokens` of `a` whose activations hold no `-128` (the
/// one-token kernel's sign-trick path), as [`q4_1_rows`].
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C. Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q8_0_rows(
    w: &[BlockQ8_0],
    nb: usize,
    a: &[BlockQ8_0],
    tokens: &[usize],
    ds: &[Scales],
    out: &mut [f32],
    ld: usize,
) {
    let tok = |t: usize| &a[t * nb..(t + 1) * nb];
    for (r, x) in w.chunks_exact(nb).enumerate() {
        for (g, ts) in groups(tokens.len()).map(|r| &tokens[r]).enumerate() {
            let ds = &ds[g * nb..(g + 1) * nb];
            macro_rules! group {
                ($n:literal) => {{
                    let mut y: [&[BlockQ8_0]; $n] = [&[]; $n];
                    for (y, &t) in y.iter_mut().zip(ts) {
                        *y = tok(t);
                    }
                    let v = q8_0_group::<$n>(x, y, ds);
                    for (i, &t) in ts.iter().enumerate() {
                        out[t * ld + r] = v[i];
                    }
                }};
            }
            match ts.len() {
                1 => group!(1),
                2 => group!(2),
                3 => group!(3),
                _ => group!(4),
            }
        }
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn q8_0_group<const T: usize>(x: &[BlockQ8_0], y: [&[BlockQ8_0]; T], ds: &[Scales]) -> [f32; T] {
    let nb = x.len();
    let ds = &ds[..nb];
    let mut acc = [[_mm256_setzero_ps(); T]; 2];
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    fn block<const T: usize>(
        x: &BlockQ8_0,
        y: &[&[BlockQ8_0]; T],
        b: usize,
        ds: &Scales,
        acc: &mut [__m256; T],
    ) {
        let xv = ld32(&x.qs, 0);
        let ax = _mm256_sign_epi8(xv, xv);
        let dx = avx2_quant::f16x8(x.d);
        for t in 0..T {
            let yv = ld32(&y[t][b].qs, 0);
            let p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(yv, xv));
            let p = _mm256_madd_epi16(p, _mm256_set1_epi16(1));
            let d = _mm256_mul_ps(dx, ld8(&ds.d[t]));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), d, acc[t]);
        }
    }
    let mut b = 0;
    while b + 2 <= nb {
        for k in 0..2 {
            block(&x[b + k], &y, b + k, &ds[b + k], &mut acc[k]);
        }
        b += 2;
    }
    if b < nb {
        block(&x[b], &y, b, &ds[b], &mut acc[0]);
    }
    std::array::from_fn(|t| hsum_ps(_mm256_add_ps(acc[0][t], acc[1][t])))
}

/// A group's scales at one block, as f32: token `i`'s `d` in every lane of `d[i]`, and the
/// tokens' `(d, s)` pairs (token `i` at lanes `2i`, `2i + 1`; `s` = 0 for Q8_0). Unused
/// tokens are zero.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(32))]
pub struct Scales {
    d: [[f32; 8]; GROUP],
    pairs: [f32; 8],
}

/// The scale table of [`q4_1_rows`] / [`q8_0_rows`]: for each of the [`groups`] of
/// `tokens` and each of the `nb` blocks, the group's [`Scales`] from `d_s(token, block)`.
pub fn scale_table(
    nb: usize,
    tokens: &[usize],
    d_s: impl Fn(usize, usize) -> (f32, f32),
    out: &mut Vec<Scales>,
) {
    out.clear();
    for ts in groups(tokens.len()).map(|r| &tokens[r]) {
        for b in 0..nb {
            let mut v = Scales::default();
            for (i, &t) in ts.iter().enumerate() {
                let (d, s) = d_s(t, b);
                v.d[i] = [d; 8];
                (v.pairs[2 * i], v.pairs[2 * i + 1]) = (d, s);
            }
            out.push(v);
        }
    }
}

/// The f16 pair `[d, m]` (a block's first four bytes) converted, in every lane pair.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn f16_pair(h: [u8; 4]) -> __m256 {
    _mm256_cvtph_ps(_mm_set1_epi32(i32::from_le_bytes(h)))
}

#[inline]
#[target_feature(enable = "avx")]
fn ld8(v: &[f32; 8]) -> __m256 {
    // SAFETY: `v` is 8 readable f32; unaligned load.
    unsafe { _mm256_loadu_ps(v.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx")]
fn st8(o: &mut [f32; 8], v: __m256) {
    // SAFETY: `o` is 8 writable f32; unaligned store.
    unsafe { _mm256_storeu_ps(o.as_mut_ptr(), v) }
}
