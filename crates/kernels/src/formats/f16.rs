//! F16: little-endian IEEE binary16 elements (`ggml_half`).
//!
//! Conversions use the `half` crate (round to nearest even, like `GGML_FP32_TO_FP16`).
//! Dot product mirrors ggml's `ggml_vec_dot_f16` (ggml/src/ggml-cpu/vec.cpp): products of the
//! widened values, accumulated in f32 in element order.

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

    /// Exact widening (`GGML_FP16_TO_FP32`).
    #[inline]
    pub fn to_f32(self) -> f32 {
        half::f16::from_le_bytes(self.0).to_f32()
    }

    /// Round to nearest even (`GGML_FP32_TO_FP16`).
    #[inline]
    pub fn from_f32(x: f32) -> Self {
        Self(half::f16::from_f32(x).to_le_bytes())
    }
}

/// Widens each element to f32.
pub fn dequantize(blocks: &[F16Le], out: &mut [f32]) {
    assert_eq!(blocks.len(), out.len(), "F16 dequantize: length mismatch");
    for (y, x) in out.iter_mut().zip(blocks) {
        *y = x.to_f32();
    }
}

/// Rounds each element to f16 (nearest even).
pub fn quantize(x: &[f32], out: &mut [F16Le]) {
    assert_eq!(x.len(), out.len(), "F16 quantize: length mismatch");
    for (y, &v) in out.iter_mut().zip(x) {
        *y = F16Le::from_f32(v);
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
