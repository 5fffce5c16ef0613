//! Byte-level BPE on a tiny hand-made vocabulary.

use super::bytes_unicode::{char_to_byte, BYTE_TO_CHAR};
use super::{StreamDecoder, Tokenizer, TokenizerError};

/// All 256 byte characters (ids 0..=255), then merged tokens, then specials.
fn tiny(pre: Option<&str>, extra: &[&str], merges: &[&str], specials: &[(&str, i32)]) -> Tokenizer {
    let mut tokens: Vec<String> = BYTE_TO_CHAR.iter().map(|c| c.to_string()).collect();
    let mut types = vec![1; 256];
    for t in extra {
        tokens.push((*t).to_owned());
        types.push(1);
    }
    for (t, ty) in specials {
        tokens.push((*t).to_owned());
        types.push(*ty);
    }
    let merges = merges.iter().map(|m| (*m).to_owned()).collect();
    Tokenizer::from_bpe_parts(tokens, types, merges, pre, None, None).unwrap()
}

fn id(t: &Tokenizer, text: &str) -> u32 {
    t.token_id(text)
        .unwrap_or_else(|| panic!("no token {text:?}"))
}

#[test]
fn byte_table_is_a_bijection() {
    let mut seen = std::collections::HashSet::new();
    for b in 0..=255u8 {
        let c = BYTE_TO_CHAR[b as usize];
        assert!(seen.insert(c));
        assert_eq!(char_to_byte(c), Some(b));
    }
    assert_eq!(BYTE_TO_CHAR[b' ' as usize], 'Ġ');
    assert_eq!(BYTE_TO_CHAR[b'\n' as usize], 'Ċ');
    assert_eq!(BYTE_TO_CHAR[b'a' as usize], 'a');
    assert_eq!(char_to_byte('\u{0144}'), None);
}

#[test]
fn merges_apply_lowest_rank_first() {
    // "a b" (rank 0), "b c" (rank 1): "abc" -> "ab" + "c", not "a" + "bc".
    let t = tiny(Some("gpt-2"), &["ab", "bc"], &["a b", "b c"], &[]);
    assert_eq!(
        t.encode("abc", false, false),
        vec![id(&t, "ab"), id(&t, "c")]
    );
    // Swapped ranks give the other split.
    let t = tiny(Some("gpt-2"), &["ab", "bc"], &["b c", "a b"], &[]);
    assert_eq!(
        t.encode("abc", false, false),
        vec![id(&t, "a"), id(&t, "bc")]
    );
}

#[test]
fn equal_ranks_merge_leftmost_first() {
    // "aaa" with only "a a": the left pair merges first.
    let t = tiny(Some("gpt-2"), &["aa"], &["a a"], &[]);
    assert_eq!(
        t.encode("aaa", false, false),
        vec![id(&t, "aa"), id(&t, "a")]
    );
    assert_eq!(
        t.encode("aaaa", false, false),
        vec![id(&t, "aa"), id(&t, "aa")]
    );
}

#[test]
fn merges_chain_through_the_byte_spelling() {
    // " hi" is spelled "Ġhi"; merges are over the spelled text.
    let t = tiny(Some("gpt-2"), &["Ġh", "Ġhi"], &["Ġ h", "Ġh i"], &[]);
    assert_eq!(
        t.encode("hi hi", false, false),
        vec![id(&t, "h"), id(&t, "i"), id(&t, "Ġhi")]
    );
    assert_eq!(t.decode(&t.encode("hi hi", false, false)), "hi hi");
}

#[test]
fn gpt2_pretokenizer_splits_words_spaces_and_contractions() {
    // No merges: one token per byte, so the split is only visible through ignore_merges;
    // use merges that would cross word boundaries if the pre-tokenizer did not split.
    let t = tiny(Some("gpt-2"), &["aĠ", "'s"], &["a Ġ", "' s"], &[]);
    // "a b": words "a", " b" — "aĠ" must not form.
    assert_eq!(
        t.encode("a b", false, false),
        vec![id(&t, "a"), id(&t, "Ġ"), id(&t, "b")]
    );
    // "it's": "it" + "'s".
    assert_eq!(
        t.encode("it's", false, false),
        vec![id(&t, "i"), id(&t, "t"), id(&t, "'s")]
    );
}

#[test]
fn whitespace_run_leaves_last_space_to_next_word() {
    // "a   b" -> "a", "  ", " b" (\s+(?!\S)); with merge "Ġ Ġ" the double space merges.
    let t = tiny(Some("gpt-2"), &["ĠĠ", "Ġb"], &["Ġ Ġ", "Ġ b"], &[]);
    assert_eq!(
        t.encode("a   b", false, false),
        vec![id(&t, "a"), id(&t, "ĠĠ"), id(&t, "Ġb")]
    );
}

#[test]
fn ignore_merges_takes_whole_word_for_llama3() {
    // "abc" is a token but no merge path leads to it: llama-bpe takes it whole, gpt-2 not.
    let t = tiny(Some("llama-bpe"), &["abc"], &[], &[]);
    assert_eq!(t.encode("abc", false, false), vec![id(&t, "abc")]);
    assert!(t.add_bos_default() || t.bos_id().is_none());
    let t = tiny(Some("gpt-2"), &["abc"], &[], &[]);
    assert_eq!(t.encode("abc", false, false).len(), 3);
}

