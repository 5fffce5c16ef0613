//! f32 dot products: safe wrappers over the ISA kernels plus their scalar twins.

use crate::isa::isa;
#[cfg(target_arch = "x86_64")]
use crate::isa::Isa;

/// Scalar reference versions (the spec the SIMD kernels are tested against).
pub mod scalar {
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        // Eight partial sums, so the order is close to the SIMD one and the compiler can
        // vectorize it.
        let mut acc = [0f32; 8];
        let n = a.len().min(b.len());
        let main = n - n % 8;
        for i in (0..main).step_by(8) {
            for l in 0..8 {
                acc[l] += a[i + l] * b[i + l];
            }
        }
        let mut s: f32 = acc.iter().sum();
        for i in main..n {
            s += a[i] * b[i];
        }
        s
    }

    pub fn dot_4x2(w: [&[f32]; 4], x: [&[f32]; 2], k: usize) -> [[f32; 4]; 2] {
        let mut out = [[0f32; 4]; 2];
        for t in 0..2 {
            for r in 0..4 {
                out[t][r] = dot(&x[t][..k], &w[r][..k]);
            }
        }
        out
    }

    /// Scalar twin of [`super::gemm_panel_16x6`].
    pub fn gemm_panel_16x6(panel: &[f32], x: [&[f32]; 6], k: usize) -> [[f32; 16]; 6] {
        let mut out = [[0f32; 16]; 6];
        for t in 0..6 {
            for i in 0..k {
                let a = x[t][i];
                for r in 0..16 {
                    out[t][r] += a * panel[i * 16 + r];
                }
            }
        }
        out
    }

    /// Scalar twin of [`super::gemm_panel_16x12`]: two 6-token panels.
    pub fn gemm_panel_16x12(panel: &[f32], x: [&[f32]; 12], k: usize) -> [[f32; 16]; 12] {
        let a = gemm_panel_16x6(panel, [x[0], x[1], x[2], x[3], x[4], x[5]], k);
        let b = gemm_panel_16x6(panel, [x[6], x[7], x[8], x[9], x[10], x[11]], k);
        std::array::from_fn(|t| if t < 6 { a[t] } else { b[t - 6] })
    }

    /// Scalar twin of [`super::gemm_panel_32x12`]: one 12-token product per panel.
    pub fn gemm_panel_32x12(
        pa: &[f32],
        pb: &[f32],
        x: [&[f32]; 12],
        k: usize,
    ) -> [[[f32; 16]; 12]; 2] {
        [gemm_panel_16x12(pa, x, k), gemm_panel_16x12(pb, x, k)]
    }

    pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
        for (yi, xi) in y.iter_mut().zip(x) {
            *yi += a * xi;
        }
    }
}

/// `Σ a[i]·b[i]`. Panics if the lengths differ.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot: length mismatch");
    #[cfg(target_arch = "x86_64")]
    if isa() >= Isa::Avx2 {
        // SAFETY: `isa()` only reports AVX2 when the CPU has AVX2+FMA; lengths checked.
        return unsafe { crate::isa::x86_64::avx2::dot(a, b) };
    }
    #[cfg(target_arch = "aarch64")]
    if isa().is_arm() {
        // SAFETY: an aarch64 tier implies NEON; the kernel bounds its slices.
        return unsafe { crate::isa::aarch64::f32ops::dot(a, b) };
    }
    scalar::dot(a, b)
}

/// Four weight rows against two activation rows over the first `k` elements.
/// Panics if any slice is shorter than `k`.
pub fn dot_4x2(w: [&[f32]; 4], x: [&[f32]; 2], k: usize) -> [[f32; 4]; 2] {
    assert!(
        w.iter().all(|r| r.len() >= k) && x.iter().all(|r| r.len() >= k),
        "dot_4x2: short row"
    );
    #[cfg(target_arch = "x86_64")]
    if isa() >= Isa::Avx2 {
        // SAFETY: features proved by `isa()`; every slice holds at least `k` elements.
        return unsafe { crate::isa::x86_64::avx2::dot_4x2(w, x, k) };
    }
    #[cfg(target_arch = "aarch64")]
    if isa().is_arm() {
        // SAFETY: an aarch64 tier implies NEON; the kernel bounds its slices.
        return unsafe { crate::isa::aarch64::f32ops::dot_4x2(w, x, k) };
    }
    scalar::dot_4x2(w, x, k)
}

