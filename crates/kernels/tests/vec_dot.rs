//! `vec_dot` for every weight format against f64 dot products of the dequantized operands,
//! against the unquantized f32 dot, and (with unit scales) for exact integer arithmetic.

mod common;

use common::{rmse_budget, row_bytes, Rng};
use wren_kernels::formats::f16::F16Le;
use wren_kernels::formats::{
    cast_blocks, cast_blocks_mut, iq4_nl, iq4_xs, q2_k, q3_k, q4_0, q4_1, q4_k, q5_0, q5_1, q5_k,
    q6_k, q8_0, q8_1, q8_k,
};
use wren_kernels::{dequantize_row, quantize_row, vec_dot, vec_dot_type, GgmlType};

/// Element counts to test: 1, 2, 3 and 7 blocks (and longer rows for the float formats).
fn lengths(ty: GgmlType) -> Vec<usize> {
    let bs = ty.block_size();
    let mut ns: Vec<usize> = [1, 2, 3, 7].iter().map(|k| k * bs).collect();
    if bs == 1 {
        ns.extend([33, 256, 1000]);
    }
    ns
}

fn quantize(ty: GgmlType, x: &[f32]) -> Vec<u8> {
    let mut q = vec![0u8; row_bytes(ty, x.len())];
    quantize_row(ty, x, &mut q);
    q
}

fn dequantize(ty: GgmlType, q: &[u8], n: usize) -> Vec<f32> {
    let mut y = vec![0.0f32; n];
    dequantize_row(ty, q, &mut y);
    y
}

/// Extra tolerance for Q4_1/Q5_1: ggml's dot uses the activation's `s = f16(d·Σq)` for the
/// offset term, which differs from `Σ dequantized a` by up to ~2 f16 half-ulps.
fn offset_term_slack(ty: GgmlType, w: &[u8], a_deq: &[f32]) -> f64 {
    let mins: Vec<f32> = match ty {
        GgmlType::Q4_1 => cast_blocks::<q4_1::BlockQ4_1>(w)
            .iter()
            .map(|b| b.m.to_f32())
            .collect(),
        GgmlType::Q5_1 => cast_blocks::<q5_1::BlockQ5_1>(w)
            .iter()
            .map(|b| b.m.to_f32())
            .collect(),
        _ => return 0.0,
    };
    mins.iter()
        .zip(a_deq.chunks_exact(32))
        .map(|(&m, a)| (m as f64 * a.iter().map(|&v| v as f64).sum::<f64>()).abs() * 2f64.powi(-9))
        .sum()
}

/// Ragged row counts, several lengths: each weight row · the activation row must match the
/// f64 dot of the dequantized operands (float-order tolerance only), and the unquantized f32
/// dot within the two formats' error budgets.
#[test]
fn vec_dot_matches_dequantized_dot() {
    let mut rng = Rng::new(7);
    for ty in GgmlType::ALL {
        let aty = vec_dot_type(ty);
        for (k, n) in lengths(ty).into_iter().enumerate() {
            let rows = [1, 3, 2, 5, 1, 4, 3][k % 7];
            let a = rng.normals(n, 1.0);
            let aq = quantize(aty, &a);
            let a_deq = dequantize(aty, &aq, n);
            let wq_all = quantize(ty, &rng.normals(rows * n, 0.05));
            let w_all = dequantize(ty, &wq_all, rows * n);
            let rb = row_bytes(ty, n);
            for r in 0..rows {
                let wq = &wq_all[r * rb..(r + 1) * rb];
                let got = vec_dot(ty, n, wq, &aq);
                let w_deq = &w_all[r * n..(r + 1) * n];
                let (mut exact, mut mag) = (0.0f64, 0.0f64);
                for (&x, &y) in w_deq.iter().zip(&a_deq) {
                    exact += x as f64 * y as f64;
                    mag += (x as f64 * y as f64).abs();
                }
                let tol = 1e-5 * mag + offset_term_slack(ty, wq, &a_deq) + 1e-30;
                assert!(
                    (got as f64 - exact).abs() <= tol,
                    "{ty} n={n} row {r}: vec_dot {got:e}, dequantized dot {exact:e} (tol {tol:e})"
                );
            }
        }
    }
}

