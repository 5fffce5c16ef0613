//! wren's engine: models, tokenizer, sampling, chat templates and the generation loop.
// SAFETY: not needed — this crate has no unsafe code (kernels: wren-kernels; mmap: wren-gguf).
#![forbid(unsafe_code)]

pub mod attention;
pub mod catalog;
pub mod chat;
pub mod constrain;
pub mod error;
pub mod generate;
pub mod kv;
pub mod layers;
pub mod linear;
pub mod memory;
pub mod models;
pub mod paths;
pub mod sample;
pub mod session;
pub mod spin;
pub mod tensor;
pub mod tokenizer;

pub use error::{Error, Result};
