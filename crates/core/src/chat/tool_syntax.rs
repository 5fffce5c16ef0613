//! Which tool-call convention a model's own chat template follows.
//!
//! A template that knows tools renders the `tools` list itself (each model family
//! has its own wording and layout) and renders earlier calls the way its model was
//! trained to write them. wren uses such a template when it recognises the call
//! syntax, since it must also constrain and parse what the model writes; for any
//! other template (no tool support, or a syntax wren does not parse yet, such as
//! Mistral's `[TOOL_CALLS]` control token or Qwen3-Coder's XML parameters) the
//! caller describes the tools in the system turn in the Hermes syntax instead.
//!
//! Recognising is two steps: [`ToolSyntax::detect`] looks for the syntax's markers in
//! the source, then [`probe`] renders a conversation with a tool list, an earlier call
//! and its result, and keeps the syntax only if the template shows the tool and wren's
//! parser reads the rendered call back exactly.

use super::{ChatMessage, ChatTemplate, FunctionCall, ToolCall};
use serde_json::{json, Value};

/// A tool-call syntax wren can constrain and parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolSyntax {
    /// Hermes / Qwen 2.5 (Qwen 2.5 and 3, QwQ, Hermes 2 Pro / 3, Granite 4, SmolLM3
    /// style): one block per call,
    /// `<tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>`.
    Hermes,
    /// Llama 3.1 – 3.3 custom tools: the whole reply is one JSON object,
    /// `{"name": "f", "parameters": {...}}` (one call per turn; the templates refuse
    /// more).
    Llama3Json,
}

impl ToolSyntax {
    /// The syntax of a template's source: it must use the `tools` variable and
    /// render calls in a known layout. `None` when it does not.
    pub fn detect(src: &str) -> Option<ToolSyntax> {
        if !src.contains("tools") {
            return None;
        }
        let any = |needles: &[&str]| needles.iter().any(|n| src.contains(n));
        let json_name = any(&[r#"{"name": ""#, r#"{\"name\": \""#]);
        if src.contains("<tool_call>") && json_name && src.contains("arguments") {
            return Some(ToolSyntax::Hermes);
        }
        if src.contains("<|start_header_id|>") && any(&[r#""parameters""#, r#"\"parameters\""#]) {
            return Some(ToolSyntax::Llama3Json);
        }
        None
    }

    /// Splits a reply into text and calls. Calls must be well-formed in this syntax,
    /// name a function among `names` and carry an object of arguments; a reply with
    /// none is all text. Arguments come back as compact JSON.
    pub fn parse_calls(self, text: &str, names: &[&str]) -> (Option<String>, Vec<ParsedCall>) {
        match self {
            ToolSyntax::Hermes => parse_hermes(text, names),
            ToolSyntax::Llama3Json => {
                let body = text.trim();
                let body = body.strip_prefix("<|python_tag|>").unwrap_or(body);
                match parse_object(body, "parameters", names) {
                    Some(call) => (None, vec![call]),
                    None => (Some(text.to_string()), Vec::new()),
                }
            }
        }
    }

    /// A short name for logs and `wren info`.
    pub fn name(self) -> &'static str {
        match self {
            ToolSyntax::Hermes => "hermes",
            ToolSyntax::Llama3Json => "llama3-json",
        }
    }
}

/// The probe conversation of [`probe`]: a tool list, and system, user, an assistant
/// call and the tool's result.
pub fn probe_conversation() -> (Value, Vec<ChatMessage>) {
    let tools = json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }}]);
    let mut call = ChatMessage::new("assistant", "");
    call.tool_calls = Some(vec![ToolCall {
        id: "abc123XYZ".into(), // 9 alphanumerics: some templates insist
        kind: "function".into(),
        function: FunctionCall {
            name: "get_weather".into(),
            arguments: json!({"city": "Paris"}),
        },
    }]);
    let mut result = ChatMessage::new("tool", "{\"temperature\": \"22 C\"}");
    result.tool_call_id = Some("abc123XYZ".into());
    let messages = vec![
        ChatMessage::new("system", "You are terse."),
        ChatMessage::new("user", "Weather in Paris?"),
        call,
        result,
    ];
    (tools, messages)
}

/// The calls of the probe conversation's rendering, as `syntax` reads the text between
/// the user's question and the tool's result. For [`ToolSyntax::Llama3Json`] that text
/// also holds the turn markers, so the reply is the JSON object starting at its
/// `{"name"`.
pub fn probe_calls(rendered: &str, syntax: ToolSyntax) -> Vec<ParsedCall> {
    let (Some(q), Some(r)) = (rendered.rfind("Weather in Paris?"), rendered.rfind("22 C")) else {
        return Vec::new();
    };
    let from = q + "Weather in Paris?".len();
    if r < from {
        return Vec::new();
    }
    let tail = &rendered[from..r];
    let reply = match syntax {
        ToolSyntax::Hermes => tail,
        ToolSyntax::Llama3Json => {
            let Some(a) = tail.find("{\"name\"") else {
                return Vec::new();
            };
            let mut it = serde_json::Deserializer::from_str(&tail[a..]).into_iter::<Value>();
            let end = match it.next() {
                Some(Ok(_)) => a + it.byte_offset(),
                _ => return Vec::new(),
            };
            &tail[a..end]
        }
    };
    syntax.parse_calls(reply, &["get_weather"]).1
}

