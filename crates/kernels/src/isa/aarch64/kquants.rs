//! K-quants (Q4_K, Q5_K, Q6_K · Q8_K): per-row and multi-token dot products at the NEON
//! and dotprod tiers (a super-block is unpacked once into 16 vectors for all tokens).
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

/// A k-quant weight super-block: its 256 quants unpacked to sixteen vectors of 16 signed
/// values (element order), and its contribution against one Q8_K block from them.
pub trait KBlock: Block {
    /// # Safety
    /// NEON (baseline on aarch64).
    unsafe fn unpack(&self) -> [int8x16_t; 16];
    /// `Σ` of this block times `y`, from its unpacked quants `q`.
    ///
    /// # Safety
    /// The CPU must support `D`'s instructions.
    unsafe fn dot<D: Dot>(&self, q: &[int8x16_t; 16], y: &BlockQ8K) -> f32;
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

/// Q4_K/Q5_K: the exact `Σ_s sc_s · (sub-block s · y)` over the 8 sub-blocks of 32, then
/// the scalar twin's float expression.
#[inline(always)]
unsafe fn dot_k4<D: Dot>(
    q: &[int8x16_t; 16],
    y: &BlockQ8K,
    scales: &[u8; 12],
    d: f32,
    dmin: f32,
) -> f32 {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        let (sc, summs) = scales_mins(scales, y);
        let p = y.qs.as_ptr();
        let mut acc = vdupq_n_s32(0);
        for (s, &sc) in sc.iter().enumerate() {
            // SAFETY: `y.qs` holds 256 bytes (32s + 32 <= 256); the caller's tier covers `D`.
            unsafe {
                let a = D::dot(vdupq_n_s32(0), q[2 * s], load16(p.add(32 * s)));
                acc = vmlaq_n_s32(acc, D::dot(a, q[2 * s + 1], load16(p.add(32 * s + 16))), sc);
            }
        }
        let yd = y.d();
        d * yd * vaddvq_s32(acc) as f32 - dmin * yd * summs as f32
    }
}

/// Low then high nibbles of 32 packed bytes at `qs` (+ `0x10` where the `qh` bit `u1` /
/// `u2` is set, for Q5_K): the vectors of elements 64c..64c+64.
#[inline(always)]
unsafe fn nibbles4(qs: *const u8, hb: Option<(uint8x16_t, uint8x16_t, u8, u8)>) -> [int8x16_t; 4] {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        // SAFETY: NEON; the caller guarantees 32 readable bytes at `qs`.
        unsafe {
            let m4 = vdupq_n_u8(0x0F);
            let (q0, q1) = (vld1q_u8(qs), vld1q_u8(qs.add(16)));
            let mut v = [
                vandq_u8(q0, m4),
                vandq_u8(q1, m4),
                vshrq_n_u8::<4>(q0),
                vshrq_n_u8::<4>(q1),
            ];
            if let Some((h0, h1, u1, u2)) = hb {
                let sixteen = vdupq_n_u8(0x10);
                let bit = |h: uint8x16_t, u: u8| vandq_u8(vtstq_u8(h, vdupq_n_u8(u)), sixteen);
                v[0] = vorrq_u8(v[0], bit(h0, u1));
                v[1] = vorrq_u8(v[1], bit(h1, u1));
                v[2] = vorrq_u8(v[2], bit(h0, u2));
                v[3] = vorrq_u8(v[3], bit(h1, u2));
            }
            v.map(|v| vreinterpretq_s8_u8(v))
        }
    }
}

impl KBlock for BlockQ4K {
    #[inline(always)]
    unsafe fn unpack(&self) -> [int8x16_t; 16] {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            let mut q = [vdupq_n_s8(0); 16];
            for c in 0..4 {
                // SAFETY: `qs` holds 128 bytes (32c + 32 <= 128).
                let v = unsafe { nibbles4(self.qs.as_ptr().add(32 * c), None) };
                q[4 * c..4 * c + 4].copy_from_slice(&v);
            }
            q
        }
    }
    #[inline(always)]
    unsafe fn dot<D: Dot>(&self, q: &[int8x16_t; 16], y: &BlockQ8K) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            // SAFETY: the caller's tier covers `D`.
            unsafe { dot_k4::<D>(q, y, &self.scales, h2f(self.d), h2f(self.dmin)) }
        }
    }
}

