//! Shared by the tokenizer targets: the tokenizer of a real model file, loaded once.

use std::path::PathBuf;

use wren_core::tokenizer::Tokenizer;
use wren_gguf::GgufFile;

/// The tokenizer of `$var`, else of `<cache>/name`.
pub fn load(var: &str, name: &str) -> Tokenizer {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| wren_core::paths::cache_dir().join(name));
    let f = GgufFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Tokenizer::from_gguf(&f).expect("tokenizer")
}

/// Encodes `data` (as UTF-8, lossily) both ways; plain text must decode to itself.
pub fn check(t: &Tokenizer, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let ids = t.encode(&text, false, false);
    assert_eq!(t.decode(&ids), text, "round trip of {text:?}");
    let _ = t.encode(&text, true, true);
}
