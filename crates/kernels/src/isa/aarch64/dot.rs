//! The 16-byte signed dot-accumulate the integer kernels are generic over.

use std::arch::aarch64::*;

/// `acc + Σ a[i]·b[i]` spread over the four i32 lanes (which lane holds which product
/// differs between implementations; callers only ever sum all four lanes, or scale the
/// whole vector, so only the total matters).
pub trait Dot {
    /// # Safety
    /// The CPU must support the implementation's instructions (see each type).
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t;
}

/// Plain NEON: `smull`/`smull2` to i16 (one product of two i8 always fits), then `sadalp`
/// pairwise-adds into the i32 lanes (never overflows i16).
pub struct Neon;

impl Dot for Neon {
    #[inline(always)]
    unsafe fn dot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            let lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
            let hi = vmull_high_s8(a, b);
            vpadalq_s16(vpadalq_s16(acc, lo), hi)
        }
    }
}

/// FEAT_DotProd `sdot` (lane i += Σ of bytes 4i..4i+3 products). Written as inline
/// assembly because `vdotq_s32` is still unstable (`stdarch_neon_dotprod`) in Rust 1.95;
/// the enclosing function must enable `dotprod`.
pub struct Sdot;

impl Dot for Sdot {
    #[inline(always)]
    unsafe fn dot(mut acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
        unsafe {
            // SAFETY: `sdot` reads and writes only the three vector registers; the caller's
            // contract guarantees FEAT_DotProd.
            unsafe {
                core::arch::asm!(
                    "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
                    acc = inout(vreg) acc,
                    a = in(vreg) a,
                    b = in(vreg) b,
                    options(pure, nomem, nostack, preserves_flags)
                );
            }
            acc
        }
    }
}

/// FEAT_I8MM `smmla`: `acc += A·Bᵀ` for the 2×8 i8 matrices `a` (rows: bytes 0..8, 8..16)
/// and `b`, giving lanes `[a0·b0, a0·b1, a1·b0, a1·b1]`. Inline assembly because
/// `vmmlaq_s32` is unstable (`stdarch_neon_i8mm`) in Rust 1.95.
///
/// # Safety
/// The CPU must support FEAT_I8MM (the caller enables `i8mm`).
#[inline(always)]
pub unsafe fn smmla(mut acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        // SAFETY: register-only instruction; FEAT_I8MM is the caller's contract.
        unsafe {
            core::arch::asm!(
                "smmla {acc:v}.4s, {a:v}.16b, {b:v}.16b",
                acc = inout(vreg) acc,
                a = in(vreg) a,
                b = in(vreg) b,
                options(pure, nomem, nostack, preserves_flags)
            );
        }
        acc
    }
}

/// Sixteen bytes at `p` as i8 lanes.
///
/// # Safety
/// `p..p + 16` must be readable.
#[inline(always)]
pub unsafe fn load16(p: *const u8) -> int8x16_t {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        // SAFETY: the caller guarantees 16 readable bytes; NEON loads need no alignment.
        unsafe { vreinterpretq_s8_u8(vld1q_u8(p)) }
    }
}

/// f16 → f32 with the base-ARMv8 `fcvt s, h` (exact, as `F16Le::to_f32`, which on
/// aarch64 without the `fp16` target feature is a software conversion of ~20
/// instructions — the largest per-block cost of the kernels before this).
#[inline(always)]
pub fn h2f(x: crate::formats::f16::F16Le) -> f32 {
    let bits = u16::from_le_bytes(x.0);
    let out: f32;
    // SAFETY: register-only instructions of the aarch64 baseline (FP is mandatory).
    unsafe {
        core::arch::asm!(
            "fmov {h:s}, {b:w}",
            "fcvt {o:s}, {h:h}",
            b = in(reg) bits as u32,
            h = out(vreg) _,
            o = lateout(vreg) out,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    out
}
