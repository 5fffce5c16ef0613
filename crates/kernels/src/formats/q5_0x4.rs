//! Q5_0×4: wren's load-time repacking of Q5_0 weights for the SIMD kernels (never stored
//! in a file). Same values, same bytes per row; only the layout differs.
//!
//! Stock Q5_0 spends most of its SIMD time unpacking: the fifth bits are one `u32` per
//! block spread over 32 bytes (a shuffle, an AND and a compare), the nibbles of one block
//! share bytes (a shift and a lane insert), and each block's f16 scale is converted on its
//! own. A group of four consecutive blocks of a row is rearranged so that one 32-byte load
//! gives two whole blocks' nibbles, the fifth bits of all four blocks sit in 16 bytes that
//! a shift and an AND expand, and the four scales convert in one instruction:
//!
//! | bytes | content |
//! |---|---|
//! | 0..8 | `d` of blocks 0..3 (f16, little-endian) |
//! | 8 + 32·p + i (p = 0, 1; i < 32) | low nibble: bits 0..3 of element `i` of block `2p`; high nibble: of block `2p + 1` |
//! | 72 + j (j < 16) | bit `k`: bit 4 of element `j` of block `k`; bit `4 + k`: of element `j + 16` |
//!
//! A row must be a whole number of groups (`cols % 128 == 0`); other rows stay Q5_0.
//! Activations are Q8_0, as for Q5_0, and [`vec_dot`] equals `q5_0::vec_dot` exactly (same
//! integer sums, same float operations in the same order).

use super::f16::F16Le;
use super::q5_0::BlockQ5_0;
use super::q8_0::BlockQ8_0;

/// Elements per group (four Q5_0 blocks).
pub const GROUP: usize = 128;
/// Bytes per group: the same as four Q5_0 blocks.
pub const GROUP_BYTES: usize = 88;
const _: () = assert!(GROUP_BYTES == 4 * std::mem::size_of::<BlockQ5_0>());

/// Offset of the nibbles, then of the fifth bits, in a group.
pub const QS: usize = 8;
pub const QH: usize = 72;

/// Whether a row of `cols` Q5_0 elements can be repacked.
pub fn fits(cols: usize) -> bool {
    cols > 0 && cols % GROUP == 0
}

/// The 32 unsigned 5-bit quants of one stock block, in element order.
fn stock_quants(b: &BlockQ5_0) -> [u8; 32] {
    let qh = u32::from_le_bytes(b.qh);
    std::array::from_fn(|i| {
        let nib = if i < 16 {
            b.qs[i] & 0x0F
        } else {
            b.qs[i - 16] >> 4
        };
        nib | (((qh >> i) & 1) as u8) << 4
    })
}

/// Repacks whole rows of stock Q5_0 blocks (`src.len()` a multiple of 4 blocks, groups
/// never straddle rows when `fits(cols)`) into `dst` (`22 · src.len()` bytes).
pub fn repack(src: &[BlockQ5_0], dst: &mut [u8]) {
    assert!(src.len() % 4 == 0, "Q5_0x4 repack: not whole groups");
    assert_eq!(
        dst.len(),
        src.len() / 4 * GROUP_BYTES,
        "Q5_0x4 repack: length mismatch"
    );
    for (blocks, g) in src.chunks_exact(4).zip(dst.chunks_exact_mut(GROUP_BYTES)) {
        g.fill(0);
        for (k, b) in blocks.iter().enumerate() {
            g[2 * k..2 * k + 2].copy_from_slice(&b.d.0);
            let q = stock_quants(b);
            let (p, shift) = (k / 2, 4 * (k % 2));
            for (i, &v) in q.iter().enumerate() {
                g[QS + 32 * p + i] |= (v & 0x0F) << shift;
                let (j, bit) = if i < 16 { (i, k) } else { (i - 16, 4 + k) };
                g[QH + j] |= ((v >> 4) & 1) << bit;
            }
        }
    }
}

/// The unsigned quants of block `k` (0..4) of a group, in element order.
pub fn quants(g: &[u8], k: usize) -> [u8; 32] {
    let (p, shift) = (k / 2, 4 * (k % 2));
    std::array::from_fn(|i| {
        let nib = (g[QS + 32 * p + i] >> shift) & 0x0F;
        let (j, bit) = if i < 16 { (i, k) } else { (i - 16, 4 + k) };
        nib | ((g[QH + j] >> bit) & 1) << 4
    })
}

