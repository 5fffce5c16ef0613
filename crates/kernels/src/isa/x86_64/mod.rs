//! x86-64 kernels. Every function here is `unsafe` with `#[target_feature]`; the safe
//! wrappers in `crate::ops` call them only after `crate::isa::isa()` proved the features.

pub mod avx2;
