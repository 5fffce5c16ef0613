//! SentencePiece BPE (Gemma 3's vocabulary): encode/decode round trip on any text, and
//! encoding with special-token parsing.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wren_core::tokenizer::Tokenizer;

#[path = "tok_common.rs"]
mod tok_common;

static TOK: OnceLock<Tokenizer> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let t = TOK.get_or_init(|| tok_common::load("WREN_FUZZ_SPM", "gemma-3-270m-q4_k_m.gguf"));
    tok_common::check(t, data);
});
