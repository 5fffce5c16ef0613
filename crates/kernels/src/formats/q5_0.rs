//! Q5_0: blocks of 32 5-bit quants with one f16 scale; `y = (q − 16)·d`.
//! Low 4 bits as in Q4_0; bit 4 of element `j` is bit `j` of `qh` read as a little-endian u32.
//!
//! Mirrors ggml `block_q5_0` (ggml/src/ggml-common.h), `dequantize_row_q5_0` and
//! `quantize_row_q5_0_ref` (ggml/src/ggml-quants.c), and `ggml_vec_dot_q5_0_q8_0_generic`
//! (ggml/src/ggml-cpu/quants.c). Activations: Q8_0.

use super::f16::F16Le;
use super::q8_0::BlockQ8_0;
use super::Block;
use crate::GgmlType;

/// Elements per block.
pub const QK: usize = 32;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockQ5_0 {
    pub d: F16Le,
    pub qh: [u8; 4],
    pub qs: [u8; QK / 2],
}

const _: () = assert!(std::mem::size_of::<BlockQ5_0>() == 22);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockQ5_0 {
    const TYPE: GgmlType = GgmlType::Q5_0;
}

/// The 32 unsigned 5-bit quants of a block, in element order.
#[inline]
fn unpack(b: &BlockQ5_0) -> [i32; QK] {
    let qh = u32::from_le_bytes(b.qh);
    let mut q = [0i32; QK];
    for j in 0..QK / 2 {
        q[j] = ((b.qs[j] & 0x0F) as u32 | ((qh >> j) & 1) << 4) as i32;
        q[j + QK / 2] = ((b.qs[j] >> 4) as u32 | ((qh >> (j + 16)) & 1) << 4) as i32;
    }
    q
}

pub fn dequantize(blocks: &[BlockQ5_0], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK,
        out.len(),
        "Q5_0 dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        for (y, q) in y.iter_mut().zip(unpack(b)) {
            *y = (q - 16) as f32 * d;
        }
    }
}

/// `quantize_row_q5_0_ref`: `d = max/−16`, `q = min(31, trunc(x/d + 16.5))`.
pub fn quantize(x: &[f32], out: &mut [BlockQ5_0]) {
    assert_eq!(x.len(), out.len() * QK, "Q5_0 quantize: length mismatch");
    for (xb, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let (mut amax, mut max) = (0.0f32, 0.0f32);
        for &v in xb {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = F16Le::from_f32(d);
        let mut qh = 0u32;
        for j in 0..QK / 2 {
            let q0 = ((xb[j] * id + 16.5) as i8).min(31) as u8;
            let q1 = ((xb[j + QK / 2] * id + 16.5) as i8).min(31) as u8;
            b.qs[j] = (q0 & 0x0F) | ((q1 & 0x0F) << 4);
            qh |= ((q0 as u32 & 0x10) >> 4) << j;
            qh |= ((q1 as u32 & 0x10) >> 4) << (j + QK / 2);
        }
        b.qh = qh.to_le_bytes();
    }
}

/// `ggml_vec_dot_q5_0_q8_0_generic`: exact i32 sum per block, then `(dx·dy)·sumi`.
pub fn vec_dot(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q5_0 vec_dot: length mismatch");
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for (q, &qy) in unpack(x).into_iter().zip(&y.qs) {
            sumi += (q - 16) * qy as i8 as i32;
        }
        sumf += (x.d.to_f32() * y.d.to_f32()) * sumi as f32;
    }
    sumf
}
