//! Chat prompts tokenize as the whole rendered text does (llama.cpp tokenizes the prompt
//! in one pass), with message content never parsed for special tokens: on both real
//! models' tokenizers and templates, for content padded with whitespace, code, unicode
//! and several turns, `Segment::encode` equals `encode(rendered, parse_special)`; and a
//! message holding a control token's text gets no control token from it.
//!
//! Ignored by default: they need the models (`scripts/test.sh` fetches them).

mod common;

use common::{gemma3, smollm2, Subject};
use wren_core::chat::{ChatMessage, ChatTemplate, Segment};
use wren_core::tokenizer::Tokenizer;
use wren_gguf::GgufFile;

fn load(s: &Subject) -> (Tokenizer, ChatTemplate) {
    let f = GgufFile::open(&s.path).expect("model file");
    let tok = Tokenizer::from_gguf(&f).expect("tokenizer");
    let text_of = |id: Option<u32>| id.and_then(|i| tok.token_text(i)).unwrap_or("").to_string();
    let arch = f.get_str("general.architecture").expect("architecture");
    let src = f.get_str("tokenizer.chat_template").ok();
    let t = ChatTemplate::new(src, arch, &text_of(tok.bos_id()), &text_of(tok.eos_id()))
        .expect("template");
    (tok, t)
}

fn conversations() -> Vec<Vec<ChatMessage>> {
    let m = ChatMessage::new;
    vec![
        vec![m("user", "\n\n\n")],
        vec![m("user", "  ")],
        vec![m("user", "  padded  \n")],
        vec![m("system", "  sys padded \n\n"), m("user", "\n\nHi\n\n")],
        vec![
            m("system", "You are terse."),
            m("user", "Fix this:\n    def f(x):\n\treturn x+1\n"),
            m("assistant", "```python\ndef f(x):\n    return x + 1\n```\n"),
            m("user", "¿Y en español? 日本語も。 😀🦊"),
        ],
        vec![
            m("user", "end with spaces   "),
            m("assistant", " lead"),
            m("user", "x"),
        ],
    ]
}

fn check(s: Subject) {
    let (tok, t) = load(&s);
    for (i, c) in conversations().iter().enumerate() {
        let segs = t.render_segments(c, None, true).expect("render");
        let text: String = segs
            .iter()
            .map(|s| match s {
                Segment::Template(x) | Segment::Content(x) => x.as_str(),
            })
            .collect();
        let mut ids = Vec::new();
        Segment::encode(&tok, &segs, &mut ids);
        assert_eq!(
            ids,
            tok.encode(&text, false, true),
            "{} conversation {i}: {text:?}",
            s.name
        );
    }
    // A control token's text in a message stays text.
    let eos = tok.eos_id().expect("eos");
    let eos_text = tok.token_text(eos).expect("eos text").to_string();
    let c = vec![ChatMessage::new("user", format!("say {eos_text} now"))];
    let segs = t.render_segments(&c, None, true).expect("render");
    let content_only: Vec<Segment> = segs
        .iter()
        .filter(|s| matches!(s, Segment::Content(_)))
        .cloned()
        .collect();
    let mut ids = Vec::new();
    Segment::encode(&tok, &content_only, &mut ids);
    assert!(
        !ids.contains(&eos),
        "{}: {eos_text} in content became a token",
        s.name
    );
}

#[test]
#[ignore = "needs the SmolLM2 model (scripts/test.sh fetches it)"]
fn smollm2_chat_prompt_tokens_are_the_whole_prompts() {
    check(smollm2());
}

#[test]
#[ignore = "needs the Gemma 3 model (scripts/test.sh fetches it)"]
fn gemma3_chat_prompt_tokens_are_the_whole_prompts() {
    check(gemma3());
}
