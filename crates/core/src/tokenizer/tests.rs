//! Unit tests on a tiny hand-made vocabulary.

use super::*;

const NORMAL: i32 = 1;
const UNKNOWN: i32 = 2;
const CONTROL: i32 = 3;
const USER: i32 = 4;
const BYTE: i32 = 6;

/// `<pad> <eos> <bos> <unk>`, 256 byte tokens, then `extra` as (text, score, type).
fn vocab(extra: &[(&str, f32, i32)]) -> Tokenizer {
    let mut tokens: Vec<String> = ["<pad>", "<eos>", "<bos>", "<unk>"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut scores = vec![0.0; 4];
    let mut types = vec![CONTROL, CONTROL, CONTROL, UNKNOWN];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        scores.push(0.0);
        types.push(BYTE);
    }
    for &(t, s, ty) in extra {
        tokens.push(t.to_string());
        scores.push(s);
        types.push(ty);
    }
    Tokenizer::from_parts(tokens, scores, types, Some(2), Some(1), true).unwrap()
}

fn ids(t: &Tokenizer, texts: &[&str]) -> Vec<u32> {
    texts
        .iter()
        .map(|s| t.token_id(s).unwrap_or_else(|| panic!("no token {s:?}")))
        .collect()
}

fn chars() -> Vec<(&'static str, f32, i32)> {
    vec![
        ("a", -10.0, NORMAL),
        ("b", -10.0, NORMAL),
        ("c", -10.0, NORMAL),
        ("d", -10.0, NORMAL),
        ("\u{2581}", -10.0, NORMAL),
    ]
}

#[test]
fn merges_highest_score_first() {
    let mut v = chars();
    v.extend([("ab", -1.0, NORMAL), ("bc", -0.5, NORMAL)]);
    let t = vocab(&v);
    assert_eq!(t.encode("abc", false, false), ids(&t, &["a", "bc"]));

    let mut v = chars();
    v.extend([("ab", -0.5, NORMAL), ("bc", -1.0, NORMAL)]);
    let t = vocab(&v);
    assert_eq!(t.encode("abc", false, false), ids(&t, &["ab", "c"]));

    // A merged pair merges on.
    let mut v = chars();
    v.extend([
        ("ab", -1.0, NORMAL),
        ("bc", -0.5, NORMAL),
        ("abc", -3.0, NORMAL),
    ]);
    let t = vocab(&v);
    assert_eq!(t.encode("abc", false, false), ids(&t, &["abc"]));
}

#[test]
fn ties_go_to_the_leftmost_pair() {
    let mut v = chars();
    v.extend([("ab", -1.0, NORMAL), ("bc", -1.0, NORMAL)]);
    let t = vocab(&v);
    assert_eq!(t.encode("abc", false, false), ids(&t, &["ab", "c"]));
    assert_eq!(t.encode("bcab", false, false), ids(&t, &["bc", "ab"]));
}

#[test]
fn spaces_become_the_meta_symbol() {
    let mut v = chars();
    v.push(("\u{2581}a", -1.0, NORMAL));
    let t = vocab(&v);
    assert_eq!(t.encode("b a", false, false), ids(&t, &["b", "\u{2581}a"]));
    assert_eq!(t.decode(&t.encode("b a", false, false)), "b a");
}

#[test]
fn space_prefix_when_enabled() {
    let mut v = chars();
    v.extend([("\u{2581}a", -1.0, NORMAL), ("<s1>", 0.0, CONTROL)]);
    let mut t = vocab(&v);
    assert_eq!(t.encode("a", false, false), ids(&t, &["a"]));
    t.set_add_space_prefix(true);
    assert_eq!(t.encode("a", false, false), ids(&t, &["\u{2581}a"]));
    assert_eq!(t.encode("a", true, false)[1..], ids(&t, &["\u{2581}a"]));
    // After a special token too, but not after plain text.
    assert_eq!(
        t.encode("a<s1>a", false, true),
        ids(&t, &["\u{2581}a", "<s1>", "\u{2581}a"])
    );
}

#[test]
fn byte_fallback_for_unknown_characters() {
    let t = vocab(&chars());
    let got = t.encode("aé", false, false);
    assert_eq!(got, ids(&t, &["a", "<0xC3>", "<0xA9>"]));
    assert_eq!(t.decode(&got), "aé");
}

#[test]
fn bos_is_prepended_on_request() {
    let t = vocab(&chars());
    assert_eq!(
        t.encode("a", true, false),
        vec![2, t.token_id("a").unwrap()]
    );
    assert_eq!(t.encode("", true, false), vec![2]);
    assert!(t.encode("", false, false).is_empty());
    assert!(t.add_bos_default());
    assert_eq!((t.bos_id(), t.eos_id()), (Some(2), Some(1)));
}

#[test]
fn user_defined_tokens_split_even_without_special_parsing() {
    let mut v = chars();
    v.extend([("\n", 0.0, USER), ("a\n", 5.0, NORMAL)]);
    let t = vocab(&v);
    // "a\n" would win the merge, but "\n" is cut out first.
    for parse in [false, true] {
        assert_eq!(t.encode("a\nb", false, parse), ids(&t, &["a", "\n", "b"]));
    }
    assert_eq!(t.decode(&t.encode("a\nb", false, false)), "a\nb");
}