/// Weight rows in a packed panel for [`gemm_panel_16x6`].
pub const PANEL_ROWS: usize = 16;
/// Activation rows per [`gemm_panel_16x6`] call.
pub const PANEL_TOKENS: usize = 6;

/// `out[t][r] = Σ_i x[t][i] · panel[i·16 + r]`: 16 weight rows packed k-major against 6
/// activation rows. Panics if `panel` is shorter than `16·k` or a row shorter than `k`.
pub fn gemm_panel_16x6(panel: &[f32], x: [&[f32]; 6], k: usize) -> [[f32; 16]; 6] {
    assert!(
        panel.len() >= 16 * k && x.iter().all(|r| r.len() >= k),
        "gemm_panel_16x6: short input"
    );
    #[cfg(target_arch = "x86_64")]
    if isa() >= Isa::Avx2 {
        // SAFETY: features proved by `isa()`; lengths checked above.
        return unsafe { crate::isa::x86_64::avx2::gemm_panel_16x6(panel, x, k) };
    }
    #[cfg(target_arch = "aarch64")]
    if isa().is_arm() {
        // SAFETY: an aarch64 tier implies NEON; the kernel bounds its slices.
        return unsafe { crate::isa::aarch64::f32ops::gemm_panel_16x6(panel, x, k) };
    }
    scalar::gemm_panel_16x6(panel, x, k)
}

/// Activation rows per [`gemm_panel_16x12`] call.
pub const PANEL_TOKENS_WIDE: usize = 12;

/// [`gemm_panel_16x6`] for 12 activation rows: one AVX-512 kernel where the CPU has it
/// (bit-identical to two AVX2 calls: the same FMA per step, in the same order), two
/// 6-row calls elsewhere. Panics if `panel` is shorter than `16·k` or a row shorter than `k`.
pub fn gemm_panel_16x12(panel: &[f32], x: [&[f32]; 12], k: usize) -> [[f32; 16]; 12] {
    assert!(
        panel.len() >= 16 * k && x.iter().all(|r| r.len() >= k),
        "gemm_panel_16x12: short input"
    );
    #[cfg(target_arch = "x86_64")]
    if isa() >= Isa::Avx512 {
        // SAFETY: `isa()` reports an AVX-512 tier only when the CPU has AVX-512F; lengths
        // checked above.
        return unsafe { crate::isa::x86_64::avx512_gemm::gemm_panel_16x12(panel, x, k) };
    }
    let a = gemm_panel_16x6(panel, [x[0], x[1], x[2], x[3], x[4], x[5]], k);
    let b = gemm_panel_16x6(panel, [x[6], x[7], x[8], x[9], x[10], x[11]], k);
    std::array::from_fn(|t| if t < 6 { a[t] } else { b[t - 6] })
}

/// [`gemm_panel_16x12`] for two 16-row panels `pa`, `pb` (32 weight rows) against the
/// same 12 activation rows: one AVX-512 kernel that shares each activation broadcast
/// between the panels where the CPU has it, two 12-token products elsewhere. Results are
/// bit-identical to `[gemm_panel_16x12(pa, x, k), gemm_panel_16x12(pb, x, k)]` on every
/// tier. Panics if a panel is shorter than `16·k` or a row shorter than `k`.
pub fn gemm_panel_32x12(pa: &[f32], pb: &[f32], x: [&[f32]; 12], k: usize) -> [[[f32; 16]; 12]; 2] {
    assert!(
        pa.len() >= 16 * k && pb.len() >= 16 * k && x.iter().all(|r| r.len() >= k),
        "gemm_panel_32x12: short input"
    );
    #[cfg(target_arch = "x86_64")]
    if isa() >= Isa::Avx512 {
        // SAFETY: `isa()` reports an AVX-512 tier only when the CPU has AVX-512F; lengths
        // checked above.
        return unsafe { crate::isa::x86_64::avx512_gemm::gemm_panel_32x12(pa, pb, x, k) };
    }
    [gemm_panel_16x12(pa, x, k), gemm_panel_16x12(pb, x, k)]
}