/// The quantized dot approximates the unquantized f32 dot within the formats' budgets:
/// `|err| ≤ 6·(ε_w + ε_a + ε_w·ε_a)·‖w‖·‖a‖/√n` (errors behave like random vectors; the 6σ
/// margin is deterministic here since the data is fixed).
#[test]
fn vec_dot_close_to_unquantized_dot() {
    let mut rng = Rng::new(11);
    for ty in GgmlType::ALL {
        let aty = vec_dot_type(ty);
        for n in lengths(ty) {
            for r in 0..3 {
                let w = rng.normals(n, 0.05);
                let a = rng.normals(n, 1.0);
                let got = vec_dot(ty, n, &quantize(ty, &w), &quantize(aty, &a)) as f64;
                let want: f64 = w.iter().zip(&a).map(|(&x, &y)| x as f64 * y as f64).sum();
                let norm = |v: &[f32]| v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
                let (ew, ea) = (rmse_budget(ty), rmse_budget(aty));
                let tol = 6.0 * (ew + ea + ew * ea) * norm(&w) * norm(&a) / (n as f64).sqrt()
                    + 1e-6 * norm(&w) * norm(&a);
                assert!(
                    (got - want).abs() <= tol,
                    "{ty} n={n} try {r}: vec_dot {got:e}, f32 dot {want:e} (tol {tol:e})"
                );
            }
        }
    }
}

/// Sets every scale to 1 and every offset to 0 (bsums are unaffected), so that dequantized
/// values are the raw integers and the dot is pure integer arithmetic.
fn unit_scales(ty: GgmlType, bytes: &mut [u8]) {
    let one = F16Le::from_f32(1.0);
    match ty {
        GgmlType::Q4_0 => cast_blocks_mut::<q4_0::BlockQ4_0>(bytes)
            .iter_mut()
            .for_each(|b| b.d = one),
        GgmlType::Q5_0 => cast_blocks_mut::<q5_0::BlockQ5_0>(bytes)
            .iter_mut()
            .for_each(|b| b.d = one),
        GgmlType::Q8_0 => cast_blocks_mut::<q8_0::BlockQ8_0>(bytes)
            .iter_mut()
            .for_each(|b| b.d = one),
        GgmlType::Q4_1 => cast_blocks_mut::<q4_1::BlockQ4_1>(bytes)
            .iter_mut()
            .for_each(|b| {
                (b.d, b.m) = (one, F16Le::ZERO);
            }),
        GgmlType::Q5_1 => cast_blocks_mut::<q5_1::BlockQ5_1>(bytes)
            .iter_mut()
            .for_each(|b| {
                (b.d, b.m) = (one, F16Le::ZERO);
            }),
        GgmlType::Q8_1 => cast_blocks_mut::<q8_1::BlockQ8_1>(bytes)
            .iter_mut()
            .for_each(|b| {
                (b.d, b.s) = (one, F16Le::ZERO);
            }),
        GgmlType::Q2K => cast_blocks_mut::<q2_k::BlockQ2K>(bytes)
            .iter_mut()
            .for_each(|b| {
                (b.d, b.dmin) = (one, one);
            }),
        GgmlType::Q3K => cast_blocks_mut::<q3_k::BlockQ3K>(bytes)
            .iter_mut()
            .for_each(|b| b.d = one),
        GgmlType::Q4K => cast_blocks_mut::<q4_k::BlockQ4K>(bytes)
            .iter_mut()
            .for_each(|b| {
                (b.d, b.dmin) = (one, one);
            }),
        GgmlType::Q5K => cast_blocks_mut::<q5_k::BlockQ5K>(bytes)
            .iter_mut()
            .for_each(|b| {
                (b.d, b.dmin) = (one, one);
            }),
        GgmlType::Q6K => cast_blocks_mut::<q6_k::BlockQ6K>(bytes)
            .iter_mut()
            .for_each(|b| b.d = one),
        GgmlType::Q8K => cast_blocks_mut::<q8_k::BlockQ8K>(bytes)
            .iter_mut()
            .for_each(|b| b.d = 1.0f32.to_le_bytes()),
        GgmlType::IQ4NL => cast_blocks_mut::<iq4_nl::BlockIq4Nl>(bytes)
            .iter_mut()
            .for_each(|b| b.d = one),
        // Every block scale 33 (stored as 1 in the low nibble, 2 in the high bits): × 1.
        GgmlType::IQ4XS => cast_blocks_mut::<iq4_xs::BlockIq4Xs>(bytes)
            .iter_mut()
            .for_each(|b| {
                (b.d, b.scales_h, b.scales_l) = (one, [0xAA, 0xAA], [0x11; 4]);
            }),
        GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => unreachable!(),
    }
}

