//! K-quants (Q4_K, Q5_K, Q6_K · Q8_K): per-row dot products at the NEON and dotprod tiers.
//!
//! Per super-block of 256: the exact i32 sum of every 32- (Q4_K, Q5_K) or 16-element
//! (Q6_K) group times its integer scale, accumulated in i32 lanes (at most ~1.4·10⁸, far
//! from overflow), then the same float expression per super-block as the scalar twins.

use std::arch::aarch64::*;

use super::dot::{h2f, load16, Dot, Neon, Sdot};
use crate::formats::k_common::get_scale_min_k4;
use crate::formats::q4_k::BlockQ4K;
use crate::formats::q5_k::BlockQ5K;
use crate::formats::q6_k::BlockQ6K;
use crate::formats::q8_k::BlockQ8K;
use crate::formats::Block;

/// A k-quant weight super-block's contribution against one Q8_K block.
pub trait KBlock: Block {
    /// # Safety
    /// The CPU must support `D`'s instructions (NEON is baseline).
    unsafe fn dot<D: Dot>(&self, y: &BlockQ8K) -> f32;
}

/// `Σ m_s · (bsum(2s) + bsum(2s+1))` and the 8 sub-block scales of a Q4_K/Q5_K block.
#[inline(always)]
fn scales_mins(scales: &[u8; 12], y: &BlockQ8K) -> ([i32; 8], i32) {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        let mut sc = [0i32; 8];
        let mut summs = 0i32;
        for (s, o) in sc.iter_mut().enumerate() {
            let (a, m) = get_scale_min_k4(s, scales);
            *o = a as i32;
            summs += m as i32 * (y.bsum(2 * s) + y.bsum(2 * s + 1));
        }
        (sc, summs)
    }
}

/// Exact dot of 32 weight quants (two vectors) with 32 activation quants at `p`.
#[inline(always)]
unsafe fn dot32<D: Dot>(w0: int8x16_t, w1: int8x16_t, p: *const u8) -> int32x4_t {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        // SAFETY: the caller guarantees 32 readable bytes at `p` and the tier of `D`.
        unsafe { D::dot(D::dot(vdupq_n_s32(0), w0, load16(p)), w1, load16(p.add(16))) }
    }
}

impl KBlock for BlockQ4K {
    #[inline(always)]
    unsafe fn dot<D: Dot>(&self, y: &BlockQ8K) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            let (sc, summs) = scales_mins(&self.scales, y);
            let m4 = vdupq_n_u8(0x0F);
            let mut acc = vdupq_n_s32(0);
            for c in 0..4 {
                // SAFETY: `qs` holds 128 bytes (32c + 32 <= 128) and `y.qs` 256 (64c + 64).
                unsafe {
                    let q0 = vld1q_u8(self.qs.as_ptr().add(32 * c));
                    let q1 = vld1q_u8(self.qs.as_ptr().add(32 * c + 16));
                    let yp = y.qs.as_ptr().add(64 * c);
                    let lo0 = vreinterpretq_s8_u8(vandq_u8(q0, m4));
                    let lo1 = vreinterpretq_s8_u8(vandq_u8(q1, m4));
                    let hi0 = vreinterpretq_s8_u8(vshrq_n_u8::<4>(q0));
                    let hi1 = vreinterpretq_s8_u8(vshrq_n_u8::<4>(q1));
                    acc = vmlaq_n_s32(acc, dot32::<D>(lo0, lo1, yp), sc[2 * c]);
                    acc = vmlaq_n_s32(acc, dot32::<D>(hi0, hi1, yp.add(32)), sc[2 * c + 1]);
                }
            }
            let isum = vaddvq_s32(acc);
            let yd = y.d();
            h2f(self.d) * yd * isum as f32 - h2f(self.dmin) * yd * summs as f32
        }
    }
}

