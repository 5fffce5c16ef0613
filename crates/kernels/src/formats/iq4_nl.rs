//! IQ4_NL: blocks of 32 4-bit indices into a fixed non-linear table of 16 values
//! ([`KVALUES`]) with one f16 scale; `y = KVALUES[i]·d`. Element `j < 16` is the low nibble
//! of `qs[j]`, element `j + 16` the high nibble (as Q4_0).
//!
//! Mirrors ggml `block_iq4_nl` (ggml/src/ggml-common.h), `dequantize_row_iq4_nl`,
//! `quantize_row_iq4_nl_ref` / `quantize_row_iq4_nl_impl` (ggml/src/ggml-quants.c) and
//! `ggml_vec_dot_iq4_nl_q8_0_generic` (ggml/src/ggml-cpu/quants.c). Activations: Q8_0.
//! The search shared with IQ4_XS ([`quantize_super_block`]) lives here.

use super::f16::F16Le;
use super::k_common::nearest_int;
use super::q8_0::BlockQ8_0;
use super::Block;
use crate::GgmlType;

/// Elements per block.
pub const QK: usize = 32;

/// ggml's `kvalues_iq4nl`: the value of each 4-bit index, before the scale.
pub const KVALUES: [i8; 16] = [
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
];

/// ggml's `GROUP_MAX_EPS`: a block whose largest magnitude is below this quantizes to zero.
const GROUP_MAX_EPS: f32 = 1e-15;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockIq4Nl {
    pub d: F16Le,
    pub qs: [u8; QK / 2],
}

const _: () = assert!(std::mem::size_of::<BlockIq4Nl>() == 18);

// SAFETY: repr(C) of u8-only fields: align 1, no padding, any bits valid.
unsafe impl Block for BlockIq4Nl {
    const TYPE: GgmlType = GgmlType::IQ4NL;
}

pub fn dequantize(blocks: &[BlockIq4Nl], out: &mut [f32]) {
    assert_eq!(
        blocks.len() * QK,
        out.len(),
        "IQ4_NL dequantize: length mismatch"
    );
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        let (lo, hi) = y.split_at_mut(QK / 2);
        for j in 0..QK / 2 {
            lo[j] = d * KVALUES[(b.qs[j] & 0x0F) as usize] as f32;
            hi[j] = d * KVALUES[(b.qs[j] >> 4) as usize] as f32;
        }
    }
}

/// `quantize_row_iq4_nl_ref`: each block on its own, without the scale search
/// ([`quantize_super_block`] with `ntry = -1`).
pub fn quantize(x: &[f32], out: &mut [BlockIq4Nl]) {
    assert_eq!(x.len(), out.len() * QK, "IQ4_NL quantize: length mismatch");
    for (xb, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        b.d = quantize_super_block(xb, -1, &mut b.qs, &mut []).0;
    }
}

/// `ggml_vec_dot_iq4_nl_q8_0_generic`: exact i32 sums per block, then `dx·dy·sumi`.
pub fn vec_dot(w: &[BlockIq4Nl], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(w.len(), a.len(), "IQ4_NL vec_dot: length mismatch");
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let d = y.d.to_f32() * x.d.to_f32();
        sumf += d * block_sum(&x.qs, &y.qs) as f32;
    }
    sumf
}

/// `Σ KVALUES[i]·q` over one 32-element block: `qs` its 16 index bytes, `q8` 32 quants.
pub(super) fn block_sum(qs: &[u8; 16], q8: &[u8]) -> i32 {
    let (mut lo, mut hi) = (0i32, 0i32);
    for j in 0..16 {
        lo += q8[j] as i8 as i32 * KVALUES[(qs[j] & 0x0F) as usize] as i32;
        hi += q8[j + 16] as i8 as i32 * KVALUES[(qs[j] >> 4) as usize] as i32;
    }
    lo + hi
}

/// ggml's `best_index_int8` over [`KVALUES`]: the index of the nearest value (the lower
/// one on ties, the ends for anything beyond them).
fn best_index(x: f32) -> u8 {
    let v = |i: usize| KVALUES[i] as f32;
    if x <= v(0) {
        return 0;
    }
    if x >= v(15) {
        return 15;
    }
    let (mut ml, mut mu) = (0usize, 15usize);
    while mu - ml > 1 {
        let mav = (ml + mu) / 2;
        if x < v(mav) {
            mu = mav;
        } else {
            ml = mav;
        }
    }
    if x - v(mu - 1) < v(mu) - x {
        (mu - 1) as u8
    } else {
        mu as u8
    }
}

