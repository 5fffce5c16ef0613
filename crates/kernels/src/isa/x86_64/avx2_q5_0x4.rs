//! AVX2 (+FMA, F16C) kernels for Q5_0×4, the load-time repacking of Q5_0
//! (`crate::formats::q5_0x4`): one weight row against one Q8_0 activation row (decode),
//! and against up to 8 (a batched decode step).
//!
//! Per group of four blocks: two 32-byte loads give the four blocks' nibbles (an AND, a
//! shift), one 16-byte load their fifth bits (a shift and an AND per block), one F16C
//! conversion their scales. The quants stay unsigned (0..32) so each block is one
//! `maddubs` against the activation. The `−16` offset: the per-row kernel subtracts
//! `maddubs(16, y)` in 16-bit integers (from a per-call table), so its block sums are
//! exact as in stock Q5_0's kernel; the multi-token kernel takes `16·dy·Σy` off in float
//! once per row, as the stock multi-token kernels do.

use std::arch::x86_64::*;

use super::avx2_multi::{ld_ps, store};
use super::avx2_quant::{hsum_ps, ld16, ld32};
use crate::formats::q5_0x4::{GROUP_BYTES, QH, QS};
use crate::formats::q8_0::BlockQ8_0;

/// f32 of the per-row kernels' activation table per group: `dy` of the group's four
/// blocks twice (both 128-bit lanes).
pub const TAB: usize = 8;

/// The four blocks' unsigned quants (element order) of group `g`.
#[inline]
#[target_feature(enable = "avx2")]
fn group_quants(g: &[u8]) -> [__m256i; 4] {
    let m4 = _mm256_set1_epi8(0x0F);
    let m16 = _mm256_set1_epi8(0x10);
    let (v0, v1) = (ld32(g, QS), ld32(g, QS + 32));
    let hb = ld16(g, QH);
    // Byte j of the low lane (elements 0..15) and of the high lane (16..31): bit 4 + k is
    // the fifth bit of block k.
    let h = _mm256_set_m128i(hb, _mm_slli_epi16(hb, 4));
    let fifth = |x: __m256i| _mm256_and_si256(x, m16);
    [
        _mm256_or_si256(_mm256_and_si256(v0, m4), fifth(h)),
        _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16(v0, 4), m4),
            fifth(_mm256_srli_epi16(h, 1)),
        ),
        _mm256_or_si256(_mm256_and_si256(v1, m4), fifth(_mm256_srli_epi16(h, 2))),
        _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16(v1, 4), m4),
            fifth(_mm256_srli_epi16(h, 3)),
        ),
    ]
}

/// The four f16 scales at the start of group `g` as f32, in both 128-bit lanes: `[d0, d1, d2, d3, d0, .., d3]`.
#[inline]
#[target_feature(enable = "avx2,f16c")]
pub(crate) fn group_scales(g: &[u8]) -> __m256 {
    let d = &g[..8];
    let bits = i64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    _mm256_cvtph_ps(_mm_set1_epi64x(bits))
}

/// Lane `k` (0..4) of each 128-bit half of `v`, broadcast to all 8 lanes. Taken one block
/// at a time in the multi-token kernels, where four live copies would spill accumulators.
#[inline]
#[target_feature(enable = "avx")]
pub(crate) fn lane(v: __m256, k: usize) -> __m256 {
    match k {
        0 => _mm256_shuffle_ps(v, v, 0x00),
        1 => _mm256_shuffle_ps(v, v, 0x55),
        2 => _mm256_shuffle_ps(v, v, 0xAA),
        _ => _mm256_shuffle_ps(v, v, 0xFF),
    }
}

/// The four block products `p[k]` (8 i32 each) of one token and one group, reduced within
/// each 128-bit half: lane `k` of a half is the sum of `p[k]`'s four lanes in that half,
/// so one conversion and one multiply by `[d0 d1 d2 d3 d0 d1 d2 d3]` scale all four
/// blocks. Integer sums, exact.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn reduce4(p: [__m256i; 4]) -> __m256i {
    let s01 = _mm256_add_epi32(
        _mm256_unpacklo_epi32(p[0], p[1]),
        _mm256_unpackhi_epi32(p[0], p[1]),
    );
    let s23 = _mm256_add_epi32(
        _mm256_unpacklo_epi32(p[2], p[3]),
        _mm256_unpackhi_epi32(p[2], p[3]),
    );
    _mm256_add_epi32(
        _mm256_unpacklo_epi64(s01, s23),
        _mm256_unpackhi_epi64(s01, s23),
    )
}

/// [`lane`] for all four blocks of a group.
#[inline]
#[target_feature(enable = "avx")]
pub(crate) fn lanes(v: __m256) -> [__m256; 4] {
    [lane(v, 0), lane(v, 1), lane(v, 2), lane(v, 3)]
}

