//! F16: little-endian IEEE binary16 elements (`ggml_half`).
//!
//! Conversions use the `half` crate (round to nearest even, like `GGML_FP32_TO_FP16`).
//! Dot product mirrors ggml's `ggml_vec_dot_f16` (ggml/src/ggml-cpu/vec.cpp): products of the
//! widened values, accumulated in f32 in element order.

use half::slice::HalfFloatSliceExt;

use super::Block;
use crate::GgmlType;

/// One little-endian f16 (`ggml_half`), stored as bytes so that it has alignment 1.
/// Also used for the f16 scale fields of the quantized blocks.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct F16Le(pub [u8; 2]);

const _: () = assert!(std::mem::size_of::<F16Le>() == 2);

// SAFETY: a transparent wrapper over `[u8; 2]`: align 1, no padding, any bits valid.
unsafe impl Block for F16Le {
    const TYPE: GgmlType = GgmlType::F16;
}

impl F16Le {
    pub const ZERO: F16Le = F16Le([0, 0]);

    /// Exact widening (`GGML_FP16_TO_FP32`). Bit arithmetic the compiler inlines: `half`'s
    /// `to_f32` picks F16C at run time and calls it out of line, which cost more than the
    /// conversion where scales are widened one at a time (token tables, scalar kernels).
    #[inline]
    pub fn to_f32(self) -> f32 {
        half::f16::from_le_bytes(self.0).to_f32_const()
    }

    /// Round to nearest even (`GGML_FP32_TO_FP16`).
    #[inline]
    pub fn from_f32(x: f32) -> Self {
        Self(half::f16::from_f32(x).to_le_bytes())
    }
}

/// Elements per step of the slice conversions: `half`'s slice methods convert several at a
/// time (F16C where the CPU has it), through an aligned buffer of this many.
const STEP: usize = 64;

/// Widens each element to f32 (the same bits as [`F16Le::to_f32`] per element).
pub fn dequantize(blocks: &[F16Le], out: &mut [f32]) {
    assert_eq!(blocks.len(), out.len(), "F16 dequantize: length mismatch");
    let mut buf = [half::f16::ZERO; STEP];
    for (xs, ys) in blocks.chunks(STEP).zip(out.chunks_mut(STEP)) {
        let b = &mut buf[..xs.len()];
        for (h, x) in b.iter_mut().zip(xs) {
            *h = half::f16::from_le_bytes(x.0);
        }
        b.convert_to_f32_slice(ys);
    }
}

/// Rounds each element to f16, nearest even (the same bits as [`F16Le::from_f32`]).
pub fn quantize(x: &[f32], out: &mut [F16Le]) {
    assert_eq!(x.len(), out.len(), "F16 quantize: length mismatch");
    let mut buf = [half::f16::ZERO; STEP];
    for (xs, ys) in x.chunks(STEP).zip(out.chunks_mut(STEP)) {
        let b = &mut buf[..xs.len()];
        b.convert_from_f32_slice(xs);
        for (y, h) in ys.iter_mut().zip(b.iter()) {
            *y = F16Le(h.to_le_bytes());
        }
    }
}

/// `Σ w[i]·a[i]` over f16 inputs, products and accumulation in f32.
pub fn vec_dot(w: &[F16Le], a: &[F16Le]) -> f32 {
    assert_eq!(w.len(), a.len(), "F16 vec_dot: length mismatch");
    let mut sum = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        sum += x.to_f32() * y.to_f32();
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slice conversions give each element's scalar conversion, at ragged lengths.
    #[test]
    fn slices_match_elements() {
        // Every f16 value, widened.
        let all: Vec<F16Le> = (0..=u16::MAX).map(|b| F16Le(b.to_le_bytes())).collect();
        let mut wide = vec![0f32; all.len()];
        dequantize(&all, &mut wide);
        for (h, w) in all.iter().zip(&wide) {
            let want = h.to_f32();
            assert!(
                want.to_bits() == w.to_bits() || (want.is_nan() && w.is_nan()),
                "{h:?}"
            );
        }
        // f32 values around every rounding regime: random bits, halfway cases, subnormal
        // and overflow edges.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut xs: Vec<f32> = (0..20_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                f32::from_bits((seed >> 32) as u32)
            })
            .collect();
        xs.extend(
            wide.iter()
                .step_by(7)
                .map(|&w| w * (1.0 + f32::EPSILON * 4096.0)),
        );
        xs.extend([
            0.0,
            -0.0,
            65504.0,
            65520.0,
            65519.99,
            5.96e-8,
            2.98e-8,
            1e-9,
            f32::INFINITY,
        ]);
        for len in [0, 1, 63, 64, 65, 130, xs.len()] {
            let mut got = vec![F16Le::ZERO; len];
            quantize(&xs[..len], &mut got);
            for (x, g) in xs.iter().zip(&got) {
                let want = F16Le::from_f32(*x);
                let nan = want.to_f32().is_nan() && g.to_f32().is_nan();
                assert!(*g == want || nan, "{x:e}: {g:?} vs {want:?}");
            }
        }
    }
}
