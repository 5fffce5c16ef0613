//! ggml tensor formats: block layouts, scalar reference (de)quantization and dot products.
//!
//! One module per format. Every quantized format has a `#[repr(C)]` block struct of
//! alignment 1 (so a `&[u8]` taken from an mmap at any offset can be viewed as `&[Block]`,
//! see [`cast_blocks`]) and three scalar reference functions that mirror ggml:
//! `dequantize` (`dequantize_row_*`), `quantize` (`quantize_row_*_ref`) and `vec_dot`
//! (`ggml_vec_dot_*_generic`, against the activation format from [`vec_dot_type`]).
//!
//! The byte-level entry points are [`dequantize_row`], [`quantize_row`], [`vec_dot`] and
//! [`vec_dot_type`], which dispatch on [`GgmlType`].

// Index loops mirror ggml's reference code, which keeps them easy to check against it.
#![allow(clippy::needless_range_loop)]
// `usize::is_multiple_of` is newer than the workspace MSRV (1.80).
#![allow(clippy::manual_is_multiple_of)]

use crate::GgmlType;

pub mod bf16;
pub mod f16;
pub mod f32;
pub mod iq4_nl;
pub mod iq4_xs;
pub(crate) mod k_common;
pub mod q2_k;
pub mod q3_k;
pub mod q4_0;
pub mod q4_1;
pub mod q4_k;
pub mod q5_0;
pub mod q5_0x4;
pub mod q5_1;
pub mod q5_k;
pub mod q6_k;
pub mod q8_0;
pub mod q8_0x4;
pub mod q8_1;
pub mod q8_k;

/// A ggml block (or, for the float formats, a single element) as stored in a GGUF file.
///
/// # Safety
///
/// Implementors must be `#[repr(C)]` or `#[repr(transparent)]` types built only from `u8`
/// (arrays of `u8`, or other such types), so that they have alignment 1, no padding, no
/// invalid bit patterns, and `size_of::<Self>() == TYPE.type_size()`.
pub unsafe trait Block: Copy + 'static {
    /// The ggml type this block encodes.
    const TYPE: GgmlType;
}

/// Views `bytes` as a slice of blocks. Panics if `bytes.len()` is not a whole number of blocks.
pub fn cast_blocks<B: Block>(bytes: &[u8]) -> &[B] {
    let size = std::mem::size_of::<B>();
    assert!(std::mem::align_of::<B>() == 1 && size > 0);
    assert!(
        bytes.len() % size == 0,
        "{} bytes are not a whole number of {}-byte {} blocks",
        bytes.len(),
        size,
        B::TYPE
    );
    // SAFETY: `B: Block` guarantees alignment 1 (so any pointer is aligned), no padding and
    // that every bit pattern is a valid `B`. The new slice covers exactly `bytes.len()` bytes
    // of the same allocation and borrows `bytes` for its lifetime.
    unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<B>(), bytes.len() / size) }
}

/// Mutable version of [`cast_blocks`].
pub fn cast_blocks_mut<B: Block>(bytes: &mut [u8]) -> &mut [B] {
    let size = std::mem::size_of::<B>();
    assert!(std::mem::align_of::<B>() == 1 && size > 0);
    assert!(
        bytes.len() % size == 0,
        "{} bytes are not a whole number of {}-byte {} blocks",
        bytes.len(),
        size,
        B::TYPE
    );
    // SAFETY: as in `cast_blocks`; additionally every bit pattern written through a `B` is a
    // valid `u8` sequence, and the exclusive borrow of `bytes` is moved into the result.
    unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<B>(), bytes.len() / size) }
}

/// Panics with a clear message unless `bytes` is exactly a row of `n` elements of `ty`.
fn check_row(what: &str, ty: GgmlType, n: usize, bytes: usize) {
    match ty.row_bytes(n as u64) {
        Some(want) if want == bytes as u64 => {}
        Some(want) => panic!("{what}: a {ty} row of {n} elements is {want} bytes, got {bytes}"),
        None => panic!(
            "{what}: {n} elements is not a whole number of {ty} blocks of {}",
            ty.block_size()
        ),
    }
}

/// Dequantizes one row: `src` holds `dst.len()` elements of type `ty`.
///
/// Panics unless `src.len() == ty.row_bytes(dst.len())`.
pub fn dequantize_row(ty: GgmlType, src: &[u8], dst: &mut [f32]) {
    check_row("dequantize_row", ty, dst.len(), src.len());
    // SIMD dequantizers of the process's ISA tier (bit-identical to the scalar ones).
    if crate::isa::quant::try_dequantize(ty, src, dst) {
        return;
    }
    dequantize_scalar(ty, src, dst);
}

