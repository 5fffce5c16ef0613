//! Safe entry point for several weight rows times several activation rows:
//! [`vec_dot_rows_tokens`], the matrix product of a batched decode step.
//!
//! Each weight row is multiplied with the tokens in groups of up to [`MAX_TOKENS`] while
//! it sits in L1: with a multi-token kernel each weight block is unpacked once per group
//! instead of once per token. Formats without one (and a single token) loop over the
//! per-row kernels of [`super::quant`] in the same order.

use std::cell::RefCell;

use super::packed::Packing;
use super::quant::{prefetch_bytes, prefetch_range, row_bytes, rows_checked, Proven};
use super::Isa;
use crate::formats::q8_0::BlockQ8_0;
use crate::formats::q8_k::BlockQ8K;
use crate::formats::{cast_blocks, vec_dot_type};
use crate::GgmlType;

#[cfg(target_arch = "x86_64")]
use super::x86_64::{
    avx2_multi as v2m, avx2_multi_k as v2k, avx2_q5_0x4 as v2q, avx2_q8_0x4 as v2q8,
    avx2_quant as v2,
};

/// Most tokens one kernel call multiplies at once.
pub const MAX_TOKENS: usize = 8;
/// Weight rows computed together while they sit in L1.
const ROWS: usize = 16;
/// f32 of activation tables per block and group: broadcast scales, then offset terms.
const TAB: usize = MAX_TOKENS * 8 + 8;

/// `out[t·ld + r] = vec_dot(ty, n, row r of w_rows, row t of a)` for every weight row `r`
/// in `w_rows` (consecutive rows of `n` elements of `ty`) and every one of the `tokens`
/// activation rows in `a` (consecutive rows of [`vec_dot_type`]`(ty)`), with this
/// process's tier. Panics on a length mismatch or if `ld` is shorter than a row of output.
pub fn vec_dot_rows_tokens(
    ty: GgmlType,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
) {
    tokens_checked(Proven::current(), ty, n, w_rows, a, tokens, out, ld)
}

/// [`vec_dot_rows_tokens`] with an explicit tier (tests, benchmarks). Panics if the CPU
/// does not support `isa`.
#[allow(clippy::too_many_arguments)]
pub fn vec_dot_rows_tokens_with(
    isa: Isa,
    ty: GgmlType,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
) {
    tokens_checked(Proven::checked(isa), ty, n, w_rows, a, tokens, out, ld)
}

#[allow(clippy::too_many_arguments)]
fn tokens_checked(
    t: Proven,
    ty: GgmlType,
    n: usize,
    w: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
) {
    let rb = row_bytes("vec_dot_rows_tokens (weights)", ty, n);
    let ab = row_bytes("vec_dot_rows_tokens (activations)", vec_dot_type(ty), n);
    let rows = w.len().checked_div(rb).unwrap_or(0);
    assert_eq!(
        w.len(),
        rows * rb,
        "vec_dot_rows_tokens: weights are not whole rows of {n} {ty} elements"
    );
    assert_eq!(
        a.len(),
        tokens * ab,
        "vec_dot_rows_tokens: activations are not {tokens} rows of {n} elements"
    );
    assert!(ld >= rows, "vec_dot_rows_tokens: ld {ld} < {rows} rows");
    if tokens == 0 || rows == 0 {
        return;
    }
    assert!(
        out.len() >= (tokens - 1) * ld + rows,
        "vec_dot_rows_tokens: output too short for {tokens} tokens × ld {ld}"
    );
    if tokens == 1 || !multi(t, ty, n, a, ab, tokens, w, rb, out, ld) {
        for r0 in (0..rows).step_by(ROWS) {
            let nr = ROWS.min(rows - r0);
            let wr = &w[r0 * rb..(r0 + nr) * rb];
            for (i, ai) in a.chunks_exact(ab).enumerate() {
                rows_checked(t, ty, n, wr, ai, &mut out[i * ld + r0..i * ld + r0 + nr]);
            }
        }
    }
}

