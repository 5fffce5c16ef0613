//! Byte-level BPE on the real SmolLM2-135M-Instruct vocabulary (`gpt2`, pre `smollm`):
//! llama.cpp's ids for `../shared/reference/smollm2/tokenize.json`, and a complexity
//! check on megabyte-long adversarial inputs.
//!
//! Ignored by default: they need the model, `$WREN_SMOLLM2` or else
//! `<cache>/SmolLM2-135M-Instruct.Q4_1.gguf` (`scripts/test.sh` fetches it). The
//! reference folder is `../shared/reference` next to the repository, or
//! `$WREN_SHARED_REFERENCE` (for a checkout that is not beside `shared/`).

use std::path::PathBuf;
use std::time::Instant;

use wren_core::tokenizer::{StreamDecoder, Tokenizer};
use wren_gguf::GgufFile;

const NEEDS: &str = "needs the SmolLM2 model (scripts/test.sh fetches it)";

fn model_path() -> PathBuf {
    match std::env::var_os("WREN_SMOLLM2") {
        Some(p) => PathBuf::from(p),
        None => wren_core::paths::cache_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf"),
    }
}

fn reference_dir() -> PathBuf {
    match std::env::var_os("WREN_SHARED_REFERENCE") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/reference"
        )),
    }
}

fn load() -> Tokenizer {
    let path = model_path();
    if !path.exists() {
        panic!("{NEEDS}: {} is missing", path.display());
    }
    let f = GgufFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let t0 = Instant::now();
    let t = Tokenizer::from_gguf(&f).expect("tokenizer from gguf");
    println!(
        "Tokenizer::from_gguf: {:.1} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );
    t
}

#[test]
#[ignore = "needs the SmolLM2 model (scripts/test.sh fetches it)"]
fn smollm2_metadata() {
    let t = load();
    assert!(t.is_bpe());
    assert_eq!(t.pre_tokenizer(), Some("smollm"));
    assert_eq!(t.vocab_size(), 49_152);
    assert_eq!(t.bos_id(), Some(1));
    assert_eq!(t.eos_id(), Some(2));
    assert!(!t.add_bos_default(), "SmolLM2 adds no BOS");
    assert!(!t.add_space_prefix());
    assert_eq!(t.token_text(1), Some("<|im_start|>"));
    assert!(t.is_eog(2));
    assert!(t.is_control(1));
    assert_eq!(t.token_bytes(1), b"");
    // "Ġ" is a space, "Ċ" a newline.
    let space = t.token_id("Ġ").expect("Ġ");
    assert_eq!(t.token_bytes(space), b" ");
    assert_eq!(t.token_bytes(t.token_id("Ċ").expect("Ċ")), b"\n");
}

#[test]
#[ignore = "needs the SmolLM2 model (scripts/test.sh fetches it)"]
fn matches_llama_cpp_reference() {
    let t = load();
    let path = reference_dir().join("smollm2").join("tokenize.json");
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); set WREN_SHARED_REFERENCE to the shared/reference folder",
            path.display()
        )
    });
    let entries: Vec<serde_json::Value> = serde_json::from_str(&json).expect("tokenize.json");
    assert!(!entries.is_empty());
    let mut mismatches = 0;
    let mut roundtrip_failures = 0;
    for e in &entries {
        let text = e["text"].as_str().expect("text");
        let add_special = e["add_special"].as_bool().expect("add_special");
        let parse_special = e["parse_special"].as_bool().expect("parse_special");
        let expected: Vec<u32> = e["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .map(|v| v.as_u64().expect("token id") as u32)
            .collect();
        // add_special adds what the metadata asks for: BOS only if add_bos_token.
        let got = t.encode(text, add_special && t.add_bos_default(), parse_special);
        if got != expected {
            mismatches += 1;
            println!(
                "MISMATCH text={text:?} add_special={add_special} parse_special={parse_special}\n  \
                 expected {expected:?}\n  got      {got:?}"
            );
        }
        if !parse_special {
            let back = t.decode(&got);
            if back != text {
                roundtrip_failures += 1;
                println!("ROUND TRIP text={text:?} decoded={back:?}");
            }
            // Streaming gives the same text, never a broken character.
            let mut d = StreamDecoder::new();
            let mut streamed = String::new();
            for &id in &got {
                d.push_into(&t, id, &mut streamed);
            }
            streamed.push_str(&d.flush());
            assert_eq!(streamed, text);
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

/// A megabyte of one repeated pattern is a single pre-token for several of these; the
/// merge must stay near-linear. The bound is generous: a complexity check, not a
/// benchmark (debug builds are exempt from the time bound).
#[test]
#[ignore = "needs the SmolLM2 model (scripts/test.sh fetches it)"]
fn adversarial_megabyte_inputs() {
    let t = load();
    const MIB: usize = 1 << 20;
    let inputs = [
        ("1 MiB of spaces", " ".repeat(MIB)),
        ("1 MiB of 'a'", "a".repeat(MIB)),
        ("1 MiB of \"ab\"", "ab".repeat(MIB / 2)),
        ("1 MiB of newlines", "\n".repeat(MIB)),
        ("1 MiB of digits", "7".repeat(MIB)),
    ];
    for (what, text) in &inputs {
        let t0 = Instant::now();
        let ids = t.encode(text, false, false);
        let secs = t0.elapsed().as_secs_f64();
        println!("{what}: {} tokens in {:.3} s", ids.len(), secs);
        assert!(!ids.is_empty());
        assert_eq!(t.decode(&ids), *text, "{what} round trip");
        if !cfg!(debug_assertions) {
            assert!(secs < 2.0, "{what} took {secs:.2} s");
        }
    }
}