/// Scale of block `k` of a group.
pub fn scale(g: &[u8], k: usize) -> F16Le {
    F16Le([g[2 * k], g[2 * k + 1]])
}

/// Undoes [`repack`] (tests, and a check that nothing was lost).
pub fn unpack(src: &[u8], dst: &mut [BlockQ5_0]) {
    assert_eq!(
        src.len(),
        dst.len() / 4 * GROUP_BYTES,
        "Q5_0x4 unpack: length mismatch"
    );
    assert!(dst.len() % 4 == 0, "Q5_0x4 unpack: not whole groups");
    for (g, blocks) in src.chunks_exact(GROUP_BYTES).zip(dst.chunks_exact_mut(4)) {
        for (k, b) in blocks.iter_mut().enumerate() {
            let q = quants(g, k);
            let mut qh = 0u32;
            for j in 0..16 {
                b.qs[j] = (q[j] & 0x0F) | (q[j + 16] & 0x0F) << 4;
            }
            for (i, &v) in q.iter().enumerate() {
                qh |= ((v as u32 >> 4) & 1) << i;
            }
            b.qh = qh.to_le_bytes();
            b.d = scale(g, k);
        }
    }
}

/// `y = (q − 16)·d`, as `q5_0::dequantize`.
pub fn dequantize(src: &[u8], out: &mut [f32]) {
    assert_eq!(
        src.len() / GROUP_BYTES * GROUP,
        out.len(),
        "Q5_0x4 dequantize: length mismatch"
    );
    assert!(
        src.len() % GROUP_BYTES == 0,
        "Q5_0x4 dequantize: not whole groups"
    );
    for (g, y) in src
        .chunks_exact(GROUP_BYTES)
        .zip(out.chunks_exact_mut(GROUP))
    {
        for (k, yb) in y.chunks_exact_mut(32).enumerate() {
            let d = scale(g, k).to_f32();
            for (y, q) in yb.iter_mut().zip(quants(g, k)) {
                *y = (q as i32 - 16) as f32 * d;
            }
        }
    }
}

/// `Σ (dx·dy)·sumi` over blocks, exactly as `q5_0::vec_dot`.
pub fn vec_dot(w: &[u8], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(
        w.len() / GROUP_BYTES * 4,
        a.len(),
        "Q5_0x4 vec_dot: length mismatch"
    );
    assert!(
        w.len() % GROUP_BYTES == 0,
        "Q5_0x4 vec_dot: not whole groups"
    );
    let mut sumf = 0.0f32;
    for (g, ys) in w.chunks_exact(GROUP_BYTES).zip(a.chunks_exact(4)) {
        for (k, y) in ys.iter().enumerate() {
            let sumi: i32 = quants(g, k)
                .iter()
                .zip(&y.qs)
                .map(|(&q, &qy)| (q as i32 - 16) * qy as i8 as i32)
                .sum();
            sumf += (scale(g, k).to_f32() * y.d.to_f32()) * sumi as f32;
        }
    }
    sumf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::q5_0;

    fn blocks(n: usize, seed: u64) -> Vec<BlockQ5_0> {
        let mut s = seed;
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as u32
        };
        (0..n)
            .map(|_| BlockQ5_0 {
                d: F16Le::from_f32((next() % 1000) as f32 / 1e4 - 0.05),
                qh: next().to_le_bytes(),
                qs: std::array::from_fn(|_| next() as u8),
            })
            .collect()
    }

    #[test]
    fn repack_round_trips_and_keeps_values() {
        for n in [4, 8, 20, 64] {
            let src = blocks(n, n as u64);
            let mut packed = vec![0u8; n * 22];
            repack(&src, &mut packed);
            let mut back = vec![BlockQ5_0::default(); n];
            unpack(&packed, &mut back);
            assert_eq!(back, src);
            let (mut a, mut b) = (vec![0f32; n * 32], vec![0f32; n * 32]);
            q5_0::dequantize(&src, &mut a);
            dequantize(&packed, &mut b);
            assert_eq!(a, b);
            let act: Vec<BlockQ8_0> = blocks(n, 99)
                .iter()
                .map(|b| BlockQ8_0 {
                    d: b.d,
                    qs: std::array::from_fn(|i| {
                        if i == 3 {
                            0x80
                        } else {
                            b.qs[i % 16] ^ b.qh[i % 4]
                        }
                    }),
                })
                .collect();
            assert_eq!(vec_dot(&packed, &act), q5_0::vec_dot(&src, &act));
        }
    }
}
