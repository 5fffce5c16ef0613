//! The aarch64 entries of the kernel table ([`super::table`]): NEON and dotprod for every
//! format's rows and 4-token kernels (IQ4_NL and IQ4_XS included, `aarch64::iq4`), i8mm
//! 2×2 tiles for the 32-element formats, NEON
//! (de)quantizers at every ARM tier.

use super::quant::each_row;
use super::table::{Kernels, TileDot, TOKENS};
use crate::formats::{cast_blocks, cast_blocks_mut};
use crate::formats::{iq4_nl::BlockIq4Nl, iq4_xs::BlockIq4Xs};
use crate::formats::{q4_0::BlockQ4_0, q4_1::BlockQ4_1, q5_0::BlockQ5_0, q5_1::BlockQ5_1};
use crate::formats::{q4_k::BlockQ4K, q5_k::BlockQ5K, q6_k::BlockQ6K};
use crate::formats::{q8_0::BlockQ8_0, q8_1::BlockQ8_1, q8_k::BlockQ8K};
use crate::isa::aarch64::{dequant as dq, dot32, i8mm, kquants, quantize as qz};
use crate::isa::Isa;
use crate::GgmlType;

// Byte-level adapters: each is `unsafe` only for its kernel's CPU-feature contract.
unsafe fn row_neon<W: dot32::W32>(w: &[u8], a: &[u8], out: &mut [f32]) {
    // SAFETY: NEON is the aarch64 baseline.
    each_row(cast_blocks::<W>(w), cast_blocks(a), out, |w, a| unsafe {
        dot32::row_neon(w, a)
    });
}
unsafe fn row_sdot<W: dot32::W32>(w: &[u8], a: &[u8], out: &mut [f32]) {
    // SAFETY: the table hands this out only for a proven dotprod tier.
    each_row(cast_blocks::<W>(w), cast_blocks(a), out, |w, a| unsafe {
        dot32::row_sdot(w, a)
    });
}
unsafe fn k_neon<K: kquants::KBlock>(w: &[u8], a: &[u8], out: &mut [f32]) {
    // SAFETY: NEON is the aarch64 baseline.
    each_row(cast_blocks::<K>(w), cast_blocks(a), out, |w, a| unsafe {
        kquants::row_neon(w, a)
    });
}
unsafe fn k_sdot<K: kquants::KBlock>(w: &[u8], a: &[u8], out: &mut [f32]) {
    // SAFETY: only for a proven dotprod tier.
    each_row(cast_blocks::<K>(w), cast_blocks(a), out, |w, a| unsafe {
        kquants::row_sdot(w, a)
    });
}
unsafe fn ktok_neon<K: kquants::KBlock>(w: &[u8], a: [&[u8]; TOKENS], o: &mut [f32], ld: usize) {
    let ys = a.map(cast_blocks::<BlockQ8K>);
    // SAFETY: NEON is the aarch64 baseline.
    unsafe { kquants::tokens_neon::<K, TOKENS>(cast_blocks(w), ys, o, ld) }
}
unsafe fn ktok_sdot<K: kquants::KBlock>(w: &[u8], a: [&[u8]; TOKENS], o: &mut [f32], ld: usize) {
    let ys = a.map(cast_blocks::<BlockQ8K>);
    // SAFETY: only for a proven dotprod tier.
    unsafe { kquants::tokens_sdot::<K, TOKENS>(cast_blocks(w), ys, o, ld) }
}
unsafe fn tok_neon<W: dot32::W32>(w: &[u8], a: [&[u8]; TOKENS], o: &mut [f32], ld: usize) {
    let ys = a.map(cast_blocks::<W::Act>);
    // SAFETY: NEON is the aarch64 baseline.
    unsafe { dot32::tokens_neon::<W, TOKENS>(cast_blocks(w), ys, o, ld) }
}
unsafe fn tok_sdot<W: dot32::W32>(w: &[u8], a: [&[u8]; TOKENS], o: &mut [f32], ld: usize) {
    let ys = a.map(cast_blocks::<W::Act>);
    // SAFETY: only for a proven dotprod tier.
    unsafe { dot32::tokens_sdot::<W, TOKENS>(cast_blocks(w), ys, o, ld) }
}
unsafe fn tile<W: dot32::W32>(w0: &[u8], w1: &[u8], a0: &[u8], a1: &[u8]) -> [f32; 4] {
    let (w0, w1) = (cast_blocks::<W>(w0), cast_blocks::<W>(w1));
    // SAFETY: only for a proven i8mm tier.
    unsafe { i8mm::rows2x2::<W>(w0, w1, cast_blocks(a0), cast_blocks(a1)) }
}
unsafe fn q8_0(s: &[f32], d: &mut [u8]) {
    // SAFETY: NEON is the aarch64 baseline.
    unsafe { qz::quantize_row_q8_0(s, cast_blocks_mut::<BlockQ8_0>(d)) }
}
unsafe fn q8_1(s: &[f32], d: &mut [u8]) {
    // SAFETY: NEON is the aarch64 baseline.
    unsafe { qz::quantize_row_q8_1(s, cast_blocks_mut::<BlockQ8_1>(d)) }
}
unsafe fn q8_k(s: &[f32], d: &mut [u8]) {
    // SAFETY: NEON is the aarch64 baseline.
    unsafe { qz::quantize_row_q8_k(s, cast_blocks_mut::<BlockQ8K>(d)) }
}
unsafe fn f16(s: &[u8], d: &mut [f32]) {
    // SAFETY: NEON is the aarch64 baseline.
    unsafe { dq::dequantize_f16(cast_blocks(s), d) }
}
unsafe fn dq8_0(s: &[u8], d: &mut [f32]) {
    // SAFETY: NEON is the aarch64 baseline.
    unsafe { dq::dequantize_q8_0(cast_blocks(s), d) }
}
unsafe fn dq4_0(s: &[u8], d: &mut [f32]) {
    // SAFETY: NEON is the aarch64 baseline.
    unsafe { dq::dequantize_q4_0(cast_blocks(s), d) }
}
unsafe fn dq4_1(s: &[u8], d: &mut [f32]) {
    // SAFETY: NEON is the aarch64 baseline.
    unsafe { dq::dequantize_q4_1(cast_blocks(s), d) }
}
unsafe fn dq5_1(s: &[u8], d: &mut [f32]) {
    // SAFETY: NEON is the aarch64 baseline.
    unsafe { dq::dequantize_q5_1(cast_blocks(s), d) }
}

