//! Safe entry points for the quantized dot products and activation quantizers: check the
//! lengths, then dispatch once on an instruction-set tier.
//!
//! Kernels per tier (a format missing at a tier uses the next lower one's):
//!
//! | format · activation | avx512-vnni | avx512 (no VNNI) | avx2 | i8mm | dotprod | neon |
//! |---|---|---|---|---|---|---|
//! | Q8_0 · Q8_0 | 2 blocks/zmm | (avx2) | yes | (dotprod) | `sdot` | `smull` |
//! | Q4_0, Q5_0 · Q8_0 | 2 blocks/zmm | (avx2) | yes | (dotprod) | `sdot` | `smull` |
//! | Q4_1, Q5_1 · Q8_1 | 1 block/ymm, `vpdpbusd` | (avx2) | yes | (dotprod) | `sdot` | `smull` |
//! | Q4_K, Q5_K, Q6_K · Q8_K | 64 quants/zmm, `vpdpwssd` | (avx2) | yes | (dotprod) | `sdot` | `smull` |
//! | quantize f32 → Q8_0, Q8_1, Q8_K | (avx2) | (avx2) | byte-identical to scalar | (neon) | (neon) | byte-identical |
//! | dequantize F16, Q8_0, Q4_0, Q4_1, Q5_1 → f32 | (avx2) | (avx2) | bit-identical to scalar | (neon) | (neon) | bit-identical |
//!
//! Every other format uses its scalar reference at every tier. The kernels of a (tier,
//! format) come from one table, [`super::table`].

use super::Isa;
use crate::formats::{
    cast_blocks, cast_blocks_mut, q4_0, q4_1, q4_k, q5_0, q5_1, q5_k, q6_k, q8_0, q8_1, q8_k,
    vec_dot_type, Block,
};
use crate::GgmlType;

/// A tier this CPU is known to support: the only way to reach the `unsafe` kernels.
#[derive(Clone, Copy)]
pub(super) struct Proven(pub(super) Isa);

impl Proven {
    /// The process tier (`isa()` only ever returns a supported tier).
    pub(super) fn current() -> Proven {
        Proven(super::isa())
    }

    pub(super) fn checked(isa: Isa) -> Proven {
        assert!(
            isa.supported(),
            "ISA tier {} is not supported by this CPU",
            isa.name()
        );
        Proven(isa)
    }
}

/// Bytes of a row of `n` elements of `ty`; panics unless `n` is whole blocks.
pub(super) fn row_bytes(what: &str, ty: GgmlType, n: usize) -> usize {
    match ty.row_bytes(n as u64) {
        Some(b) => b as usize,
        None => panic!(
            "{what}: {n} elements is not a whole number of {ty} blocks of {}",
            ty.block_size()
        ),
    }
}

/// `out[r] = vec_dot(ty, n, row r of w_rows, a)` for `r < out.len()`, with the kernels of
/// this process's tier ([`super::isa`]). `w_rows` holds exactly `out.len()` consecutive
/// rows of `n` elements of `ty` (row stride `ty.row_bytes(n)`), `a` one row of
/// [`vec_dot_type`]`(ty)`. Panics on any length mismatch.
///
/// The tier (and, for Q8_0, the activation scan for `-128`) is settled once per call and
/// the weights are prefetched a few KiB ahead across rows, so call it on chunks of rows
/// rather than row by row.
pub fn vec_dot_rows(ty: GgmlType, n: usize, w_rows: &[u8], a: &[u8], out: &mut [f32]) {
    rows_checked(Proven::current(), ty, n, w_rows, a, out)
}

/// [`vec_dot_rows`] with an explicit tier (for tests and benchmarks). Panics if the CPU
/// does not support `isa`.
pub fn vec_dot_rows_with(
    isa: Isa,
    ty: GgmlType,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    out: &mut [f32],
) {
    rows_checked(Proven::checked(isa), ty, n, w_rows, a, out)
}

/// `vec_dot(ty, n, w, a)` computed with the kernels of tier `isa` (scalar reference for
/// [`Isa::Scalar`]). Panics if the CPU does not support `isa` or on a length mismatch.
pub fn vec_dot_with(isa: Isa, ty: GgmlType, n: usize, w: &[u8], a: &[u8]) -> f32 {
    let mut out = [0.0f32];
    rows_checked(Proven::checked(isa), ty, n, w, a, &mut out);
    out[0]
}