/// ggml's `quantize_row_iq4_nl_impl` without importance weights, blocks of 32 within a
/// super-block `x` of 32 (IQ4_NL) or 256 (IQ4_XS) elements: each block's scale is the
/// least-squares one for its nearest indices, searched over `2·ntry + 1` starting scales
/// (`ntry < 0`: none); a super-block of several blocks then stores 6-bit block scales of
/// one f16 scale (`scales_l` and the returned high bits, IQ4_XS) and requantizes with them.
/// Writes the packed indices into `q4` (`x.len() / 2` bytes); returns the f16 scale and the
/// block scales' high bits (0 for a single block).
pub(super) fn quantize_super_block(
    x: &[f32],
    ntry: i32,
    q4: &mut [u8],
    scales_l: &mut [u8],
) -> (F16Le, u16) {
    const BS: usize = 32;
    let nb = x.len() / BS;
    let mut l = [0u8; 256];
    let mut scales = [0f32; 8];
    let v0 = KVALUES[0] as f32;
    let (mut max_scale, mut amax_scale) = (0f32, 0f32);
    for ib in 0..nb {
        let xb = &x[ib * BS..(ib + 1) * BS];
        let (mut amax, mut max) = (0f32, 0f32);
        for &v in xb {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        if amax < GROUP_MAX_EPS {
            scales[ib] = 0.0;
            continue;
        }
        // Least squares with weights x², for the indices nearest to `x / d`.
        let fit = |id: f32, lb: &mut [u8]| {
            let (mut sumqx, mut sumq2) = (0f32, 0f32);
            for (j, &xj) in xb.iter().enumerate() {
                let li = best_index(id * xj);
                lb[j] = li;
                let q = KVALUES[li as usize] as f32;
                let w = xj * xj;
                sumqx += w * q * xj;
                sumq2 += w * q * q;
            }
            (sumqx, sumq2)
        };
        let d0 = if ntry > 0 { -max / v0 } else { max / v0 };
        let (sumqx, sumq2) = fit(1.0 / d0, &mut l[ib * BS..(ib + 1) * BS]);
        let mut d = if sumq2 > 0.0 { sumqx / sumq2 } else { 0.0 };
        let mut best = d * sumqx;
        let mut scratch = [0u8; BS];
        for itry in -ntry..=ntry {
            let (sumqx, sumq2) = fit((itry as f32 + v0) / max, &mut scratch);
            if sumq2 > 0.0 && sumqx * sumqx > best * sumq2 {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        if d.abs() > amax_scale {
            amax_scale = d.abs();
            max_scale = d;
        }
    }
    let mut scales_h = 0u16;
    let dh = if nb > 1 {
        let d = -max_scale / 32.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        for ib in 0..nb {
            let ls = nearest_int(id * scales[ib]).clamp(-32, 31);
            let dl = d * ls as f32;
            let idl = if dl != 0.0 { 1.0 / dl } else { 0.0 };
            for j in ib * BS..(ib + 1) * BS {
                l[j] = best_index(idl * x[j]);
            }
            let ls = (ls + 32) as u8;
            if ib % 2 == 0 {
                scales_l[ib / 2] = ls & 0xF;
            } else {
                scales_l[ib / 2] |= (ls & 0xF) << 4;
            }
            scales_h |= u16::from(ls >> 4) << (2 * (ib % 8));
        }
        F16Le::from_f32(d)
    } else {
        if ntry > 0 {
            let id = if scales[0] != 0.0 {
                1.0 / scales[0]
            } else {
                0.0
            };
            for j in 0..x.len() {
                l[j] = best_index(id * x[j]);
            }
        }
        F16Le::from_f32(scales[0])
    };
    for i in 0..x.len() / 32 {
        for j in 0..16 {
            q4[16 * i + j] = l[32 * i + j] | (l[32 * i + 16 + j] << 4);
        }
    }
    (dh, scales_h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_index_is_the_nearest_value() {
        for i in 0..=2400 {
            let x = -130.0 + i as f32 * 0.1;
            let got = KVALUES[best_index(x) as usize] as f32;
            let nearest = KVALUES
                .iter()
                .map(|&v| (v as f32 - x).abs())
                .fold(f32::INFINITY, f32::min);
            assert!((got - x).abs() <= nearest + 1e-4, "{x}: {got}");
        }
    }

    #[test]
    fn quantized_blocks_come_back_close() {
        let x: Vec<f32> = (0..QK * 4)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let mut b = vec![BlockIq4Nl::default(); 4];
        quantize(&x, &mut b);
        let mut y = vec![0.0; x.len()];
        dequantize(&b, &mut y);
        for (xb, yb) in x.chunks(QK).zip(y.chunks(QK)) {
            let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (a, b) in xb.iter().zip(yb) {
                // The widest gap between neighbouring values is 24 of 127; the least-squares
                // scale may move the largest value off its table entry.
                assert!((a - b).abs() <= amax * 24.0 / 127.0, "{a} {b}");
            }
        }
    }
}
