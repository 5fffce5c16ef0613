//! Unit tests on a tiny SPM vocabulary: byte tokens plus a few multi-byte pieces.

use super::*;
use crate::sample::{Rng, Sampler, SamplingParams};
use crate::tokenizer::Tokenizer;

/// `<pad> <eos> <bos> <unk>`, 256 byte tokens, then some JSON-ish pieces.
fn tiny() -> Tokenizer {
    let mut tokens: Vec<String> = ["<pad>", "<eos>", "<bos>", "<unk>"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut types = vec![3, 3, 3, 2];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
    }
    for t in [
        "{\"", "\":", "\",\"", "\"}", "name", "age", "▁", "12", "true", "ab", "}",
    ] {
        tokens.push(t.to_string());
        types.push(1);
    }
    let scores = vec![0.0; tokens.len()];
    Tokenizer::from_parts(tokens, scores, types, Some(2), Some(1), true).unwrap()
}

/// Samples up to `max` tokens from random logits through the constraint; returns the
/// text and whether it ended with EOS.
fn run(tok: &Tokenizer, g: &Grammar, seed: u64, max: usize) -> (String, bool) {
    let env = tok.grammar_env().unwrap();
    let c = env.constraint(g).unwrap();
    let params = SamplingParams {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        seed,
        ..SamplingParams::default()
    };
    let mut s = Sampler::new(params, tok.vocab_size()).with_constraint(c);
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut out = Vec::new();
    for _ in 0..max {
        let logits: Vec<f32> = (0..tok.vocab_size())
            .map(|_| rng.next_f64() as f32 * 4.0)
            .collect();
        let t = s.sample(&logits, &[]);
        if tok.is_eog(t) {
            assert!(s.constraint().unwrap().error().is_none());
            return (tok.decode(&out), true);
        }
        out.push(t);
    }
    (tok.decode(&out), false)
}

#[test]
fn regex_outputs_match() {
    let tok = tiny();
    let g = Grammar::Regex("(ab|12){1,3}x".into());
    for seed in 0..20 {
        let (text, eos) = run(&tok, &g, seed, 50);
        assert!(eos, "seed {seed}: no EOS after {text:?}");
        let body = text.strip_suffix('x').expect("ends with x");
        assert!(
            !body.is_empty() && body.len() <= 6 && body.len() % 2 == 0,
            "{text:?}"
        );
        for pair in body.as_bytes().chunks(2) {
            assert!(pair == b"ab" || pair == b"12", "{text:?}");
        }
    }
}

#[test]
fn json_schema_outputs_validate() {
    let tok = tiny();
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 4},
            "age": {"type": "integer", "minimum": 0, "maximum": 120}
        },
        "required": ["name", "age"],
        "additionalProperties": false
    });
    let g = Grammar::JsonSchema(schema);
    let mut ok = 0;
    for seed in 0..20 {
        let (text, eos) = run(&tok, &g, seed, 200);
        if !eos {
            continue; // random logits may wander inside a string; only finished ones count
        }
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let name = v["name"].as_str().expect("name is a string");
        assert!(name.chars().count() <= 4, "{text:?}");
        let age = v["age"].as_i64().expect("age is an integer");
        assert!((0..=120).contains(&age), "{text:?}");
        assert_eq!(v.as_object().unwrap().len(), 2, "{text:?}");
        ok += 1;
    }
    assert!(ok >= 10, "only {ok}/20 finished");
}

