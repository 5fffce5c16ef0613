//! Safe entry point for several weight rows times several activation rows:
//! [`vec_dot_rows_tokens`], the matrix product of a batched decode step.
//!
//! Each weight row is multiplied with the tokens in groups of up to [`MAX_TOKENS`] while
//! it sits in L1: with a multi-token kernel each weight block is unpacked once per group
//! instead of once per token. Formats without one (and a single token) loop over the
//! per-row kernels of [`super::quant`] in the same order.
//!
//! Kernels by tier: AVX2 for Q8_0, Q4_0, Q5_0 (stock and repacked), Q4_1, Q5_1 and the
//! k-quants; at the AVX-512 VNNI tier, token-lane kernels for the same stock formats
//! (`x86_64::avx512_multi`, `x86_64::avx512_multi_k`), whose integer sums are exact for
//! every activation quant (`-128` included).

use std::cell::RefCell;

use super::packed::Packing;
use super::quant::{prefetch_bytes, prefetch_range, row_bytes, rows_checked, Proven};
use super::tables::TokenTables;
pub use super::tables::MAX_TOKENS;
#[cfg(target_arch = "x86_64")]
use super::tables::TAB;
use super::Isa;
#[cfg(target_arch = "x86_64")]
use crate::formats::cast_blocks;
use crate::formats::vec_dot_type;
use crate::GgmlType;

#[cfg(target_arch = "x86_64")]
use super::x86_64::{avx512_multi as v5m, avx512_multi4 as v5m4, avx512_multi_k as v5k};
#[cfg(target_arch = "x86_64")]
use crate::formats::{q4_0::BlockQ4_0, q5_0::BlockQ5_0, q8_0::BlockQ8_0};
#[cfg(target_arch = "x86_64")]
use crate::formats::{q4_1::BlockQ4_1, q5_1::BlockQ5_1};
#[cfg(target_arch = "x86_64")]
use crate::formats::{q4_k::BlockQ4K, q5_k::BlockQ5K, q6_k::BlockQ6K};

/// Weight rows computed together while they sit in L1.
const ROWS: usize = 16;

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
    tokens_checked(Proven::current(), ty, n, w_rows, a, tokens, out, ld, None)
}

/// [`vec_dot_rows_tokens`] with the activation tables already laid out by
/// [`TokenTables::prepare`]`(ty, None, n, a, tokens)` (once per matrix product, shared by
/// its tasks). Panics if `tables` were prepared for another product.
#[allow(clippy::too_many_arguments)]
pub fn vec_dot_rows_tokens_prepared(
    ty: GgmlType,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
    tables: &TokenTables,
) {
    tokens_checked(
        Proven::current(),
        ty,
        n,
        w_rows,
        a,
        tokens,
        out,
        ld,
        Some(tables),
    )
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
    tokens_checked(
        Proven::checked(isa),
        ty,
        n,
        w_rows,
        a,
        tokens,
        out,
        ld,
        None,
    )
}

#[allow(clippy::too_many_arguments)]
pub(super) fn tokens_checked(
    t: Proven,
    ty: GgmlType,
    n: usize,
    w: &[u8],
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
    tables: Option<&TokenTables>,
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
    if tokens == 1 || !multi(t, ty, n, a, ab, tokens, w, rb, out, ld, tables) {
        for r0 in (0..rows).step_by(ROWS) {
            let nr = ROWS.min(rows - r0);
            let wr = &w[r0 * rb..(r0 + nr) * rb];
            for (i, ai) in a.chunks_exact(ab).enumerate() {
                rows_checked(t, ty, n, wr, ai, &mut out[i * ld + r0..i * ld + r0 + nr]);
            }
        }
    }
}

thread_local! {
    /// Tables for callers that did not prepare their own.
    pub(super) static PREP: RefCell<TokenTables> = const { RefCell::new(TokenTables::new()) };
}

