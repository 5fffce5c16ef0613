//! AVX2 + FMA f32 kernels.

use std::arch::x86_64::*;

/// Horizontal sum of a 256-bit f32 vector.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn hsum(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps(v, 1);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
}

/// Dot products of 4 weight rows with 2 activation rows, all of length `k`.
/// `out[t][r] = Σ x[t][i]·w[r][i]`.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and every slice must hold at least `k` elements.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn dot_4x2(w: [&[f32]; 4], x: [&[f32]; 2], k: usize) -> [[f32; 4]; 2] {
    debug_assert!(w.iter().all(|r| r.len() >= k) && x.iter().all(|r| r.len() >= k));
    let main = k - k % 8;
    // SAFETY: every pointer offset below is < main <= k <= the slice's length, and the
    // caller guarantees AVX2/FMA.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); 4]; 2];
        let (w0, w1, w2, w3) = (w[0].as_ptr(), w[1].as_ptr(), w[2].as_ptr(), w[3].as_ptr());
        let (x0, x1) = (x[0].as_ptr(), x[1].as_ptr());
        let mut i = 0;
        while i < main {
            let a0 = _mm256_loadu_ps(x0.add(i));
            let a1 = _mm256_loadu_ps(x1.add(i));
            let b0 = _mm256_loadu_ps(w0.add(i));
            let b1 = _mm256_loadu_ps(w1.add(i));
            let b2 = _mm256_loadu_ps(w2.add(i));
            let b3 = _mm256_loadu_ps(w3.add(i));
            acc[0][0] = _mm256_fmadd_ps(a0, b0, acc[0][0]);
            acc[0][1] = _mm256_fmadd_ps(a0, b1, acc[0][1]);
            acc[0][2] = _mm256_fmadd_ps(a0, b2, acc[0][2]);
            acc[0][3] = _mm256_fmadd_ps(a0, b3, acc[0][3]);
            acc[1][0] = _mm256_fmadd_ps(a1, b0, acc[1][0]);
            acc[1][1] = _mm256_fmadd_ps(a1, b1, acc[1][1]);
            acc[1][2] = _mm256_fmadd_ps(a1, b2, acc[1][2]);
            acc[1][3] = _mm256_fmadd_ps(a1, b3, acc[1][3]);
            i += 8;
        }
        let mut out = [[0f32; 4]; 2];
        for t in 0..2 {
            for r in 0..4 {
                let mut s = hsum(acc[t][r]);
                for j in main..k {
                    s += x[t][j] * w[r][j];
                }
                out[t][r] = s;
            }
        }
        out
    }
}

/// Dot product of two f32 slices of equal length.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `a.len() == b.len()`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let k = a.len().min(b.len());
    let main = k - k % 32;
    // SAFETY: offsets stay below `main <= k`; features guaranteed by the caller.
    unsafe {
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut s0 = _mm256_setzero_ps();
        let mut s1 = _mm256_setzero_ps();
        let mut s2 = _mm256_setzero_ps();
        let mut s3 = _mm256_setzero_ps();
        let mut i = 0;
        while i < main {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s0);
            s1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 8)),
                _mm256_loadu_ps(pb.add(i + 8)),
                s1,
            );
            s2 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 16)),
                _mm256_loadu_ps(pb.add(i + 16)),
                s2,
            );
            s3 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 24)),
                _mm256_loadu_ps(pb.add(i + 24)),
                s3,
            );
            i += 32;
        }
        let mut s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
        for j in main..k {
            s += a[j] * b[j];
        }
        s
    }
}

/// `y[i] += a * x[i]`.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `x.len() == y.len()`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    let k = x.len().min(y.len());
    let main = k - k % 8;
    // SAFETY: offsets stay below `main <= k`; features guaranteed by the caller.
    unsafe {
        let va = _mm256_set1_ps(a);
        let (px, py) = (x.as_ptr(), y.as_mut_ptr());
        let mut i = 0;
        while i < main {
            let r = _mm256_fmadd_ps(va, _mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(py.add(i)));
            _mm256_storeu_ps(py.add(i), r);
            i += 8;
        }
    }
    for j in main..k {
        y[j] += a * x[j];
    }
}

/// `out[t][r] = Σ_i x[t][i] · panel[i][r]` for a packed panel of 16 weight rows
/// (`panel[i*16 + r]`, k-major) and 6 activation rows of length `k`. Outer-product form:
/// each step loads two vectors of the panel and broadcasts one element of each token.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `panel.len() >= 16 * k`; every `x[t].len() >= k`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn gemm_panel_16x6(panel: &[f32], x: [&[f32]; 6], k: usize) -> [[f32; 16]; 6] {
    debug_assert!(panel.len() >= 16 * k && x.iter().all(|r| r.len() >= k));
    // SAFETY: reads stay below 16·k in `panel` and below k in each `x[t]`, as the caller
    // guarantees; the features are guaranteed by the caller.
    unsafe {
        let mut c = [[_mm256_setzero_ps(); 2]; 6];
        let p = panel.as_ptr();
        let xp = [
            x[0].as_ptr(),
            x[1].as_ptr(),
            x[2].as_ptr(),
            x[3].as_ptr(),
            x[4].as_ptr(),
            x[5].as_ptr(),
        ];
        for i in 0..k {
            let w0 = _mm256_loadu_ps(p.add(i * 16));
            let w1 = _mm256_loadu_ps(p.add(i * 16 + 8));
            for t in 0..6 {
                let a = _mm256_broadcast_ss(&*xp[t].add(i));
                c[t][0] = _mm256_fmadd_ps(a, w0, c[t][0]);
                c[t][1] = _mm256_fmadd_ps(a, w1, c[t][1]);
            }
        }
        let mut out = [[0f32; 16]; 6];
        for t in 0..6 {
            _mm256_storeu_ps(out[t].as_mut_ptr(), c[t][0]);
            _mm256_storeu_ps(out[t].as_mut_ptr().add(8), c[t][1]);
        }
        out
    }
}