/// `quantize_row(ty, src, dst)` computed with the kernels of tier `isa` (scalar reference
/// for [`Isa::Scalar`]). Panics if the CPU does not support `isa` or on a length mismatch.
pub fn quantize_row_with(isa: Isa, ty: GgmlType, src: &[f32], dst: &mut [u8]) {
    let t = Proven::checked(isa);
    let want = row_bytes("quantize_row_with", ty, src.len());
    assert_eq!(
        dst.len(),
        want,
        "quantize_row_with: a {ty} row of {} elements is {want} bytes",
        src.len()
    );
    if !quantize_simd(t, ty, src, dst) {
        match ty {
            GgmlType::Q8_0 => q8_0::quantize(src, cast_blocks_mut(dst)),
            GgmlType::Q8_1 => q8_1::quantize(src, cast_blocks_mut(dst)),
            GgmlType::Q8K => q8_k::quantize(src, cast_blocks_mut(dst)),
            // No SIMD quantizer at any tier: `quantize_row` is the scalar reference.
            _ => crate::formats::quantize_row(ty, src, dst),
        }
    }
}

/// `dequantize_row(ty, src, dst)` computed with the kernels of tier `isa` (scalar
/// reference for [`Isa::Scalar`]). Panics if the CPU does not support `isa` or on a length
/// mismatch.
pub fn dequantize_row_with(isa: Isa, ty: GgmlType, src: &[u8], dst: &mut [f32]) {
    let t = Proven::checked(isa);
    let want = row_bytes("dequantize_row_with", ty, dst.len());
    assert_eq!(
        src.len(),
        want,
        "dequantize_row_with: a {ty} row of {} elements is {want} bytes",
        dst.len()
    );
    if !dequantize_simd(t, ty, src, dst) {
        crate::formats::dequantize_scalar(ty, src, dst);
    }
}

