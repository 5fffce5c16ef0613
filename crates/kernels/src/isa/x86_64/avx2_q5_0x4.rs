//! The AVX2 (+FMA, F16C) kernel of Q5_0×4, the load-time repacking of Q5_0
//! (`crate::formats::q5_0x4`): weight rows against 1 to 8 Q8_0 activation rows.
//!
//! One arithmetic for one token and many, as `avx2_q8_0x4`'s: decoding runs it for one
//! token, a batched step or a speculative verify pass for several, and each (row, token)
//! gets the same bits whatever the token count.
//!
//! Per group of four blocks: two 32-byte loads give the four blocks' nibbles (an AND, a
//! shift), one 16-byte load their fifth bits (a shift and an AND per block), one F16C
//! conversion their scales. The quants stay unsigned (0..32) so each block is one
//! `maddubs` against the activation. Per token, the four block products are reduced in
//! integers ([`reduce4`]), the `−16` offset comes off in integers too (`16·Σy` per block
//! half, from the token's table), so the block sums are exact as in stock Q5_0's kernel;
//! then one conversion, one scale multiply and one FMA.

use std::arch::x86_64::*;

use super::avx2_multi::{ld_ps, store};
use super::avx2_quant::{ld16, ld32};
use crate::formats::q5_0x4::{GROUP_BYTES, QH, QS};

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

/// Q5_0×4 rows (`rows` rows of `nb` blocks, whole groups, in `w`) against `N` Q8_0 activation rows, with
/// the tables of `crate::isa::tables` (quants `yq[b·N + t]`; group scales `gy`, per group
/// and token the four block scales twice; offsets `go`, per group and token the four
/// blocks' `16·Σy` over each 16-element half, in [`reduce4`]'s lane order). Per token and
/// group the four block products are reduced in integers first, less the offsets, then
/// converted and scaled once. `out[t·ld + r]` gets row `r` · token `t`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C. Panics if a slice is too short.
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn rows_q5_0x4<const N: usize>(
    w: &[u8],
    nb: usize,
    yq: &[[u8; 32]],
    gy: &[f32],
    go: &[[i32; 8]],
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    assert!(nb.is_multiple_of(4), "Q5_0x4: rows are whole groups");
    let ng = nb / 4;
    let (yq, gy, go) = (&yq[..nb * N], &gy[..ng * N * 8], &go[..ng * N]);
    let ones = _mm256_set1_epi16(1);
    let rb = ng * GROUP_BYTES;
    for (r, row) in w.chunks_exact(rb).enumerate() {
        prefetch(w, r * rb + pf, rb);
        let mut acc = [_mm256_setzero_ps(); N];
        // Iterators rather than indices, so the token loop has no bounds checks.
        let tables = yq.chunks_exact(4 * N).zip(gy.chunks_exact(N * 8));
        let parts = row
            .chunks_exact(GROUP_BYTES)
            .zip(tables.zip(go.chunks_exact(N)));
        for (g, ((yg, sg), og)) in parts {
            let q = group_quants(g);
            let dw = group_scales(g);
            for t in 0..N {
                // |Σ q·y| over 16 elements ≤ 16·31·128: exact in i32, as is the offset.
                let p: [__m256i; 4] = std::array::from_fn(|k| {
                    _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], ld32(&yg[k * N + t], 0)), ones)
                });
                // SAFETY: `og[t]` is 8 readable i32; unaligned load.
                let o = unsafe { _mm256_loadu_si256(og[t].as_ptr().cast()) };
                let i = _mm256_sub_epi32(reduce4(p), o);
                let s = _mm256_mul_ps(dw, ld_ps(&sg[t * 8..]));
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(i), s, acc[t]);
            }
        }
        store(&acc, _mm256_setzero_ps(), out, ld, r);
    }
}
