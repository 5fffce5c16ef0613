//! AVX-512 VNNI kernels for k-quant weight rows (Q4_K, Q5_K, Q6_K) against up to 8 Q8_K
//! activation rows at once: the k-quant side of [`super::avx512_multi`], with the same
//! idea. A 256-bit register's eight i32 lanes are the eight tokens; each group of four
//! weight quants is broadcast to every lane and one `vpdpbusd` adds its four products for
//! all tokens, so no lane sums are needed.
//!
//! Per super-block and row, the weights are unpacked once (`super::avx2_multi_k`'s
//! unpacking: unsigned quants, integer scales, correction coefficients, float scales) and
//! then, per group of 16 elements with its own integer scale (Q6_K) or of 32 (Q4_K,
//! Q5_K), the group's integer sums are multiplied by that scale (`vpmulld`) and added.
//! The correction term (minimums, or Q6_K's `−32` offset) is `Σ_g c[g]·bsum[g]` over the
//! 16 group sums of Q8_K: eight `vpdpwssd` on i16 pairs. The activation tables
//! (`crate::isa::tables`), per token group and super-block:
//! - `kq[b·64 + j]`: token `t`'s quants `4j..4j+4` in bytes `4t..4t+4`;
//! - `kb[b·8 + m]`: token `t`'s group sums `2m` and `2m+1` as an i16 pair in lane `t`;
//! - `kd[b]`: the tokens' scales.
//!
//! SAFETY (whole file): each kernel is an `unsafe fn` only because of its
//! `#[target_feature]`; `isa::multi` calls them after a `Proven` tier shows the CPU has
//! those features. Memory is reached through bounds-checked slices and arrays (the
//! prefetch hint is `super::avx512_multi::prefetch_ahead`).

use std::arch::x86_64::*;

use super::avx2_multi_k::{KBlock, Unpacked};
use super::avx2_quant::ld32;
use super::avx512_multi::prefetch_ahead;
use crate::formats::q4_k::BlockQ4K;
use crate::formats::q5_k::BlockQ5K;
use crate::formats::q6_k::BlockQ6K;

/// Weight rows multiplied together (they share each activation load).
const R: usize = 4;

/// A k-quant super-block for these kernels.
pub(crate) trait VnniKBlock: KBlock {
    /// Whether each 32-element sub-block has two integer scales (one per 16 elements).
    const SPLIT: bool;
}

impl VnniKBlock for BlockQ4K {
    const SPLIT: bool = false;
}

impl VnniKBlock for BlockQ5K {
    const SPLIT: bool = false;
}

impl VnniKBlock for BlockQ6K {
    const SPLIT: bool = true;
}

/// One row's super-block unpacked for the broadcasts.
struct Scratch {
    /// Unsigned quants in element order.
    q: [[u8; 32]; 8],
    /// Integer scale of elements `16g .. 16g + 16`.
    sc: [i32; 16],
    /// Correction coefficients of group sums `2m`, `2m + 1` as an i16 pair.
    c: [i32; 8],
    d: f32,
    dc: f32,
}

/// Every row of `w` (`nb` super-blocks each) against one token group of `width` (1..=8)
/// tokens laid out as the module docs say: `out[t·ld + r]` gets row `r` · token `t`.
/// Prefetches `pf` bytes ahead of each super-block read (none for `pf == 0`).
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics if a slice is
/// too short.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub(crate) unsafe fn rows_vnni_k<X: VnniKBlock>(
    w: &[X],
    nb: usize,
    kq: &[[u8; 32]],
    kb: &[[i32; 8]],
    kd: &[[f32; 8]],
    width: usize,
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    assert!((1..=8).contains(&width), "token group of {width}");
    let (kq, kb, kd) = (&kq[..nb * 64], &kb[..nb * 8], &kd[..nb]);
    let rows = w.len() / nb;
    let mut u = Unpacked::new();
    let mut sc: [Scratch; R] = std::array::from_fn(|_| Scratch {
        q: [[0; 32]; 8],
        sc: [0; 16],
        c: [0; 8],
        d: 0.0,
        dc: 0.0,
    });
    let row = |r: usize| &w[r * nb..(r + 1) * nb];
    let mut r = 0;
    while r < rows {
        let take = if rows - r >= R { R } else { 1 };
        let mut res = [[0f32; 8]; R];
        if take == R {
            let rs: [&[X]; R] = std::array::from_fn(|i| row(r + i));
            let f = rows_r::<X, R>(rs, kq, kb, kd, &mut u, &mut sc, pf);
            for (o, v) in res.iter_mut().zip(f) {
                st_f32(o, v);
            }
        } else {
            let f = rows_r::<X, 1>([row(r)], kq, kb, kd, &mut u, &mut sc, pf);
            st_f32(&mut res[0], f[0]);
        }
        for (i, v) in res.iter().take(take).enumerate() {
            for (t, &x) in v.iter().take(width).enumerate() {
                out[t * ld + r + i] = x;
            }
        }
        r += take;
    }
}