/// Hook for `formats::dequantize_row` (lengths already checked): whether a SIMD
/// dequantizer of this process's tier wrote `dst`.
pub(crate) fn try_dequantize(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> bool {
    dequantize_simd(Proven::current(), ty, src, dst)
}

/// Hook for `formats::vec_dot` (lengths already checked): the SIMD result at this
/// process's tier, or `None` where the scalar reference is used.
pub(crate) fn try_vec_dot(ty: GgmlType, w: &[u8], a: &[u8]) -> Option<f32> {
    let t = Proven::current();
    if t.0 == Isa::Scalar {
        return None;
    }
    let mut out = [0.0f32];
    simd_rows(t, ty, w, a, &mut out).then_some(out[0])
}

/// Hook for `formats::quantize_row` (lengths already checked): whether a SIMD quantizer of
/// this process's tier wrote `dst`.
pub(crate) fn try_quantize(ty: GgmlType, src: &[f32], dst: &mut [u8]) -> bool {
    quantize_simd(Proven::current(), ty, src, dst)
}

pub(super) fn rows_checked(
    t: Proven,
    ty: GgmlType,
    n: usize,
    w_rows: &[u8],
    a: &[u8],
    out: &mut [f32],
) {
    let rb = row_bytes("vec_dot_rows (weights)", ty, n);
    let ab = row_bytes("vec_dot_rows (activations)", vec_dot_type(ty), n);
    assert_eq!(
        w_rows.len(),
        out.len() * rb,
        "vec_dot_rows: {} rows of {n} {ty} elements are {} bytes",
        out.len(),
        out.len() * rb
    );
    assert_eq!(
        a.len(),
        ab,
        "vec_dot_rows: a {} row of {n} elements is {ab} bytes",
        vec_dot_type(ty)
    );
    if n == 0 {
        out.fill(0.0);
        return;
    }
    if simd_rows(t, ty, w_rows, a, out) {
        return;
    }
    let handled = match ty {
        GgmlType::Q8_0 => each_row(cast_blocks(w_rows), cast_blocks(a), out, q8_0::vec_dot),
        GgmlType::Q4_0 => each_row(cast_blocks(w_rows), cast_blocks(a), out, q4_0::vec_dot),
        GgmlType::Q5_0 => each_row(cast_blocks(w_rows), cast_blocks(a), out, q5_0::vec_dot),
        GgmlType::Q4_1 => each_row(cast_blocks(w_rows), cast_blocks(a), out, q4_1::vec_dot),
        GgmlType::Q5_1 => each_row(cast_blocks(w_rows), cast_blocks(a), out, q5_1::vec_dot),
        GgmlType::Q4K => each_row(cast_blocks(w_rows), cast_blocks(a), out, q4_k::vec_dot),
        GgmlType::Q5K => each_row(cast_blocks(w_rows), cast_blocks(a), out, q5_k::vec_dot),
        GgmlType::Q6K => each_row(cast_blocks(w_rows), cast_blocks(a), out, q6_k::vec_dot),
        _ => false,
    };
    if !handled {
        // No SIMD kernel at any tier: `vec_dot` is the scalar reference.
        for (o, w) in out.iter_mut().zip(w_rows.chunks_exact(rb)) {
            *o = crate::formats::vec_dot(ty, n, w, a);
        }
    }
}

/// `out[r] = f(row r, a)` over the `out.len()` rows held by `w` (whole rows, checked by
/// the caller). Always returns `true`.
#[inline]
pub(super) fn each_row<W: Block, A: Block>(
    w: &[W],
    a: &[A],
    out: &mut [f32],
    f: impl Fn(&[W], &[A]) -> f32,
) -> bool {
    if out.is_empty() {
        return true;
    }
    let nb = w.len() / out.len();
    let (rb, pf) = (std::mem::size_of_val(&w[..nb]), prefetch_bytes());
    for (r, (o, row)) in out.iter_mut().zip(w.chunks_exact(nb)).enumerate() {
        prefetch(w, r * rb + pf, rb);
        *o = f(row, a);
    }
    true
}

/// How far ahead of the row being computed to prefetch weights, in bytes. The kernels
/// compute more per byte than a plain streaming read, so the out-of-order window alone
/// keeps too few cache misses in flight; prefetching a few KiB ahead roughly doubled
/// single-thread throughput on a Sapphire Rapids VM (5.5–6 → 11–13 GB/s for Q8_0).
/// `WREN_PREFETCH=<bytes>` overrides it (0 disables) for tuning on other machines.
pub(super) fn prefetch_bytes() -> usize {
    static D: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *D.get_or_init(|| {
        std::env::var("WREN_PREFETCH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(PREFETCH_BYTES)
    })
}

const PREFETCH_BYTES: usize = 3072;

/// [`prefetch`] over raw bytes.
#[inline]
pub(super) fn prefetch_range(w: &[u8], from: usize, len: usize) {
    prefetch(w, from, len)
}

/// Hints the cache to fetch the blocks covering bytes `from .. from + len` of `w`
/// (clamped to `w`; nothing if `from` is past its end).
#[inline]
fn prefetch<W>(w: &[W], from: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = std::mem::size_of_val(w);
        if from >= bytes {
            return;
        }
        let end = (from + len).min(bytes);
        let p = w.as_ptr().cast::<u8>();
        let mut off = from;
        while off < end {
            // SAFETY: `off < size_of_val(w)`, so `p + off` is inside `w`; a prefetch never
            // faults or writes.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    p.add(off).cast(),
                )
            };
            off += 64;
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        let bytes = std::mem::size_of_val(w);
        if from >= bytes {
            return;
        }
        let end = (from + len).min(bytes);
        let p = w.as_ptr().cast::<u8>();
        let mut off = from;
        while off < end {
            // SAFETY: `off < size_of_val(w)`, so `p + off` is inside `w`; `prfm` never
            // faults or writes (`core::arch::aarch64::_prefetch` is unstable in 1.95).
            unsafe {
                core::arch::asm!(
                    "prfm pldl1keep, [{p}]",
                    p = in(reg) p.add(off),
                    options(nostack, readonly, preserves_flags)
                )
            };
            off += 64;
        }
    }
}

/// The rows kernel of tier `t` from the kernel table ([`super::table`]); `false` if `ty`
/// has none at `t` (nothing written).
fn simd_rows(t: Proven, ty: GgmlType, w: &[u8], a: &[u8], out: &mut [f32]) -> bool {
    let Some(k) = super::table::kernels(t.0, ty).rows else {
        return false;
    };
    // SAFETY: `t` proves the tier the table handed `k` out for; `k` bounds-checks.
    unsafe { k(w, a, out) };
    true
}

/// The quantizer of tier `t` from the kernel table; `false` if none (nothing written).
fn quantize_simd(t: Proven, ty: GgmlType, src: &[f32], dst: &mut [u8]) -> bool {
    let Some(k) = super::table::kernels(t.0, ty).quantize else {
        return false;
    };
    // SAFETY: `t` proves the tier the table handed `k` out for; `k` bounds-checks.
    unsafe { k(src, dst) };
    true
}

/// The dequantizer of tier `t` from the kernel table; `false` if none (nothing written).
fn dequantize_simd(t: Proven, ty: GgmlType, src: &[u8], dst: &mut [f32]) -> bool {
    let Some(k) = super::table::kernels(t.0, ty).dequantize else {
        return false;
    };
    // SAFETY: `t` proves the tier the table handed `k` out for; `k` bounds-checks.
    unsafe { k(src, dst) };
    true
}
