//! AVX-512 f32 panel product for the exact path's prompt batches.
//!
//! Same packed panel as the AVX2 kernel (16 weight rows, k-major: `panel[i·16 + r]`), one
//! 512-bit register per step holding all 16 rows, against 12 activation rows at once (the
//! AVX2 kernel takes 6 in two 256-bit halves). Each step is one panel load, twelve
//! broadcasts and twelve FMAs into twelve independent accumulators: twice the products per
//! instruction of AVX2, and enough chains to hide the FMA latency. Every output is summed
//! over `i` in order with one FMA per step, exactly as the AVX2 kernel does, so results are
//! bit-identical to it.

use std::arch::x86_64::*;

/// Activation rows per [`gemm_panel_16x12`] call.
pub const TOKENS: usize = 12;

/// `out[t][r] = Σ_i x[t][i] · panel[i·16 + r]` for 12 activation rows.
///
/// # Safety
/// The CPU must support AVX-512F; `panel.len() >= 16 * k`; every `x[t].len() >= k`.
#[target_feature(enable = "avx512f")]
pub unsafe fn gemm_panel_16x12(
    panel: &[f32],
    x: [&[f32]; TOKENS],
    k: usize,
) -> [[f32; 16]; TOKENS] {
    debug_assert!(panel.len() >= 16 * k && x.iter().all(|r| r.len() >= k));
    // SAFETY: reads stay below 16·k in `panel` and below k in each `x[t]`, as the caller
    // guarantees; the feature is guaranteed by the caller.
    unsafe {
        let mut c = [_mm512_setzero_ps(); TOKENS];
        let p = panel.as_ptr();
        let xp: [*const f32; TOKENS] = std::array::from_fn(|t| x[t].as_ptr());
        for i in 0..k {
            let w = _mm512_loadu_ps(p.add(i * 16));
            for t in 0..TOKENS {
                let a = _mm512_set1_ps(*xp[t].add(i));
                c[t] = _mm512_fmadd_ps(a, w, c[t]);
            }
        }
        let mut out = [[0f32; 16]; TOKENS];
        for t in 0..TOKENS {
            _mm512_storeu_ps(out[t].as_mut_ptr(), c[t]);
        }
        out
    }
}

/// [`gemm_panel_16x12`] over two 16-row panels at once (32 weight rows): each step loads
/// both panels' registers and shares one broadcast of every activation between them, so
/// the loads per FMA fall from 13/12 to 14/24. Each output is the same FMA chain as in
/// [`gemm_panel_16x12`], so the results are bit-identical to two calls of it.
///
/// # Safety
/// The CPU must support AVX-512F; `pa.len() >= 16 * k`, `pb.len() >= 16 * k`; every
/// `x[t].len() >= k`.
#[target_feature(enable = "avx512f")]
pub unsafe fn gemm_panel_32x12(
    pa: &[f32],
    pb: &[f32],
    x: [&[f32]; TOKENS],
    k: usize,
) -> [[[f32; 16]; TOKENS]; 2] {
    debug_assert!(pa.len() >= 16 * k && pb.len() >= 16 * k && x.iter().all(|r| r.len() >= k));
    // SAFETY: reads stay below 16·k in each panel and below k in each `x[t]`, as the
    // caller guarantees; the feature is guaranteed by the caller.
    unsafe {
        let mut ca = [_mm512_setzero_ps(); TOKENS];
        let mut cb = [_mm512_setzero_ps(); TOKENS];
        let (a, b) = (pa.as_ptr(), pb.as_ptr());
        let xp: [*const f32; TOKENS] = std::array::from_fn(|t| x[t].as_ptr());
        for i in 0..k {
            let wa = _mm512_loadu_ps(a.add(i * 16));
            let wb = _mm512_loadu_ps(b.add(i * 16));
            for t in 0..TOKENS {
                let v = _mm512_set1_ps(*xp[t].add(i));
                ca[t] = _mm512_fmadd_ps(v, wa, ca[t]);
                cb[t] = _mm512_fmadd_ps(v, wb, cb[t]);
            }
        }
        let mut out = [[[0f32; 16]; TOKENS]; 2];
        for t in 0..TOKENS {
            _mm512_storeu_ps(out[0][t].as_mut_ptr(), ca[t]);
            _mm512_storeu_ps(out[1][t].as_mut_ptr(), cb[t]);
        }
        out
    }
}