/// Runs `f` on `tables`, or on this thread's own tables prepared for the product.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) fn with_tables<R>(
    t: Proven,
    tables: Option<&TokenTables>,
    key: (GgmlType, Option<Packing>, usize, &[u8], usize),
    f: impl FnOnce(&TokenTables) -> R,
) -> R {
    let (ty, p, n, a, tokens) = key;
    match tables {
        Some(tb) => f(tb),
        None => PREP.with(|tb| {
            let tb = &mut *tb.borrow_mut();
            tb.prepare_at(t, ty, p, n, a, tokens);
            f(tb)
        }),
    }
}

/// The multi-token kernels; `false` (nothing written) where `ty` has none at tier `t`, or
/// at the AVX2 tier for Q8_0 when an activation holds a `-128` quant (the sign trick would
/// be inexact).
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
    tables: Option<&TokenTables>,
) -> bool {
    if t.0 < Isa::Avx2 {
        return false;
    }
    match ty {
        GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 => {}
        GgmlType::Q4_1 | GgmlType::Q5_1 => {}
        GgmlType::Q4K | GgmlType::Q5K | GgmlType::Q6K => {
            if t.0 >= Isa::Avx512Vnni {
                return with_tables(t, tables, (ty, None, n, a, tokens), |tb| {
                    let usable = tb.usable_for(ty, None, n, a, tokens) && tb.vnni();
                    if usable {
                        vnni_groups(t, ty, n, w, rb, tb, a, tokens, out, ld);
                    }
                    usable
                });
            }
            multi_k(ty, n, a, ab, w, rb, out, ld);
            return true;
        }
        _ => return false,
    }
    let nb = n / 32;
    with_tables(t, tables, (ty, None, n, a, tokens), |tb| {
        if !tb.usable_for(ty, None, n, a, tokens) {
            return false;
        }
        if tb.vnni() {
            vnni_groups(t, ty, n, w, rb, tb, a, tokens, out, ld);
            return true;
        }
        let kernels = super::widths_x86::group(ty);
        row_groups(
            w,
            rb,
            nb,
            &tb.yq,
            &tb.tab,
            out,
            ld,
            |_, wr, qg, dy, sy, o| {
                // SAFETY: `multi` proved the AVX2 tier and `tb.usable_for` that Q8_0 has no
                // -128 activation quant; the kernels bounds-check their slices.
                unsafe { kernels[qg.len() / nb - 1](wr, nb, qg, dy, sy, o, ld) }
            },
        );
        true
    })
}

/// Token groups at most this wide run the one-token kernel per token where it has the
/// token-lane kernels' bits (`x86_64::avx512_lanes`): the narrowest token-lane kernel
/// (`avx512_multi4`) still computes four token lanes.
#[cfg(target_arch = "x86_64")]
const ONE_TOKEN_WIDTH: usize = 1;

/// Every weight row of `w` (row stride `rb`, `n` columns) against every token group of the
/// VNNI tables `tb` (`x86_64::avx512_multi`, `x86_64::avx512_multi_k`); `a`: the activation
/// rows.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn vnni_groups(
    t: Proven,
    ty: GgmlType,
    n: usize,
    w: &[u8],
    rb: usize,
    tb: &TokenTables,
    a: &[u8],
    tokens: usize,
    out: &mut [f32],
    ld: usize,
) {
    assert!(t.0 >= Isa::Avx512Vnni, "VNNI tables at tier {:?}", t.0);
    let pf = prefetch_bytes();
    let run = run_rows(tokens, w.len() / rb);
    for (ri, wr) in w.chunks(run * rb).enumerate() {
        for g in 0..tokens.div_ceil(MAX_TOKENS) {
            let width = MAX_TOKENS.min(tokens - g * MAX_TOKENS);
            let o = &mut out[g * MAX_TOKENS * ld + ri * run..];
            if width <= ONE_TOKEN_WIDTH && super::rowwise::batched_is_one_token_at(t.0, ty) {
                // The group's tokens one at a time: the same bits, cheaper than a
                // mostly empty group.
                let ab = row_bytes("vnni_groups", vec_dot_type(ty), n);
                let rows = wr.len() / rb;
                for j in 0..width {
                    let tk = g * MAX_TOKENS + j;
                    rows_checked(
                        t,
                        ty,
                        n,
                        wr,
                        &a[tk * ab..(tk + 1) * ab],
                        &mut o[j * ld..j * ld + rows],
                    );
                }
                continue;
            }
            vnni_group(ty, n, wr, tb, g, width, o, ld, pf);
        }
    }
}

