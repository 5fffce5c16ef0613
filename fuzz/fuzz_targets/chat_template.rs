//! Chat-template rendering of arbitrary conversations with the built-in templates:
//! the input is split at 0xFF bytes into role, content, role, content …
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wren_core::chat::{ChatMessage, ChatTemplate};

static TEMPLATES: OnceLock<Vec<ChatTemplate>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let templates = TEMPLATES.get_or_init(|| {
        ["gemma3", "llama", "unknown"]
            .iter()
            .map(|arch| ChatTemplate::new(None, arch, "<bos>", "<eos>").expect("built-in"))
            .collect()
    });
    let parts: Vec<String> = data
        .split(|&b| b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let messages: Vec<ChatMessage> = parts
        .chunks(2)
        .map(|c| ChatMessage::new(c[0].clone(), c.get(1).cloned().unwrap_or_default()))
        .collect();
    for t in templates {
        let _ = t.render(&messages, true);
        let _ = t.render(&messages, false);
    }
});
