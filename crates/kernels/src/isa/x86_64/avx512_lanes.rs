//! AVX-512 VNNI one-token kernels for the 32-element formats (Q8_0, Q4_0, Q5_0 · Q8_0;
//! Q4_1, Q5_1 · Q8_1) that give each row **the bits of the token-lane kernel**
//! (`super::avx512_multi::rows_vnni`), so that a batched product of several tokens equals
//! the one-token products it replaces: speculative verification and batched decoding run
//! the cheap multi-token kernel and still reproduce plain decoding exactly.
//!
//! The token-lane kernel gives each (row, token) one lane and sums, per block `b` in
//! order, the block's exact integer sum `Σ q·y` (the weights' zero point folded in as
//! `−o·Σy`): `f += (Σ q·y)·(d_y·d_x)` with one FMA, or for Q4_1/Q5_1
//! `f = f + ((Σ q·y)·(d_y·d_x) + s_y·m_x)` (an FMA, then an add). That is ggml's scalar
//! order per row, with fused multiply-adds. Here sixteen rows take the sixteen lanes: each
//! pair of rows is one `vpdpbusd` against the token's block (lane `2j + i`: row `i`'s
//! four-quant group `j`), eight such registers are summed into one lane per row by three
//! rounds of two-source permutes ([`sum_groups`]), and the rows' scales are converted
//! sixteen at a time. The float work is one chain per sixteen rows, where a kernel with a
//! row's groups in lanes pays it per row.
//!
//! SAFETY (whole file): each kernel is an `unsafe fn` only because of its
//! `#[target_feature]`; `isa::table_x86` hands them out only for a proven VNNI tier.
//! Memory is reached through bounds-checked slices and references; the one raw-pointer
//! operation is the prefetch hint, which cannot fault.

use std::arch::x86_64::*;

use super::avx2_quant::ld32;
use super::avx512_multi::{prefetch_ahead, VnniBlock};
use crate::formats::f16::F16Le;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_1::BlockQ8_1;

/// Rows per register: one lane each.
const LANES: usize = 16;

/// One activation block laid out for [`rows_lanes`].
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug)]
pub struct LaneBlock {
    /// Four-quant group `j` of the block in 32-bit lanes `2j` and `2j + 1` (one for each
    /// row of a pair).
    pub y: [u8; 64],
    /// `−o·Σy`: the zero point `o` of the weights' unsigned quants
    /// ([`VnniBlock::OFF`]) times the block's quant sum (0 for Q4_1/Q5_1).
    pub corr: i32,
    /// The block scale `d`.
    pub d: f32,
    /// Q8_1's `s` (0 for Q8_0).
    pub s: f32,
}

impl LaneBlock {
    pub const ZERO: LaneBlock = LaneBlock {
        y: [0; 64],
        corr: 0,
        d: 0.0,
        s: 0.0,
    };
}

/// An activation block of [`rows_lanes`]: Q8_0 or Q8_1.
pub trait LaneAct {
    fn qs(&self) -> &[u8; 32];
    fn d(&self) -> F16Le;
    /// Q8_1's `s` (zero for Q8_0).
    fn s(&self) -> F16Le;
}

impl LaneAct for BlockQ8_0 {
    fn qs(&self) -> &[u8; 32] {
        &self.qs
    }
    fn d(&self) -> F16Le {
        self.d
    }
    fn s(&self) -> F16Le {
        F16Le::ZERO
    }
}

impl LaneAct for BlockQ8_1 {
    fn qs(&self) -> &[u8; 32] {
        &self.qs
    }
    fn d(&self) -> F16Le {
        self.d
    }
    fn s(&self) -> F16Le {
        self.s
    }
}

/// Lays out one activation row `a` for weights of format `X` into `out` (resized to
/// `a.len()`).
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI and AVX2.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2")]
pub unsafe fn lane_blocks<X: VnniBlock, A: LaneAct>(a: &[A], out: &mut Vec<LaneBlock>) {
    out.clear();
    out.resize(a.len(), LaneBlock::ZERO);
    let twice = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    for (x, o) in a.iter().zip(out.iter_mut()) {
        let q = ld32(x.qs(), 0);
        let y = _mm512_permutexvar_epi32(twice, _mm512_castsi256_si512(q));
        // SAFETY: 64 writable bytes; unaligned store.
        unsafe { _mm512_storeu_si512(o.y.as_mut_ptr().cast(), y) };
        o.corr = if X::OFF == 0 {
            0
        } else {
            // Σ o·y over the block's 32 quants: exact in i32.
            let p = _mm256_dpbusd_epi32(
                _mm256_setzero_si256(),
                _mm256_set1_epi8(X::OFF as u8 as i8),
                q,
            );
            let p = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
            let p = _mm_add_epi32(p, _mm_unpackhi_epi64(p, p));
            -(_mm_cvtsi128_si32(p) + _mm_extract_epi32(p, 1))
        };
        o.d = x.d().to_f32();
        o.s = x.s().to_f32();
    }
}

/// Lanes `0, 1, 4, 5, …` (`EVEN`) and `2, 3, 6, 7, …` (`ODD`) of `a` then `b`.
const EVEN: [i32; 16] = [0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29];
const ODD: [i32; 16] = [2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31];

/// One round of [`sum_groups`]: the even lane pairs of `a` and `b` plus their odd ones.
#[inline]
#[target_feature(enable = "avx512f")]
fn fold(a: __m512i, b: __m512i) -> __m512i {
    // SAFETY: 64 readable bytes each; unaligned loads.
    let (e, o) = unsafe {
        (
            _mm512_loadu_si512(EVEN.as_ptr().cast()),
            _mm512_loadu_si512(ODD.as_ptr().cast()),
        )
    };
    _mm512_add_epi32(
        _mm512_permutex2var_epi32(a, e, b),
        _mm512_permutex2var_epi32(a, o, b),
    )
}

