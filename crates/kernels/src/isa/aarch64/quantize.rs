//! NEON activation quantizers (f32 → Q8_0, Q8_1, Q8_K), byte-identical to the scalar
//! twins: the same scale arithmetic in f32, and the same rounding per element
//! (`fcvtas` = round half away from zero, as `f32::round`, with saturating narrows as the
//! float `as i8`; Q8_K repeats `nearest_int`'s magic-number trick and truncating narrows).

use std::arch::aarch64::*;

use crate::formats::f16::F16Le;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_1::BlockQ8_1;
use crate::formats::q8_k::BlockQ8K;

/// `max |x|` of 32 floats at `x` (NaN-free inputs; as the scalar `fold(max)`).
#[inline(always)]
unsafe fn amax32(x: &[f32]) -> f32 {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        let p = x[..32].as_ptr();
        let mut m = vdupq_n_f32(0.0);
        for i in 0..8 {
            // SAFETY: `x[..32]` checked above; 4 floats at 4i.
            m = vmaxnmq_f32(m, vabsq_f32(unsafe { vld1q_f32(p.add(4 * i)) }));
        }
        vmaxnmvq_f32(m)
    }
}

/// `round(x[i]·id)` (half away from zero), saturated to i8, for 32 elements; returns the
/// quants and their sum.
#[inline(always)]
unsafe fn round32(x: &[f32], id: f32, q: &mut [u8; 32]) -> i32 {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        let p = x[..32].as_ptr();
        let mut sum = 0i32;
        for h in 0..2 {
            let mut v = [vdupq_n_s32(0); 4];
            for (i, v) in v.iter_mut().enumerate() {
                // SAFETY: 4 floats at 16h + 4i < 32.
                *v = vcvtaq_s32_f32(vmulq_n_f32(unsafe { vld1q_f32(p.add(16 * h + 4 * i)) }, id));
            }
            let a = vcombine_s16(vqmovn_s32(v[0]), vqmovn_s32(v[1]));
            let b = vcombine_s16(vqmovn_s32(v[2]), vqmovn_s32(v[3]));
            let q8 = vcombine_s8(vqmovn_s16(a), vqmovn_s16(b));
            sum += vaddlvq_s8(q8) as i32;
            // SAFETY: 16 bytes at 16h of the 32-byte array.
            unsafe { vst1q_s8(q.as_mut_ptr().add(16 * h).cast(), q8) };
        }
        sum
    }
}

/// f32 → Q8_0 for `min(x.len() / 32, out.len())` blocks.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn quantize_row_q8_0(x: &[f32], out: &mut [BlockQ8_0]) {
    for (xb, b) in x.chunks_exact(32).zip(out.iter_mut()) {
        // SAFETY: `xb` holds 32 floats.
        let amax = unsafe { amax32(xb) };
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = F16Le::from_f32(d);
        // SAFETY: as above.
        unsafe { round32(xb, id, &mut b.qs) };
    }
}

/// f32 → Q8_1 for `min(x.len() / 32, out.len())` blocks.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn quantize_row_q8_1(x: &[f32], out: &mut [BlockQ8_1]) {
    for (xb, b) in x.chunks_exact(32).zip(out.iter_mut()) {
        // SAFETY: `xb` holds 32 floats.
        let amax = unsafe { amax32(xb) };
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = F16Le::from_f32(d);
        // SAFETY: as above.
        let sum = unsafe { round32(xb, id, &mut b.qs) };
        b.s = F16Le::from_f32(sum as f32 * d);
    }
}

/// `k_common::nearest_int` lane by lane, the same magic-number trick (so even an
/// infinite or NaN product, from an overflowing scale, maps to the same integer).
#[inline(always)]
fn nearest_int(x: float32x4_t) -> int32x4_t {
    // SAFETY: NEON is the aarch64 baseline.
    unsafe {
        let v = vreinterpretq_s32_f32(vaddq_f32(x, vdupq_n_f32(12582912.0)));
        vsubq_s32(
            vandq_s32(v, vdupq_n_s32(0x007f_ffff)),
            vdupq_n_s32(0x0040_0000),
        )
    }
}

/// f32 → Q8_K for `min(x.len() / 256, out.len())` blocks.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn quantize_row_q8_k(x: &[f32], out: &mut [BlockQ8K]) {
    for (xb, b) in x.chunks_exact(256).zip(out.iter_mut()) {
        // The signed value of largest magnitude, first one on ties (as the scalar scan).
        let mut m = vdupq_n_f32(0.0);
        for c in xb.chunks_exact(4) {
            // SAFETY: 4 floats.
            m = vmaxnmq_f32(m, vabsq_f32(unsafe { vld1q_f32(c.as_ptr()) }));
        }
        let amax = vmaxnmvq_f32(m);
        if amax == 0.0 {
            *b = BlockQ8K::default();
            continue;
        }
        let max = *xb
            .iter()
            .find(|v| v.abs() == amax)
            .expect("amax is some |x|");
        let iscale = -127.0 / max;
        for (g, c) in xb.chunks_exact(16).enumerate() {
            let mut v = [vdupq_n_s32(0); 4];
            for (i, v) in v.iter_mut().enumerate() {
                // SAFETY: 4 floats at 4i < 16.
                let f = vmulq_n_f32(unsafe { vld1q_f32(c.as_ptr().add(4 * i)) }, iscale);
                *v = vminq_s32(nearest_int(f), vdupq_n_s32(127));
            }
            // `as i8` of the i32: truncating narrows.
            let a = vcombine_s16(vmovn_s32(v[0]), vmovn_s32(v[1]));
            let bb = vcombine_s16(vmovn_s32(v[2]), vmovn_s32(v[3]));
            let q8 = vcombine_s8(vmovn_s16(a), vmovn_s16(bb));
            // SAFETY: 16 bytes at 16g of the 256-byte array.
            unsafe { vst1q_s8(b.qs.as_mut_ptr().add(16 * g).cast(), q8) };
            b.bsums[g] = (vaddlvq_s8(q8)).to_le_bytes();
        }
        b.d = (1.0 / iscale).to_le_bytes();
    }
}
