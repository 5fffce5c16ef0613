//! Byte-level BPE (SmolLM2's vocabulary, pre-tokenizer `smollm`): encode/decode round trip on any text, and
//! encoding with special-token parsing.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wren_core::tokenizer::Tokenizer;

#[path = "tok_common.rs"]
mod tok_common;

static TOK: OnceLock<Tokenizer> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let t =
        TOK.get_or_init(|| tok_common::load("WREN_FUZZ_BPE", "SmolLM2-135M-Instruct.Q4_1.gguf"));
    tok_common::check(t, data);
});