// Per-thread activation tables of the multi-token kernels (see `avx2_multi`): quants
// `[group][block][token]`; per group, scales `[block][token][8 lanes]` (room for 8 tokens)
// and offset terms `[block][lane of 8]`.
thread_local! {
    static PREP: RefCell<(Vec<[u8; 32]>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// The multi-token kernels; `false` (nothing written) where `ty` has none at tier `t`, or
/// for Q8_0 when an activation holds a `-128` quant (the sign trick would be inexact).
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn multi(
    t: Proven,
    ty: GgmlType,
    n: usize,
    a: &[u8],
    ab: usize,
    tokens: usize,
    w: &[u8],
    rb: usize,
    out: &mut [f32],
    ld: usize,
) -> bool {
    if t.0 < Isa::Avx2 {
        return false;
    }
    let offset = match ty {
        GgmlType::Q8_0 => 0,
        GgmlType::Q4_0 => 8,
        GgmlType::Q5_0 => 16,
        GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q6K => {
            multi_k(ty, n, a, ab, w, rb, out, ld);
            return true;
        }
        _ => return false,
    };
    let ys = || a.chunks_exact(ab).map(cast_blocks::<BlockQ8_0>);
    // SAFETY: `t` proves at least the AVX2 tier (AVX2+FMA+F16C).
    if ty == GgmlType::Q8_0 && ys().any(|y| unsafe { v2::q8_0_has_min(y) }) {
        return false;
    }
    let nb = n / 32;
    with_tables(a, ab, tokens, nb, offset, |yq, tab| {
        row_groups(w, rb, nb, yq, tab, out, ld, |_, wr, qg, dy, sy, o| {
            group(ty, wr, nb, qg, dy, sy, o, ld)
        })
    });
    true
}

#[cfg(target_arch = "x86_64")]
/// Fills the per-thread activation tables (see `PREP`) for `tokens` Q8_0 rows of `nb`
/// blocks with offset `offset` (the unsigned formats' zero point), then runs `f` on them.
fn with_tables<R>(
    a: &[u8],
    ab: usize,
    tokens: usize,
    nb: usize,
    offset: i32,
    f: impl FnOnce(&[[u8; 32]], &[f32]) -> R,
) -> R {
    let ys = || a.chunks_exact(ab).map(cast_blocks::<BlockQ8_0>);
    PREP.with(|p| {
        let (yq, tab) = &mut *p.borrow_mut();
        let groups = tokens.div_ceil(MAX_TOKENS);
        yq.clear();
        yq.resize(tokens * nb, [0; 32]);
        tab.clear();
        tab.resize(groups * nb * TAB, 0.0);
        let parts = yq.chunks_mut(MAX_TOKENS * nb).zip(tab.chunks_mut(nb * TAB));
        for (g, (qg, tg)) in parts.enumerate() {
            let width = qg.len() / nb;
            let (dy, sy) = tg.split_at_mut(nb * MAX_TOKENS * 8);
            for (lane, y) in ys().skip(g * MAX_TOKENS).take(width).enumerate() {
                for (b, blk) in y.iter().enumerate() {
                    qg[b * width + lane] = blk.qs;
                    let d = blk.d.to_f32();
                    dy[(b * width + lane) * 8..][..8].fill(d);
                    let s: i32 = blk.qs.iter().map(|&q| q as i8 as i32).sum();
                    sy[b * 8 + lane] = (offset * s) as f32 * d;
                }
            }
        }
        f(yq, tab)
    })
}

#[cfg(target_arch = "x86_64")]
/// Every weight row of `w` (row stride `rb`) against every token group of the tables:
/// `kernel(token group, row, quants, scales, offsets, out)` with `out` starting at the group's first
/// token's output for that row.
#[allow(clippy::too_many_arguments)]
fn row_groups(
    w: &[u8],
    rb: usize,
    nb: usize,
    yq: &[[u8; 32]],
    tab: &[f32],
    out: &mut [f32],
    ld: usize,
    kernel: impl Fn(usize, &[u8], &[[u8; 32]], &[f32], &[f32], &mut [f32]),
) {
    let rows = w.len() / rb;
    let pf = prefetch_bytes();
    for r in 0..rows {
        // One row at a time, prefetching a few KiB ahead as the per-row path does (a
        // burst of prefetches for many rows at once stalls on the miss buffers).
        prefetch_range(w, r * rb + pf, rb);
        let wr = &w[r * rb..(r + 1) * rb];
        let parts = yq.chunks(MAX_TOKENS * nb).zip(tab.chunks(nb * TAB));
        for (g, (qg, tg)) in parts.enumerate() {
            let (dy, sy) = tg.split_at(nb * MAX_TOKENS * 8);
            kernel(g, wr, qg, dy, sy, &mut out[g * MAX_TOKENS * ld + r..]);
        }
    }
}

/// Packed rows (`super::packed`, row stride `rb`, `n` columns) against `tokens` Q8_0 rows
/// `a` (stride `ab`): the multi-token kernels. The caller proved the AVX2 tier and, for
/// Q8_0×4, that no activation quant is `-128`.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
pub(super) fn packed_tokens(
    p: Packing,
    n: usize,
    w: &[u8],
    rb: usize,
    a: &[u8],
    ab: usize,
    tokens: usize,
    out: &mut [f32],
    ld: usize,
) {
    let (nb, ng) = (n / 32, n / 128);
    let offset = if p == Packing::Q5_0x4 { 16 } else { 0 };
    GROUP_TAB.with(|gt| {
        let gt = &mut *gt.borrow_mut();
        group_scale_table(a, ab, tokens, ng, gt);
        with_tables(a, ab, tokens, nb, offset, |yq, tab| {
            row_groups(w, rb, nb, yq, tab, out, ld, |g8, wr, qg, _, sy, o| {
                let width = qg.len() / nb;
                let at = g8 * ng * MAX_TOKENS * 8;
                let gy = &gt[at..at + ng * width * 8];
                packed_width(p, width, wr, ng, qg, gy, sy, o, ld)
            })
        })
    });
}

thread_local! {
    /// The packed multi-token kernels' group scales, see [`group_scale_table`].
    static GROUP_TAB: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Per token group of [`MAX_TOKENS`] (each `ng · MAX_TOKENS · 8` f32), per weight group
/// of four blocks and per token: the four activation block scales, twice
/// (`[d0 d1 d2 d3 d0 d1 d2 d3]`, the lane order of `avx2_q5_0x4::reduce4`).
#[cfg(target_arch = "x86_64")]
fn group_scale_table(a: &[u8], ab: usize, tokens: usize, ng: usize, gt: &mut Vec<f32>) {
    gt.clear();
    gt.resize(tokens.div_ceil(MAX_TOKENS) * ng * MAX_TOKENS * 8, 0.0);
    for (i, y) in a.chunks_exact(ab).map(cast_blocks::<BlockQ8_0>).enumerate() {
        let (g8, lane) = (i / MAX_TOKENS, i % MAX_TOKENS);
        let width = MAX_TOKENS.min(tokens - g8 * MAX_TOKENS);
        let base = g8 * ng * MAX_TOKENS * 8;
        for (g, ys) in y.chunks_exact(4).enumerate() {
            let at = base + (g * width + lane) * 8;
            for k in 0..4 {
                let d = ys[k].d.to_f32();
                gt[at + k] = d;
                gt[at + 4 + k] = d;
            }
        }
    }
}

/// One token group of [`packed_tokens`]: the kernel instance of its width.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn packed_width(
    p: Packing,
    width: usize,
    w: &[u8],
    ng: usize,
    yq: &[[u8; 32]],
    gy: &[f32],
    sy: &[f32],
    out: &mut [f32],
    ld: usize,
) {
    macro_rules! widths {
        ($($n:literal)*) => {
            match (p, width) {
                $(
                    // SAFETY: the caller proved AVX2+FMA+F16C (and no -128 activation for
                    // Q8_0x4); the kernels bounds-check their slices.
                    (Packing::Q5_0x4, $n) => unsafe {
                        v2q::rows_q5_0x4::<$n>(w, ng, yq, gy, sy, out, ld)
                    },
                    // SAFETY: as above.
                    (Packing::Q8_0x4, $n) => unsafe {
                        v2q8::rows_q8_0x4::<$n>(w, ng, yq, gy, out, ld)
                    },
                )*
                (_, k) => unreachable!("token group of {k}"),
            }
        };
    }
    widths!(1 2 3 4 5 6 7 8)
}

/// The k-quant multi-token kernels (activations used in place: Q8_K has f32 scales and
/// its own group sums). The caller proved the AVX2 tier.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn multi_k(
    ty: GgmlType,
    n: usize,
    a: &[u8],
    ab: usize,
    w: &[u8],
    rb: usize,
    out: &mut [f32],
    ld: usize,
) {
    let nb = n / 256;
    let pf = prefetch_bytes();
    for r in 0..w.len() / rb {
        prefetch_range(w, r * rb + pf, rb);
        let wr = &w[r * rb..(r + 1) * rb];
        for (g, gy) in a.chunks(MAX_TOKENS * ab).enumerate() {
            let o = &mut out[g * MAX_TOKENS * ld + r..];
            match gy.len() / ab {
                1 => width_k::<1>(ty, wr, nb, gy, o, ld),
                2 => width_k::<2>(ty, wr, nb, gy, o, ld),
                3 => width_k::<3>(ty, wr, nb, gy, o, ld),
                4 => width_k::<4>(ty, wr, nb, gy, o, ld),
                5 => width_k::<5>(ty, wr, nb, gy, o, ld),
                6 => width_k::<6>(ty, wr, nb, gy, o, ld),
                7 => width_k::<7>(ty, wr, nb, gy, o, ld),
                8 => width_k::<8>(ty, wr, nb, gy, o, ld),
                k => unreachable!("token group of {k}"),
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn width_k<const N: usize>(
    ty: GgmlType,
    w: &[u8],
    nb: usize,
    a: &[u8],
    out: &mut [f32],
    ld: usize,
) {
    let ab = a.len() / N;
    let ys: [&[BlockQ8K]; N] = std::array::from_fn(|i| cast_blocks(&a[i * ab..(i + 1) * ab]));
    // SAFETY (all three): the caller (`multi`) checked the AVX2 tier (AVX2+FMA+F16C); the
    // kernels bounds-check their slices.
    match ty {
        GgmlType::Q4K => unsafe { v2k::rows_q4_k::<N>(cast_blocks(w), nb, ys, out, ld) },
        GgmlType::Q5K => unsafe { v2k::rows_q5_k::<N>(cast_blocks(w), nb, ys, out, ld) },
        GgmlType::Q6K => unsafe { v2k::rows_q6_k::<N>(cast_blocks(w), nb, ys, out, ld) },
        _ => unreachable!("no k-quant multi-token kernel for {ty}"),
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
fn multi(
    _: Proven,
    _: GgmlType,
    _: usize,
    _: &[u8],
    _: usize,
    _: usize,
    _: &[u8],
    _: usize,
    _: &mut [f32],
    _: usize,
) -> bool {
    false
}

/// One group of `yq.len() / nb` (1..=8) tokens: picks the kernel instance of that width.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn group(
    ty: GgmlType,
    w: &[u8],
    nb: usize,
    yq: &[[u8; 32]],
    dy: &[f32],
    sy: &[f32],
    out: &mut [f32],
    ld: usize,
) {
    match yq.len() / nb {
        1 => width::<1>(ty, w, nb, yq, dy, sy, out, ld),
        2 => width::<2>(ty, w, nb, yq, dy, sy, out, ld),
        3 => width::<3>(ty, w, nb, yq, dy, sy, out, ld),
        4 => width::<4>(ty, w, nb, yq, dy, sy, out, ld),
        5 => width::<5>(ty, w, nb, yq, dy, sy, out, ld),
        6 => width::<6>(ty, w, nb, yq, dy, sy, out, ld),
        7 => width::<7>(ty, w, nb, yq, dy, sy, out, ld),
        8 => width::<8>(ty, w, nb, yq, dy, sy, out, ld),
        k => unreachable!("token group of {k}"),
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn width<const N: usize>(
    ty: GgmlType,
    w: &[u8],
    nb: usize,
    yq: &[[u8; 32]],
    dy: &[f32],
    sy: &[f32],
    out: &mut [f32],
    ld: usize,
) {
    // SAFETY (all three): the caller (`multi`) checked the AVX2 tier (AVX2+FMA+F16C), and
    // for Q8_0 that no activation quant is -128; the kernels bounds-check their slices.
    match ty {
        GgmlType::Q8_0 => unsafe { v2m::rows_q8_0::<N>(cast_blocks(w), nb, yq, dy, out, ld) },
        GgmlType::Q4_0 => unsafe { v2m::rows_q4_0::<N>(cast_blocks(w), nb, yq, dy, sy, out, ld) },
        GgmlType::Q5_0 => unsafe { v2m::rows_q5_0::<N>(cast_blocks(w), nb, yq, dy, sy, out, ld) },
        _ => unreachable!("no multi-token kernel for {ty}"),
    }
}