/// Whether `t` shows tools and writes earlier calls in `syntax` (see the module notes).
pub fn probe(t: &ChatTemplate, syntax: ToolSyntax) -> bool {
    let (tools, messages) = probe_conversation();
    let Ok(text) = t.render(&messages, Some(&tools), true) else {
        return false;
    };
    let calls = probe_calls(&text, syntax);
    text.contains("Current weather in a city")
        && calls.len() == 1
        && calls[0].arguments == r#"{"city":"Paris"}"#
}

/// A tool call read from a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedCall {
    pub name: String,
    /// The arguments object as compact JSON.
    pub arguments: String,
}

/// Opening and closing tags of a Hermes call block.
pub const HERMES_OPEN: &str = "<tool_call>";
pub const HERMES_CLOSE: &str = "</tool_call>";

/// Hermes blocks from the first one on; text before the first block is the content.
fn parse_hermes(text: &str, names: &[&str]) -> (Option<String>, Vec<ParsedCall>) {
    let mut calls = Vec::new();
    let mut rest = text;
    let mut content_end = None;
    while let Some(i) = rest.find(HERMES_OPEN) {
        let after = &rest[i + HERMES_OPEN.len()..];
        let Some(j) = after.find(HERMES_CLOSE) else {
            break;
        };
        let Some(call) = parse_object(after[..j].trim(), "arguments", names) else {
            break;
        };
        if content_end.is_none() {
            content_end = Some(text.len() - rest.len() + i);
        }
        calls.push(call);
        rest = &after[j + HERMES_CLOSE.len()..];
    }
    match content_end {
        None => (Some(text.to_string()), Vec::new()),
        Some(end) => {
            let before = text[..end].trim();
            ((!before.is_empty()).then(|| before.to_string()), calls)
        }
    }
}

/// `{"name": <one of names>, <args_key>: {...}}`.
fn parse_object(body: &str, args_key: &str, names: &[&str]) -> Option<ParsedCall> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let name = v.get("name")?.as_str()?;
    if !names.contains(&name) {
        return None;
    }
    let args = v.get(args_key)?;
    if !args.is_object() {
        return None;
    }
    Some(ParsedCall {
        name: name.to_string(),
        arguments: args.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_layout_not_by_mention() {
        let qwen = r#"{%- if tools %}<tools>{% for t in tools %}{{ t|tojson }}{% endfor %}
{{- '<tool_call>\n{"name": "' }}{{ tool_call.name }}{{ '", "arguments": ' }}"#;
        assert_eq!(ToolSyntax::detect(qwen), Some(ToolSyntax::Hermes));
        let llama = r#"{%- if tools is not none %}<|start_header_id|>{{ '{"name": "' + n + '", "parameters": ' }}"#;
        assert_eq!(ToolSyntax::detect(llama), Some(ToolSyntax::Llama3Json));
        // XML parameters inside <tool_call> (Qwen3-Coder) are not the Hermes JSON.
        let coder = "{% if tools %}<tool_call>\n<function={{ name }}>\n<parameter=x>";
        assert_eq!(ToolSyntax::detect(coder), None);
        // No tools variable: plain chat.
        assert_eq!(ToolSyntax::detect("<|im_start|>{{ m.content }}"), None);
    }

    #[test]
    fn parses_each_syntax() {
        let names = ["get_weather"];
        let (c, calls) = ToolSyntax::Hermes.parse_calls(
            "Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
            &names,
        );
        assert_eq!(c.as_deref(), Some("Checking."));
        assert_eq!(calls[0].arguments, r#"{"city":"Paris"}"#);
        let l = ToolSyntax::Llama3Json;
        let (c, calls) = l.parse_calls(
            r#" {"name": "get_weather", "parameters": {"city": "Rome"}}"#,
            &names,
        );
        assert_eq!(
            (c, calls[0].arguments.as_str()),
            (None, r#"{"city":"Rome"}"#)
        );
        // Unknown names, non-object arguments and prose are text.
        for text in [
            r#"{"name": "nope", "parameters": {}}"#,
            r#"{"name": "get_weather", "parameters": 3}"#,
            "It is sunny.",
        ] {
            assert_eq!(
                l.parse_calls(text, &names),
                (Some(text.to_string()), vec![])
            );
        }
    }
}
