//! GGUF reader and writer.
//!
//! Spec: <https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>.
//! The file is treated as hostile input: every count, length, offset, shape and type is
//! checked before use, and errors name what was wrong and where. Versions 2 and 3 are
//! read (they share a layout); version 1 (32-bit counts) and big-endian files are not.
// SAFETY: unsafe code is denied here except in `mmap.rs`, whose blocks carry their notes.
#![deny(unsafe_code)]

mod dtype;
mod error;
mod file;
mod getters;
mod mmap;
mod parse;
mod reader;
mod tensor;
mod value;
mod writer;

#[cfg(test)]
mod roundtrip_tests;

pub use dtype::{GgmlType, QK_K};
pub use error::GgufError;
pub use file::GgufFile;
pub use parse::{
    DEFAULT_ALIGNMENT, MAX_ARRAY_DEPTH, MAX_KEY_LEN, MAX_METADATA_VALUES, MAX_TENSOR_NAME_LEN,
};
pub use tensor::TensorInfo;
pub use value::Value;
pub use writer::GgufWriter;
