//! The attention kernels (`attn_scores`, `attn_values`) at every tier this CPU supports
//! (scalar twin, AVX2, AVX-512, NEON…) against f64 sums over the dequantized rows: random
//! and ragged key counts (every remainder of the multi-key steps), 1–9 query rows (every
//! remainder of the 4-row split), strides wider than the run, head sizes of 1–8 blocks, and
//! every supported format. Tolerance: 1e-5 of Σ|terms| (float order differs by tier).

mod common;

use common::Rng;
use wren_kernels::isa::Isa;
use wren_kernels::ops::{attn_scores_with, attn_values_with};
use wren_kernels::{dequantize_row, quantize_row, GgmlType};

fn tiers() -> Vec<Isa> {
    let t: Vec<Isa> = Isa::all_supported();
    eprintln!(
        "attention tiers tested: {t:?} (detected {:?})",
        Isa::detect()
    );
    t
}

/// `n` rows of `hd` elements in `ty` and their dequantized values.
fn rows(ty: GgmlType, n: usize, hd: usize, rng: &mut Rng) -> (Vec<u8>, Vec<f32>) {
    let rb = ty.row_bytes(hd as u64).unwrap() as usize;
    let mut bytes = vec![0u8; n * rb];
    let mut deq = vec![0f32; n * hd];
    for j in 0..n {
        // Rows of different magnitudes, so a per-row scale matters.
        let x = rng.normals(hd, [1.0, 0.05, 8.0][j % 3]);
        quantize_row(ty, &x, &mut bytes[j * rb..(j + 1) * rb]);
        dequantize_row(
            ty,
            &bytes[j * rb..(j + 1) * rb],
            &mut deq[j * hd..(j + 1) * hd],
        );
    }
    (bytes, deq)
}

#[test]
fn attention_kernels_match_f64_at_every_tier() {
    let tiers = tiers();
    let mut rng = Rng::new(23);
    let mut cases = 0;
    for ty in [GgmlType::F32, GgmlType::F16, GgmlType::Q8_0] {
        for hd in [32usize, 64, 96, 256] {
            for n in [0usize, 1, 2, 3, 4, 5, 6, 7, 9, 16, 33, 64] {
                for nrows in 1..=9 {
                    let ld = n + 5;
                    let (kv, deq) = rows(ty, n, hd, &mut rng);
                    let q = rng.normals(nrows * hd, 0.3);
                    let p: Vec<f32> = (0..nrows * ld).map(|_| rng.uniform() as f32).collect();
                    let o0 = rng.normals(nrows * hd, 1.0);
                    for &t in &tiers {
                        let what = format!("{t:?} {ty} hd={hd} n={n} rows={nrows}");
                        let mut s = vec![7f32; nrows * ld];
                        attn_scores_with(t, ty, &kv, n, hd, &q, nrows, &mut s, ld);
                        for r in 0..nrows {
                            for j in 0..ld {
                                let got = s[r * ld + j];
                                if j >= n {
                                    assert_eq!(got, 7.0, "{what}: scores wrote past n");
                                    continue;
                                }
                                let terms = (0..hd)
                                    .map(|i| f64::from(q[r * hd + i]) * f64::from(deq[j * hd + i]));
                                let want: f64 = terms.clone().sum();
                                let mag: f64 = terms.map(f64::abs).sum();
                                let err = (f64::from(got) - want).abs();
                                assert!(err <= 1e-5 * mag + 1e-30, "{what}: scores {err}");
                            }
                        }

                        let mut o = o0.clone();
                        attn_values_with(t, ty, &kv, n, hd, &p, ld, nrows, &mut o);
                        for r in 0..nrows {
                            for i in 0..hd {
                                let terms = (0..n)
                                    .map(|j| f64::from(p[r * ld + j]) * f64::from(deq[j * hd + i]));
                                let want = f64::from(o0[r * hd + i]) + terms.clone().sum::<f64>();
                                let mag = f64::from(o0[r * hd + i]).abs()
                                    + terms.map(f64::abs).sum::<f64>();
                                let err = (f64::from(o[r * hd + i]) - want).abs();
                                assert!(err <= 1e-5 * mag + 1e-30, "{what}: values {err}");
                            }
                        }
                        cases += 1;
                    }
                }
            }
        }
    }
    assert!(
        cases >= 3 * 4 * 12 * 9,
        "every case ran at least at the scalar tier"
    );
}
