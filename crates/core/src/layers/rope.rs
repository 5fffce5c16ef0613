//! Rotary position embedding: the angle tables and the two pairings in use.
//!
//! `theta_i = pos · base^(−2i / n_rot) / scale / factor_i` for `i < n_rot / 2`, where
//! `scale` is a linear RoPE scaling factor (`rope.scaling.type = linear`) and `factor_i`
//! Llama 3.x's per-frequency factors (the `rope_freqs.weight` tensor). Dimensions past
//! `n_rot` (partial rotary models) are left as they are.

use wren_kernels::ops;

/// Which elements of a head are rotated together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeKind {
    /// Adjacent pairs `(2i, 2i + 1)`: llama.cpp's `LLAMA_ROPE_TYPE_NORM` (Llama, SmolLM,
    /// MiniCPM; the GGUF converter permutes Q/K rows so this equals HF's rotate-half).
    Norm,
    /// Halves `(i, i + n_rot/2)`: `LLAMA_ROPE_TYPE_NEOX` (Gemma, Qwen, Phi-3).
    Neox,
}

/// One RoPE configuration (a model may have two: Gemma 3's local and global layers).
#[derive(Clone, Debug)]
pub struct Rope {
    pub kind: RopeKind,
    inv_freq: Vec<f32>,
}

/// The largest rotated dimension count the stack tables hold.
pub const MAX_ROT: usize = 1024;

impl Rope {
    /// `n_rot` rotated dimensions (even, ≤ [`MAX_ROT`]); `factors`, if given, has
    /// `n_rot / 2` entries.
    pub fn new(
        kind: RopeKind,
        base: f32,
        n_rot: usize,
        scale: f32,
        factors: Option<&[f32]>,
    ) -> Rope {
        let inv_freq = (0..n_rot / 2)
            .map(|i| {
                let f = (base as f64).powf(-((2 * i) as f64) / n_rot as f64) as f32 / scale;
                match factors {
                    Some(ff) => f / ff[i],
                    None => f,
                }
            })
            .collect();
        Rope { kind, inv_freq }
    }

    /// Rotated dimensions per head.
    pub fn n_rot(&self) -> usize {
        2 * self.inv_freq.len()
    }

    /// The cosines and sines at `pos` (`n_rot / 2` each).
    pub fn table(&self, pos: usize, cos: &mut [f32], sin: &mut [f32]) {
        ops::rope_table(pos, &self.inv_freq, cos, sin);
    }

    /// Rotates one head with a table from [`table`](Self::table).
    pub fn rotate(&self, head: &mut [f32], cos: &[f32], sin: &[f32]) {
        let rot = &mut head[..self.n_rot()];
        match self.kind {
            RopeKind::Neox => ops::rope_neox(rot, cos, sin),
            RopeKind::Norm => {
                for (i, p) in rot.chunks_exact_mut(2).enumerate() {
                    let (a, b) = (p[0], p[1]);
                    p[0] = a * cos[i] - b * sin[i];
                    p[1] = a * sin[i] + b * cos[i];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both pairings rotate by the same angles, only the element pairs differ; the norm
    /// of each pair is kept and position 0 is the identity.
    #[test]
    fn pairings_and_partial_rotation() {
        let head: Vec<f32> = (0..8).map(|i| i as f32 + 1.0).collect();
        let (mut c, mut s) = ([0f32; 2], [0f32; 2]);
        let norm = Rope::new(RopeKind::Norm, 10_000.0, 4, 1.0, None);
        let neox = Rope::new(RopeKind::Neox, 10_000.0, 4, 1.0, None);
        norm.table(0, &mut c, &mut s);
        let mut h = head.clone();
        norm.rotate(&mut h, &c, &s);
        assert_eq!(h, head);
        norm.table(3, &mut c, &mut s);
        let (mut a, mut b) = (head.clone(), head.clone());
        norm.rotate(&mut a, &c, &s);
        neox.rotate(&mut b, &c, &s);
        // Norm: pair (0,1) turns by theta_0 = 3 rad.
        let (c0, s0) = (3f32.cos(), 3f32.sin());
        assert!((a[0] - (1.0 * c0 - 2.0 * s0)).abs() < 1e-6);
        assert!((a[1] - (1.0 * s0 + 2.0 * c0)).abs() < 1e-6);
        // Neox: pair (0,2) turns by theta_0.
        assert!((b[0] - (1.0 * c0 - 3.0 * s0)).abs() < 1e-6);
        assert!((b[2] - (1.0 * s0 + 3.0 * c0)).abs() < 1e-6);
        // Dimensions past n_rot are untouched.
        assert_eq!(&a[4..], &head[4..]);
        assert_eq!(&b[4..], &head[4..]);
    }

    #[test]
    fn linear_scale_and_factors_divide_the_frequency() {
        let (mut c1, mut s1, mut c2, mut s2) = ([0f32; 2], [0f32; 2], [0f32; 2], [0f32; 2]);
        Rope::new(RopeKind::Norm, 100.0, 4, 1.0, None).table(8, &mut c1, &mut s1);
        Rope::new(RopeKind::Norm, 100.0, 4, 2.0, Some(&[1.0, 2.0])).table(16, &mut c2, &mut s2);
        assert!((c1[0] - c2[0]).abs() < 1e-6);
        // Frequency 1 is divided by 2 · 2 and the position doubled: half the angle.
        Rope::new(RopeKind::Norm, 100.0, 4, 1.0, None).table(4, &mut c1, &mut s1);
        assert!((c1[1] - c2[1]).abs() < 1e-6 && (s1[1] - s2[1]).abs() < 1e-6);
    }
}
