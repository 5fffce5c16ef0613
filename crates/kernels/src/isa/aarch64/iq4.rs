//! The non-linear 4-bit formats on aarch64: IQ4_NL is one more 32-element format
//! ([`super::dot32::W32`], so it gets the NEON and dotprod rows and token kernels and the
//! i8mm tile), IQ4_XS one more super-block format ([`super::kquants::KBlock`]). Their
//! nibbles index the 16-value table with one `tbl`; the rest is the shared kernels'.

use std::arch::aarch64::*;

use super::dot::{h2f, load16, Dot};
use super::dot32::{nibbles, W32};
use super::kquants::KBlock;
use crate::formats::iq4_nl::{BlockIq4Nl, KVALUES};
use crate::formats::iq4_xs::BlockIq4Xs;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_k::BlockQ8K;

/// [`KVALUES`] in one vector, for `tbl`.
#[inline(always)]
unsafe fn table() -> int8x16_t {
    // SAFETY: NEON is the aarch64 baseline; `KVALUES` is 16 readable bytes.
    unsafe { vld1q_s8(KVALUES.as_ptr()) }
}

impl W32 for BlockIq4Nl {
    type Act = BlockQ8_0;
    const OFFSET: bool = false;
    #[inline(always)]
    unsafe fn unpack(&self) -> (int8x16_t, int8x16_t) {
        // SAFETY: NEON is the aarch64 baseline; `qs` holds 16 bytes.
        unsafe {
            let (lo, hi) = nibbles(&self.qs);
            let t = table();
            (vqtbl1q_s8(t, lo), vqtbl1q_s8(t, hi))
        }
    }
    #[inline(always)]
    fn d(&self) -> f32 {
        // SAFETY: NEON is the aarch64 baseline.
        unsafe { h2f(self.d) }
    }
}

impl KBlock for BlockIq4Xs {
    #[inline(always)]
    unsafe fn unpack(&self) -> [int8x16_t; 16] {
        // SAFETY: NEON is the aarch64 baseline; `qs` holds 128 bytes (16·ib + 16 ≤ 128).
        unsafe {
            let t = table();
            let mut q = [vdupq_n_s8(0); 16];
            for ib in 0..8 {
                let (lo, hi) = nibbles(self.qs[16 * ib..16 * ib + 16].try_into().unwrap());
                q[2 * ib] = vqtbl1q_s8(t, lo);
                q[2 * ib + 1] = vqtbl1q_s8(t, hi);
            }
            q
        }
    }
    /// The exact `Σ_ib (ls_ib − 32)·(block ib · y)` in integers, then `d·dy` times it.
    #[inline(always)]
    unsafe fn dot<D: Dot>(&self, q: &[int8x16_t; 16], y: &BlockQ8K) -> f32 {
        // SAFETY: NEON is the aarch64 baseline; `y.qs` holds 256 bytes (32·ib + 32 ≤ 256);
        // the caller's tier covers `D`.
        unsafe {
            let p = y.qs.as_ptr();
            let mut acc = vdupq_n_s32(0);
            for ib in 0..8 {
                let a = D::dot(vdupq_n_s32(0), q[2 * ib], load16(p.add(32 * ib)));
                let a = D::dot(a, q[2 * ib + 1], load16(p.add(32 * ib + 16)));
                acc = vmlaq_n_s32(acc, a, self.scale(ib));
            }
            h2f(self.d) * y.d() * vaddvq_s32(acc) as f32
        }
    }
}
