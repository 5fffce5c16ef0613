//! Constrained decoding on the real models: Gemma 3 (SPM, 262K vocabulary) and
//! SmolLM2 (byte-level BPE, 49K). Each sampled output must parse and match its JSON
//! schema / regex, which checks the token-bytes mapping of both tokenizer kinds; the
//! tests print the trie build time and the mean mask cost per token.
//!
//! Ignored by default (they need the models; `scripts/test.sh` runs them).

mod common;

use std::time::Instant;

use common::{gemma3, session, smollm2, Subject};
use wren_core::constrain::Grammar;
use wren_core::generate::{generate, Finish, Flow, SpecConfig, SpecMode};
use wren_core::linear::Compute;
use wren_core::sample::{Sampler, SamplingParams};
use wren_core::tokenizer::Tokenizer;

/// Every normal token's trie bytes are its decoded text: encode → words → bytes
/// round-trips a mixed text.
fn words_roundtrip(tok: &Tokenizer) {
    let words = wren_core::constrain::env::token_words(tok);
    let text = "Hello, wörld! {\"a\": [1, 2.5e-3]}\n\tend 日本語 😀";
    let ids = tok.encode(text, false, false);
    let bytes: Vec<u8> = ids
        .iter()
        .flat_map(|&i| words[i as usize].clone())
        .collect();
    assert_eq!(String::from_utf8_lossy(&bytes), tok.decode(&ids));
    for &e in tok.eog_ids() {
        assert_eq!(words[e as usize][0], 0xFF, "EOG {e} is not marked special");
    }
}

fn prompt_for(subject: &Subject, tok: &Tokenizer, ask: &str) -> Vec<u32> {
    if subject.name == "smollm2" {
        let chat = format!(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{ask}<|im_end|>\n<|im_start|>assistant\n"
        );
        tok.encode(&chat, false, true)
    } else {
        tok.encode(&format!("{ask}\n"), true, false)
    }
}

/// Generates with `grammar` for several seeds; returns the texts (each must end with
/// end of generation) and prints the mask cost.
/// `all_finish`: every output must end with end of generation (else only the finished
/// ones are returned, and at least one must finish).
fn sample_constrained(
    subject: &Subject,
    grammar: &Grammar,
    ask: &str,
    n: u64,
    all_finish: bool,
) -> Vec<String> {
    let (file, model) = subject.load();
    let tok = &Tokenizer::from_gguf(&file).expect("tokenizer");
    words_roundtrip(tok);
    let t0 = Instant::now();
    let env = tok.grammar_env().expect("grammar env");
    println!(
        "{}: vocab {}, grammar env built in {:.1} ms (first call {:.1} ms)",
        subject.name,
        env.vocab_size(),
        env.build_time().as_secs_f64() * 1e3,
        t0.elapsed().as_secs_f64() * 1e3
    );
    let prompt = prompt_for(subject, tok, ask);
    let mut texts = Vec::new();
    let mut masks = 0u64;
    let mut mask_time = 0.0f64;
    for seed in 0..n {
        let mut s = session(&model, Compute::Quantized);
        let c = env.constraint(grammar).expect("constraint");
        let params = SamplingParams::llama_cpp(seed);
        let mut sampler = Sampler::new(params, tok.vocab_size()).with_constraint(c);
        let mut text = String::new();
        // Every other run speculates (prompt lookup): drafts go through the same
        // constrained sampler, so the output must be just as valid.
        let mode = if seed % 2 == 1 {
            SpecMode::Ngram
        } else {
            SpecMode::Off
        };
        let spec = SpecConfig::new(mode, 8);
        let (finish, _) = generate(&mut s, tok, &mut sampler, spec, &prompt, 200, |p, _| {
            text.push_str(p);
            Flow::Continue
        })
        .expect("generate");
        let c = sampler.constraint().unwrap();
        assert!(
            c.error().is_none(),
            "seed {seed}: {:?} after {text:?}",
            c.error()
        );
        masks += c.stats().masks;
        mask_time += c.stats().mask_time.as_secs_f64();
        if finish == Finish::Eog {
            texts.push(text);
        } else {
            assert!(!all_finish, "seed {seed}: unfinished {text:?}");
        }
    }
    assert!(!texts.is_empty(), "no output finished");
    println!(
        "{}: {}/{n} {} outputs finished, mask cost {:.3} ms/token over {masks} tokens",
        subject.name,
        texts.len(),
        grammar.kind(),
        mask_time * 1e3 / masks.max(1) as f64
    );
    texts
}

fn check_person(text: &str) {
    let v: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON: {text:?}: {e}"));
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {text:?}"));
    let name = o["name"].as_str().expect("name string");
    assert!(!name.is_empty() && name.chars().count() <= 20, "{text:?}");
    let age = o["age"].as_i64().expect("age integer");
    assert!((0..=150).contains(&age), "{text:?}");
    let role = o["role"].as_str().expect("role");
    assert!(["admin", "user", "guest"].contains(&role), "{text:?}");
    assert!(o.len() == 3, "extra keys: {text:?}");
}

fn person_schema() -> Grammar {
    Grammar::JsonSchema(serde_json::json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 20},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
            "role": {"enum": ["admin", "user", "guest"]}
        },
        "required": ["name", "age", "role"],
        "additionalProperties": false
    }))
}

fn json_schema_case(subject: Subject) {
    let ask = "Describe a person as JSON with a name, an age and a role.";
    for t in sample_constrained(&subject, &person_schema(), ask, 4, true) {
        check_person(&t);
    }
}

fn regex_case(subject: Subject) {
    let g = Grammar::Regex(r"[0-9]{3}-[0-9]{4}".into());
    for t in sample_constrained(&subject, &g, "Write a phone number:", 4, true) {
        let b = t.as_bytes();
        assert!(
            b.len() == 8
                && b[3] == b'-'
                && b.iter()
                    .enumerate()
                    .all(|(i, c)| i == 3 || c.is_ascii_digit()),
            "{t:?}"
        );
    }
}

fn json_object_case(subject: Subject) {
    let ask = "Give a tiny JSON object with two keys, a and b.";
    for t in sample_constrained(&subject, &Grammar::JsonObject, ask, 3, false) {
        let v: serde_json::Value =
            serde_json::from_str(&t).unwrap_or_else(|e| panic!("{t:?}: {e}"));
        assert!(v.is_object(), "{t:?}");
    }
}

#[test]
#[ignore = "needs the SmolLM2 model"]
fn smollm2_json_schema() {
    json_schema_case(smollm2());
}

#[test]
#[ignore = "needs the Gemma 3 model"]
fn gemma3_json_schema() {
    json_schema_case(gemma3());
}

#[test]
#[ignore = "needs the SmolLM2 model"]
fn smollm2_regex() {
    regex_case(smollm2());
}

#[test]
#[ignore = "needs the Gemma 3 model"]
fn gemma3_regex() {
    regex_case(gemma3());
}

#[test]
#[ignore = "needs the SmolLM2 model"]
fn smollm2_json_object() {
    json_object_case(smollm2());
}

#[test]
#[ignore = "needs the Gemma 3 model"]
fn gemma3_json_object() {
    json_object_case(gemma3());
}
