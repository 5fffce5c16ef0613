//! Chat-template rendering of arbitrary templates and conversations: compile, `render`
//! and `render_segments`, with and without the generation prompt. Errors are fine;
//! panics, hangs and huge allocations are not.
//!
//! Input: `template 0xFE role 0xFF content 0xFF role 0xFF content …`. Without a 0xFE
//! byte the whole input is the conversation and the template is a built-in one, chosen
//! by the input's length. Invalid UTF-8 is read lossily.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wren_core::chat::{ChatMessage, ChatTemplate};

const ARCHS: [&str; 4] = ["gemma3", "llama", "qwen2", "unknown"];

fuzz_target!(|data: &[u8]| {
    let (template, conv) = match data.iter().position(|&b| b == 0xFE) {
        Some(i) => (Some(String::from_utf8_lossy(&data[..i])), &data[i + 1..]),
        None => (None, data),
    };
    let arch = ARCHS[data.len() % ARCHS.len()];
    let Ok(t) = ChatTemplate::new(template.as_deref(), arch, "<bos>", "<eos>") else {
        return;
    };
    let parts: Vec<String> = conv
        .split(|&b| b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let messages: Vec<ChatMessage> = parts
        .chunks(2)
        .map(|c| ChatMessage::new(c[0].clone(), c.get(1).cloned().unwrap_or_default()))
        .collect();
    for gen in [true, false] {
        let _ = t.render(&messages, None, gen);
        let _ = t.render_segments(&messages, None, gen);
    }
});