/// The 32-element formats' row, token and tile kernels at tier `t`.
fn k32<W: dot32::W32 + 'static>(t: Isa) -> Kernels {
    let sdot = t >= Isa::Dotprod;
    Kernels {
        rows: Some(if sdot { row_sdot::<W> } else { row_neon::<W> }),
        tokens: Some(if sdot { tok_sdot::<W> } else { tok_neon::<W> }),
        tile: (t >= Isa::I8mm).then_some(tile::<W> as TileDot),
        ..Kernels::default()
    }
}

fn kq<K: kquants::KBlock + 'static>(t: Isa) -> Kernels {
    let sdot = t >= Isa::Dotprod;
    Kernels {
        rows: Some(if sdot { k_sdot::<K> } else { k_neon::<K> }),
        tokens: Some(if sdot { ktok_sdot::<K> } else { ktok_neon::<K> }),
        ..Kernels::default()
    }
}

pub(super) fn kernels(t: Isa, ty: GgmlType) -> Kernels {
    match ty {
        GgmlType::Q8_0 => Kernels {
            quantize: Some(q8_0),
            dequantize: Some(dq8_0),
            ..k32::<BlockQ8_0>(t)
        },
        GgmlType::Q4_0 => Kernels {
            dequantize: Some(dq4_0),
            ..k32::<BlockQ4_0>(t)
        },
        GgmlType::Q5_0 => k32::<BlockQ5_0>(t),
        GgmlType::Q4_1 => Kernels {
            dequantize: Some(dq4_1),
            ..k32::<BlockQ4_1>(t)
        },
        GgmlType::Q5_1 => Kernels {
            dequantize: Some(dq5_1),
            ..k32::<BlockQ5_1>(t)
        },
        GgmlType::Q4K => kq::<BlockQ4K>(t),
        GgmlType::Q5K => kq::<BlockQ5K>(t),
        GgmlType::Q6K => kq::<BlockQ6K>(t),
        GgmlType::IQ4NL => k32::<BlockIq4Nl>(t),
        GgmlType::IQ4XS => kq::<BlockIq4Xs>(t),
        GgmlType::Q8_1 => Kernels {
            quantize: Some(q8_1),
            ..Kernels::default()
        },
        GgmlType::Q8K => Kernels {
            quantize: Some(q8_k),
            ..Kernels::default()
        },
        GgmlType::F16 => Kernels {
            dequantize: Some(f16),
            ..Kernels::default()
        },
        _ => Kernels::default(),
    }
}
