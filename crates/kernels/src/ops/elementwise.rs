//! Element-wise and row-wise f32 operations shared by the model files.
//! Written so the compiler can vectorize them; they are a small share of the run time.

/// `out = x / sqrt(mean(x²) + eps) * w` (Gemma's GGUF norm weights already include the +1).
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    debug_assert_eq!(x.len(), w.len());
    let ss: f32 = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let scale = 1.0 / (ss + eps).sqrt();
    for ((o, xi), wi) in out.iter_mut().zip(x).zip(w) {
        *o = xi * scale * wi;
    }
}

/// In-place [`rms_norm`].
pub fn rms_norm_inplace(x: &mut [f32], w: &[f32], eps: f32) {
    let ss: f32 = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let scale = 1.0 / (ss + eps).sqrt();
    for (xi, wi) in x.iter_mut().zip(w) {
        *xi = *xi * scale * wi;
    }
}

/// The rotation angles' cosines and sines at position `pos`: `theta_i = pos · inv_freq[i]`,
/// computed in f64 so long contexts keep their precision.
pub fn rope_table(pos: usize, inv_freq: &[f32], cos: &mut [f32], sin: &mut [f32]) {
    for i in 0..inv_freq.len() {
        let (s, c) = (pos as f64 * inv_freq[i] as f64).sin_cos();
        cos[i] = c as f32;
        sin[i] = s as f32;
    }
}

/// NeoX-style rotary embedding on one head: element i pairs with element i + d/2, rotated
/// by the angle whose cosine and sine are `cos[i]`, `sin[i]` (see [`rope_table`]).
pub fn rope_neox(head: &mut [f32], cos: &[f32], sin: &[f32]) {
    let half = head.len() / 2;
    debug_assert!(cos.len() == half && sin.len() == half);
    for i in 0..half {
        let (a, b) = (head[i], head[i + half]);
        head[i] = a * cos[i] - b * sin[i];
        head[i + half] = a * sin[i] + b * cos[i];
    }
}

/// GELU with the tanh approximation (`gelu_pytorch_tanh`).
pub fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    let u = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
    // tanh(u) = 1 − 2 / (e^{2u} + 1): one `exp` instead of libm's slower `tanhf`; the
    // absolute error stays ~1e-7, and ±inf from the exp give exactly ±1.
    let t = 1.0 - 2.0 / ((2.0 * u).exp() + 1.0);
    0.5 * x * (1.0 + t)
}

/// Numerically stable softmax in place.
pub fn softmax_inplace(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_norm_unit_weight_gives_unit_rms() {
        let x = [1.0f32, -2.0, 3.0, 4.0];
        let mut out = [0f32; 4];
        rms_norm(&x, &[1.0; 4], 0.0, &mut out);
        let rms = (out.iter().map(|v| v * v).sum::<f32>() / 4.0).sqrt();
        assert!((rms - 1.0).abs() < 1e-6);
    }

    #[test]
    fn rope_at_zero_is_identity_and_preserves_norm() {
        let inv: Vec<f32> = (0..4)
            .map(|i| 10000f32.powf(-(2 * i) as f32 / 8.0))
            .collect();
        let mut h = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let orig = h;
        let (mut c, mut s) = ([0f32; 4], [0f32; 4]);
        rope_table(0, &inv, &mut c, &mut s);
        rope_neox(&mut h, &c, &s);
        assert_eq!(h, orig);
        rope_table(17, &inv, &mut c, &mut s);
        rope_neox(&mut h, &c, &s);
        let n0: f32 = orig.iter().map(|v| v * v).sum();
        let n1: f32 = h.iter().map(|v| v * v).sum();
        assert!((n0 - n1).abs() < 1e-3);
        // pair (0, 4) rotated by 17 rad
        let (s, c) = 17f32.sin_cos();
        assert!((h[0] - (1.0 * c - 5.0 * s)).abs() < 1e-5);
    }

    #[test]
    fn gelu_matches_the_tanh_formula() {
        for i in -2000..=2000 {
            let x = i as f32 * 0.01;
            let want = 0.5
                * x as f64
                * (1.0
                    + ((2.0f64 / std::f64::consts::PI).sqrt()
                        * (x as f64 + 0.044715 * (x as f64).powi(3)))
                    .tanh());
            assert!(
                (gelu_tanh(x) as f64 - want).abs() < 2e-6 * (1.0 + want.abs()),
                "x={x}"
            );
        }
        assert_eq!(gelu_tanh(100.0), 100.0);
        assert_eq!(gelu_tanh(-100.0), 0.0);
    }

    #[test]
    fn gelu_known_values() {
        assert_eq!(gelu_tanh(0.0), 0.0);
        assert!((gelu_tanh(1.0) - 0.841_192).abs() < 1e-5);
        assert!((gelu_tanh(-1.0) + 0.158_808).abs() < 1e-5);
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut x = [1.0f32, 2.0, 3.0, 1000.0];
        softmax_inplace(&mut x);
        assert!((x.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(x[3] > 0.999);
    }
}