#[test]
fn digits_group_by_three_for_llama3_and_one_for_qwen2() {
    // "1234" is split "123" + "4" (Llama 3) or per digit (Qwen2): "34" cannot form
    // across the split, "12" can only within a group.
    let t = tiny(Some("llama-bpe"), &["12", "34"], &["1 2", "3 4"], &[]);
    assert_eq!(
        t.encode("1234", false, false),
        vec![id(&t, "12"), id(&t, "3"), id(&t, "4")]
    );
    let t = tiny(Some("qwen2"), &["12", "34"], &["1 2", "3 4"], &[]);
    assert_eq!(
        t.encode("1234", false, false),
        vec![id(&t, "1"), id(&t, "2"), id(&t, "3"), id(&t, "4")]
    );
}

#[test]
fn special_tokens_partition_and_render() {
    let t = tiny(
        Some("gpt-2"),
        &[],
        &[],
        &[("<|im_start|>", 3), ("<|im_end|>", 3), ("<tool>", 4)],
    );
    let start = id(&t, "<|im_start|>");
    let tool = id(&t, "<tool>");
    // Control tokens only with parse_special; user-defined always.
    assert_eq!(t.encode("<|im_start|>", false, true), vec![start]);
    assert_eq!(t.encode("<|im_start|>", false, false).len(), 12);
    assert_eq!(t.encode("x<tool>", false, false), vec![id(&t, "x"), tool]);
    // Control renders as nothing, user-defined verbatim.
    assert_eq!(t.decode(&[start, tool]), "<tool>");
    assert!(t.is_eog(id(&t, "<|im_end|>")));
}

#[test]
fn decode_round_trips_arbitrary_bytes() {
    let t = tiny(Some("gpt-2"), &[], &[], &[]);
    for text in [
        "héllo wörld",
        "日本語 🦀",
        "tab\tnew\nline\r\n",
        "  lead and trail  ",
    ] {
        let ids = t.encode(text, false, false);
        assert_eq!(t.decode(&ids), text, "{text:?}");
    }
}

#[test]
fn stream_decoder_never_splits_a_character() {
    // Without merges every byte of "é🦀" is its own token: pieces are partial UTF-8.
    let t = tiny(Some("gpt-2"), &[], &[], &[]);
    let text = "é🦀x";
    let ids = t.encode(text, false, false);
    assert_eq!(ids.len(), 2 + 4 + 1);
    let mut d = StreamDecoder::new();
    let mut pieces = Vec::new();
    for &i in &ids {
        if let Some(s) = d.push(&t, i) {
            pieces.push(s);
        }
    }
    assert!(!d.has_pending());
    assert_eq!(pieces, vec!["é", "🦀", "x"]);
}

#[test]
fn unknown_and_unsupported_pre_are_errors() {
    let mk = |pre| {
        Tokenizer::from_bpe_parts(vec!["a".into()], vec![1], vec![], Some(pre), None, None)
            .unwrap_err()
    };
    match mk("no-such-pre") {
        TokenizerError::UnknownPreTokenizer(n) => assert_eq!(n, "no-such-pre"),
        e => panic!("{e}"),
    }
    assert!(mk("no-such-pre").to_string().contains("no-such-pre"));
    assert!(matches!(
        mk("kimi-k2"),
        TokenizerError::UnsupportedPreTokenizer(_)
    ));
}

#[test]
fn every_known_pre_type_compiles() {
    for pre in super::pretok::ALL_NAMES {
        Tokenizer::from_bpe_parts(vec!["a".into()], vec![1], vec![], Some(pre), None, None)
            .unwrap_or_else(|e| panic!("{pre}: {e}"));
    }
}

#[test]
fn long_runs_are_not_quadratic() {
    // 256 KiB of one letter is one word; with merges that double it each level.
    let t = tiny(Some("gpt-2"), &["aa", "aaaa"], &["a a", "aa aa"], &[]);
    let text = "a".repeat(1 << 18);
    let t0 = std::time::Instant::now();
    let ids = t.encode(&text, false, false);
    assert_eq!(ids.len(), 1 << 16);
    assert!(t0.elapsed().as_secs_f64() < 5.0, "{:?}", t0.elapsed());
}

#[test]
fn word_cache_of_long_texts_changes_nothing() {
    // Long texts (past the cache threshold) cache word tokens; the result must equal
    // the uncached encoding. " hello world." repeats with word boundaries aligned.
    let t = tiny(
        Some("gpt-2"),
        &["Ġh", "Ġhe", "ll", "Ġhell", "Ġhello", "Ġw", "or"],
        &["Ġ h", "Ġh e", "l l", "Ġhe ll", "Ġhell o", "Ġ w", "o r"],
        &[],
    );
    let unit = " hello world.";
    let short = t.encode(unit, false, false);
    assert_eq!(short.len(), 1 + 4 + 1); // Ġhello, Ġw or l d, .
    let n = 1000;
    let long = t.encode(&unit.repeat(n), false, false);
    assert_eq!(long, short.repeat(n));
}