/// `N` (≤ [`R`]) rows against the token group: per row, eight lanes of token results.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
fn rows_r<X: VnniKBlock, const N: usize>(
    rows: [&[X]; N],
    kq: &[[u8; 32]],
    kb: &[[i32; 8]],
    kd: &[[f32; 8]],
    u: &mut Unpacked,
    sc: &mut [Scratch; R],
    pf: usize,
) -> [__m256; N] {
    let nb = kd.len();
    let mut f = [_mm256_setzero_ps(); N];
    for b in 0..nb {
        for i in 0..N {
            let x = &rows[i][b];
            prefetch_ahead(x, pf);
            // SAFETY: this function's features include the ones `unpack` needs.
            unsafe { x.unpack(u) };
            unpacked_to_scratch(u, &mut sc[i]);
        }
        let mut sumi = [_mm256_setzero_si256(); N];
        let kq = &kq[b * 64..b * 64 + 64];
        for k in 0..8 {
            let mut acc = [_mm256_setzero_si256(); N];
            for j in 0..8 {
                let y = ld32(&kq[8 * k + j], 0);
                for i in 0..N {
                    let s = &sc[i].q[k][4 * j..4 * j + 4];
                    let wq = _mm256_set1_epi32(i32::from_le_bytes([s[0], s[1], s[2], s[3]]));
                    acc[i] = _mm256_dpbusd_epi32(acc[i], wq, y);
                }
                if X::SPLIT && j == 3 {
                    // Elements 32k .. 32k + 16 have their own scale.
                    for i in 0..N {
                        let s = _mm256_set1_epi32(sc[i].sc[2 * k]);
                        sumi[i] = _mm256_add_epi32(sumi[i], _mm256_mullo_epi32(acc[i], s));
                        acc[i] = _mm256_setzero_si256();
                    }
                }
            }
            for i in 0..N {
                let s = _mm256_set1_epi32(sc[i].sc[2 * k + 1]);
                sumi[i] = _mm256_add_epi32(sumi[i], _mm256_mullo_epi32(acc[i], s));
            }
        }
        let mut corr = [_mm256_setzero_si256(); N];
        for (m, bs) in kb[b * 8..b * 8 + 8].iter().enumerate() {
            let bs = ld_i32(bs);
            for i in 0..N {
                corr[i] = _mm256_dpwssd_epi32(corr[i], _mm256_set1_epi32(sc[i].c[m]), bs);
            }
        }
        let dy = ld_f32(&kd[b]);
        for i in 0..N {
            let main = _mm256_mul_ps(dy, _mm256_set1_ps(sc[i].d));
            let minus = _mm256_mul_ps(dy, _mm256_set1_ps(sc[i].dc));
            f[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[i]), main, f[i]);
            f[i] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(corr[i]), minus, f[i]);
        }
    }
    f
}

/// Copies an unpacked super-block into `s`: the quants as bytes, the scales of each
/// 16-element group (lanes 0 and 8 of the per-pair scale vectors), the coefficients.
#[inline]
#[target_feature(enable = "avx2")]
fn unpacked_to_scratch(u: &Unpacked, s: &mut Scratch) {
    for k in 0..8 {
        // SAFETY: `s.q[k]` is 32 writable bytes; unaligned store.
        unsafe { _mm256_storeu_si256(s.q[k].as_mut_ptr().cast(), u.q[k]) };
        s.sc[2 * k] = _mm256_extract_epi16::<0>(u.sc[k]) as i16 as i32;
        s.sc[2 * k + 1] = _mm256_extract_epi16::<8>(u.sc[k]) as i16 as i32;
    }
    // SAFETY: `s.c` is 32 writable bytes; unaligned store.
    unsafe { _mm256_storeu_si256(s.c.as_mut_ptr().cast(), u.c) };
    s.d = u.d;
    s.dc = u.dc;
}

#[inline]
#[target_feature(enable = "avx")]
fn ld_i32(v: &[i32; 8]) -> __m256i {
    // SAFETY: `v` is 32 readable bytes; unaligned load.
    unsafe { _mm256_loadu_si256(v.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx")]
fn ld_f32(v: &[f32; 8]) -> __m256 {
    // SAFETY: `v` is 8 readable f32; unaligned load.
    unsafe { _mm256_loadu_ps(v.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx")]
fn st_f32(o: &mut [f32; 8], v: __m256) {
    // SAFETY: `o` is 8 writable f32; unaligned store.
    unsafe { _mm256_storeu_ps(o.as_mut_ptr(), v) }
}
