//! i8mm (`smmla`) multi-token kernel for the 32-element block formats: two weight rows
//! times two activation rows per step. `smmla` multiplies two 2×8 i8 matrices (rows
//! interleaved 8 bytes at a time), so one instruction yields the four (row, token)
//! partial sums that take four `sdot` on the dotprod tier.

use std::arch::aarch64::*;

use super::dot::{load16, smmla};
use super::dot32::{Act32, W32};

/// The 2×8 matrices of two 16-byte vectors: `[a[0..8] b[0..8]]`, `[a[8..16] b[8..16]]`.
#[inline(always)]
fn pair(a: int8x16_t, b: int8x16_t) -> (int8x16_t, int8x16_t) {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        let (a, b) = (vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b));
        (
            vreinterpretq_s8_s64(vzip1q_s64(a, b)),
            vreinterpretq_s8_s64(vzip2q_s64(a, b)),
        )
    }
}

/// Weight rows `w0`, `w1` times activation rows `y0`, `y1` (cut to the shortest):
/// `[w0·y0, w0·y1, w1·y0, w1·y1]`, each `Σ_b (dw·dy)·sumi + m·s` as the scalar twins.
///
/// # Safety
/// The CPU must support FEAT_I8MM.
#[target_feature(enable = "neon,i8mm")]
pub unsafe fn rows2x2<W: W32>(w0: &[W], w1: &[W], y0: &[W::Act], y1: &[W::Act]) -> [f32; 4] {
    let nb = w0.len().min(w1.len()).min(y0.len()).min(y1.len());
    let mut acc = vdupq_n_f32(0.0);
    let mut macc = [0.0f32; 4];
    for b in 0..nb {
        let (x0, x1, a0, a1) = (&w0[b], &w1[b], &y0[b], &y1[b]);
        // SAFETY: NEON + i8mm enabled here; each `qs` holds 32 bytes.
        let i = unsafe {
            let (p0, p1) = (x0.unpack(), x1.unpack());
            let (q0, q1) = (a0.qs().as_ptr(), a1.qs().as_ptr());
            let (w_a, w_b) = pair(p0.0, p1.0);
            let (w_c, w_d) = pair(p0.1, p1.1);
            let (y_a, y_b) = pair(load16(q0), load16(q1));
            let (y_c, y_d) = pair(load16(q0.add(16)), load16(q1.add(16)));
            let i = smmla(vdupq_n_s32(0), w_a, y_a);
            let i = smmla(i, w_b, y_b);
            let i = smmla(i, w_c, y_c);
            smmla(i, w_d, y_d)
        };
        let (d0, d1, e0, e1) = (x0.d(), x1.d(), a0.d(), a1.d());
        let s = [d0 * e0, d0 * e1, d1 * e0, d1 * e1];
        // SAFETY: 4 floats.
        // Lane k: `acc + f32(sumi)·(dw·dy)`, separate multiply and add, exactly the
        // per-row kernels' scalar sequence (bit-identical results).
        acc = vaddq_f32(
            acc,
            vmulq_f32(vcvtq_f32_s32(i), unsafe { vld1q_f32(s.as_ptr()) }),
        );
        if W::OFFSET {
            let (m0, m1, s0, s1) = (x0.m(), x1.m(), a0.s(), a1.s());
            macc[0] += m0 * s0;
            macc[1] += m0 * s1;
            macc[2] += m1 * s0;
            macc[3] += m1 * s1;
        }
    }
    let mut o = [0.0f32; 4];
    // SAFETY: 4 writable floats.
    unsafe { vst1q_f32(o.as_mut_ptr(), acc) };
    [
        o[0] + macc[0],
        o[1] + macc[1],
        o[2] + macc[2],
        o[3] + macc[3],
    ]
}
