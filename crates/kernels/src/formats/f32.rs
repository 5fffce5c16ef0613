//! F32: plain little-endian IEEE binary32 elements.
//!
//! Dot product mirrors ggml's `ggml_vec_dot_f32` (ggml/src/ggml-cpu/vec.cpp), accumulated in
//! f32 in element order.

use super::Block;
use crate::GgmlType;

/// One little-endian f32, stored as bytes so that it has alignment 1.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct F32Le(pub [u8; 4]);

const _: () = assert!(std::mem::size_of::<F32Le>() == 4);

// SAFETY: a transparent wrapper over `[u8; 4]`: align 1, no padding, any bits valid.
unsafe impl Block for F32Le {
    const TYPE: GgmlType = GgmlType::F32;
}

impl F32Le {
    #[inline]
    pub fn get(self) -> f32 {
        f32::from_le_bytes(self.0)
    }

    #[inline]
    pub fn new(x: f32) -> Self {
        Self(x.to_le_bytes())
    }
}

/// Copies the elements out.
pub fn dequantize(blocks: &[F32Le], out: &mut [f32]) {
    assert_eq!(blocks.len(), out.len(), "F32 dequantize: length mismatch");
    for (y, x) in out.iter_mut().zip(blocks) {
        *y = x.get();
    }
}

/// Copies the elements in.
pub fn quantize(x: &[f32], out: &mut [F32Le]) {
    assert_eq!(x.len(), out.len(), "F32 quantize: length mismatch");
    for (y, &v) in out.iter_mut().zip(x) {
        *y = F32Le::new(v);
    }
}

/// `Σ w[i]·a[i]`, accumulated in f32.
pub fn vec_dot(w: &[F32Le], a: &[F32Le]) -> f32 {
    assert_eq!(w.len(), a.len(), "F32 vec_dot: length mismatch");
    let mut sum = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        sum += x.get() * y.get();
    }
    sum
}
