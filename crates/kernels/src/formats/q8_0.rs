//! Q8_0: blocks of 32 signed 8-bit quants with one f16 scale; `y = q·d`.
//!
//! Mirrors ggml `block_q8_0` (ggml/src/ggml-common.h), `dequantize_row_q8_0` and
//! `quantize_row_q8_0_ref` (ggml/src/ggml-quants.c), and `ggml_vec_dot_q8_0_q8_0_generic`
//! (ggml/src/ggml-cpu/quants.c). Also the activation format for Q4_0, Q5_0 and Q8_0.

use super::f16::F16Le;
use super::Block;
use crate::GgmlType;

/// Elements per block.
pub const QK: usize = 32;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockQ8_0 {
    pub d: F16Le,
    pub qs: [u8; QK],
}

const _: () = assert!(std::mem::size_of::<BlockQ8_0>() == 34);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockQ8_0 {
    const TYPE: GgmlType = GgmlType::Q8_0;
}

pub fn dequantize(blocks: &[BlockQ8_0], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK,
        out.len(),
        "Q8_0 dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        for (y, &q) in y.iter_mut().zip(&b.qs) {
            *y = q as i8 as f32 * d;
        }
    }
}

/// `quantize_row_q8_0_ref`: `d = amax/127`, `q = roundf(x/d)` (half away from zero).
pub fn quantize(x: &[f32], out: &mut [BlockQ8_0]) {
    assert_eq!(x.len(), out.len() * QK, "Q8_0 quantize: length mismatch");
    for (xb, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let amax = xb.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = F16Le::from_f32(d);
        for (q, &v) in b.qs.iter_mut().zip(xb) {
            *q = (v * id).round() as i8 as u8;
        }
    }
}

/// `ggml_vec_dot_q8_0_q8_0_generic`: exact i32 sum per block, scaled by `dx·dy`.
pub fn vec_dot(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q8_0 vec_dot: length mismatch");
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for (&qx, &qy) in x.qs.iter().zip(&y.qs) {
            sumi += qx as i8 as i32 * qy as i8 as i32;
        }
        sumf += sumi as f32 * (x.d.to_f32() * y.d.to_f32());
    }
    sumf
}