/// With unit scales every dequantized value is an integer and the true dot is an integer
/// below 2^24, so ggml's integer-then-scale arithmetic must reproduce it exactly.
#[test]
fn vec_dot_integer_parts_are_exact() {
    let mut rng = Rng::new(23);
    for ty in GgmlType::ALL {
        if ty.block_size() == 1 {
            continue;
        }
        let aty = vec_dot_type(ty);
        for n in lengths(ty) {
            let mut wq = quantize(ty, &rng.normals(n, 0.05));
            let mut aq = quantize(aty, &rng.normals(n, 1.0));
            unit_scales(ty, &mut wq);
            unit_scales(aty, &mut aq);
            let (w, a) = (dequantize(ty, &wq, n), dequantize(aty, &aq, n));
            let mut exact = 0i64;
            for (&x, &y) in w.iter().zip(&a) {
                assert!(
                    x.fract() == 0.0 && y.fract() == 0.0,
                    "{ty}: unit scales not integral"
                );
                exact += x as i64 * y as i64;
            }
            assert!(
                exact.abs() < 1 << 24,
                "{ty} n={n}: test dot {exact} too large to be exact"
            );
            let got = vec_dot(ty, n, &wq, &aq);
            assert_eq!(got, exact as f32, "{ty} n={n}: integer dot is not exact");
        }
    }
}

/// Q4_1/Q5_1 · Q8_1 at every tier (scalar, and each SIMD tier this CPU has) against the
/// f64 dot of the dequantized operands: ragged block counts (odd tails of the two-block
/// loops), activations with `-128` quants (and `s` recomputed to match), negative offsets.
#[test]
fn q4_1_q5_1_every_tier_match_dequantized_dot() {
    use wren_kernels::isa::{vec_dot_with, Isa};
    let tiers: Vec<Isa> = Isa::all_supported();
    eprintln!("tiers tested: {tiers:?}");
    let mut rng = Rng::new(41);
    for ty in [GgmlType::Q4_1, GgmlType::Q5_1] {
        for nb in (1..=9).chain([17, 18, 31, 48]) {
            let n = nb * 32;
            for rep in 0..4 {
                // Weights offset from zero (so m·s matters), activations at several scales.
                let w: Vec<f32> = rng
                    .normals(n, 0.05)
                    .iter()
                    .map(|v| v + [0.0, 0.1, -0.2, 0.03][rep])
                    .collect();
                let wq = quantize(ty, &w);
                let mut aq = quantize(GgmlType::Q8_1, &rng.normals(n, [1.0, 1e-3, 30.0, 1.0][rep]));
                if rep % 2 == 1 {
                    for (k, b) in cast_blocks_mut::<q8_1::BlockQ8_1>(&mut aq)
                        .iter_mut()
                        .enumerate()
                    {
                        for (j, q) in b.qs.iter_mut().enumerate() {
                            if (j + k) % 3 == 0 {
                                *q = 0x80; // -128
                            }
                        }
                        let sum: i32 = b.qs.iter().map(|&q| q as i8 as i32).sum();
                        b.s = F16Le::from_f32(sum as f32 * b.d.to_f32());
                    }
                }
                let (w_deq, a_deq) = (dequantize(ty, &wq, n), dequantize(GgmlType::Q8_1, &aq, n));
                let (mut exact, mut mag) = (0.0f64, 0.0f64);
                for (&x, &y) in w_deq.iter().zip(&a_deq) {
                    exact += x as f64 * y as f64;
                    mag += (x as f64 * y as f64).abs();
                }
                let tol = 1e-5 * mag + offset_term_slack(ty, &wq, &a_deq) + 1e-30;
                for &t in &tiers {
                    let got = vec_dot_with(t, ty, n, &wq, &aq);
                    assert!(
                        (got as f64 - exact).abs() <= tol,
                        "{ty} n={n} rep {rep} tier {}: {got:e}, dequantized dot {exact:e} (tol {tol:e})",
                        t.name()
                    );
                }
            }
        }
    }
}

#[test]
fn vec_dot_types_follow_ggml() {
    use GgmlType::*;
    let pairs = [
        (F32, F32),
        (F16, F16),
        (BF16, BF16),
        (Q4_0, Q8_0),
        (Q5_0, Q8_0),
        (Q8_0, Q8_0),
    ];
    let pairs2 = [
        (Q4_1, Q8_1),
        (Q5_1, Q8_1),
        (Q2K, Q8K),
        (Q3K, Q8K),
        (Q4K, Q8K),
        (Q5K, Q8K),
    ];
    for (w, a) in pairs
        .into_iter()
        .chain(pairs2)
        .chain([(Q6K, Q8K), (Q8_1, Q8_1), (Q8K, Q8K)])
    {
        assert_eq!(vec_dot_type(w), a, "{w}");
    }
}

#[test]
#[should_panic(expected = "vec_dot (activations): a Q8_K row of 256 elements is 292 bytes")]
fn vec_dot_rejects_wrong_activation_length() {
    vec_dot(GgmlType::Q4K, 256, &[0u8; 144], &[0u8; 34 * 8]);
}