#[test]
fn control_tokens_only_with_special_parsing() {
    let mut v = chars();
    v.extend([
        ("<end_of_turn>", 0.0, CONTROL),
        ("<", -1.0, NORMAL),
        (">", -1.0, NORMAL),
    ]);
    let t = vocab(&v);
    let eot = t.token_id("<end_of_turn>").unwrap();
    assert_eq!(
        t.encode("a<end_of_turn>", false, true),
        vec![t.token_id("a").unwrap(), eot]
    );
    let plain = t.encode("a<end_of_turn>", false, false);
    assert!(!plain.contains(&eot));
    assert_eq!(t.decode(&plain), "a<end_of_turn>");
    // Control tokens render as nothing.
    assert_eq!(t.decode(&[2, t.token_id("a").unwrap(), eot, 1]), "a");
    assert!(t.is_control(eot) && t.is_control(2) && !t.is_control(t.token_id("a").unwrap()));
    // <end_of_turn> is an end-of-generation token, with EOS.
    assert_eq!(t.eog_ids(), &[1, eot]);
    assert_eq!(t.eot_id(), Some(eot));
}

#[test]
fn longest_special_token_first_not_leftmost() {
    let mut v = chars();
    v.extend([("ab", 0.0, USER), ("bcd", 0.0, USER)]);
    let t = vocab(&v);
    // llama.cpp splits by the longest token first: "bcd" claims its span before "ab".
    assert_eq!(t.encode("abcd", false, false), ids(&t, &["a", "bcd"]));
    assert_eq!(t.encode("abab", false, false), ids(&t, &["ab", "ab"]));
}

#[test]
fn repeated_and_adjacent_special_tokens() {
    let mut v = chars();
    v.extend([("  ", 0.0, USER), ("   ", 0.0, USER)]);
    let t = vocab(&v);
    // Five spaces: the 3-space token first, then the 2-space one in the rest.
    assert_eq!(t.encode("     ", false, false), ids(&t, &["   ", "  "]));
    assert_eq!(t.encode("a  b", false, false), ids(&t, &["a", "  ", "b"]));
}

#[test]
fn decode_round_trip() {
    let mut v = chars();
    v.extend([
        ("\u{2581}a", -1.0, NORMAL),
        ("ab", -2.0, NORMAL),
        ("\n", 0.0, USER),
    ]);
    let t = vocab(&v);
    for text in ["ab ab\nc d", " leading", "trailing ", "x€y😀", "\n\n  \t"] {
        assert_eq!(t.decode(&t.encode(text, false, false)), text, "{text:?}");
        assert_eq!(t.decode(&t.encode(text, true, false)), text, "{text:?}");
    }
}

#[test]
fn stream_decoder_holds_back_split_characters() {
    let t = vocab(&chars());
    let toks = t.encode("a€b😀", false, false); // € and 😀 are byte-fallback sequences
    assert_eq!(toks.len(), 1 + 3 + 1 + 4);
    let mut d = StreamDecoder::new();
    let outs: Vec<Option<String>> = toks.iter().map(|&id| d.push(&t, id)).collect();
    assert_eq!(outs[0].as_deref(), Some("a"));
    assert_eq!(outs[1], None);
    assert_eq!(outs[2], None);
    assert_eq!(outs[3].as_deref(), Some("€"));
    assert_eq!(outs[4].as_deref(), Some("b"));
    assert_eq!(outs[5..8], [None, None, None]);
    assert_eq!(outs[8].as_deref(), Some("😀"));
    assert!(!d.has_pending());
    assert_eq!(d.flush(), "");
}

#[test]
fn stream_decoder_matches_lossy_decode() {
    let t = vocab(&chars());
    let b = |x: u8| t.token_id(&format!("<0x{x:02X}>")).unwrap();
    let a = t.token_id("a").unwrap();
    let cases: Vec<Vec<u32>> = vec![
        vec![b(0xE2), b(0x82), a],          // truncated sequence, then ASCII
        vec![b(0xE2), b(0x82)],             // truncated at end
        vec![b(0xFF), a, b(0xC3)],          // invalid byte; trailing lead
        vec![b(0xC3), b(0xC3), b(0xA9), a], // lead, then a full char
        vec![b(0xF0), b(0x9F), b(0x98), b(0x80), b(0x80)],
        vec![a, 2, b(0xC3), 1, b(0xA9)], // control tokens in between
    ];
    for ids in cases {
        let mut d = StreamDecoder::new();
        let mut s = String::new();
        for &id in &ids {
            if let Some(x) = d.push(&t, id) {
                s.push_str(&x);
            }
        }
        s.push_str(&d.flush());
        assert_eq!(s, t.decode(&ids), "{ids:?}");
    }
}

#[test]
fn lookups_and_sizes() {
    let t = vocab(&chars());
    assert_eq!(t.vocab_size(), 4 + 256 + 5);
    assert_eq!(t.token_text(2), Some("<bos>"));
    assert_eq!(t.token_text(100_000), None);
    assert_eq!(t.token_id("<bos>"), Some(2));
    assert_eq!(t.token_id("zz"), None);
    assert_eq!(t.token_bytes(t.token_id("<0x41>").unwrap()), b"A");
    assert_eq!(t.token_bytes(t.token_id("\u{2581}").unwrap()), b" ");
    assert_eq!(t.token_bytes(2), b"");
    assert_eq!(t.token_bytes(u32::MAX), b"");
}

#[test]
fn bad_parts_are_rejected() {
    let err =
        Tokenizer::from_parts(vec!["a".into()], vec![], vec![1], None, None, false).unwrap_err();
    assert!(
        matches!(err, TokenizerError::LengthMismatch { .. }),
        "{err}"
    );
    let err = Tokenizer::from_parts(vec!["a".into()], vec![0.0], vec![1], Some(5), None, false)
        .unwrap_err();
    assert!(matches!(err, TokenizerError::IdOutOfRange { .. }), "{err}");
    let err = Tokenizer::from_parts(vec![], vec![], vec![], None, None, false).unwrap_err();
    assert!(matches!(err, TokenizerError::EmptyVocab), "{err}");
}
