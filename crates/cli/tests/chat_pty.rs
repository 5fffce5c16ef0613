//! `wren chat` under a pseudo-terminal (rexpect), as a person uses it: line editing is on,
//! Ctrl-C during a reply stops it and keeps the conversation, /save and /load round-trip.
//! Needs SmolLM2 (scripts/test.sh fetches it), hence ignored by default.

use std::process::Command;

use rexpect::session::{spawn_command, PtySession};

const TIMEOUT_MS: u64 = 180_000;
const STORY: &str = "Write a long story about a dragon.";

fn chat(dir: &std::path::Path) -> PtySession {
    let model = wren_core::catalog::SMOLLM2_135M_INSTRUCT.path();
    assert!(
        model.is_file(),
        "{} is missing: run `wren pull smollm2-135m-instruct`",
        model.display()
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wren"));
    cmd.args(["chat", "--greedy", "-n", "600", "--ctx", "2048", "-m"])
        .arg(&model)
        // The line editor keeps its history in the cache directory: use a scratch one.
        .env("WREN_CACHE_DIR", dir)
        .env("TERM", "xterm");
    spawn_command(cmd, Some(TIMEOUT_MS)).expect("spawn wren chat in a pty")
}

fn saved(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("saved conversation");
    serde_json::from_str(&text).expect("saved conversation is JSON")
}

#[test]
#[ignore = "needs SmolLM2 (scripts/test.sh fetches it)"]
fn chat_under_a_terminal() {
    let dir = std::env::temp_dir().join(format!("wren-chat-pty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut p = chat(&dir);
    p.exp_string("/help for commands").unwrap();
    p.exp_string("> ").unwrap();

    // Turn 1. (Not France: with the default system prompt, greedy Q4_1 SmolLM2 starts that
    // answer with "L'Étoile" in llama.cpp too, a near tie with "The".)
    p.send_line("What is the capital of Germany?").unwrap();
    let (before, _) = p
        .exp_regex(r"\[wren\] \d+ tokens, decode [0-9.]+ tok/s")
        .unwrap();
    assert!(before.contains("Berlin"), "turn 1 reply: {before}");
    p.exp_string("> ").unwrap();

    // Turn 2: a long reply, interrupted with Ctrl-C once it is streaming.
    p.send_line(STORY).unwrap();
    p.exp_string("dragon.").unwrap(); // the echo of the line typed
    p.exp_regex(r"[a-z]+ [a-z]+ [a-z]+ [a-z]+ [a-z]+ [a-z]+")
        .unwrap(); // the reply is streaming
    p.send_control('c').unwrap();
    let (_, m) = p.exp_regex(r"reply interrupted after \d+ tokens").unwrap();
    let n: usize = m
        .split_whitespace()
        .nth(3)
        .and_then(|x| x.parse().ok())
        .unwrap();
    assert!(n < 600, "{m}");
    p.exp_string("> ").unwrap();

    // The conversation survived: both exchanges are there, the second one cut short.
    let f1 = dir.join("conv.json");
    p.send_line(&format!("/save {}", f1.display())).unwrap();
    p.exp_string("saved 4 message(s)").unwrap();
    let v = saved(&f1);
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4, "{v}");
    assert!(
        msgs[1]["content"].as_str().unwrap().contains("Berlin"),
        "{v}"
    );
    assert_eq!(msgs[2]["content"], STORY);
    assert!(!msgs[3]["content"].as_str().unwrap().is_empty(), "{v}");

    // Turn 3 still answers after the interruption.
    p.send_line("What is 2 + 2?").unwrap();
    // (Its wording depends on where Ctrl-C cut turn 2, so only "it answered" is checked.)
    p.exp_regex(r"\[wren\] [1-9]\d* tokens, decode [0-9.]+ tok/s")
        .unwrap();
    p.exp_string("> ").unwrap();

    // /reset, then /load brings the saved conversation back exactly.
    p.send_line("/reset").unwrap();
    p.exp_string("history cleared").unwrap();
    p.send_line(&format!("/load {}", f1.display())).unwrap();
    p.exp_string("loaded 4 message(s)").unwrap();
    let f2 = dir.join("conv2.json");
    p.send_line(&format!("/save {}", f2.display())).unwrap();
    p.exp_string("saved 4 message(s)").unwrap();
    assert_eq!(saved(&f1), saved(&f2));

    // A bad file is an error message, not the end of the chat.
    p.send_line("/load /nonexistent/conv.json").unwrap();
    p.exp_string("cannot read /nonexistent/conv.json").unwrap();

    // Ctrl-C at the prompt says how to quit; Ctrl-D quits.
    p.exp_string("> ").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("Ctrl-D to quit").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
