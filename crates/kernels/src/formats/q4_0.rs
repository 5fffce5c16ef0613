//! Q4_0: blocks of 32 4-bit quants with one f16 scale; `y = (q − 8)·d`.
//! Element `j < 16` is the low nibble of `qs[j]`, element `j + 16` the high nibble.
//!
//! Mirrors ggml `block_q4_0` (ggml/src/ggml-common.h), `dequantize_row_q4_0` and
//! `quantize_row_q4_0_ref` (ggml/src/ggml-quants.c), and `ggml_vec_dot_q4_0_q8_0_generic`
//! (ggml/src/ggml-cpu/quants.c). Activations: Q8_0.

use super::f16::F16Le;
use super::q8_0::BlockQ8_0;
use super::Block;
use crate::GgmlType;

/// Elements per block.
pub const QK: usize = 32;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockQ4_0 {
    pub d: F16Le,
    pub qs: [u8; QK / 2],
}

const _: () = assert!(std::mem::size_of::<BlockQ4_0>() == 18);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockQ4_0 {
    const TYPE: GgmlType = GgmlType::Q4_0;
}

pub fn dequantize(blocks: &[BlockQ4_0], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK,
        out.len(),
        "Q4_0 dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        let (lo, hi) = y.split_at_mut(QK / 2);
        for j in 0..QK / 2 {
            lo[j] = ((b.qs[j] & 0x0F) as i32 - 8) as f32 * d;
            hi[j] = ((b.qs[j] >> 4) as i32 - 8) as f32 * d;
        }
    }
}

/// `quantize_row_q4_0_ref`: `d = max/−8` where `max` is the value of largest magnitude,
/// `q = min(15, trunc(x/d + 8.5))`.
pub fn quantize(x: &[f32], out: &mut [BlockQ4_0]) {
    assert_eq!(x.len(), out.len() * QK, "Q4_0 quantize: length mismatch");
    for (xb, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let (mut amax, mut max) = (0.0f32, 0.0f32);
        for &v in xb {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = F16Le::from_f32(d);
        for j in 0..QK / 2 {
            let q0 = ((xb[j] * id + 8.5) as i8).min(15) as u8;
            let q1 = ((xb[j + QK / 2] * id + 8.5) as i8).min(15) as u8;
            b.qs[j] = q0 | (q1 << 4);
        }
    }
}

/// `ggml_vec_dot_q4_0_q8_0_generic`: exact i32 sum per block, then `sumi·dx·dy`.
pub fn vec_dot(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q4_0 vec_dot: length mismatch");
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for j in 0..QK / 2 {
            let v0 = (x.qs[j] & 0x0F) as i32 - 8;
            let v1 = (x.qs[j] >> 4) as i32 - 8;
            sumi += v0 * y.qs[j] as i8 as i32 + v1 * y.qs[j + QK / 2] as i8 as i32;
        }
        sumf += sumi as f32 * x.d.to_f32() * y.d.to_f32();
    }
    sumf
}
