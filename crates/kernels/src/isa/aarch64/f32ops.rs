//! NEON f32 kernels (fused multiply-add): dot products, the 4×2 dot block, the 16×6 gemm
//! panel and `axpy`. Twins: `crate::ops::f32dot::scalar`.

use std::arch::aarch64::*;

/// `Σ a[i]·b[i]` over `min(a.len(), b.len())` elements.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let main = n / 16 * 16;
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = [vdupq_n_f32(0.0); 4];
    for i in (0..main).step_by(16) {
        for (k, acc) in acc.iter_mut().enumerate() {
            // SAFETY: i + 4k + 4 <= main <= n floats in both.
            unsafe {
                *acc = vfmaq_f32(
                    *acc,
                    vld1q_f32(pa.add(i + 4 * k)),
                    vld1q_f32(pb.add(i + 4 * k)),
                )
            };
        }
    }
    let v = vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3]));
    let mut s = vaddvq_f32(v);
    for i in main..n {
        s += a[i] * b[i];
    }
    s
}

/// Four weight rows times two activation rows over the first `k` elements
/// (`out[t][r]`). Every slice must hold at least `k` elements (checked).
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn dot_4x2(w: [&[f32]; 4], x: [&[f32]; 2], k: usize) -> [[f32; 4]; 2] {
    assert!(w.iter().all(|r| r.len() >= k) && x.iter().all(|r| r.len() >= k));
    let main = k / 4 * 4;
    let mut acc = [[vdupq_n_f32(0.0); 4]; 2];
    for i in (0..main).step_by(4) {
        // SAFETY: i + 4 <= main <= k elements in every row (asserted).
        unsafe {
            let xv = [
                vld1q_f32(x[0].as_ptr().add(i)),
                vld1q_f32(x[1].as_ptr().add(i)),
            ];
            for r in 0..4 {
                let wv = vld1q_f32(w[r].as_ptr().add(i));
                acc[0][r] = vfmaq_f32(acc[0][r], wv, xv[0]);
                acc[1][r] = vfmaq_f32(acc[1][r], wv, xv[1]);
            }
        }
    }
    let mut out = [[0f32; 4]; 2];
    for t in 0..2 {
        for r in 0..4 {
            let mut s = vaddvq_f32(acc[t][r]);
            for i in main..k {
                s += x[t][i] * w[r][i];
            }
            out[t][r] = s;
        }
    }
    out
}

/// `out[t][r] = Σ_i x[t][i]·panel[16i + r]` for 16 rows packed k-major and 6 activation
/// rows; `panel` must hold `16k` floats and each row `k` (checked).
///
/// # Safety
/// NEON (baseline on aarch64).
#[allow(clippy::needless_range_loop)] // t, c index acc, out and x alike
#[target_feature(enable = "neon")]
pub unsafe fn gemm_panel_16x6(panel: &[f32], x: [&[f32]; 6], k: usize) -> [[f32; 16]; 6] {
    assert!(panel.len() >= 16 * k && x.iter().all(|r| r.len() >= k));
    let mut acc = [[vdupq_n_f32(0.0); 4]; 6];
    let p = panel.as_ptr();
    for i in 0..k {
        // SAFETY: 16i + 16 <= 16k floats of `panel` (asserted).
        let wv: [float32x4_t; 4] =
            std::array::from_fn(|c| unsafe { vld1q_f32(p.add(16 * i + 4 * c)) });
        for t in 0..6 {
            let a = x[t][i];
            for c in 0..4 {
                acc[t][c] = vfmaq_n_f32(acc[t][c], wv[c], a);
            }
        }
    }
    let mut out = [[0f32; 16]; 6];
    for t in 0..6 {
        for c in 0..4 {
            // SAFETY: 4 floats at 4c of a 16-float row.
            unsafe { vst1q_f32(out[t].as_mut_ptr().add(4 * c), acc[t][c]) };
        }
    }
    out
}

/// `y[i] += a·x[i]` for `i < min(x.len(), y.len())`.
///
/// # Safety
/// NEON (baseline on aarch64).
#[target_feature(enable = "neon")]
pub unsafe fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    let n = x.len().min(y.len());
    let main = n / 4 * 4;
    for i in (0..main).step_by(4) {
        // SAFETY: i + 4 <= main <= n floats in both.
        unsafe {
            let p = y.as_mut_ptr().add(i);
            vst1q_f32(
                p,
                vfmaq_n_f32(vld1q_f32(p), vld1q_f32(x.as_ptr().add(i)), a),
            );
        }
    }
    for i in main..n {
        y[i] += a * x[i];
    }
}
