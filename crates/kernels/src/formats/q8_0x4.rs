//! Q8_0×4: wren's load-time repacking of Q8_0 weights for the SIMD kernels (never stored
//! in a file). Same values, same bytes per row; only the layout differs.
//!
//! Four consecutive blocks of a row become one group with the four f16 scales first, so
//! that one F16C instruction converts them all (stock Q8_0 interleaves a scale with every
//! 32 quants, costing a broadcast and a conversion per block):
//!
//! | bytes | content |
//! |---|---|
//! | 0..8 | `d` of blocks 0..3 (f16, little-endian) |
//! | 8 + 32·k + i (k < 4, i < 32) | quant `i` of block `k` |
//!
//! A row must be a whole number of groups (`cols % 128 == 0`). [`vec_dot`] equals
//! `q8_0::vec_dot` exactly (same integer sums, same float operations in the same order).

use super::f16::F16Le;
use super::q8_0::BlockQ8_0;

/// Elements per group (four Q8_0 blocks).
pub const GROUP: usize = 128;
/// Bytes per group: the same as four Q8_0 blocks.
pub const GROUP_BYTES: usize = 136;
const _: () = assert!(GROUP_BYTES == 4 * std::mem::size_of::<BlockQ8_0>());

/// Offset of the quants in a group.
pub const QS: usize = 8;

/// Whether a row of `cols` Q8_0 elements can be repacked.
pub fn fits(cols: usize) -> bool {
    cols > 0 && cols % GROUP == 0
}

/// Repacks whole rows of stock Q8_0 blocks (`src.len()` a multiple of 4) into `dst`
/// (`34 · src.len()` bytes).
pub fn repack(src: &[BlockQ8_0], dst: &mut [u8]) {
    assert!(src.len() % 4 == 0, "Q8_0x4 repack: not whole groups");
    assert_eq!(
        dst.len(),
        src.len() / 4 * GROUP_BYTES,
        "Q8_0x4 repack: length mismatch"
    );
    for (blocks, g) in src.chunks_exact(4).zip(dst.chunks_exact_mut(GROUP_BYTES)) {
        for (k, b) in blocks.iter().enumerate() {
            g[2 * k..2 * k + 2].copy_from_slice(&b.d.0);
            g[QS + 32 * k..QS + 32 * k + 32].copy_from_slice(&b.qs);
        }
    }
}

/// Block `k` (0..4) of a group, as a stock block.
pub fn block(g: &[u8], k: usize) -> BlockQ8_0 {
    BlockQ8_0 {
        d: F16Le([g[2 * k], g[2 * k + 1]]),
        qs: std::array::from_fn(|i| g[QS + 32 * k + i]),
    }
}

/// Undoes [`repack`].
pub fn unpack(src: &[u8], dst: &mut [BlockQ8_0]) {
    assert_eq!(
        src.len(),
        dst.len() / 4 * GROUP_BYTES,
        "Q8_0x4 unpack: length mismatch"
    );
    assert!(dst.len() % 4 == 0, "Q8_0x4 unpack: not whole groups");
    for (g, blocks) in src.chunks_exact(GROUP_BYTES).zip(dst.chunks_exact_mut(4)) {
        for (k, b) in blocks.iter_mut().enumerate() {
            *b = block(g, k);
        }
    }
}

/// `y = q·d`, as `q8_0::dequantize`.
pub fn dequantize(src: &[u8], out: &mut [f32]) {
    assert!(
        src.len() % GROUP_BYTES == 0,
        "Q8_0x4 dequantize: not whole groups"
    );
    assert_eq!(
        src.len() / GROUP_BYTES * GROUP,
        out.len(),
        "Q8_0x4 dequantize: length mismatch"
    );
    for (g, y) in src
        .chunks_exact(GROUP_BYTES)
        .zip(out.chunks_exact_mut(GROUP))
    {
        for (k, yb) in y.chunks_exact_mut(32).enumerate() {
            let d = F16Le([g[2 * k], g[2 * k + 1]]).to_f32();
            for (y, &q) in yb.iter_mut().zip(&g[QS + 32 * k..QS + 32 * k + 32]) {
                *y = q as i8 as f32 * d;
            }
        }
    }
}

/// `Σ (dx·dy)·sumi` over blocks, exactly as `q8_0::vec_dot`.
pub fn vec_dot(w: &[u8], a: &[BlockQ8_0]) -> f32 {
    assert!(
        w.len() % GROUP_BYTES == 0,
        "Q8_0x4 vec_dot: not whole groups"
    );
    assert_eq!(
        w.len() / GROUP_BYTES * 4,
        a.len(),
        "Q8_0x4 vec_dot: length mismatch"
    );
    let mut sumf = 0.0f32;
    for (g, ys) in w.chunks_exact(GROUP_BYTES).zip(a.chunks_exact(4)) {
        for (k, y) in ys.iter().enumerate() {
            let x = block(g, k);
            let sumi: i32 =
                x.qs.iter()
                    .zip(&y.qs)
                    .map(|(&q, &qy)| q as i8 as i32 * qy as i8 as i32)
                    .sum();
            sumf += (x.d.to_f32() * y.d.to_f32()) * sumi as f32;
        }
    }
    sumf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::q8_0;

    #[test]
    fn repack_round_trips_and_keeps_values() {
        let mut s = 7u64;
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) as u8
        };
        for n in [4, 20, 64] {
            let src: Vec<BlockQ8_0> = (0..n)
                .map(|_| BlockQ8_0 {
                    d: F16Le::from_f32(next() as f32 / 1e3 - 0.1),
                    qs: std::array::from_fn(|_| next()),
                })
                .collect();
            let mut packed = vec![0u8; n * 34];
            repack(&src, &mut packed);
            let mut back = vec![BlockQ8_0::default(); n];
            unpack(&packed, &mut back);
            assert_eq!(back, src);
            let (mut a, mut b) = (vec![0f32; n * 32], vec![0f32; n * 32]);
            q8_0::dequantize(&src, &mut a);
            dequantize(&packed, &mut b);
            assert_eq!(a, b);
            let act: Vec<BlockQ8_0> = src.iter().rev().copied().collect();
            assert_eq!(vec_dot(&packed, &act), q8_0::vec_dot(&src, &act));
        }
    }
}
