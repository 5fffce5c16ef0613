//! A branch-free `exp` for softmax weights, written so the compiler vectorizes loops over
//! it (libm's `expf` is a call per element, which dominated attention's softmax).
//!
//! Cephes' `expf` scheme: `e^x = 2^n · e^r` with `n = round(x·log2 e)`, `r = x − n·ln 2`
//! (ln 2 split in two for exactness), `e^r` by a degree-6 polynomial on |r| ≤ ln2/2.
//! Relative error below 2.5e-7 over the whole range (tested against f64).

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 355.0 / 512.0;
const LN2_LO: f32 = -2.121_944_4e-4;
/// `1.5·2^23`: adding it rounds an f32 of magnitude < 2^22 to an integer (nearest even).
const ROUND: f32 = 12_582_912.0;

/// `e^x` for softmax weights (x ≤ 0 in use). Results below `e^-87` flush to 0 (also for
/// −∞); arguments above 88 give +∞ (f32 overflows at 88.72).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let xc = x.clamp(-87.0, 88.0);
    let n = (xc * LOG2E + ROUND) - ROUND;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let er = p * r * r + r + 1.0;
    // 2^n from the exponent bits (n in -126..=127 after the clamp).
    let two_n = f32::from_bits(((n as i32 + 127).clamp(0, 255) as u32) << 23);
    let y = er * two_n;
    if x < -87.0 {
        0.0
    } else if x > 88.0 {
        f32::INFINITY
    } else {
        y
    }
}

/// `x[i] = e^(x[i] − m)` for every element; returns their sum.
///
/// On an AVX-512 CPU the same loop is compiled for 16 lanes; the results are bit-identical
/// to the baseline build (the same IEEE operations per element, no fused multiply-adds, the
/// same eight partial sums added in the same order).
pub fn exp_sub_sum(x: &mut [f32], m: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if crate::isa::isa().at_least(crate::isa::Isa::Avx512) {
        // SAFETY: the tier proves AVX-512 F/BW/VL (and AVX2); the function only touches `x`.
        return unsafe { exp_sub_sum_avx512(x, m) };
    }
    exp_sub_sum_any(x, m)
}

/// [`exp_sub_sum`]'s loop compiled with AVX-512 enabled.
///
/// # Safety
/// The CPU must support AVX-512 F/BW/VL and AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2")]
unsafe fn exp_sub_sum_avx512(x: &mut [f32], m: f32) -> f32 {
    exp_sub_sum_any(x, m)
}

#[inline(always)]
fn exp_sub_sum_any(x: &mut [f32], m: f32) -> f32 {
    for v in x.iter_mut() {
        *v = exp(*v - m);
    }
    // Eight partial sums: vectorizable, and closer to a pairwise sum than one chain.
    let mut acc = [0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_f64_exp() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let want = (x as f64).exp();
            let got = exp(x) as f64;
            worst = worst.max(((got - want) / want).abs());
            x += 0.000_37;
        }
        assert!(worst < 2.5e-7, "relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-100.0), 0.0);
        assert_eq!(exp(100.0), f32::INFINITY);
        assert!(exp(f32::NAN).is_nan() || exp(f32::NAN) == 0.0);
    }

    /// The dispatched version (AVX-512 where the CPU has it) is bit-identical to the
    /// baseline loop, so softmax weights never depend on the CPU tier.
    #[test]
    fn exp_sub_sum_is_bit_identical_across_tiers() {
        let mut seed = 5u64;
        for n in [0usize, 1, 7, 8, 15, 16, 17, 64, 100] {
            let x0 = crate::ops::testing::rand_vec(&mut seed, n);
            let x0: Vec<f32> = x0.iter().map(|v| v * 60.0).collect();
            let (mut a, mut b) = (x0.clone(), x0.clone());
            let (sa, sb) = (exp_sub_sum(&mut a, 3.5), exp_sub_sum_any(&mut b, 3.5));
            assert_eq!(sa.to_bits(), sb.to_bits(), "sum, n={n}");
            assert!(
                a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
                "n={n}"
            );
        }
    }

    #[test]
    fn exp_sub_sum_of_ragged_rows() {
        for n in [0usize, 1, 7, 8, 9, 33] {
            let mut x: Vec<f32> = (0..n).map(|i| -(i as f32) * 0.37).collect();
            let want: f64 = x.iter().map(|&v| ((v - 0.5) as f64).exp()).sum();
            let s = exp_sub_sum(&mut x, 0.5);
            assert!((s as f64 - want).abs() < 1e-6 * want.max(1.0), "n={n}");
            for (i, v) in x.iter().enumerate() {
                let w = ((-(i as f32) * 0.37 - 0.5) as f64).exp();
                assert!(((*v as f64) - w).abs() < 3e-7 * w, "n={n} i={i}");
            }
        }
    }
}