/// Token group `g` (`width` tokens) of [`vnni_groups`]: the kernel of `ty` on its tables.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn vnni_group(
    ty: GgmlType,
    n: usize,
    w: &[u8],
    tb: &TokenTables,
    g: usize,
    width: usize,
    o: &mut [f32],
    ld: usize,
    pf: usize,
) {
    // SAFETY (every kernel call): the caller (`vnni_groups`) proved the AVX-512 VNNI
    // tier (F/BW/VL/VNNI with AVX2, FMA, F16C); the kernels bounds-check their slices.
    if let GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q4_1 | GgmlType::Q5_1 = ty {
        let nb = n / 32;
        let vq = &tb.vq[g * nb * 8..(g + 1) * nb * 8];
        let (vd, vo) = (&tb.vd[g * nb..(g + 1) * nb], &tb.vo[g * nb..(g + 1) * nb]);
        // Q8_1's `s` per token (Q4_1, Q5_1 only; empty for the others).
        let vs = tb.vs.get(g * nb..(g + 1) * nb).unwrap_or(&[]);
        // (Groups of up to four tokens: four rows × four tokens per register.)
        macro_rules! call {
            ($b:ty) => {
                if width <= v5m4::TOKENS4 {
                    v5m4::rows_vnni4::<$b>(cast_blocks(w), nb, vq, vd, vo, vs, width, o, ld, pf)
                } else {
                    v5m::rows_vnni::<$b>(cast_blocks(w), nb, vq, vd, vo, vs, width, o, ld, pf)
                }
            };
        }
        match ty {
            GgmlType::Q8_0 => unsafe { call!(BlockQ8_0) },
            GgmlType::Q4_0 => unsafe { call!(BlockQ4_0) },
            GgmlType::Q5_0 => unsafe { call!(BlockQ5_0) },
            GgmlType::Q4_1 => unsafe { call!(BlockQ4_1) },
            _ => unsafe { call!(BlockQ5_1) },
        }
        return;
    }
    let nb = n / 256;
    let kq = &tb.kq[g * nb * 64..(g + 1) * nb * 64];
    let (kb, kd) = (
        &tb.kb[g * nb * 8..(g + 1) * nb * 8],
        &tb.kd[g * nb..(g + 1) * nb],
    );
    match ty {
        GgmlType::Q4K => unsafe {
            v5k::rows_vnni_k::<BlockQ4K>(cast_blocks(w), nb, kq, kb, kd, width, o, ld, pf)
        },
        GgmlType::Q5K => unsafe {
            v5k::rows_vnni_k::<BlockQ5K>(cast_blocks(w), nb, kq, kb, kd, width, o, ld, pf)
        },
        GgmlType::Q6K => unsafe {
            v5k::rows_vnni_k::<BlockQ6K>(cast_blocks(w), nb, kq, kb, kd, width, o, ld, pf)
        },
        _ => unreachable!("no VNNI multi-token kernel for {ty}"),
    }
}

