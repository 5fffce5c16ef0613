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
pub fn exp_sub_sum(x: &mut [f32], m: f32) -> f32 {
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
