//! NEON attention helpers over cached rows (F32, F16, Q8_0): each key/value row is
//! widened once to f32 (the NEON dequantizers, bit-identical to the scalar ones), then
//! dotted with the query rows or added into the output rows with the NEON f32 kernels.
//! Twins: `crate::ops::attn::scalar`; the safe wrappers in `crate::ops::attn` check the
//! lengths.

use super::{dequant, f32ops};
use crate::formats::cast_blocks;
use crate::GgmlType;

/// Row `j` of `hd` elements of `ty` from `rows`, widened into `out`.
#[inline(always)]
unsafe fn widen(ty: GgmlType, rows: &[u8], j: usize, hd: usize, out: &mut [f32]) {
    // SAFETY: NEON is the aarch64 baseline; callers are NEON (or higher-tier) kernels and uphold any pointer contract in the doc comment.
    unsafe {
        let rb = ty.row_bytes(hd as u64).expect("attn row") as usize;
        let src = &rows[j * rb..(j + 1) * rb];
        // SAFETY: NEON is the aarch64 baseline; the kernels bound their slices.
        unsafe {
            match ty {
                GgmlType::F16 => dequant::dequantize_f16(cast_blocks(src), out),
                GgmlType::Q8_0 => dequant::dequantize_q8_0(cast_blocks(src), out),
                _ => {
                    for (o, b) in out.iter_mut().zip(src.chunks_exact(4)) {
                        *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    }
                }
            }
        }
    }
}

/// `s[r·ld + j] = q_r · K_j` for `r < rows`, `j < n`. Slices as checked by
/// `ops::attn::attn_scores` (panics on a short one).
///
/// # Safety
/// NEON (baseline on aarch64).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "neon")]
pub unsafe fn scores(
    ty: GgmlType,
    k: &[u8],
    n: usize,
    hd: usize,
    q: &[f32],
    rows: usize,
    s: &mut [f32],
    ld: usize,
) {
    let mut kj = vec![0f32; hd];
    for j in 0..n {
        // SAFETY: NEON.
        unsafe { widen(ty, k, j, hd, &mut kj) };
        for r in 0..rows {
            // SAFETY: NEON.
            s[r * ld + j] = unsafe { f32ops::dot(&q[r * hd..(r + 1) * hd], &kj) };
        }
    }
}

/// `o[r] += Σ_j p[r·ld + j] · V_j` for `r < rows`, `j < n`. Slices as checked by
/// `ops::attn::attn_values`.
///
/// # Safety
/// NEON (baseline on aarch64).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "neon")]
pub unsafe fn values(
    ty: GgmlType,
    v: &[u8],
    n: usize,
    hd: usize,
    p: &[f32],
    ld: usize,
    rows: usize,
    o: &mut [f32],
) {
    let mut vj = vec![0f32; hd];
    for j in 0..n {
        // SAFETY: NEON.
        unsafe { widen(ty, v, j, hd, &mut vj) };
        for r in 0..rows {
            // SAFETY: NEON.
            unsafe { f32ops::axpy(p[r * ld + j], &vj, &mut o[r * hd..(r + 1) * hd]) };
        }
    }
}
