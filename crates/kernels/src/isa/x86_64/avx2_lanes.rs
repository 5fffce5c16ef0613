//! The AVX2 kernels of Q4_1 · Q8_1 with eight weight rows in the lanes: the one-token
//! product, and the rowwise product of up to [`GROUP`] tokens per unpacked block, the same
//! code with the same arithmetic per (row, token) — so a speculative verify row is the
//! decode step's row bit for bit.
//!
//! The arithmetic is the token-lane kernels' of the VNNI tier (`avx512_multi::rows_vnni`,
//! `avx512_lanes`), ggml's scalar order fused: per block in order, the exact integer sum
//! `S = Σ q·y`, then `f = f + (S·(dy·dx) + sy·mx)`, the inner part one FMA. A row's
//! products are summed into one lane: `maddubs` and `madd` give each row eight 32-bit
//! partial sums (exact: |pair| ≤ 2·15·128), and two-source unpacks and adds reduce the eight
//! rows' registers to one lane per row. (Three rounds of 16-bit `hadd` instead, exact as
//! well, measured ~20% slower per token on Zen 3.) The rows' f16 scales and offsets are gathered eight at a time and
//! converted together, and the float work — one conversion, two multiplies, an FMA and an
//! add — serves eight rows. (The per-row kernel it replaced, which Q5_1 still uses
//! (`avx2_quant::sum_q8_1_blocks`), sums eight float lanes per row and converts a scale
//! pair per block and row.)
//!
//! SAFETY (whole file): each kernel is an `unsafe fn` only because of its
//! `#[target_feature]`; `isa` calls them after a `Proven` tier shows the CPU has AVX2, FMA
//! and F16C. Memory is reached through bounds-checked slices.

use std::arch::x86_64::*;

use super::avx2_quant::{f16x8, ld32, nibbles32};
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q8_1::BlockQ8_1;

/// Rows per register.
const R: usize = 8;

/// Most tokens per call of [`q4_1_rows_tokens`]. Past four, the accumulators and the eight
/// rows' quants outnumber the registers, but the spills cost less than unpacking the
/// blocks again: 8 tokens ≈ 4.6 one-token products in one call, 5.1 in two of four
/// (`examples/rowwise_bench.rs`, Zen 3).
pub const GROUP: usize = 8;

/// Every Q4_1 row of `w` (`nb` blocks each) against the `T` Q8_1 activation rows `ys`:
/// `out[t·ld + r]` gets row `r` · token `t`. With `T = 1` and `ld` the row count, the
/// one-token product. While a group of eight rows is read, the bytes at least `pf` past it
/// (and at least one group past) are prefetched, spread over its blocks: eight rows read
/// side by side are eight streams, which the hardware prefetchers follow worse than one
/// (none for `pf == 0`).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C. Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q4_1_rows_tokens<const T: usize>(
    w: &[BlockQ4_1],
    nb: usize,
    ys: [&[BlockQ8_1]; T],
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    let rows = w.len() / nb;
    let span = R * nb * std::mem::size_of::<BlockQ4_1>();
    let ahead = if pf == 0 { 0 } else { pf.max(span) };
    let ys = ys.map(|y| &y[..nb]);
    let row = |r: usize| &w[r * nb..(r + 1) * nb];
    let mut r0 = 0;
    while r0 < rows {
        let take = (rows - r0).min(R);
        // A last partial group repeats its last row in the unused lanes.
        let mut rs: [&[BlockQ4_1]; R] = [row(r0); R];
        for (i, x) in rs.iter_mut().enumerate() {
            *x = row(r0 + i.min(take - 1));
        }
        let base = w[r0 * nb..].as_ptr().cast::<u8>().wrapping_add(ahead);
        let f = eight_rows(&rs, &ys, |b| {
            if ahead > 0 {
                // This block's share of the group ahead, a line at a time.
                let (from, to) = (b * span / nb, (b + 1) * span / nb);
                for at in (from..to).step_by(64) {
                    // A prefetch is a hint: it never faults or reads into the program, so
                    // any address (past the end of the weights too) will do.
                    _mm_prefetch::<_MM_HINT_T0>(base.wrapping_add(at).cast());
                }
            }
        });
        for (t, f) in f.iter().enumerate() {
            let mut v = [0f32; R];
            st8(&mut v, *f);
            out[t * ld + r0..t * ld + r0 + take].copy_from_slice(&v[..take]);
        }
        r0 += take;
    }
}

