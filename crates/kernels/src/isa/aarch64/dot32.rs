//! 32-element block formats (Q8_0, Q4_0, Q5_0 · Q8_0; Q4_1, Q5_1 · Q8_1): per-row and
//! multi-token dot products at the NEON and dotprod tiers.
//!
//! Each weight block unpacks to 32 signed quants in two vectors (offset already removed
//! for the `_0` formats); the exact i32 sum of the block times `dw·dy`, plus `m·s` for the
//! `_1` formats (Q8_1's stored `s = dy·Σy`), as the scalar twins compute it.

use std::arch::aarch64::*;

use super::dot::{h2f, load16, Dot, Neon, Sdot};
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_1::BlockQ8_1;
use crate::formats::Block;
use crate::formats::{q4_0::BlockQ4_0, q4_1::BlockQ4_1, q5_0::BlockQ5_0, q5_1::BlockQ5_1};

/// A 32-element activation block.
pub trait Act32: Block {
    fn d(&self) -> f32;
    /// Q8_1's `s` (0 for Q8_0, which the `_0` weights never read).
    fn s(&self) -> f32;
    fn qs(&self) -> &[u8; 32];
}

impl Act32 for BlockQ8_0 {
    #[inline(always)]
    fn d(&self) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe { h2f(self.d) }
    }
    #[inline(always)]
    fn s(&self) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe { 0.0 }
    }
    #[inline(always)]
    fn qs(&self) -> &[u8; 32] {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe { &self.qs }
    }
}

impl Act32 for BlockQ8_1 {
    #[inline(always)]
    fn d(&self) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe { h2f(self.d) }
    }
    #[inline(always)]
    fn s(&self) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe { h2f(self.s) }
    }
    #[inline(always)]
    fn qs(&self) -> &[u8; 32] {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe { &self.qs }
    }
}

/// A 32-element weight block and the activation block it pairs with.
pub trait W32: Block {
    type Act: Act32;
    /// Whether the format has an offset `m` (multiplying the activation's `s`).
    const OFFSET: bool;
    /// Elements 0..16 and 16..32 as signed quants.
    ///
    /// # Safety
    /// NEON (always present on aarch64).
    unsafe fn unpack(&self) -> (int8x16_t, int8x16_t);
    fn d(&self) -> f32;
    fn m(&self) -> f32 {
        0.0
    }
}

/// Low and high nibbles of 16 packed bytes (elements 0..16, 16..32).
#[inline(always)]
pub(super) unsafe fn nibbles(qs: &[u8; 16]) -> (uint8x16_t, uint8x16_t) {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        // SAFETY: 16 readable bytes.
        let v = unsafe { vld1q_u8(qs.as_ptr()) };
        (vandq_u8(v, vdupq_n_u8(0x0F)), vshrq_n_u8::<4>(v))
    }
}

/// `0x10` where bit `j` of `qh` is set, for elements 0..16 and 16..32.
#[inline(always)]
unsafe fn high_bits(qh: [u8; 4]) -> (uint8x16_t, uint8x16_t) {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        const BITS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
        // SAFETY: 16 readable bytes.
        let bits = unsafe { vld1q_u8(BITS.as_ptr()) };
        let lo = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
        let hi = vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3]));
        let sixteen = vdupq_n_u8(0x10);
        (
            vandq_u8(vtstq_u8(lo, bits), sixteen),
            vandq_u8(vtstq_u8(hi, bits), sixteen),
        )
    }
}

impl W32 for BlockQ8_0 {
    type Act = BlockQ8_0;
    const OFFSET: bool = false;
    #[inline(always)]
    unsafe fn unpack(&self) -> (int8x16_t, int8x16_t) {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            // SAFETY: `qs` holds 32 bytes.
            unsafe { (load16(self.qs.as_ptr()), load16(self.qs.as_ptr().add(16))) }
        }
    }
    #[inline(always)]
    fn d(&self) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe { h2f(self.d) }
    }
}

impl W32 for BlockQ4_0 {
    type Act = BlockQ8_0;
    const OFFSET: bool = false;
    #[inline(always)]
    unsafe fn unpack(&self) -> (int8x16_t, int8x16_t) {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            // SAFETY: `qs` holds 16 bytes.
            let (lo, hi) = unsafe { nibbles(&self.qs) };
            let eight = vdupq_n_s8(8);
            (
                vsubq_s8(vreinterpretq_s8_u8(lo), eight),
                vsubq_s8(vreinterpretq_s8_u8(hi), eight),
            )
        }
    }
    #[inline(always)]
    fn d(&self) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe { h2f(self.d) }
    }
}

impl W32 for BlockQ5_0 {
    type Act = BlockQ8_0;
    const OFFSET: bool = false;
    #[inline(always)]
    unsafe fn unpack(&self) -> (int8x16_t, int8x16_t) {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            // SAFETY: `qs` holds 16 bytes.
            let ((lo, hi), (hl, hh)) = unsafe { (nibbles(&self.qs), high_bits(self.qh)) };
            let sixteen = vdupq_n_s8(16);
            (
                vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, hl)), sixteen),
                vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(hi, hh)), sixteen),
            )
        }
    }
    #[inline(always)]
    fn d(&self) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe { h2f(self.d) }
    }
}

