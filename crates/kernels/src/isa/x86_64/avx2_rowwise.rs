//! The AVX2 rowwise kernel of Q8_0 · Q8_0 (stock blocks): up to four tokens per weight
//! load, each (row, token) **bit-identical** to the one-token kernel
//! [`avx2_quant::vec_dot_q8_0_q8_0_known`] on its sign-trick path (tokens whose activations
//! hold `-128` take the exact path there, and the caller runs that kernel for them).
//!
//! A block's quants are loaded and their absolute values formed once, and its scale
//! converted once; each token then pays its signs, its integer block sum, the `dx·dy`
//! product (against a table of the tokens' scales, each broadcast), the conversion and
//! the FMA. Every value is computed by the same operation on the same operands as in the
//! one-token kernel and meets the same accumulator in the same order: two accumulators
//! taken by block parity, the same horizontal sum at the end.
//!
//! SAFETY (whole file): each kernel is an `unsafe fn` only because of its
//! `#[target_feature]`; `isa::rowwise` calls them after a `Proven` tier shows the CPU has
//! AVX2, FMA and F16C. Memory is reached through bounds-checked slices.

use std::arch::x86_64::*;

use super::avx2_quant::{self, hsum_ps, ld32};
use crate::formats::q8_0::BlockQ8_0;

/// Most tokens per group (each holds two accumulators).
pub const GROUP: usize = 4;

/// The token groups of `n` tokens: as few as groups of at most `max` allow, as even as
/// possible (a group of one token shares nothing: 5 tokens by 4 run as 3 + 2, not 4 + 1).
pub fn groups(n: usize, max: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let g = n.div_ceil(max);
    (0..g).map(move |i| i * n / g..(i + 1) * n / g)
}

/// Q8_0 rows `w` (`nb` blocks each) against the tokens `tokens` of `a` (rows of `nb` Q8_0
/// blocks) whose activations hold no `-128` (the one-token kernel's sign-trick path):
/// `out[t·ld + r]` = row `r` · token `t` for each `t` in `tokens`. `ds[g·nb + b]` holds
/// the scales of group `g` ([`groups`] of `tokens`) at block `b` ([`scale_table`]).
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
        for (g, ts) in groups(tokens.len(), GROUP).map(|r| &tokens[r]).enumerate() {
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

/// A group's scales at one block, as f32: token `i`'s `d` in every lane of `d[i]` (unused
/// tokens zero).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(32))]
pub struct Scales {
    d: [[f32; 8]; GROUP],
}

/// The scale table of [`q8_0_rows`]: for each of the [`groups`] of `tokens` and each of
/// the `nb` blocks, the group's [`Scales`] from `d(token, block)`.
pub fn scale_table(
    nb: usize,
    tokens: &[usize],
    d: impl Fn(usize, usize) -> f32,
    out: &mut Vec<Scales>,
) {
    out.clear();
    for ts in groups(tokens.len(), GROUP).map(|r| &tokens[r]) {
        for b in 0..nb {
            let mut v = Scales::default();
            for (i, &t) in ts.iter().enumerate() {
                v.d[i] = [d(t, b); 8];
            }
            out.push(v);
        }
    }
}

#[inline]
#[target_feature(enable = "avx")]
fn ld8(v: &[f32; 8]) -> __m256 {
    // SAFETY: `v` is 8 readable f32; unaligned load.
    unsafe { _mm256_loadu_ps(v.as_ptr()) }
}