impl KBlock for BlockQ5K {
    #[inline(always)]
    unsafe fn unpack(&self) -> [int8x16_t; 16] {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            // SAFETY: `qh` holds 32 bytes.
            let (h0, h1) = unsafe {
                (
                    vld1q_u8(self.qh.as_ptr()),
                    vld1q_u8(self.qh.as_ptr().add(16)),
                )
            };
            let mut q = [vdupq_n_s8(0); 16];
            for c in 0..4 {
                let hb = Some((h0, h1, 1u8 << (2 * c), 2u8 << (2 * c)));
                // SAFETY: `qs` holds 128 bytes (32c + 32 <= 128).
                let v = unsafe { nibbles4(self.qs.as_ptr().add(32 * c), hb) };
                q[4 * c..4 * c + 4].copy_from_slice(&v);
            }
            q
        }
    }
    #[inline(always)]
    unsafe fn dot<D: Dot>(&self, q: &[int8x16_t; 16], y: &BlockQ8K) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            // SAFETY: the caller's tier covers `D`.
            unsafe { dot_k4::<D>(q, y, &self.scales, h2f(self.d), h2f(self.dmin)) }
        }
    }
}

impl KBlock for BlockQ6K {
    #[inline(always)]
    unsafe fn unpack(&self) -> [int8x16_t; 16] {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            let m4 = vdupq_n_u8(0x0F);
            let m30 = vdupq_n_u8(0x30);
            let bias = vdupq_n_s8(32);
            let mut q = [vdupq_n_s8(0); 16];
            for h in 0..2 {
                for k in 0..2 {
                    // SAFETY: `ql` holds 128 bytes (64h + 32 + 16k + 16 <= 128), `qh` 64
                    // (32h + 16k + 16 <= 64).
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
                        // Elements 128h + 32i + 16k.. : group 8h + 2i + k.
                        for (i, e) in e.into_iter().enumerate() {
                            q[8 * h + 2 * i + k] = vsubq_s8(vreinterpretq_s8_u8(e), bias);
                        }
                    }
                }
            }
            q
        }
    }
    #[inline(always)]
    unsafe fn dot<D: Dot>(&self, q: &[int8x16_t; 16], y: &BlockQ8K) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            let p = y.qs.as_ptr();
            let mut acc = vdupq_n_s32(0);
            for (g, &q) in q.iter().enumerate() {
                // SAFETY: `y.qs` holds 256 bytes (16g + 16 <= 256); the tier covers `D`.
                unsafe {
                    let s = D::dot(vdupq_n_s32(0), q, load16(p.add(16 * g)));
                    acc = vmlaq_n_s32(acc, s, self.scales[g] as i8 as i32);
                }
            }
            h2f(self.d) * y.d() * vaddvq_s32(acc) as f32
        }
    }
}

/// Weight row `w` times `N` Q8_K rows (`out[j·ld]`), each super-block unpacked once for
/// all `N`; rows cut to the shortest.
#[inline(always)]
unsafe fn tokens<K: KBlock, D: Dot, const N: usize>(
    w: &[K],
    ys: [&[BlockQ8K]; N],
    out: &mut [f32],
    ld: usize,
) {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        assert!(N == 0 || out.len() > (N - 1) * ld, "kquants: short output");
        let nb = ys.iter().fold(w.len(), |m, y| m.min(y.len()));
        let mut acc = [0.0f32; N];
        for (b, x) in w[..nb].iter().enumerate() {
            // SAFETY: NEON is baseline; the caller's tier covers `D`.
            let q = unsafe { x.unpack() };
            for j in 0..N {
                // SAFETY: as above.
                acc[j] += unsafe { x.dot::<D>(&q, &ys[j][b]) };
            }
        }
        for j in 0..N {
            out[j * ld] = acc[j];
        }
    }
}

#[inline(always)]
unsafe fn row<K: KBlock, D: Dot>(w: &[K], y: &[BlockQ8K]) -> f32 {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        let mut o = [0.0f32];
        // SAFETY: the caller's tier covers `D`.
        unsafe { tokens::<K, D, 1>(w, [y], &mut o, 1) };
        o[0]
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

/// One k-quant row times `N` Q8_K rows (`out[j·ld]`), NEON tier.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn tokens_neon<K: KBlock, const N: usize>(
    w: &[K],
    ys: [&[BlockQ8K]; N],
    out: &mut [f32],
    ld: usize,
) {
    // SAFETY: NEON enabled here.
    unsafe { tokens::<K, Neon, N>(w, ys, out, ld) }
}

/// One k-quant row times `N` Q8_K rows (`out[j·ld]`), dotprod tier.
///
/// # Safety
/// The CPU must support FEAT_DotProd.
#[target_feature(enable = "neon,dotprod")]
pub unsafe fn tokens_sdot<K: KBlock, const N: usize>(
    w: &[K],
    ys: [&[BlockQ8K]; N],
    out: &mut [f32],
    ld: usize,
) {
    // SAFETY: dotprod enabled here.
    unsafe { tokens::<K, Sdot, N>(w, ys, out, ld) }
}
