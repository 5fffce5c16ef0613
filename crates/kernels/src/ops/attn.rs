//! Attention over cached keys and values read in their stored format: scores of a few
//! query rows against a run of keys, and the probability-weighted sum of a run of values.
//! Safe wrappers (lengths checked, ISA dispatched) over `isa::x86_64::avx512_attn` (either
//! AVX-512 tier), `isa::x86_64::avx2_attn` (AVX2) and `isa::aarch64::attn`, with scalar
//! twins that dequantize each row and then use plain loops.

use crate::isa::{isa, Isa};
use crate::GgmlType;

/// Whether [`attn_scores`] and [`attn_values`] read rows of `ty` with `hd` elements.
pub fn attn_supported(ty: GgmlType, hd: usize) -> bool {
    matches!(ty, GgmlType::F32 | GgmlType::F16 | GgmlType::Q8_0) && hd.is_multiple_of(32) && hd > 0
}

fn row_bytes(ty: GgmlType, hd: usize) -> usize {
    ty.row_bytes(hd as u64).expect("attn: supported type") as usize
}

#[allow(clippy::too_many_arguments)]
fn check(
    what: &str,
    ty: GgmlType,
    kv: &[u8],
    n: usize,
    hd: usize,
    rows: usize,
    rowwise: usize,
    ld: usize,
    dense: usize,
) {
    assert!(
        attn_supported(ty, hd),
        "{what}: {ty} rows of {hd} elements are not supported"
    );
    assert!(
        kv.len() >= n * row_bytes(ty, hd),
        "{what}: short key/value rows"
    );
    assert!(ld >= n, "{what}: row stride {ld} below {n} keys");
    assert!(
        rows == 0 || rowwise >= (rows - 1) * ld + n,
        "{what}: short score/probability rows"
    );
    assert!(dense >= rows * hd, "{what}: short query/output rows");
}

#[cfg(target_arch = "x86_64")]
fn fmt(ty: GgmlType) -> x86::Rows {
    use x86::Rows;
    match ty {
        GgmlType::F32 => Rows::F32,
        GgmlType::F16 => Rows::F16,
        _ => Rows::Q8_0,
    }
}

/// Calls `f(first row, rows)` for consecutive groups of at most 4 of `rows` rows (the
/// kernels' widths).
#[cfg(target_arch = "x86_64")]
fn by_fours(rows: usize, mut f: impl FnMut(usize, usize)) {
    let mut r = 0;
    while r < rows {
        let take = (rows - r).min(4);
        f(r, take);
        r += take;
    }
}

/// The x86-64 scores kernel for 1..=4 rows (index `rows − 1`).
#[cfg(target_arch = "x86_64")]
type ScoresFn = unsafe fn(x86::Rows, *const u8, usize, usize, *const f32, *mut f32, usize);
/// The x86-64 values kernel for 1..=4 rows (index `rows − 1`).
#[cfg(target_arch = "x86_64")]
type ValuesFn = unsafe fn(x86::Rows, *const u8, usize, usize, *const f32, usize, *mut f32);

#[cfg(target_arch = "x86_64")]
use crate::isa::x86_64::avx2_attn as x86;

/// The kernels of tier `t` (AVX-512 at either AVX-512 tier, else AVX2), or `None` below AVX2.
#[cfg(target_arch = "x86_64")]
fn x86_kernels(t: Isa) -> Option<([ScoresFn; 4], [ValuesFn; 4])> {
    use crate::isa::x86_64::{avx2_attn as a2, avx512_attn as a5};
    // The four widths (query rows per call) of one module's kernels.
    macro_rules! widths {
        ($m:ident) => {
            (
                [
                    $m::scores::<1>,
                    $m::scores::<2>,
                    $m::scores::<3>,
                    $m::scores::<4>,
                ],
                [
                    $m::values::<1>,
                    $m::values::<2>,
                    $m::values::<3>,
                    $m::values::<4>,
                ],
            )
        };
    }
    if t.at_least(Isa::Avx512) {
        Some(widths!(a5))
    } else if t.at_least(Isa::Avx2) {
        Some(widths!(a2))
    } else {
        None
    }
}

/// `t`, after proving that this CPU runs it (the process tier is proven already).
fn checked(t: Isa) -> Isa {
    assert!(
        t == isa() || t.supported(),
        "ISA tier {} is not supported by this CPU",
        t.name()
    );
    t
}

