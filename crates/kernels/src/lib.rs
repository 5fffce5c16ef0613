//! All of wren's numerical kernels: ggml block formats (layout, (de)quantization, scalar
//! reference dot products), f32 vector kernels, and the SIMD versions dispatched at run
//! time (`isa`). Knows nothing about models. `unsafe` is allowed only in `isa/`, in the
//! block cast of `formats/` (and each format's `unsafe impl Block`), and in `ops/`'s calls
//! into `isa/` after run-time detection, each with a `SAFETY:` note.

pub mod formats;
pub mod isa;
pub mod ops;
pub use wren_gguf::GgmlType;

/// Whether `ty` can be a weight matrix (K-quant activation formats cannot).
pub fn is_weight_type(ty: GgmlType) -> bool {
    !matches!(ty, GgmlType::Q8K | GgmlType::Q8_1)
}
pub use formats::{dequantize_row, quantize_row, vec_dot, vec_dot_type};