/// Every Q5_0×4 row of `w` (rows of `rb` bytes, whole groups) · one Q8_0 activation row
/// `a` with its tables `tab` ([`TAB`] f32 per group, see there) and `off` (per block, the
/// 16 i16 pair sums `16·(y[2j] + y[2j+1])`, little-endian) into `out`, prefetching
/// `pf` bytes ahead of the row being read. One call for many rows keeps the constants in
/// registers and the loop free of call overhead (the head has 262,144 short rows).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C. Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn rows_q5_0x4_q8_0(
    w: &[u8],
    rb: usize,
    a: &[BlockQ8_0],
    tab: &[f32],
    off: &[[u8; 32]],
    out: &mut [f32],
    pf: usize,
) {
    for (r, (o, row)) in out.iter_mut().zip(w.chunks_exact(rb)).enumerate() {
        prefetch(w, r * rb + pf, rb);
        *o = row_q5_0x4(row, a, tab, off);
    }
}

/// Prefetches the cache lines of `w[from..from + len]` (clamped to `w`).
#[inline]
#[target_feature(enable = "sse")]
pub(crate) fn prefetch(w: &[u8], from: usize, len: usize) {
    let end = (from + len).min(w.len());
    let mut off = from;
    while off < end {
        // SAFETY: `off < w.len()`, so the address is inside `w`; a prefetch never faults.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(w.as_ptr().add(off).cast()) };
        off += 64;
    }
}

#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn row_q5_0x4(w: &[u8], a: &[BlockQ8_0], tab: &[f32], off: &[[u8; 32]]) -> f32 {
    let ng = w.len() / GROUP_BYTES;
    let (a, tab, off) = (&a[..ng * 4], &tab[..ng * TAB], &off[..ng * 4]);
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_ps(); 2];
    let groups = w.chunks_exact(GROUP_BYTES).zip(a.chunks_exact(4));
    for (((g, ys), t), o) in groups.zip(tab.chunks_exact(TAB)).zip(off.chunks_exact(4)) {
        let q = group_quants(g);
        let d = lanes(_mm256_mul_ps(group_scales(g), ld_ps(t)));
        for k in 0..4 {
            // |maddubs(q, y)| ≤ 2·31·128 and |16·(y + y')| ≤ 4096: exact in i16.
            let qy = _mm256_maddubs_epi16(q[k], ld32(&ys[k].qs, 0));
            let p = _mm256_madd_epi16(_mm256_sub_epi16(qy, ld32(&o[k], 0)), ones);
            acc[k & 1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), d[k], acc[k & 1]);
        }
    }
    hsum_ps(_mm256_add_ps(acc[0], acc[1]))
}

/// Q5_0×4 rows (`rows` rows of `ng` groups in `w`) against `N` Q8_0 activation rows, with
/// the tables of `crate::isa::multi` (quants `yq[b·N + t]`; group scales `gy`, per group
/// and token the four block scales twice; offset terms `sy` with offset 16). Per token and
/// group the four block products are reduced in integers first ([`reduce4`]).
/// `out[t·ld + r]` gets row `r` · token `t`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C. Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn rows_q5_0x4<const N: usize>(
    w: &[u8],
    ng: usize,
    yq: &[[u8; 32]],
    gy: &[f32],
    sy: &[f32],
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    let nb = 4 * ng;
    let (yq, gy, sy) = (&yq[..nb * N], &gy[..ng * N * 8], &sy[..nb * 8]);
    let ones = _mm256_set1_epi16(1);
    let rb = ng * GROUP_BYTES;
    for (r, row) in w.chunks_exact(rb).enumerate() {
        prefetch(w, r * rb + pf, rb);
        let mut acc = [_mm256_setzero_ps(); N];
        let mut corr = _mm256_setzero_ps();
        // Iterators rather than indices, so the token loop has no bounds checks.
        let tables = yq.chunks_exact(4 * N).zip(gy.chunks_exact(N * 8));
        let parts = row
            .chunks_exact(GROUP_BYTES)
            .zip(tables.zip(sy.chunks_exact(4 * 8)));
        for (g, ((yg, sg), og)) in parts {
            let q = group_quants(g);
            let dw = group_scales(g);
            for (k, ob) in og.chunks_exact(8).enumerate() {
                corr = _mm256_fmadd_ps(lane(dw, k), ld_ps(ob), corr);
            }
            for t in 0..N {
                let p: [__m256i; 4] = std::array::from_fn(|k| {
                    _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], ld32(&yg[k * N + t], 0)), ones)
                });
                let s = _mm256_mul_ps(dw, ld_ps(&sg[t * 8..]));
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce4(p)), s, acc[t]);
            }
        }
        store(&acc, corr, out, ld, r);
    }
}
