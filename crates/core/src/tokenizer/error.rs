//! Why a tokenizer could not be built.

use wren_gguf::GgufError;

/// Why a [`Tokenizer`](super::Tokenizer) could not be built from GGUF metadata or parts.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A `tokenizer.ggml.*` key is missing or has the wrong type.
    #[error("tokenizer metadata: {0}")]
    Gguf(#[from] GgufError),

    /// `tokenizer.ggml.model` names a tokenizer wren does not implement.
    #[error(
        "tokenizer.ggml.model = {0:?} is not supported; supported: \"llama\" \
         (SentencePiece BPE with scores), \"gpt2\" (byte-level BPE with merges) and \
         \"gemma4\" (BPE with merges over raw UTF-8)"
    )]
    UnsupportedModel(String),

    /// `tokenizer.ggml.pre` names a pre-tokenizer llama.cpp does not know either.
    #[error("unknown pre-tokenizer tokenizer.ggml.pre = {0:?}")]
    UnknownPreTokenizer(String),

    /// `tokenizer.ggml.pre` names a pre-tokenizer llama.cpp implements with a
    /// hand-written scanner that wren does not reproduce.
    #[error(
        "pre-tokenizer tokenizer.ggml.pre = {0:?} is not supported by wren (llama.cpp \
         splits it with a custom scanner)"
    )]
    UnsupportedPreTokenizer(String),

    /// A BPE vocabulary without `tokenizer.ggml.merges`.
    #[error("tokenizer.ggml.merges is missing (required for BPE vocabularies)")]
    MissingMerges,

    /// A pre-tokenizer regex did not compile (a bug in wren's translation).
    #[error("pre-tokenizer regex {pattern:?} does not compile: {message}")]
    Regex { pattern: String, message: String },

    /// A per-token array does not have one entry per token.
    #[error("{what} has {found} entries, but tokenizer.ggml.tokens has {expected}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        found: usize,
    },

    /// The token list is empty.
    #[error("tokenizer.ggml.tokens is empty")]
    EmptyVocab,

    /// The vocabulary does not fit 32-bit ids / offsets.
    #[error("vocabulary too large: {0}")]
    TooLarge(String),

    /// A special-token id is not a valid token id.
    #[error("{what} = {id} is outside the vocabulary ({n} tokens)")]
    IdOutOfRange {
        what: &'static str,
        id: u64,
        n: usize,
    },
}