#[cfg(target_arch = "x86_64")]
/// Rows per kernel call: all of them for one token group (the kernels prefetch ahead
/// themselves); with more groups, runs short enough to stay in L1 between the groups.
fn run_rows(tokens: usize, rows: usize) -> usize {
    if tokens <= MAX_TOKENS {
        rows
    } else {
        ROWS
    }
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

/// Packed rows (`super::packed`, row stride `rb`, `n` columns) against the activation
/// rows laid out in `tb`: the multi-token kernels. The caller proved the AVX2 tier and
/// that `tb` is usable for this product.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
pub(super) fn packed_tokens(
    p: Packing,
    n: usize,
    w: &[u8],
    rb: usize,
    tb: &TokenTables,
    tokens: usize,
    out: &mut [f32],
    ld: usize,
) {
    // Table groups: whole groups and a Q8_0×4 tail of 1–3 blocks.
    let (nb, ng) = (n / 32, (n / 32).div_ceil(4));
    let run = run_rows(tokens, w.len() / rb);
    let pf = prefetch_bytes();
    let kernels = super::widths_x86::packed(p);
    for (ri, wr) in w.chunks(run * rb).enumerate() {
        for (g8, qg) in tb.yq.chunks(MAX_TOKENS * nb).enumerate() {
            let width = qg.len() / nb;
            let at = g8 * ng * MAX_TOKENS;
            let gy = &tb.gt[at * 8..(at + ng * width) * 8];
            let go = tb.go.get(at..at + ng * width).unwrap_or(&[]);
            let o = &mut out[g8 * MAX_TOKENS * ld + ri * run..];
            // SAFETY: the caller proved AVX2+FMA+F16C (and no -128 activation for
            // Q8_0x4); the kernels bounds-check their slices.
            unsafe { kernels[width - 1](wr, nb, qg, gy, go, o, ld, pf) }
        }
    }
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
    let kernels = super::widths_x86::k_group(ty);
    for r in 0..w.len() / rb {
        prefetch_range(w, r * rb + pf, rb);
        let wr = &w[r * rb..(r + 1) * rb];
        for (g, gy) in a.chunks(MAX_TOKENS * ab).enumerate() {
            let o = &mut out[g * MAX_TOKENS * ld + r..];
            // SAFETY: the caller (`multi`) proved the AVX2 tier; the kernels
            // bounds-check their slices.
            unsafe { kernels[gy.len() / ab - 1](wr, nb, gy, o, ld) }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
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
    tables: Option<&TokenTables>,
) -> bool {
    use super::table::{kernels, TOKENS};
    if let Some(tb) = tables {
        // Only the product check: these kernels read the activations in place.
        tb.usable_for(ty, None, n, a, tokens);
    }
    let k = kernels(t.0, ty);
    let Some(row) = k.rows else { return false };
    if k.tokens.is_none() && k.tile.is_none() {
        return false;
    }
    let rows = w.len() / rb;
    let arow = |i: usize| &a[i * ab..(i + 1) * ab];
    let wrow = |r: usize| &w[r * rb..(r + 1) * rb];
    let pf = prefetch_bytes();
    let mut r = 0;
    // SAFETY (every kernel call): `t` proves the tier the table handed the kernels out
    // for; the kernels bounds-check their slices (`out[i·ld + r..]` holds the token rows
    // they write, checked by `tokens_checked`).
    if let Some(tile) = k.tile {
        while r + 2 <= rows {
            prefetch_range(w, r * rb + pf, 2 * rb);
            let (w0, w1) = (wrow(r), wrow(r + 1));
            let mut i = 0;
            while i + 2 <= tokens {
                let o = unsafe { tile(w0, w1, arow(i), arow(i + 1)) };
                out[i * ld + r] = o[0];
                out[(i + 1) * ld + r] = o[1];
                out[i * ld + r + 1] = o[2];
                out[(i + 1) * ld + r + 1] = o[3];
                i += 2;
            }
            if i < tokens {
                let both = &w[r * rb..(r + 2) * rb];
                unsafe { row(both, arow(i), &mut out[i * ld + r..i * ld + r + 2]) };
            }
            r += 2;
        }
    }
    for r in r..rows {
        prefetch_range(w, r * rb + pf, rb);
        let wr = wrow(r);
        let mut i = 0;
        if let Some(tk) = k.tokens {
            while i + TOKENS <= tokens {
                let a4: [&[u8]; TOKENS] = std::array::from_fn(|j| arow(i + j));
                unsafe { tk(wr, a4, &mut out[i * ld + r..], ld) };
                i += TOKENS;
            }
        }
        for i in i..tokens {
            unsafe { row(wr, arow(i), &mut out[i * ld + r..i * ld + r + 1]) };
        }
    }
    true
}
