//! The x86-64 multi-token kernels by token-group width: for one format (or packing) the
//! array of its instances for 1..=[`MAX_TOKENS`] tokens, chosen once per product and indexed
//! by `width − 1` (the third axis of the kernel table, [`super::table`], for the AVX2
//! token-group layouts of [`super::tables::TokenTables`]).

use super::tables::MAX_TOKENS;
use super::x86_64::{
    avx2_multi as v2m, avx2_multi_k as v2k, avx2_q5_0x4 as v2q, avx2_q8_0x4 as v2q8,
};
use super::Packing;
use crate::formats::cast_blocks;
use crate::formats::q8_k::BlockQ8K;
use crate::GgmlType;

/// One weight row against one token group of the AVX2 tables: `(w, nb, quants, scales,
/// offsets, out, ld)`.
pub(super) type GroupFn = unsafe fn(&[u8], usize, &[[u8; 32]], &[f32], &[f32], &mut [f32], usize);
/// One k-quant weight row against one group of Q8_K rows in place: `(w, nb, a, out, ld)`.
pub(super) type KGroupFn = unsafe fn(&[u8], usize, &[u8], &mut [f32], usize);
/// Packed rows against one token group: `(w, nb, quants, group scales, offsets, out, ld,
/// prefetch)`.
pub(super) type PackedFn =
    unsafe fn(&[u8], usize, &[[u8; 32]], &[f32], &[[i32; 8]], &mut [f32], usize, usize);

/// `[f::<1>, …, f::<8>]`.
macro_rules! widths {
    ($f:ident as $t:ty) => {
        [
            $f::<1> as $t,
            $f::<2> as $t,
            $f::<3> as $t,
            $f::<4> as $t,
            $f::<5> as $t,
            $f::<6> as $t,
            $f::<7> as $t,
            $f::<8> as $t,
        ]
    };
}

// Adapters to one signature per family. SAFETY (every `unsafe` block below): each is
// handed out only for a proven AVX2 tier (AVX2+FMA+F16C), and for Q8_0 / Q8_0x4 only when
// no activation quant is -128 (`TokenTables` records that); the kernels bounds-check.
macro_rules! group_fn {
    ($name:ident, $k:ident, sy) => {
        unsafe fn $name<const N: usize>(
            w: &[u8],
            nb: usize,
            yq: &[[u8; 32]],
            dy: &[f32],
            sy: &[f32],
            out: &mut [f32],
            ld: usize,
        ) {
            unsafe { v2m::$k::<N>(cast_blocks(w), nb, yq, dy, sy, out, ld) }
        }
    };
}
group_fn!(g_q4_0, rows_q4_0, sy);
group_fn!(g_q5_0, rows_q5_0, sy);
group_fn!(g_q4_1, rows_q4_1, sy);
group_fn!(g_q5_1, rows_q5_1, sy);

unsafe fn g_q8_0<const N: usize>(
    w: &[u8],
    nb: usize,
    yq: &[[u8; 32]],
    dy: &[f32],
    _sy: &[f32],
    out: &mut [f32],
    ld: usize,
) {
    unsafe { v2m::rows_q8_0::<N>(cast_blocks(w), nb, yq, dy, out, ld) }
}

/// The AVX2 token-group kernels of a 32-element format, by width.
pub(super) fn group(ty: GgmlType) -> [GroupFn; MAX_TOKENS] {
    match ty {
        GgmlType::Q8_0 => widths!(g_q8_0 as GroupFn),
        GgmlType::Q4_0 => widths!(g_q4_0 as GroupFn),
        GgmlType::Q5_0 => widths!(g_q5_0 as GroupFn),
        GgmlType::Q4_1 => widths!(g_q4_1 as GroupFn),
        GgmlType::Q5_1 => widths!(g_q5_1 as GroupFn),
        _ => unreachable!("no multi-token kernel for {ty}"),
    }
}

macro_rules! k_fn {
    ($name:ident, $k:ident) => {
        unsafe fn $name<const N: usize>(w: &[u8], nb: usize, a: &[u8], out: &mut [f32], ld: usize) {
            let ab = a.len() / N;
            let ys: [&[BlockQ8K]; N] =
                std::array::from_fn(|i| cast_blocks(&a[i * ab..(i + 1) * ab]));
            unsafe { v2k::$k::<N>(cast_blocks(w), nb, ys, out, ld) }
        }
    };
}
k_fn!(k_q4_k, rows_q4_k);
k_fn!(k_q5_k, rows_q5_k);
k_fn!(k_q6_k, rows_q6_k);

/// The AVX2 k-quant multi-token kernels, by width.
pub(super) fn k_group(ty: GgmlType) -> [KGroupFn; MAX_TOKENS] {
    match ty {
        GgmlType::Q4K => widths!(k_q4_k as KGroupFn),
        GgmlType::Q5K => widths!(k_q5_k as KGroupFn),
        GgmlType::Q6K => widths!(k_q6_k as KGroupFn),
        _ => unreachable!("no k-quant multi-token kernel for {ty}"),
    }
}

#[allow(clippy::too_many_arguments)]
unsafe fn p_q5_0x4<const N: usize>(
    w: &[u8],
    nb: usize,
    yq: &[[u8; 32]],
    gy: &[f32],
    go: &[[i32; 8]],
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    unsafe { v2q::rows_q5_0x4::<N>(w, nb, yq, gy, go, out, ld, pf) }
}

#[allow(clippy::too_many_arguments)]
unsafe fn p_q8_0x4<const N: usize>(
    w: &[u8],
    nb: usize,
    yq: &[[u8; 32]],
    gy: &[f32],
    _go: &[[i32; 8]],
    out: &mut [f32],
    ld: usize,
    pf: usize,
) {
    unsafe { v2q8::rows_q8_0x4::<N>(w, nb, yq, gy, out, ld, pf) }
}

/// The packed (Q5_0x4, Q8_0x4) multi-token kernels, by width.
pub(super) fn packed(p: Packing) -> [PackedFn; MAX_TOKENS] {
    match p {
        Packing::Q5_0x4 => widths!(p_q5_0x4 as PackedFn),
        Packing::Q8_0x4 => widths!(p_q8_0x4 as PackedFn),
    }
}
