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
//! A row of `4·g + t` blocks (`t < 4`) is `g` such groups and a tail group of the `t`
//! remaining blocks laid out the same way: `t` scales, then `t·32` quants. [`vec_dot`]
//! equals `q8_0::vec_dot` exactly (same integer sums, same float operations in the same
//! order).

use super::f16::F16Le;
use super::q8_0::BlockQ8_0;

/// Elements per group (four Q8_0 blocks).
pub const GROUP: usize = 128;
/// Bytes per group: the same as four Q8_0 blocks.
pub const GROUP_BYTES: usize = 136;
const _: () = assert!(GROUP_BYTES == 4 * std::mem::size_of::<BlockQ8_0>());
/// Bytes per block, in a group or a tail.
const BLOCK_BYTES: usize = GROUP_BYTES / 4;

/// Offset of the quants in a group.
pub const QS: usize = 8;

/// Whether a row of `cols` Q8_0 elements can be repacked: whole blocks.
pub fn fits(cols: usize) -> bool {
    cols > 0 && cols % 32 == 0
}

/// The groups of one packed row: each group's bytes and its block count
/// (4, or the tail's 1–3).
fn groups(row: &[u8]) -> impl Iterator<Item = (&[u8], usize)> {
    row.chunks(GROUP_BYTES).map(|g| (g, g.len() / BLOCK_BYTES))
}

/// Repacks rows of `per_row` stock Q8_0 blocks (`src.len()` a multiple of it) into `dst`
/// (`34 · src.len()` bytes).
pub fn repack(src: &[BlockQ8_0], per_row: usize, dst: &mut [u8]) {
    assert!(
        per_row > 0 && src.len() % per_row == 0,
        "Q8_0x4 repack: not whole rows of {per_row} blocks"
    );
    assert_eq!(
        dst.len(),
        src.len() * BLOCK_BYTES,
        "Q8_0x4 repack: length mismatch"
    );
    let rb = per_row * BLOCK_BYTES;
    for (row, out) in src.chunks_exact(per_row).zip(dst.chunks_exact_mut(rb)) {
        for (blocks, g) in row.chunks(4).zip(out.chunks_mut(GROUP_BYTES)) {
            let qs = 2 * blocks.len();
            for (k, b) in blocks.iter().enumerate() {
                g[2 * k..2 * k + 2].copy_from_slice(&b.d.0);
                g[qs + 32 * k..qs + 32 * k + 32].copy_from_slice(&b.qs);
            }
        }
    }
}

/// Block `k` of a group of `len` blocks, as a stock block.
fn block(g: &[u8], len: usize, k: usize) -> BlockQ8_0 {
    let qs = 2 * len + 32 * k;
    BlockQ8_0 {
        d: F16Le([g[2 * k], g[2 * k + 1]]),
        qs: std::array::from_fn(|i| g[qs + i]),
    }
}

/// The blocks of one packed row, in order.
fn row_blocks(row: &[u8]) -> impl Iterator<Item = BlockQ8_0> + '_ {
    groups(row).flat_map(|(g, len)| (0..len).map(move |k| block(g, len, k)))
}

/// Undoes [`repack`].
pub fn unpack(src: &[u8], per_row: usize, dst: &mut [BlockQ8_0]) {
    assert!(
        per_row > 0 && dst.len() % per_row == 0,
        "Q8_0x4 unpack: not whole rows of {per_row} blocks"
    );
    assert_eq!(
        src.len(),
        dst.len() * BLOCK_BYTES,
        "Q8_0x4 unpack: length mismatch"
    );
    let rb = per_row * BLOCK_BYTES;
    for (row, out) in src.chunks_exact(rb).zip(dst.chunks_exact_mut(per_row)) {
        for (o, b) in out.iter_mut().zip(row_blocks(row)) {
            *o = b;
        }
    }
}

/// One packed row `src` as `y = q·d` (`out.len()` elements), as `q8_0::dequantize`.
pub fn dequantize(src: &[u8], out: &mut [f32]) {
    assert!(
        out.len() % 32 == 0 && src.len() == out.len() / 32 * BLOCK_BYTES,
        "Q8_0x4 dequantize: {} bytes are not a row of {} elements",
        src.len(),
        out.len()
    );
    for (b, y) in row_blocks(src).zip(out.chunks_exact_mut(32)) {
        let d = b.d.to_f32();
        for (y, &q) in y.iter_mut().zip(&b.qs) {
            *y = q as i8 as f32 * d;
        }
    }
}

/// `Σ (dx·dy)·sumi` over the blocks of one packed row `w`, exactly as `q8_0::vec_dot`.
pub fn vec_dot(w: &[u8], a: &[BlockQ8_0]) -> f32 {
    assert_eq!(
        w.len(),
        a.len() * BLOCK_BYTES,
        "Q8_0x4 vec_dot: length mismatch"
    );
    let mut sumf = 0.0f32;
    for (x, y) in row_blocks(w).zip(a) {
        let sumi: i32 =
            x.qs.iter()
                .zip(&y.qs)
                .map(|(&q, &qy)| q as i8 as i32 * qy as i8 as i32)
                .sum();
        sumf += (x.d.to_f32() * y.d.to_f32()) * sumi as f32;
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
        for (n, per_row) in [
            (4, 4),
            (20, 20),
            (64, 16),
            (1, 1),
            (18, 18),
            (36, 18),
            (14, 7),
        ] {
            let src: Vec<BlockQ8_0> = (0..n)
                .map(|_| BlockQ8_0 {
                    d: F16Le::from_f32(next() as f32 / 1e3 - 0.1),
                    qs: std::array::from_fn(|_| next()),
                })
                .collect();
            let mut packed = vec![0u8; n * 34];
            repack(&src, per_row, &mut packed);
            let mut back = vec![BlockQ8_0::default(); n];
            unpack(&packed, per_row, &mut back);
            assert_eq!(back, src);
            let rb = per_row * BLOCK_BYTES;
            for (r, (row, blocks)) in packed.chunks(rb).zip(src.chunks(per_row)).enumerate() {
                let (mut a, mut b) = (vec![0f32; per_row * 32], vec![0f32; per_row * 32]);
                q8_0::dequantize(blocks, &mut a);
                dequantize(row, &mut b);
                assert_eq!(a, b, "row {r}");
                let act: Vec<BlockQ8_0> = blocks.iter().rev().copied().collect();
                assert_eq!(vec_dot(row, &act), q8_0::vec_dot(blocks, &act));
            }
        }
    }
}
