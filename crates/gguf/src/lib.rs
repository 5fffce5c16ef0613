//! GGUF reader and writer.
//!
//! Spec: <https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>.
//! The file is treated as hostile input: every count, length, offset, shape and type is
//! checked before use, and errors name what was wrong and where.

mod dtype;
pub use dtype::{GgmlType, QK_K};
