//! IQ4_XS: super-blocks of 256 elements in eight blocks of 32, each a 4-bit index into
//! IQ4_NL's table ([`super::iq4_nl::KVALUES`]) with a 6-bit block scale (`ls`, stored as
//! four low bits in `scales_l` and two high bits in `scales_h`) of one f16 scale;
//! `y = KVALUES[i]·d·(ls − 32)`. Within a block, indices are packed as in IQ4_NL.
//!
//! Mirrors ggml `block_iq4_xs` (ggml/src/ggml-common.h), `dequantize_row_iq4_xs`,
//! `quantize_row_iq4_xs_ref` (ggml/src/ggml-quants.c) and `ggml_vec_dot_iq4_xs_q8_K_generic`
//! (ggml/src/ggml-cpu/quants.c). Activations: Q8_K.

use super::f16::F16Le;
use super::iq4_nl::{block_sum, quantize_super_block, KVALUES};
use super::k_common::QK_K;
use super::q8_k::BlockQ8K;
use super::Block;
use crate::GgmlType;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockIq4Xs {
    pub d: F16Le,
    /// Two high bits of each block's scale, block `ib` at bits `2·ib`, little-endian.
    pub scales_h: [u8; 2],
    /// Four low bits of each block's scale, block `ib` in nibble `ib % 2` of byte `ib / 2`.
    pub scales_l: [u8; QK_K / 64],
    pub qs: [u8; QK_K / 2],
}

const _: () = assert!(std::mem::size_of::<BlockIq4Xs>() == 136);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockIq4Xs {
    const TYPE: GgmlType = GgmlType::IQ4XS;
}

impl Default for BlockIq4Xs {
    fn default() -> Self {
        BlockIq4Xs {
            d: F16Le::default(),
            scales_h: [0; 2],
            scales_l: [0; QK_K / 64],
            qs: [0; QK_K / 2],
        }
    }
}

impl BlockIq4Xs {
    /// Block `ib`'s 6-bit scale minus 32.
    pub fn scale(&self, ib: usize) -> i32 {
        let h = u16::from_le_bytes(self.scales_h);
        let lo = (self.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF;
        let hi = ((h >> (2 * ib)) & 3) as u8;
        i32::from(lo | (hi << 4)) - 32
    }

    /// Block `ib`'s 16 index bytes.
    fn indices(&self, ib: usize) -> &[u8; 16] {
        self.qs[16 * ib..16 * ib + 16].try_into().unwrap()
    }
}

pub fn dequantize(blocks: &[BlockIq4Xs], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK_K,
        out.len(),
        "IQ4_XS dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
        let d = b.d.to_f32();
        for (ib, yb) in y.chunks_exact_mut(32).enumerate() {
            let dl = d * b.scale(ib) as f32;
            let qs = b.indices(ib);
            for j in 0..16 {
                yb[j] = dl * KVALUES[(qs[j] & 0x0F) as usize] as f32;
                yb[j + 16] = dl * KVALUES[(qs[j] >> 4) as usize] as f32;
            }
        }
    }
}

/// `quantize_row_iq4_xs_ref` (`quantize_iq4_xs` without importance weights): the block
/// scales searched over 15 starting points each, then stored in 6 bits.
pub fn quantize(x: &[f32], out: &mut [BlockIq4Xs]) {
    assert_eq!(
        x.len(),
        out.len() * QK_K,
        "IQ4_XS quantize: length mismatch"
    );
    for (xb, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let (d, h) = quantize_super_block(xb, 7, &mut b.qs, &mut b.scales_l);
        (b.d, b.scales_h) = (d, h.to_le_bytes());
    }
}

/// `ggml_vec_dot_iq4_xs_q8_K_generic`: exact i32 sums per block of 32, each scaled by
/// `dx·dy·(ls − 32)` and summed in block order.
pub fn vec_dot(w: &[BlockIq4Xs], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len(), "IQ4_XS vec_dot: length mismatch");
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let d4d8 = x.d.to_f32() * f32::from_le_bytes(y.d);
        for ib in 0..QK_K / 32 {
            let dl = d4d8 * x.scale(ib) as f32;
            sumf += dl * block_sum(x.indices(ib), &y.qs[32 * ib..32 * ib + 32]) as f32;
        }
    }
    sumf
}