impl KBlock for BlockQ5K {
    #[inline(always)]
    unsafe fn dot<D: Dot>(&self, y: &BlockQ8K) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            let (sc, summs) = scales_mins(&self.scales, y);
            let m4 = vdupq_n_u8(0x0F);
            let sixteen = vdupq_n_u8(0x10);
            // SAFETY: `qh` holds 32 bytes.
            let (h0, h1) = unsafe {
                (
                    vld1q_u8(self.qh.as_ptr()),
                    vld1q_u8(self.qh.as_ptr().add(16)),
                )
            };
            let mut acc = vdupq_n_s32(0);
            for c in 0..4 {
                let (u1, u2) = (vdupq_n_u8(1 << (2 * c)), vdupq_n_u8(2 << (2 * c)));
                let hb = |h: uint8x16_t, u: uint8x16_t| vandq_u8(vtstq_u8(h, u), sixteen);
                // SAFETY: `qs` holds 128 bytes (32c + 32 <= 128) and `y.qs` 256 (64c + 64).
                unsafe {
                    let q0 = vld1q_u8(self.qs.as_ptr().add(32 * c));
                    let q1 = vld1q_u8(self.qs.as_ptr().add(32 * c + 16));
                    let yp = y.qs.as_ptr().add(64 * c);
                    let lo0 = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(q0, m4), hb(h0, u1)));
                    let lo1 = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(q1, m4), hb(h1, u1)));
                    let hi0 = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8::<4>(q0), hb(h0, u2)));
                    let hi1 = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8::<4>(q1), hb(h1, u2)));
                    acc = vmlaq_n_s32(acc, dot32::<D>(lo0, lo1, yp), sc[2 * c]);
                    acc = vmlaq_n_s32(acc, dot32::<D>(hi0, hi1, yp.add(32)), sc[2 * c + 1]);
                }
            }
            let isum = vaddvq_s32(acc);
            let yd = y.d();
            h2f(self.d) * yd * isum as f32 - h2f(self.dmin) * yd * summs as f32
        }
    }
}

impl KBlock for BlockQ6K {
    #[inline(always)]
    unsafe fn dot<D: Dot>(&self, y: &BlockQ8K) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            let m4 = vdupq_n_u8(0x0F);
            let m30 = vdupq_n_u8(0x30);
            let bias = vdupq_n_s8(32);
            let sc = |g: usize| self.scales[g] as i8 as i32;
            let mut acc = vdupq_n_s32(0);
            for h in 0..2 {
                for k in 0..2 {
                    // SAFETY: `ql` holds 128 bytes (64h + 32 + 16k + 16 <= 128), `qh` 64
                    // (32h + 16k + 16 <= 64) and `y.qs` 256 (128h + 96 + 16k + 16 <= 256).
                    unsafe {
                        let qa = vld1q_u8(self.ql.as_ptr().add(64 * h + 16 * k));
                        let qb = vld1q_u8(self.ql.as_ptr().add(64 * h + 32 + 16 * k));
                        let qh = vld1q_u8(self.qh.as_ptr().add(32 * h + 16 * k));
                        let e = [
                            vorrq_u8(
                                vandq_u8(qa, m4),
                                vshlq_n_u8::<4>(vandq_u8(qh, vdupq_n_u8(3))),
                            ),
                            vorrq_u8(vandq_u8(qb, m4), vandq_u8(vshlq_n_u8::<2>(qh), m30)),
                            vorrq_u8(vshrq_n_u8::<4>(qa), vandq_u8(qh, m30)),
                            vorrq_u8(vshrq_n_u8::<4>(qb), vandq_u8(vshrq_n_u8::<2>(qh), m30)),
                        ];
                        for (i, e) in e.into_iter().enumerate() {
                            let q = vsubq_s8(vreinterpretq_s8_u8(e), bias);
                            let off = 128 * h + 32 * i + 16 * k;
                            let p = D::dot(vdupq_n_s32(0), q, load16(y.qs.as_ptr().add(off)));
                            acc = vmlaq_n_s32(acc, p, sc(off / 16));
                        }
                    }
                }
            }
            h2f(self.d) * y.d() * vaddvq_s32(acc) as f32
        }
    }
}

#[inline(always)]
unsafe fn row<K: KBlock, D: Dot>(w: &[K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        let mut sumf = 0.0f32;
        for (x, y) in w.iter().zip(y) {
            // SAFETY: the caller's tier covers `D`.
            sumf += unsafe { x.dot::<D>(y) };
        }
        sumf
    }
}

/// One k-quant row times one Q8_K row (cut to the shorter), NEON tier.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn row_neon<K: KBlock>(w: &[K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: NEON enabled here.
    unsafe { row::<K, Neon>(w, y) }
}

/// One k-quant row times one Q8_K row (cut to the shorter), dotprod tier.
///
/// # Safety
/// The CPU must support FEAT_DotProd.
#[target_feature(enable = "neon,dotprod")]
pub unsafe fn row_sdot<K: KBlock>(w: &[K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: dotprod enabled here.
    unsafe { row::<K, Sdot>(w, y) }
}
