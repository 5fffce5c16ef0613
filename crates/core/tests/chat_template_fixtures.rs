//! Tool-aware rendering on real chat templates: llama.cpp's collection
//! (`models/templates/*.jinja` in llama-cpp-python 0.3.36's sdist, fetched by
//! `scripts/fetch_fixtures.sh` into `$WREN_FIXTURES` or
//! `<cache>/fixtures/llama-cpp-python-0.3.36/templates/`).
//!
//! For every template whose tool-call syntax wren recognises, the probe conversation
//! (a tool list, an earlier call and its result) must render whole and as segments
//! (with the tool result as content), show the tool, and render the earlier call so
//! that wren's parser for that syntax reads it back; the templates known to use each
//! syntax must be recognised, and some that do not must not be. Ignored by default; `scripts/test.sh` runs it with `--include-ignored`.

use std::path::PathBuf;

use wren_core::chat::tool_syntax::{probe_calls, probe_conversation};
use wren_core::chat::{ChatTemplate, Segment, ToolSyntax};

fn template_dir() -> PathBuf {
    match std::env::var_os("WREN_FIXTURES") {
        Some(p) => PathBuf::from(p).join("templates"),
        None => wren_core::paths::cache_dir()
            .join("fixtures")
            .join("llama-cpp-python-0.3.36")
            .join("templates"),
    }
}

#[test]
#[ignore = "needs fixtures (scripts/fetch_fixtures.sh)"]
fn tool_templates_render_and_round_trip_calls() {
    let dir = template_dir();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jinja"))
        .collect();
    entries.sort();
    assert!(entries.len() > 50, "{} templates", entries.len());
    let mut by_syntax: Vec<(String, ToolSyntax)> = Vec::new();
    for path in &entries {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let src = std::fs::read_to_string(path).unwrap();
        let Ok(t) = ChatTemplate::new(Some(&src), "llama", "<s>", "</s>") else {
            assert!(
                ToolSyntax::detect(&src).is_none(),
                "{name} does not compile"
            );
            continue;
        };
        let Some(syntax) = t.tool_syntax() else {
            continue;
        };
        let (tools, convo) = probe_conversation();
        let text = t
            .render(&convo, Some(&tools), true)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            text.contains("Current weather in a city"),
            "{name}: tools not shown:\n{text}"
        );
        let segs = t.render_segments(&convo, Some(&tools), true).unwrap();
        assert!(
            segs.iter()
                .any(|s| matches!(s, Segment::Content(c) if c.contains("22 C"))),
            "{name}: the tool result must be content, not template text"
        );
        let calls = probe_calls(&text, syntax);
        assert_eq!(
            calls.len(),
            1,
            "{name}: {syntax:?} parser cannot read\n{text}"
        );
        assert_eq!(calls[0].arguments, r#"{"city":"Paris"}"#, "{name}");
        by_syntax.push((name, syntax));
    }
    let count = |s: ToolSyntax| by_syntax.iter().filter(|(_, x)| *x == s).count();
    eprintln!(
        "tool templates: {} hermes, {} llama3-json of {} templates: {:?}",
        count(ToolSyntax::Hermes),
        count(ToolSyntax::Llama3Json),
        entries.len(),
        by_syntax
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
    );
    let has = |n: &str, s: ToolSyntax| by_syntax.iter().any(|(m, x)| m == n && *x == s);
    for n in [
        "Qwen-Qwen2.5-7B-Instruct",
        "Qwen-Qwen3-0.6B",
        "NousResearch-Hermes-3-Llama-3.1-8B-tool_use",
    ] {
        assert!(has(n, ToolSyntax::Hermes), "{n} not detected as hermes");
    }
    for n in [
        "meta-llama-Llama-3.1-8B-Instruct",
        "meta-llama-Llama-3.2-3B-Instruct",
        "meta-llama-Llama-3.3-70B-Instruct",
    ] {
        assert!(
            has(n, ToolSyntax::Llama3Json),
            "{n} not detected as llama3-json"
        );
    }
    // Templates with a syntax wren does not parse fall back to system-turn tools
    // (Apriel mentions `<tool_call>` but writes a `<tool_calls>[...]` list).
    for n in [
        "mistralai-Mistral-Nemo-Instruct-2407",
        "Qwen3-Coder",
        "google-gemma-2-2b-it",
        "unsloth-Apriel-1.5",
    ] {
        assert!(
            !by_syntax.iter().any(|(m, _)| m == n),
            "{n} should not be detected"
        );
    }
}
