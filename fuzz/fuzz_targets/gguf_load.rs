//! Any bytes as a GGUF file: parse, build the tokenizer, load the model (metadata →
//! config → allocation). Errors are fine; panics, aborts and huge allocations are not.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use wren_gguf::GgufFile;

fuzz_target!(|data: &[u8]| {
    let Ok(f) = GgufFile::from_bytes(data.to_vec()) else {
        return;
    };
    let f = Arc::new(f);
    let _ = wren_core::tokenizer::Tokenizer::from_gguf(&f);
    let _ = wren_core::models::load(f);
});