/// Eight registers of row-pair group sums (register `p`, lane `2j + i`: row `2p + i`,
/// group `j`) as one lane per row (lane `r`: row `r`, all eight groups). Exact.
#[inline]
#[target_feature(enable = "avx512f")]
fn sum_groups(s: [__m512i; 8]) -> __m512i {
    // Round 1: rows 0–3, 4–7, 8–11, 12–15, groups summed in pairs; round 2: rows 0–7 and
    // 8–15, groups in fours; round 3: all rows, all groups.
    let c = [
        fold(s[0], s[1]),
        fold(s[2], s[3]),
        fold(s[4], s[5]),
        fold(s[6], s[7]),
    ];
    fold(fold(c[0], c[1]), fold(c[2], c[3]))
}

/// Sixteen f16 (four to a word, the first in the low bits of `h[0]`) as f32.
#[inline]
#[target_feature(enable = "avx512f,avx2,f16c")]
pub(super) fn f16x16(h: [u64; 4]) -> __m512 {
    _mm512_cvtph_ps(_mm256_set_epi64x(
        h[3] as i64,
        h[2] as i64,
        h[1] as i64,
        h[0] as i64,
    ))
}

/// Every row of `w` (`acts.len()` blocks each) against one token laid out by
/// [`lane_blocks`]: `out[r]` gets exactly lane `r`'s value of the token-lane kernel
/// (`super::avx512_multi::rows_vnni`) for this row and token. Prefetches `pf` bytes ahead
/// of each block read.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics unless `w` is
/// `out.len()` rows of `acts.len()` blocks.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn rows_lanes<X: VnniBlock>(w: &[X], acts: &[LaneBlock], out: &mut [f32], pf: usize) {
    let (nb, rows) = (acts.len(), out.len());
    assert_eq!(
        w.len(),
        nb * rows,
        "rows_lanes: weights are not out.len() rows"
    );
    if nb == 0 {
        out.fill(0.0);
        return;
    }
    // A whole tile ahead at least: the rows of a tile are read side by side, so `pf`
    // bytes past a block can fall in the tile being read.
    let pf = match pf {
        0 => 0,
        pf => pf.max(LANES * nb * std::mem::size_of::<X>()),
    };
    let h = |x: F16Le| u16::from_le_bytes(x.0) as u64;
    let mut r0 = 0;
    while r0 < rows {
        let take = (rows - r0).min(LANES);
        // A last tile of fewer rows repeats its last row in the spare lanes.
        let mut rs: [&[X]; LANES] = [&w[..nb]; LANES];
        for (i, r) in rs.iter_mut().enumerate() {
            let at = r0 + i.min(take - 1);
            *r = &w[at * nb..(at + 1) * nb];
        }
        let mut f = _mm512_setzero_ps();
        for (b, e) in acts.iter().enumerate() {
            // SAFETY: 64 readable bytes; unaligned load.
            let y = unsafe { _mm512_loadu_si512(e.y.as_ptr().cast()) };
            let mut s = [_mm512_setzero_si512(); 8];
            let (mut dh, mut mh) = ([0u64; 4], [0u64; 4]);
            for (p, sp) in s.iter_mut().enumerate() {
                let (xa, xb) = (&rs[2 * p][b], &rs[2 * p + 1][b]);
                prefetch_ahead(xa, pf);
                prefetch_ahead(xb, pf);
                // SAFETY: this function's features include AVX-512 F/BW and AVX2.
                *sp = _mm512_dpbusd_epi32(_mm512_setzero_si512(), unsafe { X::pair(xa, xb) }, y);
                let at = 32 * (p % 2);
                dh[p / 2] |= (h(xa.d()) | h(xb.d()) << 16) << at;
                if X::MIN {
                    mh[p / 2] |= (h(xa.m()) | h(xb.m()) << 16) << at;
                }
            }
            let mut sum = sum_groups(s);
            if !X::MIN {
                sum = _mm512_add_epi32(sum, _mm512_set1_epi32(e.corr));
            }
            // d_y·d_x, as the token-lane kernel multiplies them (token scale first).
            let dd = _mm512_mul_ps(_mm512_set1_ps(e.d), f16x16(dh));
            let sum = _mm512_cvtepi32_ps(sum);
            f = if X::MIN {
                let ms = _mm512_mul_ps(_mm512_set1_ps(e.s), f16x16(mh));
                _mm512_add_ps(f, _mm512_fmadd_ps(sum, dd, ms))
            } else {
                _mm512_fmadd_ps(sum, dd, f)
            };
        }
        let mut lanes = [0f32; LANES];
        // SAFETY: 16 writable f32; unaligned store.
        unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), f) };
        out[r0..r0 + take].copy_from_slice(&lanes[..take]);
        r0 += take;
    }
}

/// [`rows_lanes`] with the token's blocks laid out in per-thread scratch: the one-token
/// kernel of these formats at this tier.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C. Panics unless `w` is
/// `out.len()` rows of `a.len()` blocks.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
pub unsafe fn rows_one<X: VnniBlock, A: LaneAct>(w: &[X], a: &[A], out: &mut [f32], pf: usize) {
    thread_local! {
        static ACTS: std::cell::RefCell<Vec<LaneBlock>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    ACTS.with(|acts| {
        let acts = &mut *acts.borrow_mut();
        // SAFETY: this function's features.
        unsafe {
            lane_blocks::<X, A>(a, acts);
            rows_lanes::<X>(w, acts, out, pf)
        }
    })
}
