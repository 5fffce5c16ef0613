//! BF16: little-endian bfloat16 elements (the top 16 bits of an f32).
//!
//! Conversion mirrors ggml's `ggml_compute_fp32_to_bf16` (ggml/src/ggml-impl.h): NaNs are
//! quieted, everything else rounds to nearest even. Dot product mirrors
//! `ggml_vec_dot_bf16` (ggml/src/ggml-cpu/vec.cpp), accumulated in f32 in element order.

use super::Block;
use crate::GgmlType;

/// One little-endian bf16, stored as bytes so that it has alignment 1.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bf16Le(pub [u8; 2]);

const _: () = assert!(std::mem::size_of::<Bf16Le>() == 2);

// SAFETY: a transparent wrapper over `[u8; 2]`: align 1, no padding, any bits valid.
unsafe impl Block for Bf16Le {
    const TYPE: GgmlType = GgmlType::BF16;
}

impl Bf16Le {
    /// Exact widening.
    #[inline]
    pub fn to_f32(self) -> f32 {
        f32::from_bits((u16::from_le_bytes(self.0) as u32) << 16)
    }

    /// `ggml_compute_fp32_to_bf16`: quiet NaNs, round to nearest even.
    #[inline]
    pub fn from_f32(x: f32) -> Self {
        let u = x.to_bits();
        let h = if (u & 0x7fff_ffff) > 0x7f80_0000 {
            ((u >> 16) | 64) as u16
        } else {
            ((u as u64 + (0x7fff + ((u >> 16) & 1)) as u64) >> 16) as u16
        };
        Self(h.to_le_bytes())
    }
}

/// Widens each element to f32.
pub fn dequantize(blocks: &[Bf16Le], out: &mut [f32]) {
    assert_eq!(blocks.len(), out.len(), "BF16 dequantize: length mismatch");
    for (y, x) in out.iter_mut().zip(blocks) {
        *y = x.to_f32();
    }
}

/// Rounds each element to bf16.
pub fn quantize(x: &[f32], out: &mut [Bf16Le]) {
    assert_eq!(x.len(), out.len(), "BF16 quantize: length mismatch");
    for (y, &v) in out.iter_mut().zip(x) {
        *y = Bf16Le::from_f32(v);
    }
}

/// `Σ w[i]·a[i]` over bf16 inputs, products and accumulation in f32.
pub fn vec_dot(w: &[Bf16Le], a: &[Bf16Le]) -> f32 {
    assert_eq!(w.len(), a.len(), "BF16 vec_dot: length mismatch");
    let mut sum = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        sum += x.to_f32() * y.to_f32();
    }
    sum
}
