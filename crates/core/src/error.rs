//! Errors of the engine crate.

use wren_gguf::GgufError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error("unsupported model architecture {0:?} (wren supports: {known})", known = crate::models::SUPPORTED_ARCHS.join(", "))]
    UnsupportedArch(String),
    #[error("model file: {0}")]
    Model(String),
    #[error("tensor {name}: {msg}")]
    Tensor { name: String, msg: String },
    #[error("token id {id} is outside the vocabulary ({vocab} tokens)")]
    BadToken { id: u32, vocab: usize },
    #[error("context full: {needed} tokens needed but the context holds {ctx} (use --ctx to raise it, up to the model's {max})")]
    ContextFull {
        needed: usize,
        ctx: usize,
        max: usize,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("cannot rewind the KV cache from {from} to {to} tokens: a sliding-window layer keeps only {max} positions beyond its window")]
    Rewind { from: usize, to: usize, max: usize },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
