//! Q5_1: blocks of 32 5-bit quants with f16 scale `d` and f16 offset `m`; `y = q·d + m`.
//! Bit layout as Q5_0.
//!
//! Mirrors ggml `block_q5_1` (ggml/src/ggml-common.h), `dequantize_row_q5_1` and
//! `quantize_row_q5_1_ref` (ggml/src/ggml-quants.c), and `ggml_vec_dot_q5_1_q8_1_generic`
//! (ggml/src/ggml-cpu/quants.c). Activations: Q8_1.

use super::f16::F16Le;
use super::q8_1::BlockQ8_1;
use super::Block;
use crate::GgmlType;

/// Elements per block.
pub const QK: usize = 32;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockQ5_1 {
    pub d: F16Le,
    pub m: F16Le,
    pub qh: [u8; 4],
    pub qs: [u8; QK / 2],
}

const _: () = assert!(std::mem::size_of::<BlockQ5_1>() == 24);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockQ5_1 {
    const TYPE: GgmlType = GgmlType::Q5_1;
}

/// The 32 unsigned 5-bit quants of a block, in element order.
#[inline]
fn unpack(b: &BlockQ5_1) -> [i32; QK] {
    let qh = u32::from_le_bytes(b.qh);
    let mut q = [0i32; QK];
    for j in 0..QK / 2 {
        q[j] = ((b.qs[j] & 0x0F) as u32 | ((qh >> j) & 1) << 4) as i32;
        q[j + QK / 2] = ((b.qs[j] >> 4) as u32 | ((qh >> (j + 16)) & 1) << 4) as i32;
    }
    q
}

pub fn dequantize(blocks: &[BlockQ5_1], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK,
        out.len(),
        "Q5_1 dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK)) {
        let (d, m) = (b.d.to_f32(), b.m.to_f32());
        for (y, q) in y.iter_mut().zip(unpack(b)) {
            *y = q as f32 * d + m;
        }
    }
}

/// `quantize_row_q5_1_ref`: `d = (max − min)/31`, `m = min`, `q = trunc((x − min)/d + 0.5)`
/// (clamped to 31 here; ggml relies on the arithmetic never exceeding it).
pub fn quantize(x: &[f32], out: &mut [BlockQ5_1]) {
    assert_eq!(x.len(), out.len() * QK, "Q5_1 quantize: length mismatch");
    for (xb, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let (mut min, mut max) = (f32::MAX, -f32::MAX);
        for &v in xb {
            if v < min {
                min = v;
            }
            if v > max {
                max = v;
            }
        }
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = F16Le::from_f32(d);
        b.m = F16Le::from_f32(min);
        let mut qh = 0u32;
        for j in 0..QK / 2 {
            let q0 = (((xb[j] - min) * id + 0.5) as u8).min(31);
            let q1 = (((xb[j + QK / 2] - min) * id + 0.5) as u8).min(31);
            b.qs[j] = (q0 & 0x0F) | ((q1 & 0x0F) << 4);
            qh |= ((q0 as u32 & 0x10) >> 4) << j;
            qh |= ((q1 as u32 & 0x10) >> 4) << (j + QK / 2);
        }
        b.qh = qh.to_le_bytes();
    }
}

/// `ggml_vec_dot_q5_1_q8_1_generic`: exact i32 sum per block, then `(dx·dy)·sumi + m·s`.
pub fn vec_dot(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
    assert_eq!(w.len(), a.len(), "Q5_1 vec_dot: length mismatch");
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for (q, &qy) in unpack(x).into_iter().zip(&y.qs) {
            sumi += q * qy as i8 as i32;
        }
        sumf += (x.d.to_f32() * y.d.to_f32()) * sumi as f32 + x.m.to_f32() * y.s.to_f32();
    }
    sumf
}