/// `y += a·x`. Panics if the lengths differ.
pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "axpy: length mismatch");
    #[cfg(target_arch = "x86_64")]
    if isa() >= Isa::Avx2 {
        // SAFETY: features proved by `isa()`; lengths checked.
        return unsafe { crate::isa::x86_64::avx2::axpy(a, x, y) };
    }
    #[cfg(target_arch = "aarch64")]
    if isa().is_arm() {
        // SAFETY: an aarch64 tier implies NEON; the kernel bounds its slices.
        return unsafe { crate::isa::aarch64::f32ops::axpy(a, x, y) };
    }
    scalar::axpy(a, x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::rand_vec;

    #[test]
    fn simd_matches_scalar_on_ragged_lengths() {
        let mut s = 7u64;
        for n in [0usize, 1, 3, 7, 8, 9, 31, 32, 33, 63, 100, 640, 1027] {
            let a = rand_vec(&mut s, n);
            let b = rand_vec(&mut s, n);
            let want: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            let tol = 1e-5 * (n as f64).max(1.0);
            assert!((dot(&a, &b) as f64 - want).abs() < tol, "dot n={n}");
            assert!(
                (scalar::dot(&a, &b) as f64 - want).abs() < tol,
                "scalar dot n={n}"
            );
            let w: Vec<Vec<f32>> = (0..4).map(|_| rand_vec(&mut s, n)).collect();
            let x: Vec<Vec<f32>> = (0..2).map(|_| rand_vec(&mut s, n)).collect();
            let got = dot_4x2([&w[0], &w[1], &w[2], &w[3]], [&x[0], &x[1]], n);
            let refv = scalar::dot_4x2([&w[0], &w[1], &w[2], &w[3]], [&x[0], &x[1]], n);
            for t in 0..2 {
                for r in 0..4 {
                    assert!((got[t][r] - refv[t][r]).abs() < tol as f32, "4x2 n={n}");
                }
            }
            let p = rand_vec(&mut s, 16 * n);
            let xs: Vec<Vec<f32>> = (0..6).map(|_| rand_vec(&mut s, n)).collect();
            let xr = [&xs[0][..], &xs[1], &xs[2], &xs[3], &xs[4], &xs[5]];
            let got = gemm_panel_16x6(&p, xr, n);
            let want = scalar::gemm_panel_16x6(&p, xr, n);
            for t in 0..6 {
                for r in 0..16 {
                    assert!((got[t][r] - want[t][r]).abs() < tol as f32, "panel n={n}");
                }
            }
            let xs: Vec<Vec<f32>> = (0..12).map(|_| rand_vec(&mut s, n)).collect();
            let xr: [&[f32]; 12] = std::array::from_fn(|t| &xs[t][..]);
            let got = gemm_panel_16x12(&p, xr, n);
            let want = scalar::gemm_panel_16x12(&p, xr, n);
            let halves = [
                gemm_panel_16x6(&p, std::array::from_fn(|t| xr[t]), n),
                gemm_panel_16x6(&p, std::array::from_fn(|t| xr[t + 6]), n),
            ];
            for t in 0..12 {
                // Bit-identical to the 6-token kernel of the same tier (same FMA order).
                assert_eq!(got[t], halves[t / 6][t % 6], "panel12 vs 2×panel6 n={n}");
                for r in 0..16 {
                    assert!((got[t][r] - want[t][r]).abs() < tol as f32, "panel12 n={n}");
                }
            }
            // Two panels at once: bit-identical to one 12-token product per panel.
            let p2 = rand_vec(&mut s, 16 * n);
            let got = gemm_panel_32x12(&p, &p2, xr, n);
            assert_eq!(got[0], gemm_panel_16x12(&p, xr, n), "panel32 a n={n}");
            assert_eq!(got[1], gemm_panel_16x12(&p2, xr, n), "panel32 b n={n}");
            let want = scalar::gemm_panel_32x12(&p, &p2, xr, n);
            for h in 0..2 {
                for t in 0..12 {
                    for r in 0..16 {
                        let d = (got[h][t][r] - want[h][t][r]).abs();
                        assert!(d < tol as f32, "panel32 n={n}");
                    }
                }
            }
            let mut y1 = rand_vec(&mut s, n);
            let mut y2 = y1.clone();
            axpy(0.37, &a, &mut y1);
            scalar::axpy(0.37, &a, &mut y2);
            for (p, q) in y1.iter().zip(&y2) {
                assert!((p - q).abs() < 1e-6);
            }
        }
    }
}