/// `s[r·ld + j] = q[r]·K_j` for `r < rows`, `j < n`: `k` holds `n` rows of `hd`
/// elements in `ty`, `q` holds `rows` query rows of `hd` floats. Panics on short inputs
/// or an unsupported type (see [`attn_supported`]).
#[allow(clippy::too_many_arguments)]
pub fn attn_scores(
    ty: GgmlType,
    k: &[u8],
    n: usize,
    hd: usize,
    q: &[f32],
    rows: usize,
    s: &mut [f32],
    ld: usize,
) {
    attn_scores_with(isa(), ty, k, n, hd, q, rows, s, ld)
}

/// [`attn_scores`] computed with the kernels of tier `t` (the scalar twin for
/// [`Isa::Scalar`]). Panics if the CPU does not support `t`.
#[allow(clippy::too_many_arguments)]
pub fn attn_scores_with(
    t: Isa,
    ty: GgmlType,
    k: &[u8],
    n: usize,
    hd: usize,
    q: &[f32],
    rows: usize,
    s: &mut [f32],
    ld: usize,
) {
    let t = checked(t);
    check("attn_scores", ty, k, n, hd, rows, s.len(), ld, q.len());
    #[cfg(target_arch = "x86_64")]
    if let Some((f, _)) = x86_kernels(t) {
        let fm = fmt(ty);
        by_fours(rows, |r, take| {
            let (qp, sp) = (q[r * hd..].as_ptr(), s[r * ld..].as_mut_ptr());
            // SAFETY: `checked` proved the tier's features (AVX2/FMA/F16C, and AVX-512
            // F/BW/VL for its kernels); `check` proved `k` holds n rows, `q` rows
            // r..r+take and `s` rows r..r+take (stride ld, n each) exist; hd % 32 == 0.
            unsafe { f[take - 1](fm, k.as_ptr(), n, hd, qp, sp, ld) }
        });
        return;
    }
    #[cfg(target_arch = "aarch64")]
    if t.is_arm() {
        // SAFETY: an aarch64 tier implies NEON; `check` proved the slices' lengths.
        return unsafe { crate::isa::aarch64::attn::scores(ty, k, n, hd, q, rows, s, ld) };
    }
    scalar::attn_scores(ty, k, n, hd, q, rows, s, ld)
}

/// `o[r] += Σ_j p[r·ld + j] · V_j` for `r < rows`, `j < n`: `v` holds `n` rows of `hd`
/// elements in `ty`, `o` holds `rows` output rows of `hd` floats. Panics on short inputs
/// or an unsupported type.
#[allow(clippy::too_many_arguments)]
pub fn attn_values(
    ty: GgmlType,
    v: &[u8],
    n: usize,
    hd: usize,
    p: &[f32],
    ld: usize,
    rows: usize,
    o: &mut [f32],
) {
    attn_values_with(isa(), ty, v, n, hd, p, ld, rows, o)
}

/// [`attn_values`] computed with the kernels of tier `t` (the scalar twin for
/// [`Isa::Scalar`]). Panics if the CPU does not support `t`.
#[allow(clippy::too_many_arguments)]
pub fn attn_values_with(
    t: Isa,
    ty: GgmlType,
    v: &[u8],
    n: usize,
    hd: usize,
    p: &[f32],
    ld: usize,
    rows: usize,
    o: &mut [f32],
) {
    let t = checked(t);
    check("attn_values", ty, v, n, hd, rows, p.len(), ld, o.len());
    #[cfg(target_arch = "x86_64")]
    if let Some((_, f)) = x86_kernels(t) {
        let fm = fmt(ty);
        by_fours(rows, |r, take| {
            let (pp, op) = (p[r * ld..].as_ptr(), o[r * hd..].as_mut_ptr());
            // SAFETY: as in `attn_scores_with`: features proved, and `check` proved the n
            // value rows, probability rows r..r+take (stride ld) and output rows
            // r..r+take exist.
            unsafe { f[take - 1](fm, v.as_ptr(), n, hd, pp, ld, op) }
        });
        return;
    }
    #[cfg(target_arch = "aarch64")]
    if t.is_arm() {
        // SAFETY: an aarch64 tier implies NEON; `check` proved the slices' lengths.
        return unsafe { crate::isa::aarch64::attn::values(ty, v, n, hd, p, ld, rows, o) };
    }
    scalar::attn_values(ty, v, n, hd, p, ld, rows, o)
}

/// Hints that `bytes` (a run of cached rows about to be read) be brought into the cache:
/// into L1 (`near`) or L2 (not `near`: a run read after the current one, so it arrives
/// while the current one is computed without pushing it out of L1).
pub fn attn_prefetch(bytes: &[u8], near: bool) {
    #[cfg(target_arch = "x86_64")]
    if isa().at_least(Isa::Avx2) {
        // SAFETY: `isa()` proved AVX2; the kernel reads nothing outside `bytes`.
        unsafe { crate::isa::x86_64::avx2_attn::prefetch(bytes, near) };
    }
    let _ = (bytes, near);
}

