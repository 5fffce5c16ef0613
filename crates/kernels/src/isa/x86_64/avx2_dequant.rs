//! AVX2 (+F16C) dequantizers for the formats a KV cache is stored in (F16, Q8_0, Q4_0),
//! and for Q4_1 and Q5_1 (the exact-f32 matmul path dequantizes weight tiles).
//!
//! Bit-identical to the scalar references in `crate::formats`: f16 → f32 is exact in both,
//! and each quantized element is one exact int → f32 conversion times the block scale (a
//! single rounding, the same in both); Q4_1/Q5_1 then add the offset `m` in a second,
//! separate rounding, as the scalar `q·d + m` does (no fused multiply-add).

use std::arch::x86_64::*;

use super::avx2_quant::{bits32, f16x8};
use crate::formats::f16::F16Le;
use crate::formats::q4_0::BlockQ4_0;
use crate::formats::q4_1::BlockQ4_1;
use crate::formats::q5_1::BlockQ5_1;
use crate::formats::q8_0::BlockQ8_0;

/// `out[i] = f32(x[i])` for `i < min(x.len(), out.len())`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dequantize_f16(x: &[F16Le], out: &mut [f32]) {
    let n = x.len().min(out.len());
    let main = n - n % 8;
    let (px, po) = (x.as_ptr().cast::<u8>(), out.as_mut_ptr());
    let mut i = 0;
    while i < main {
        // SAFETY: elements i..i+8 exist in both slices (i + 8 <= main <= n); F16Le is two
        // bytes with alignment 1, so 8 of them are 16 contiguous bytes; unaligned accesses.
        unsafe {
            let h = _mm_loadu_si128(px.add(2 * i).cast());
            _mm256_storeu_ps(po.add(i), _mm256_cvtph_ps(h));
        }
        i += 8;
    }
    for j in main..n {
        out[j] = x[j].to_f32();
    }
}

/// `dequantize_row_q8_0` over `min(blocks.len(), out.len() / 32)` blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dequantize_q8_0(blocks: &[BlockQ8_0], out: &mut [f32]) {
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(32)) {
        let d = f16x8(b.d);
        let q = b.qs.as_ptr();
        for k in 0..4 {
            // SAFETY: `qs` holds 32 bytes, so bytes 8k..8k+8 are readable; `y` holds 32
            // floats, so 8k..8k+8 are writable; unaligned accesses.
            unsafe {
                let q8 = _mm_loadl_epi64(q.add(8 * k).cast());
                let f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8));
                _mm256_storeu_ps(y.as_mut_ptr().add(8 * k), _mm256_mul_ps(f, d));
            }
        }
    }
}

/// `dequantize_row_q4_0` over `min(blocks.len(), out.len() / 32)` blocks: element `j < 16`
/// is the low nibble of `qs[j]`, element `j + 16` the high one, both minus 8.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dequantize_q4_0(blocks: &[BlockQ4_0], out: &mut [f32]) {
    let low = _mm_set1_epi8(0x0F);
    let eight = _mm_set1_epi8(8);
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(32)) {
        let d = f16x8(b.d);
        // SAFETY: `qs` holds exactly 16 readable bytes; unaligned load.
        let raw = unsafe { _mm_loadu_si128(b.qs.as_ptr().cast()) };
        let lo = _mm_sub_epi8(_mm_and_si128(raw, low), eight);
        let hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), low), eight);
        let halves = [lo, hi];
        for (h, v) in halves.iter().enumerate() {
            let parts = [*v, _mm_srli_si128(*v, 8)];
            for (k, p) in parts.iter().enumerate() {
                let f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(*p));
                // SAFETY: `y` holds 32 floats; 16h + 8k + 8 <= 32; unaligned store.
                unsafe {
                    _mm256_storeu_ps(y.as_mut_ptr().add(16 * h + 8 * k), _mm256_mul_ps(f, d))
                };
            }
        }
    }
}

/// `q·d + m` for a block's 32 unsigned quants `q` (bytes, element order) into `y`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
fn offset_block(q: __m256i, d: F16Le, m: F16Le, y: &mut [f32]) {
    let (d, m) = (f16x8(d), f16x8(m));
    let y = &mut y[..32];
    let halves = [_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)];
    for (h, v) in halves.iter().enumerate() {
        for (k, p) in [*v, _mm_srli_si128(*v, 8)].iter().enumerate() {
            let f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(*p));
            // Two roundings, as the scalar `q as f32 * d + m` (no FMA).
            let r = _mm256_add_ps(_mm256_mul_ps(f, d), m);
            // SAFETY: `y` holds 32 floats; 16h + 8k + 8 <= 32; unaligned store.
            unsafe { _mm256_storeu_ps(y.as_mut_ptr().add(16 * h + 8 * k), r) };
        }
    }
}

/// `dequantize_row_q4_1` over `min(blocks.len(), out.len() / 32)` blocks: nibbles as Q4_0,
/// `q·d + m`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dequantize_q4_1(blocks: &[BlockQ4_1], out: &mut [f32]) {
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(32)) {
        offset_block(super::avx2_quant::nibbles32(&b.qs), b.d, b.m, y);
    }
}

/// `dequantize_row_q5_1` over `min(blocks.len(), out.len() / 32)` blocks: bits as Q5_0,
/// `q·d + m`.
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn dequantize_q5_1(blocks: &[BlockQ5_1], out: &mut [f32]) {
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(32)) {
        let hi = _mm256_and_si256(bits32(b.qh), _mm256_set1_epi8(0x10));
        let q = _mm256_or_si256(super::avx2_quant::nibbles32(&b.qs), hi);
        offset_block(q, b.d, b.m, y);
    }
}
