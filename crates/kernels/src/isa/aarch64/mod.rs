//! aarch64 kernels: NEON (baseline), dotprod (`sdot`) and i8mm (`smmla`).
//!
//! One kernel body per format serves the NEON and dotprod tiers: it is generic over
//! [`dot::Dot`], the 16-byte signed dot-accumulate (`smull`+`sadalp` on NEON, one `sdot`
//! with dotprod), and instantiated inside a `#[target_feature]` function per tier. Every
//! integer sum is exact (all weight quants fit in i8; products are widened before adding),
//! so results equal the scalar twins up to float summation order.
//!
//! The `#[inline(always)]` helpers cannot carry `#[target_feature]` (unstable with
//! `inline(always)` in Rust 1.95), so each wraps its body in one `unsafe` block for the
//! NEON intrinsics; the inner `unsafe` blocks that document pointer contracts are then
//! nested, hence `unused_unsafe` is allowed in this module.
// SAFETY: allowing nested `unsafe` changes no contract; each kernel's `SAFETY:` comments
// state what its pointer reads rely on.
#![allow(unused_unsafe)]

pub mod attn;
pub mod dequant;
pub mod dot;
pub mod dot32;
pub mod f32ops;
pub mod i8mm;
pub mod iq4;
pub mod kquants;
pub mod quantize;
