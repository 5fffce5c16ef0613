//! All of wren's numerical kernels: ggml block formats (layout, (de)quantization, scalar
//! reference dot products) and, later, the SIMD versions dispatched at run time.
//! Knows nothing about models.

pub mod formats;
pub use wren_gguf::GgmlType;