/// The scalar references behind [`dequantize_row`] (lengths already checked).
pub(crate) fn dequantize_scalar(ty: GgmlType, src: &[u8], dst: &mut [f32]) {
    match ty {
        GgmlType::F32 => f32::dequantize(cast_blocks(src), dst),
        GgmlType::F16 => f16::dequantize(cast_blocks(src), dst),
        GgmlType::BF16 => bf16::dequantize(cast_blocks(src), dst),
        GgmlType::Q4_0 => q4_0::dequantize(cast_blocks(src), dst),
        GgmlType::Q4_1 => q4_1::dequantize(cast_blocks(src), dst),
        GgmlType::Q5_0 => q5_0::dequantize(cast_blocks(src), dst),
        GgmlType::Q5_1 => q5_1::dequantize(cast_blocks(src), dst),
        GgmlType::Q8_0 => q8_0::dequantize(cast_blocks(src), dst),
        GgmlType::Q8_1 => q8_1::dequantize(cast_blocks(src), dst),
        GgmlType::Q2K => q2_k::dequantize(cast_blocks(src), dst),
        GgmlType::Q3K => q3_k::dequantize(cast_blocks(src), dst),
        GgmlType::Q4K => q4_k::dequantize(cast_blocks(src), dst),
        GgmlType::Q5K => q5_k::dequantize(cast_blocks(src), dst),
        GgmlType::Q6K => q6_k::dequantize(cast_blocks(src), dst),
        GgmlType::Q8K => q8_k::dequantize(cast_blocks(src), dst),
        GgmlType::IQ4NL => iq4_nl::dequantize(cast_blocks(src), dst),
        GgmlType::IQ4XS => iq4_xs::dequantize(cast_blocks(src), dst),
    }
}

/// Quantizes one row of `src.len()` elements to `ty` (ggml's `quantize_row_*_ref`).
///
/// Panics unless `dst.len() == ty.row_bytes(src.len())`.
pub fn quantize_row(ty: GgmlType, src: &[f32], dst: &mut [u8]) {
    check_row("quantize_row", ty, src.len(), dst.len());
    // SIMD quantizers of the process's ISA tier (byte-identical to the scalar ones below).
    if crate::isa::quant::try_quantize(ty, src, dst) {
        return;
    }
    match ty {
        GgmlType::F32 => f32::quantize(src, cast_blocks_mut(dst)),
        GgmlType::F16 => f16::quantize(src, cast_blocks_mut(dst)),
        GgmlType::BF16 => bf16::quantize(src, cast_blocks_mut(dst)),
        GgmlType::Q4_0 => q4_0::quantize(src, cast_blocks_mut(dst)),
        GgmlType::Q4_1 => q4_1::quantize(src, cast_blocks_mut(dst)),
        GgmlType::Q5_0 => q5_0::quantize(src, cast_blocks_mut(dst)),
        GgmlType::Q5_1 => q5_1::quantize(src, cast_blocks_mut(dst)),
        GgmlType::Q8_0 => q8_0::quantize(src, cast_blocks_mut(dst)),
        GgmlType::Q8_1 => q8_1::quantize(src, cast_blocks_mut(dst)),
        GgmlType::Q2K => q2_k::quantize(src, cast_blocks_mut(dst)),
        GgmlType::Q3K => q3_k::quantize(src, cast_blocks_mut(dst)),
        GgmlType::Q4K => q4_k::quantize(src, cast_blocks_mut(dst)),
        GgmlType::Q5K => q5_k::quantize(src, cast_blocks_mut(dst)),
        GgmlType::Q6K => q6_k::quantize(src, cast_blocks_mut(dst)),
        GgmlType::Q8K => q8_k::quantize(src, cast_blocks_mut(dst)),
        GgmlType::IQ4NL => iq4_nl::quantize(src, cast_blocks_mut(dst)),
        GgmlType::IQ4XS => iq4_xs::quantize(src, cast_blocks_mut(dst)),
    }
}

/// The activation format ggml's CPU backend pairs with weights of type `ty`
/// (`type_traits_cpu[ty].vec_dot_type`).
///
/// Q8_1 and Q8_K are activation-only formats in ggml (no `vec_dot` of their own); wren pairs
/// each with itself so that [`vec_dot`] is total.
pub fn vec_dot_type(ty: GgmlType) -> GgmlType {
    match ty {
        GgmlType::F32 => GgmlType::F32,
        GgmlType::F16 => GgmlType::F16,
        GgmlType::BF16 => GgmlType::BF16,
        GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 | GgmlType::IQ4NL => GgmlType::Q8_0,
        GgmlType::Q4_1 | GgmlType::Q5_1 | GgmlType::Q8_1 => GgmlType::Q8_1,
        GgmlType::Q2K | GgmlType::Q3K | GgmlType::Q4K => GgmlType::Q8K,
        GgmlType::Q5K | GgmlType::Q6K | GgmlType::Q8K | GgmlType::IQ4XS => GgmlType::Q8K,
    }
}

/// Dot product of one weight row `w` (`n` elements of `ty`) with one activation row `a`
/// (`n` elements already quantized to [`vec_dot_type`]`(ty)`).
///
/// Panics unless both byte lengths match `n`.
pub fn vec_dot(ty: GgmlType, n: usize, w: &[u8], a: &[u8]) -> f32 {
    check_row("vec_dot (weights)", ty, n, w.len());
    check_row("vec_dot (activations)", vec_dot_type(ty), n, a.len());
    // SIMD kernels of the process's ISA tier, where the format has one (same integer sums,
    // float summation order differs); otherwise the scalar references below.
    if let Some(s) = crate::isa::quant::try_vec_dot(ty, w, a) {
        return s;
    }
    match ty {
        GgmlType::F32 => f32::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::F16 => f16::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::BF16 => bf16::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q4_0 => q4_0::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q4_1 => q4_1::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q5_0 => q5_0::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q5_1 => q5_1::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q8_0 => q8_0::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q8_1 => q8_1::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q2K => q2_k::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q3K => q3_k::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q4K => q4_k::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q5K => q5_k::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q6K => q6_k::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::Q8K => q8_k::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::IQ4NL => iq4_nl::vec_dot(cast_blocks(w), cast_blocks(a)),
        GgmlType::IQ4XS => iq4_xs::vec_dot(cast_blocks(w), cast_blocks(a)),
    }
}
