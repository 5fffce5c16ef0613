//! x86-64 kernels. SAFETY contract: every function here is `unsafe` with `#[target_feature]`; the safe
//! wrappers in `crate::ops` and `crate::isa::quant` call them only after
//! `crate::isa::isa()` (or `Isa::supported`) proved the features.

pub mod avx2;
pub mod avx2_attn;
pub mod avx2_dequant;
pub mod avx2_iq4;
pub mod avx2_lanes;
pub mod avx2_multi;
pub mod avx2_multi_k;
pub mod avx2_q5_0x4;
pub mod avx2_q8_0x4;
pub mod avx2_quant;
pub mod avx2_rowwise;
pub mod avx512;
pub mod avx512_attn;
pub mod avx512_gemm;
pub mod avx512_kquants;
pub mod avx512_lanes;
pub mod avx512_multi;
pub mod avx512_multi4;
pub mod avx512_multi_k;
