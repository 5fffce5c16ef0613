//! NEON dequantizers (F16, Q8_0, Q4_0, Q4_1, Q5_1 → f32), bit-identical to the scalar
//! twins: f16 → f32 is exact (`fcvtl`), each quant is one exact int → f32 conversion
//! times the block scale (one rounding), and `q·d + m` keeps its two roundings (separate
//! `fmul` and `fadd`, no fused multiply-add).

use std::arch::aarch64::*;

use super::dot::h2f;
use crate::formats::f16::F16Le;
use crate::formats::q4_0::BlockQ4_0;
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q5_1::BlockQ5_1;
use crate::formats::q8_0::BlockQ8_0;

/// Four f16 at `p` widened to f32. Inline assembly (`fcvtl`, base Advanced SIMD) because
/// `float16x4_t` is unstable in Rust 1.95.
///
/// # Safety
/// `p..p + 8` must be readable.
#[inline(always)]
unsafe fn f16x4(p: *const u8) -> float32x4_t {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        // SAFETY: 8 readable bytes (caller); no alignment needed.
        let h = unsafe { vld1_u16(p.cast()) };
        let out: float32x4_t;
        // SAFETY: register-only instruction of the aarch64 baseline.
        unsafe {
            core::arch::asm!(
                "fcvtl {o:v}.4s, {h:v}.4h",
                o = out(vreg) out,
                h = in(vreg) h,
                options(pure, nomem, nostack, preserves_flags)
            );
        }
        out
    }
}

/// `out[i] = f32(x[i])` for `i < min(x.len(), out.len())`.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn dequantize_f16(x: &[F16Le], out: &mut [f32]) {
    let n = x.len().min(out.len());
    let main = n / 4 * 4;
    for i in (0..main).step_by(4) {
        // SAFETY: elements i..i+4 exist in both (i + 4 <= main <= n); F16Le is 2 bytes.
        unsafe { vst1q_f32(out.as_mut_ptr().add(i), f16x4(x.as_ptr().add(i).cast())) };
    }
    for i in main..n {
        out[i] = x[i].to_f32();
    }
}

/// 16 i8 lanes → 16 f32 times `d`, stored at `o`.
#[inline(always)]
unsafe fn store16(q: int8x16_t, d: f32, m: Option<f32>, o: *mut f32) {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        let w = [vmovl_s8(vget_low_s8(q)), vmovl_high_s8(q)];
        for (h, w) in w.into_iter().enumerate() {
            let v = [vmovl_s16(vget_low_s16(w)), vmovl_high_s16(w)];
            for (k, v) in v.into_iter().enumerate() {
                let mut f = vmulq_n_f32(vcvtq_f32_s32(v), d);
                if let Some(m) = m {
                    f = vaddq_f32(f, vdupq_n_f32(m));
                }
                // SAFETY: the caller guarantees 16 writable floats at `o`.
                unsafe { vst1q_f32(o.add(8 * h + 4 * k), f) };
            }
        }
    }
}

/// Q8_0 → f32 for `min(x.len(), out.len() / 32)` blocks.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn dequantize_q8_0(x: &[BlockQ8_0], out: &mut [f32]) {
    for (b, y) in x.iter().zip(out.chunks_exact_mut(32)) {
        let d = h2f(b.d);
        // SAFETY: `qs` holds 32 bytes, `y` 32 floats.
        unsafe {
            let p = b.qs.as_ptr();
            store16(vreinterpretq_s8_u8(vld1q_u8(p)), d, None, y.as_mut_ptr());
            store16(
                vreinterpretq_s8_u8(vld1q_u8(p.add(16))),
                d,
                None,
                y.as_mut_ptr().add(16),
            );
        }
    }
}

/// Q4_0 → f32 for `min(x.len(), out.len() / 32)` blocks.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn dequantize_q4_0(x: &[BlockQ4_0], out: &mut [f32]) {
    for (b, y) in x.iter().zip(out.chunks_exact_mut(32)) {
        let d = h2f(b.d);
        // SAFETY: `qs` holds 16 bytes, `y` 32 floats.
        unsafe {
            let v = vld1q_u8(b.qs.as_ptr());
            let eight = vdupq_n_s8(8);
            let lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(15))), eight);
            let hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8::<4>(v)), eight);
            store16(lo, d, None, y.as_mut_ptr());
            store16(hi, d, None, y.as_mut_ptr().add(16));
        }
    }
}

/// Q4_1 → f32 for `min(x.len(), out.len() / 32)` blocks.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn dequantize_q4_1(x: &[BlockQ4_1], out: &mut [f32]) {
    for (b, y) in x.iter().zip(out.chunks_exact_mut(32)) {
        let (d, m) = (h2f(b.d), Some(h2f(b.m)));
        // SAFETY: `qs` holds 16 bytes, `y` 32 floats.
        unsafe {
            let v = vld1q_u8(b.qs.as_ptr());
            let lo = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(15)));
            let hi = vreinterpretq_s8_u8(vshrq_n_u8::<4>(v));
            store16(lo, d, m, y.as_mut_ptr());
            store16(hi, d, m, y.as_mut_ptr().add(16));
        }
    }
}

/// Q5_1 → f32 for `min(x.len(), out.len() / 32)` blocks.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn dequantize_q5_1(x: &[BlockQ5_1], out: &mut [f32]) {
    use super::dot32::W32;
    for (b, y) in x.iter().zip(out.chunks_exact_mut(32)) {
        let (d, m) = (h2f(b.d), Some(h2f(b.m)));
        // SAFETY: NEON; `y` holds 32 floats.
        unsafe {
            let (lo, hi) = b.unpack();
            store16(lo, d, m, y.as_mut_ptr());
            store16(hi, d, m, y.as_mut_ptr().add(16));
        }
    }
}
