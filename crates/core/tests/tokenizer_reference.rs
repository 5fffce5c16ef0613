//! The tokenizer against llama.cpp on the real model (Gemma 3 270M).
//!
//! Ignored by default: they need the model file, from `WREN_MODEL` or else
//! `$XDG_CACHE_HOME/wren/gemma-3-270m-q4_k_m.gguf` (`XDG_CACHE_HOME` defaults to
//! `~/.cache`). Run with `cargo test -p wren-core --test tokenizer_reference --
//! --include-ignored`.

use std::path::PathBuf;
use std::time::Instant;

use wren_core::tokenizer::Tokenizer;
use wren_gguf::GgufFile;

const TOKENIZE_JSON: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/reference/tokenize.json"
);
const PPL_TEXT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/reference/ppl_text.txt"
);

fn model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("WREN_MODEL") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME is not set");
            PathBuf::from(home).join(".cache")
        });
    cache.join("wren").join("gemma-3-270m-q4_k_m.gguf")
}

fn load() -> Tokenizer {
    let path = model_path();
    let f = GgufFile::open(&path)
        .unwrap_or_else(|e| panic!("cannot open model {}: {e}", path.display()));
    // Best of a few, to report the build cost rather than cold caches.
    let mut best = f64::INFINITY;
    let mut tok = None;
    for _ in 0..3 {
        let t0 = Instant::now();
        let t = Tokenizer::from_gguf(&f).expect("tokenizer from gguf");
        best = best.min(t0.elapsed().as_secs_f64() * 1e3);
        tok = Some(t);
    }
    println!("Tokenizer::from_gguf: {best:.1} ms (best of 3)");
    tok.unwrap()
}

#[test]
#[ignore = "needs the Gemma 3 270M model file"]
fn gemma3_metadata() {
    let t = load();
    assert_eq!(t.vocab_size(), 262_144);
    assert_eq!(t.bos_id(), Some(2));
    assert_eq!(t.eos_id(), Some(1));
    assert!(t.add_bos_default());
    assert!(!t.add_space_prefix());
    // `</s>` (212) ends generation too, and is a control token (so plain text `</s>` is
    // text), as llama.cpp's vocabulary loader makes it.
    assert_eq!(t.eog_ids(), &[1, 106, 212]);
    assert!(t.is_control(212));
    assert_eq!(t.encode("</s>", false, false), [954, 236751, 236813]);
    assert_eq!(t.token_text(106), Some("<end_of_turn>"));
    assert_eq!(t.token_id("<start_of_turn>"), Some(105));
    assert!(t.is_control(2) && t.is_control(106) && !t.is_control(107));
    assert_eq!(t.token_bytes(107), b"\n");
    assert_eq!(t.token_bytes(248), b"\n"); // <0x0A>
}

#[test]
#[ignore = "needs the Gemma 3 270M model file"]
fn matches_llama_cpp_reference() {
    let t = load();
    let json = std::fs::read_to_string(TOKENIZE_JSON)
        .unwrap_or_else(|e| panic!("cannot read {TOKENIZE_JSON}: {e}"));
    let entries: Vec<serde_json::Value> = serde_json::from_str(&json).expect("tokenize.json");
    assert!(!entries.is_empty());
    let mut mismatches = 0;
    let mut roundtrip_failures = 0;
    for e in &entries {
        let text = e["text"].as_str().expect("text");
        let add_bos = e["add_bos"].as_bool().expect("add_bos");
        let parse_special = e["parse_special"].as_bool().expect("parse_special");
        let expected: Vec<u32> = e["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .map(|v| v.as_u64().expect("token id") as u32)
            .collect();
        let got = t.encode(text, add_bos, parse_special);
        if got != expected {
            mismatches += 1;
            println!(
                "MISMATCH text={text:?} add_bos={add_bos} parse_special={parse_special}\n  \
                 expected {expected:?}\n  got      {got:?}"
            );
        }
        if !parse_special {
            let back = t.decode(&got);
            if back != text {
                roundtrip_failures += 1;
                println!("ROUND TRIP text={text:?} decoded={back:?}");
            }
        }
    }
    println!(
        "{} of {} reference entries match",
        entries.len() - mismatches,
        entries.len()
    );
    assert_eq!(mismatches, 0, "{mismatches} entries differ from llama.cpp");
    assert_eq!(
        roundtrip_failures, 0,
        "{roundtrip_failures} round trips failed"
    );
}

#[test]
#[ignore = "needs the Gemma 3 270M model file"]
fn ppl_text_round_trips() {
    let t = load();
    let text =
        std::fs::read_to_string(PPL_TEXT).unwrap_or_else(|e| panic!("cannot read {PPL_TEXT}: {e}"));
    let t0 = Instant::now();
    let ids = t.encode(&text, true, false);
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    println!(
        "ppl_text.txt: {} bytes -> {} tokens with BOS ({} full 512-token chunks), \
         encoded in {ms:.1} ms",
        text.len(),
        ids.len(),
        ids.len() / 512
    );
    assert_eq!(ids[0], 2);
    assert!(ids.len() >= 100 * 512, "llama.cpp scores 100 chunks of 512");
    assert_eq!(t.decode(&ids), text);
}