/// Eight rows against `T` tokens: lane `i` of result `t` is row `i` · token `t`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn eight_rows<const T: usize>(
    rs: &[&[BlockQ4_1]; R],
    ys: &[&[BlockQ8_1]; T],
    prefetch: impl Fn(usize),
) -> [__m256; T] {
    let nb = ys.first().map_or(0, |y| y.len());
    let rs: [&[BlockQ4_1]; R] = [
        &rs[0][..nb],
        &rs[1][..nb],
        &rs[2][..nb],
        &rs[3][..nb],
        &rs[4][..nb],
        &rs[5][..nb],
        &rs[6][..nb],
        &rs[7][..nb],
    ];
    let mut f = [_mm256_setzero_ps(); T];
    for b in 0..nb {
        prefetch(b);
        let mut q = [_mm256_setzero_si256(); R];
        for (q, x) in q.iter_mut().zip(&rs) {
            *q = nibbles32(&x[b].qs);
        }
        let (dx, mx) = scales(&rs, b);
        for t in 0..T {
            let y = &ys[t][b];
            let s = block_sums(&q, ld32(&y.qs, 0));
            let dd = _mm256_mul_ps(f16x8(y.d), dx);
            let ms = _mm256_mul_ps(f16x8(y.s), mx);
            f[t] = _mm256_add_ps(f[t], _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), dd, ms));
        }
    }
    f
}

/// Lane `i`: Σ q·y of row `i`'s unsigned quants `q[i]` and the token's signed bytes `y`,
/// exact.
#[inline]
#[target_feature(enable = "avx2")]
fn block_sums(q: &[__m256i; R], y: __m256i) -> __m256i {
    let ones = _mm256_set1_epi16(1);
    let p = |i: usize| _mm256_madd_epi16(_mm256_maddubs_epi16(q[i], y), ones);
    let r4 = |a: __m256i, b: __m256i, c: __m256i, d: __m256i| {
        let ab = _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
        let cd = _mm256_add_epi32(_mm256_unpacklo_epi32(c, d), _mm256_unpackhi_epi32(c, d));
        _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd))
    };
    let lo = r4(p(0), p(1), p(2), p(3));
    let hi = r4(p(4), p(5), p(6), p(7));
    _mm256_add_epi32(
        _mm256_permute2x128_si256::<0x20>(lo, hi),
        _mm256_permute2x128_si256::<0x31>(lo, hi),
    )
}

/// The eight rows' block-`b` scales `d` and offsets `m`, as f32.
#[inline]
#[target_feature(enable = "avx2,f16c")]
fn scales(rs: &[&[BlockQ4_1]; R], b: usize) -> (__m256, __m256) {
    let h = |i: usize| {
        let x = &rs[i][b];
        i32::from_le_bytes([x.d.0[0], x.d.0[1], x.m.0[0], x.m.0[1]])
    };
    let v = _mm256_setr_epi32(h(0), h(1), h(2), h(3), h(4), h(5), h(6), h(7));
    // Per 128-bit half: the four `d` (bytes 0..8), then the four `m`.
    let split = _mm256_setr_epi8(
        0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7,
        10, 11, 14, 15,
    );
    let v = _mm256_shuffle_epi8(v, split);
    // 64-bit lanes: d of rows 0..4, d of rows 4..8, m of rows 0..4, m of rows 4..8.
    let v = _mm256_permute4x64_epi64::<0b11_01_10_00>(v);
    (
        _mm256_cvtph_ps(_mm256_castsi256_si128(v)),
        _mm256_cvtph_ps(_mm256_extracti128_si256::<1>(v)),
    )
}

#[inline]
#[target_feature(enable = "avx")]
fn st8(o: &mut [f32; 8], v: __m256) {
    // SAFETY: `o` is 8 writable f32; unaligned store.
    unsafe { _mm256_storeu_ps(o.as_mut_ptr(), v) }
}
