//! The kernel table: for one (tier, format) the kernels of each layout (per row, a few
//! tokens per weight row, a 2×2 row×token tile) and the activation (de)quantizers, as
//! plain function pointers over bytes. Chosen once per call by [`kernels`]; the safe
//! drivers in [`super::quant`] and [`super::multi`] only walk rows and tokens.
//!
//! The aarch64 tiers are served from this table. The x86-64 kernels are still reached
//! through the older per-format `match`es in `quant.rs` / `multi.rs` / `packed.rs`, whose
//! activation-table layouts (`TokenTables`) do not fit a single function signature yet.

use crate::GgmlType;

/// `Σ` over one weight row (bytes of whole blocks) times one activation row.
pub type RowDot = unsafe fn(w: &[u8], a: &[u8]) -> f32;
/// One weight row times [`TOKENS`] activation rows, `out[j·ld]` for token `j`.
pub type TokensDot = unsafe fn(w: &[u8], a: [&[u8]; TOKENS], out: &mut [f32], ld: usize);
/// Two weight rows times two activation rows: `[w0·a0, w0·a1, w1·a0, w1·a1]`.
pub type TileDot = unsafe fn(w0: &[u8], w1: &[u8], a0: &[u8], a1: &[u8]) -> [f32; 4];
/// f32 → activation blocks.
pub type Quantize = unsafe fn(src: &[f32], dst: &mut [u8]);
/// Blocks → f32.
pub type Dequantize = unsafe fn(src: &[u8], dst: &mut [f32]);

/// Tokens per [`TokensDot`] call.
pub const TOKENS: usize = 4;

/// The kernels of one (tier, format); `None` where the scalar twin serves.
///
/// # Safety contract
/// A `Kernels` value is only handed out by [`kernels`] for a tier the caller has proven
/// (`quant::Proven`), which is what every pointer's `unsafe` requires; the kernels
/// bounds-check their slices themselves.
#[derive(Clone, Copy, Default)]
pub struct Kernels {
    pub row: Option<RowDot>,
    pub tokens: Option<TokensDot>,
    pub tile: Option<TileDot>,
    pub quantize: Option<Quantize>,
    pub dequantize: Option<Dequantize>,
}

/// The kernels of tier `t` for format `ty` (all `None` for a tier without a table).
pub fn kernels(t: super::Isa, ty: GgmlType) -> Kernels {
    #[cfg(target_arch = "aarch64")]
    if t.is_arm() {
        return arm::kernels(t, ty);
    }
    let _ = (t, ty);
    Kernels::default()
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::{Kernels, TOKENS};
    use crate::formats::{cast_blocks, cast_blocks_mut};
    use crate::formats::{q4_0::BlockQ4_0, q4_1::BlockQ4_1, q5_0::BlockQ5_0, q5_1::BlockQ5_1};
    use crate::formats::{q4_k::BlockQ4K, q5_k::BlockQ5K, q6_k::BlockQ6K};
    use crate::formats::{q8_0::BlockQ8_0, q8_1::BlockQ8_1, q8_k::BlockQ8K};
    use crate::isa::aarch64::{dequant as dq, dot32, i8mm, kquants, quantize as qz};
    use crate::isa::Isa;
    use crate::GgmlType;

    // Byte-level adapters: each is `unsafe` only for its kernel's CPU-feature contract.
    unsafe fn row_neon<W: dot32::W32>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: NEON is the aarch64 baseline.
        unsafe { dot32::row_neon::<W>(cast_blocks(w), cast_blocks(a)) }
    }
    unsafe fn row_sdot<W: dot32::W32>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: the table hands this out only for a proven dotprod tier.
        unsafe { dot32::row_sdot::<W>(cast_blocks(w), cast_blocks(a)) }
    }
    unsafe fn k_neon<K: kquants::KBlock>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: NEON is the aarch64 baseline.
        unsafe { kquants::row_neon::<K>(cast_blocks(w), cast_blocks(a)) }
    }
    unsafe fn k_sdot<K: kquants::KBlock>(w: &[u8], a: &[u8]) -> f32 {
        // SAFETY: only for a proven dotprod tier.
        unsafe { kquants::row_sdot::<K>(cast_blocks(w), cast_blocks(a)) }
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
            row: Some(if sdot { row_sdot::<W> } else { row_neon::<W> }),
            tokens: Some(if sdot { tok_sdot::<W> } else { tok_neon::<W> }),
            tile: (t >= Isa::I8mm).then_some(tile::<W> as super::TileDot),
            ..Kernels::default()
        }
    }

    fn kq<K: kquants::KBlock + 'static>(t: Isa) -> Kernels {
        Kernels {
            row: Some(if t >= Isa::Dotprod {
                k_sdot::<K>
            } else {
                k_neon::<K>
            }),
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
}
