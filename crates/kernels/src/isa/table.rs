//! The kernel table: for one (tier, format) the kernels of each layout (rows against one
//! token, a few tokens per weight row, a 2×2 row×token tile) and the activation
//! (de)quantizers, as plain function pointers over bytes. Chosen once per call by
//! [`kernels`]; the safe drivers in [`super::quant`] and [`super::multi`] only check
//! lengths and walk rows and tokens. Entries: `table_x86` (AVX2, AVX-512, VNNI) and
//! `table_arm` (NEON, dotprod, i8mm).
//!
//! Still outside the table: the x86-64 multi-token kernels (`multi.rs`, `packed.rs`), which
//! read activations rearranged into `TokenTables` layouts per tier.

use crate::GgmlType;

// SAFETY (the `unsafe fn` types below): each is `unsafe` only because the kernel behind it
// needs its tier's CPU features; callers reach them through `Kernels` values handed out for
// a proven tier (see `Kernels`), and every kernel checks its slice lengths itself.

/// `out[r] = Σ` row `r` of `w` (`out.len()` whole rows) times one activation row.
pub type RowsDot = unsafe fn(w: &[u8], a: &[u8], out: &mut [f32]);
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
    pub rows: Option<RowsDot>,
    pub tokens: Option<TokensDot>,
    pub tile: Option<TileDot>,
    pub quantize: Option<Quantize>,
    pub dequantize: Option<Dequantize>,
}

/// The kernels of tier `t` for format `ty` (all `None` for a tier without a table).
pub fn kernels(t: super::Isa, ty: GgmlType) -> Kernels {
    #[cfg(target_arch = "aarch64")]
    if t.is_arm() {
        return super::table_arm::kernels(t, ty);
    }
    #[cfg(target_arch = "x86_64")]
    if t.at_least(super::Isa::Avx2) {
        return super::table_x86::kernels(t, ty);
    }
    let _ = (t, ty);
    Kernels::default()
}
