//! The tokenizer against llama.cpp's own vocabulary tests (`tests/test-tokenizer-0`):
//! for each `ggml-vocab-*.gguf` with a `.inp` / `.out` pair, every case must give
//! llama.cpp's ids token for token (no BOS/EOS, no special-token parsing, as
//! `test-tokenizer-0` runs them).
//!
//! The files come from llama-cpp-python 0.3.36's sdist (`scripts/fetch_fixtures.sh`),
//! in `$WREN_FIXTURES` or else `<cache>/fixtures/llama-cpp-python-0.3.36/vocab/`.
//! Ignored by default; `scripts/test.sh` runs it with `--include-ignored`.

use std::path::{Path, PathBuf};

use wren_core::tokenizer::Tokenizer;
use wren_gguf::GgufFile;

const NEEDS: &str = "needs fixtures (scripts/fetch_fixtures.sh)";

/// Vocabularies wren does not tokenize, with the reason. Every other vocab with test
/// files must match completely.
const SKIP: &[(&str, &str)] = &[
    (
        "bert-bge",
        "WordPiece (tokenizer.ggml.model = bert) is not implemented",
    ),
    (
        "nomic-bert-moe",
        "Unigram (tokenizer.ggml.model = t5) is not implemented",
    ),
];

fn fixture_dir() -> PathBuf {
    match std::env::var_os("WREN_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => wren_core::paths::cache_dir()
            .join("fixtures")
            .join("llama-cpp-python-0.3.36")
            .join("vocab"),
    }
}

/// Cases as `test-tokenizer-0.cpp` reads them: the input split at
/// `"\n__ggml_vocab_test__\n"` (a trailing separator ends the last case), output lines
/// of space-separated ids.
fn read_cases(inp: &Path, out: &Path) -> Vec<(String, Vec<u32>)> {
    let raw = std::fs::read_to_string(inp).unwrap_or_else(|e| panic!("{}: {e}", inp.display()));
    let outs = std::fs::read_to_string(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let sep = "\n__ggml_vocab_test__\n";
    let mut texts = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        match raw[pos..].find(sep) {
            Some(k) => {
                texts.push(raw[pos..pos + k].to_owned());
                pos += k + sep.len();
            }
            None => {
                texts.push(raw[pos..].to_owned());
                break;
            }
        }
    }
    let ids: Vec<Vec<u32>> = outs
        .lines()
        .map(|l| {
            l.split_whitespace()
                .map(|t| t.parse().expect("token id"))
                .collect()
        })
        .collect();
    assert_eq!(
        texts.len(),
        ids.len(),
        "{}: input and output have different numbers of cases",
        inp.display()
    );
    texts.into_iter().zip(ids).collect()
}

#[test]
#[ignore = "needs fixtures (scripts/fetch_fixtures.sh)"]
fn llama_cpp_vocab_fixtures() {
    let dir = fixture_dir();
    if !dir.is_dir() {
        panic!("{NEEDS}: {} is missing", dir.display());
    }
    let mut vocabs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{NEEDS}: {}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| {
            Some(
                n.strip_prefix("ggml-vocab-")?
                    .strip_suffix(".gguf")?
                    .to_owned(),
            )
        })
        .collect();
    vocabs.sort();
    assert!(
        !vocabs.is_empty(),
        "{NEEDS}: no ggml-vocab-*.gguf in {}",
        dir.display()
    );

    let mut failed = Vec::new();
    let mut checked = 0;
    for name in &vocabs {
        let gguf = dir.join(format!("ggml-vocab-{name}.gguf"));
        let inp = dir.join(format!("ggml-vocab-{name}.gguf.inp"));
        let out = dir.join(format!("ggml-vocab-{name}.gguf.out"));
        if !inp.exists() || !out.exists() {
            println!("{name}: skipped: no .inp/.out test files");
            continue;
        }
        if let Some((_, why)) = SKIP.iter().find(|(n, _)| n == name) {
            println!("{name}: skipped: {why}");
            continue;
        }
        let f = GgufFile::open(&gguf).unwrap_or_else(|e| panic!("{}: {e}", gguf.display()));
        let model = f.get_str("tokenizer.ggml.model").unwrap_or("?").to_owned();
        let tok = match Tokenizer::from_gguf(&f) {
            Ok(t) => t,
            Err(e) => {
                println!("{name}: FAILED to load ({model}): {e}");
                failed.push(name.clone());
                continue;
            }
        };
        let cases = read_cases(&inp, &out);
        let mut ok = 0;
        for (text, expected) in &cases {
            let got = tok.encode(text, false, false);
            if &got == expected {
                ok += 1;
            } else if ok + 5 > cases.len() || failed.len() < 50 {
                println!(
                    "  {name} MISMATCH {text:?}\n    expected {expected:?}\n    got      {got:?}"
                );
            }
        }
        println!("{name}: {ok}/{} cases (model {model})", cases.len());
        checked += 1;
        if ok != cases.len() {
            failed.push(name.clone());
        }
    }
    println!("{checked} vocabularies checked");
    assert!(
        failed.is_empty(),
        "vocabularies differing from llama.cpp: {failed:?}"
    );
}