impl W32 for BlockQ4_1 {
    type Act = BlockQ8_1;
    const OFFSET: bool = true;
    #[inline(always)]
    unsafe fn unpack(&self) -> (int8x16_t, int8x16_t) {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            // SAFETY: `qs` holds 16 bytes.
            let (lo, hi) = unsafe { nibbles(&self.qs) };
            (vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi))
        }
    }
    #[inline(always)]
    fn d(&self) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe { h2f(self.d) }
    }
    #[inline(always)]
    fn m(&self) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe { h2f(self.m) }
    }
}

impl W32 for BlockQ5_1 {
    type Act = BlockQ8_1;
    const OFFSET: bool = true;
    #[inline(always)]
    unsafe fn unpack(&self) -> (int8x16_t, int8x16_t) {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            // SAFETY: `qs` holds 16 bytes.
            let ((lo, hi), (hl, hh)) = unsafe { (nibbles(&self.qs), high_bits(self.qh)) };
            (
                vreinterpretq_s8_u8(vorrq_u8(lo, hl)),
                vreinterpretq_s8_u8(vorrq_u8(hi, hh)),
            )
        }
    }
    #[inline(always)]
    fn d(&self) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe { h2f(self.d) }
    }
    #[inline(always)]
    fn m(&self) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe { h2f(self.m) }
    }
}

/// Exact i32 sum (over the four lanes) of one weight block with one activation block.
#[inline(always)]
unsafe fn block<D: Dot, A: Act32>(w: (int8x16_t, int8x16_t), y: &A) -> int32x4_t {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        let p = y.qs().as_ptr();
        // SAFETY: `qs` holds 32 bytes; the caller's tier covers `D`.
        unsafe {
            let p0 = D::dot(vdupq_n_s32(0), w.0, load16(p));
            D::dot(p0, w.1, load16(p.add(16)))
        }
    }
}

/// Weight row `w` times `N` activation rows: `out[j·ld] = Σ_b (dw·dy)·sumi + m·s`.
/// Rows are cut to the shortest of `w` and each `ys[j]`.
#[inline(always)]
unsafe fn tokens<W: W32, D: Dot, const N: usize>(
    w: &[W],
    ys: [&[W::Act]; N],
    out: &mut [f32],
    ld: usize,
) {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        assert!(N == 0 || out.len() > (N - 1) * ld, "dot32: short output");
        let nb = ys.iter().fold(w.len(), |m, y| m.min(y.len()));
        let mut acc = [0.0f32; N];
        let mut macc = [0.0f32; N];
        for (b, x) in w[..nb].iter().enumerate() {
            // SAFETY: NEON is baseline; the caller's tier covers `D`.
            let q = unsafe { x.unpack() };
            let dx = x.d();
            for j in 0..N {
                let y = &ys[j][b];
                // SAFETY: as above.
                let s = unsafe { block::<D, W::Act>(q, y) };
                // Exact i32 sum, then one scalar multiply-add per block in a fixed order, so
                // the row, token and i8mm tile kernels give bit-identical results (a row's
                // value must not depend on how a product is split into tasks).
                acc[j] += vaddvq_s32(s) as f32 * (dx * y.d());
                if W::OFFSET {
                    macc[j] += x.m() * y.s();
                }
            }
        }
        for j in 0..N {
            out[j * ld] = acc[j] + macc[j];
        }
    }
}

/// One weight row times one activation row, NEON tier.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn row_neon<W: W32>(w: &[W], y: &[W::Act]) -> f32 {
    let mut o = [0.0f32];
    // SAFETY: NEON enabled here.
    unsafe { tokens::<W, Neon, 1>(w, [y], &mut o, 1) };
    o[0]
}

/// One weight row times one activation row, dotprod tier.
///
/// # Safety
/// The CPU must support FEAT_DotProd.
#[target_feature(enable = "neon,dotprod")]
pub unsafe fn row_sdot<W: W32>(w: &[W], y: &[W::Act]) -> f32 {
    let mut o = [0.0f32];
    // SAFETY: dotprod enabled here.
    unsafe { tokens::<W, Sdot, 1>(w, [y], &mut o, 1) };
    o[0]
}

/// One weight row times `N` activation rows (`out[j·ld]`), NEON tier.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn tokens_neon<W: W32, const N: usize>(
    w: &[W],
    ys: [&[W::Act]; N],
    out: &mut [f32],
    ld: usize,
) {
    // SAFETY: NEON enabled here.
    unsafe { tokens::<W, Neon, N>(w, ys, out, ld) }
}

/// One weight row times `N` activation rows (`out[j·ld]`), dotprod tier: each weight
/// block is unpacked once for all `N` tokens.
///
/// # Safety
/// The CPU must support FEAT_DotProd.
#[target_feature(enable = "neon,dotprod")]
pub unsafe fn tokens_sdot<W: W32, const N: usize>(
    w: &[W],
    ys: [&[W::Act]; N],
    out: &mut [f32],
    ld: usize,
) {
    // SAFETY: dotprod enabled here.
    unsafe { tokens::<W, Sdot, N>(w, ys, out, ld) }
}