#[test]
fn bad_grammars_are_errors() {
    let tok = tiny();
    let env = tok.grammar_env().unwrap();
    let bad_schema = Grammar::JsonSchema(serde_json::json!({"type": "no-such-type"}));
    let e = env.constraint(&bad_schema).unwrap_err();
    assert!(e.starts_with("invalid JSON schema"), "{e}");
    assert!(env.constraint(&Grammar::Regex("(unclosed".into())).is_err());
    assert!(env
        .constraint(&Grammar::Lark("start: missing_rule".into()))
        .is_err());
    let gbnf = Grammar::from_grammar_text("root ::= \"a\" | \"b\"\nroot2 ::= ").unwrap_err();
    assert!(gbnf.contains("GBNF") && gbnf.contains("empty"), "{gbnf}");
    let e = Grammar::from_grammar_text("word ::= [a-z]+\n").unwrap_err();
    assert!(e.contains("root"), "{e}");
    assert!(Grammar::from_grammar_text("  \n").is_err());
    // A oneOf that may match twice: the message says what to do in the request.
    let overlap = Grammar::JsonSchema(serde_json::json!(
        {"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]}));
    let e = env.constraint(&overlap).unwrap_err();
    assert!(e.contains("anyOf") && !e.contains("coerce_one_of"), "{e}");
}

#[test]
fn lark_grammar_and_logit_bias() {
    let tok = tiny();
    let g = Grammar::from_grammar_text("start: (\"ab\" | \"12\") \"x\"\n").unwrap();
    for seed in 0..10 {
        let (text, eos) = run(&tok, &g, seed, 10);
        assert!(eos && (text == "abx" || text == "12x"), "{text:?}");
    }
    // A -100 bias bans a token: "ab" can then only be spelt with byte tokens.
    let ab = tok.token_id("ab").unwrap();
    let params = SamplingParams {
        logit_bias: vec![(ab, -100.0)],
        ..SamplingParams::default()
    };
    let mut s = Sampler::new(params, tok.vocab_size());
    let mut logits = vec![0.0; tok.vocab_size()];
    logits[ab as usize] = 10.0;
    assert_ne!(s.sample(&logits, &[]), ab);
    // +5 lifts a token over a +4 rival.
    let params = SamplingParams {
        logit_bias: vec![(7, 5.0)],
        ..SamplingParams::default()
    };
    let mut s = Sampler::new(params, tok.vocab_size());
    logits[ab as usize] = 4.0;
    assert_eq!(s.sample(&logits, &[]), 7);
}

#[test]
fn rollback_restores_the_mask() {
    let tok = tiny();
    let env = tok.grammar_env().unwrap();
    let mut c = env.constraint(&Grammar::Regex("ab12".into())).unwrap();
    let mut l0 = vec![0.0f32; tok.vocab_size()];
    c.mask_logits(&mut l0);
    let ab = tok.token_id("ab").unwrap();
    assert!(l0[ab as usize].is_finite());
    c.commit(ab);
    let mut l1 = vec![0.0f32; tok.vocab_size()];
    c.mask_logits(&mut l1);
    assert!(l1[ab as usize].is_infinite());
    c.rollback(1).unwrap();
    let mut l2 = vec![0.0f32; tok.vocab_size()];
    c.mask_logits(&mut l2);
    assert_eq!(l0, l2);
    // A committed token the grammar forbids is an error, then only EOS is allowed.
    c.commit(tok.token_id("}").unwrap());
    assert!(c.error().is_some());
    let mut l3 = vec![0.0f32; tok.vocab_size()];
    c.mask_logits(&mut l3);
    let allowed: Vec<usize> = (0..l3.len()).filter(|&i| l3[i].is_finite()).collect();
    assert_eq!(allowed, vec![1]);
}

#[test]
fn constraint_is_send() {
    fn send<T: Send>() {}
    send::<Constraint>();
    send::<Sampler>();
}

#[test]
fn gbnf_grammars_translate() {
    let tok = tiny();
    // llama.cpp-style: comments, classes with escapes, groups, repetitions, dashes.
    let src = r#"
# a tiny list
root ::= "[" item ("," ws item){0,2} "]"
item ::= [0-9]+ | quoted-word
quoted-word ::= "\"" [^"\\\n]{1,3} "\""
ws ::= [ \t]?
"#;
    let g = Grammar::from_grammar_text(src).unwrap();
    let Grammar::Lark(lark) = &g else { panic!() };
    assert!(lark.starts_with("start: g_root\n"), "{lark}");
    // The same language, written as a regex for an independent engine.
    let item = r#"(?:[0-9]+|"[^"\\\n]{1,3}")"#;
    let check = fancy_regex::Regex::new(&format!(r"^\[{item}(?:,[ \t]?{item}){{0,2}}\]$")).unwrap();
    for seed in 0..10 {
        let (text, eos) = run(&tok, &g, seed, 60);
        assert!(eos, "{text:?}");
        assert!(check.is_match(&text).unwrap(), "{text:?}");
    }
}

#[test]
fn exclusive_integer_bounds_are_excluded() {
    // llguidance 1.9 lets the bound itself through when both bounds share an integer
    // part and the excluded one is a whole number; `compact` works around it.
    let tok = tiny();
    for (lo, hi) in [
        (0.0, 0.001),
        (0.0, 0.5),
        (5.0, 5.001),
        (0.0, 1.0),
        (-0.5, 0.0),
    ] {
        let g = Grammar::JsonSchema(serde_json::json!({
            "type": "number", "exclusiveMinimum": lo, "exclusiveMaximum": hi}));
        for seed in 0..200 {
            let (text, done) = run(&tok, &g, seed, 40);
            if done {
                let v: f64 = text.trim().parse().unwrap();
                assert!(v > lo && v < hi, "({lo}, {hi}): {text}");
            }
        }
    }
}
