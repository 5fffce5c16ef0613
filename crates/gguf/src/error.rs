//! The crate's error type. Every message is a single line that names what was wrong and where.

use std::path::PathBuf;

/// Why a GGUF file could not be read, or why a metadata lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or mapped.
    #[error("cannot read {}: {err}", path.display())]
    Io { path: PathBuf, err: std::io::Error },

    /// The file is truncated or corrupt. The message names the item and byte position.
    #[error("{0}")]
    Malformed(String),

    /// The file is well formed but uses something wren does not support
    /// (GGUF v1, a newer version, big-endian byte order, an unsupported tensor type).
    #[error("{0}")]
    Unsupported(String),

    /// A metadata key that the caller required is absent.
    #[error("metadata key {0} is missing")]
    MissingKey(String),

    /// A metadata value exists but has the wrong type or range for the caller.
    #[error("metadata {key}: expected {expected}, found {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: String,
    },
}