/// Scalar twins: dequantize each row, then plain dot products and sums.
pub mod scalar {
    use crate::GgmlType;

    fn row(ty: GgmlType, rows: &[u8], j: usize, hd: usize, out: &mut [f32]) {
        let rb = super::row_bytes(ty, hd);
        crate::formats::dequantize_scalar(ty, &rows[j * rb..(j + 1) * rb], out);
    }

    #[allow(clippy::too_many_arguments)]
    pub fn attn_scores(
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
            row(ty, k, j, hd, &mut kj);
            for r in 0..rows {
                s[r * ld + j] = super::super::f32dot::scalar::dot(&q[r * hd..(r + 1) * hd], &kj);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn attn_values(
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
            row(ty, v, j, hd, &mut vj);
            for r in 0..rows {
                let w = p[r * ld + j];
                for (y, x) in o[r * hd..(r + 1) * hd].iter_mut().zip(&vj) {
                    *y += w * x;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::rand_vec;

    fn rows_of(ty: GgmlType, x: &[f32], hd: usize) -> Vec<u8> {
        let rb = row_bytes(ty, hd);
        let mut out = vec![0u8; x.len() / hd * rb];
        for (src, dst) in x.chunks(hd).zip(out.chunks_mut(rb)) {
            crate::quantize_row(ty, src, dst);
        }
        out
    }

    /// The dispatched kernels against their scalar twins (and the scalar twins against
    /// f64 sums over the dequantized rows), over ragged key counts, 1–9 query rows (so
    /// the 4-row split leaves every remainder), strides wider than the run, and every
    /// supported format.
    #[test]
    fn kernels_match_scalar_twins() {
        let mut seed = 11u64;
        for ty in [GgmlType::F32, GgmlType::F16, GgmlType::Q8_0] {
            for hd in [32usize, 64, 256] {
                for n in [0usize, 1, 3, 7, 16, 33] {
                    for rows in [1usize, 2, 3, 4, 5, 8, 9] {
                        let ld = n + 3;
                        let kv = rows_of(ty, &rand_vec(&mut seed, n * hd), hd);
                        let q = rand_vec(&mut seed, rows * hd);
                        let mut dq = vec![0f32; n * hd];
                        let rb = row_bytes(ty, hd);
                        for j in 0..n {
                            crate::dequantize_row(
                                ty,
                                &kv[j * rb..(j + 1) * rb],
                                &mut dq[j * hd..(j + 1) * hd],
                            );
                        }
                        let tol = 1e-5 * hd as f32;

                        let mut s1 = vec![9f32; rows * ld];
                        let mut s2 = s1.clone();
                        attn_scores(ty, &kv, n, hd, &q, rows, &mut s1, ld);
                        scalar::attn_scores(ty, &kv, n, hd, &q, rows, &mut s2, ld);
                        for r in 0..rows {
                            for j in 0..ld {
                                let (a, b) = (s1[r * ld + j], s2[r * ld + j]);
                                if j >= n {
                                    assert_eq!((a, b), (9.0, 9.0), "scores wrote past n");
                                    continue;
                                }
                                let want: f64 = (0..hd)
                                    .map(|i| q[r * hd + i] as f64 * dq[j * hd + i] as f64)
                                    .sum();
                                assert!((a - b).abs() < tol, "{ty} hd={hd} n={n} rows={rows}");
                                assert!((b as f64 - want).abs() < tol as f64, "scalar scores");
                            }
                        }

                        let p = rand_vec(&mut seed, rows * ld);
                        let o0 = rand_vec(&mut seed, rows * hd);
                        let (mut o1, mut o2) = (o0.clone(), o0.clone());
                        attn_values(ty, &kv, n, hd, &p, ld, rows, &mut o1);
                        scalar::attn_values(ty, &kv, n, hd, &p, ld, rows, &mut o2);
                        for r in 0..rows {
                            for i in 0..hd {
                                let want = o0[r * hd + i] as f64
                                    + (0..n)
                                        .map(|j| p[r * ld + j] as f64 * dq[j * hd + i] as f64)
                                        .sum::<f64>();
                                let (a, b) = (o1[r * hd + i], o2[r * hd + i]);
                                assert!((a - b).abs() < tol, "{ty} values hd={hd} n={n}");
                                assert!((b as f64 - want).abs() < tol as f64, "scalar values");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "not supported")]
    fn unsupported_type_is_refused() {
        let mut s = [0f32; 1];
        attn_scores(GgmlType::Q4_0, &[0u8; 18], 1, 32, &[0f32; 32], 1, &mut s, 1);
    }
}
