//! Tool calling (`tools`, `tool_choice`, `parallel_tool_calls`).
//!
//! Format (the Hermes / Qwen 2.5 convention, which many small instruct models saw in
//! training): the tool list goes at the top of the system turn, between `<tools>` tags,
//! one `{"type": "function", "function": {...}}` per line; the model calls a tool by
//! writing
//!
//! ```text
//! <tool_call>
//! {"name": "get_weather", "arguments": {"city": "Paris"}}
//! </tool_call>
//! ```
//!
//! (several blocks, one per line, for parallel calls). Earlier calls are rendered back
//! the same way inside the assistant turn, and `role: "tool"` results as a user turn of
//! `<tool_response>` blocks. The same text is used for every model: templates are given
//! plain messages.
//!
//! Grammar: with `required` or a named function the reply must be call blocks whose JSON
//! matches `{"name": <a tool>, "arguments": <its parameters schema>}`; with `auto` it is
//! such calls, text without `<tool_call>`, or text and then calls (the text ends lazily at
//! the first `<tool_call>`, as llama.cpp's lazily triggered grammars do); with `none`
//! nothing is constrained and no tools are shown.

use serde_json::{json, Value};
use wren_core::chat::ChatMessage;
use wren_core::constrain::grammar::compact;
use wren_core::constrain::Grammar;

use super::gen::new_id;
use super::structured::valid_name;
use super::types::{
    FunctionCallJson, FunctionDef, FunctionDelta, GenBody, ToolCallDelta, ToolCallOut, ToolChoice,
};
use crate::error::ApiError;

const OPEN: &str = "<tool_call>";
const CLOSE: &str = "</tool_call>";

/// How the reply may use the tools.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Text or calls, the model's choice.
    Auto,
    /// At least one call, any tool.
    Required,
    /// Exactly this tool.
    Named(String),
}

/// The tools of a request, validated.
#[derive(Clone, Debug)]
pub struct Tools {
    pub functions: Vec<FunctionDef>,
    pub mode: Mode,
    pub parallel: bool,
}

impl Tools {
    /// Reads and checks `tools`, `tool_choice` and `parallel_tool_calls`. `None` when
    /// there are no tools or `tool_choice` is `"none"`.
    pub fn from_body(c: &GenBody) -> Result<Option<Tools>, ApiError> {
        let defs = c.tools.as_deref().unwrap_or(&[]);
        let mut functions: Vec<FunctionDef> = Vec::with_capacity(defs.len());
        for (i, t) in defs.iter().enumerate() {
            if t.kind != "function" {
                return Err(ApiError::invalid_param(
                    &format!("tools[{i}].type"),
                    format!("unsupported tool type {:?}: only \"function\"", t.kind),
                ));
            }
            let f = &t.function;
            if !valid_name(&f.name) {
                return Err(ApiError::invalid_param(
                    &format!("tools[{i}].function.name"),
                    format!(
                        "invalid function name {:?}: use 1 to 64 ASCII letters, digits, '_' or '-'",
                        f.name
                    ),
                ));
            }
            if functions.iter().any(|g| g.name == f.name) {
                return Err(ApiError::invalid_param(
                    &format!("tools[{i}].function.name"),
                    format!("two tools are named {:?}", f.name),
                ));
            }
            if let Some(p) = &f.parameters {
                if !p.is_object() {
                    return Err(ApiError::invalid_param(
                        &format!("tools[{i}].function.parameters"),
                        "parameters must be a JSON Schema object",
                    ));
                }
            }
            functions.push(f.clone());
        }
        let mode = match &c.tool_choice {
            None => Some(Mode::Auto),
            Some(ToolChoice::Mode(m)) => match m.as_str() {
                "none" => None,
                "auto" => Some(Mode::Auto),
                "required" => Some(Mode::Required),
                other => {
                    return Err(ApiError::invalid_param(
                        "tool_choice",
                        format!("unknown tool_choice {other:?}: use \"none\", \"auto\", \"required\" or {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}"),
                    ))
                }
            },
            Some(ToolChoice::Named(n)) => {
                if n.kind != "function" {
                    return Err(ApiError::invalid_param(
                        "tool_choice.type",
                        format!("unsupported tool_choice type {:?}: only \"function\"", n.kind),
                    ));
                }
                if !functions.iter().any(|f| f.name == n.function.name) {
                    return Err(ApiError::invalid_param(
                        "tool_choice.function.name",
                        format!("tool_choice names {:?}, which is not in tools", n.function.name),
                    ));
                }
                Some(Mode::Named(n.function.name.clone()))
            }
        };
        if functions.is_empty() {
            if matches!(mode, Some(Mode::Required | Mode::Named(_))) {
                return Err(ApiError::invalid_param(
                    "tool_choice",
                    "tool_choice asks for a tool call but no tools are given",
                ));
            }
            return Ok(None);
        }
        let Some(mode) = mode else {
            return Ok(None);
        };
        if c.response_format.is_some() {
            return Err(ApiError::invalid_param(
                "response_format",
                "response_format together with tools is not supported (use tool_choice: \"none\" or drop one of them)",
            ));
        }
        Ok(Some(Tools {
            functions,
            mode,
            parallel: c.parallel_tool_calls.unwrap_or(true),
        }))
    }

    /// The text put at the top of the system turn.
    pub fn system_text(&self) -> String {
        let mut s = String::from(
            "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n\
             You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n",
        );
        for f in &self.functions {
            let line = json!({"type": "function", "function": f});
            s.push_str(&line.to_string());
            s.push('\n');
        }
        s.push_str(
            "</tools>\n\nFor each function call, return a json object with function name and \
             arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n\
             {\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>",
        );
        s
    }

    /// The grammar of the reply (Lark, with one `%json` schema for a call).
    pub fn grammar(&self) -> Grammar {
        let allowed: Vec<&FunctionDef> = match &self.mode {
            Mode::Named(n) => self.functions.iter().filter(|f| &f.name == n).collect(),
            _ => self.functions.iter().collect(),
        };
        let variants: Vec<Value> = allowed
            .iter()
            .map(|f| {
                let params = f
                    .parameters
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
                json!({
                    "type": "object",
                    "properties": {"name": {"const": f.name}, "arguments": params},
                    "required": ["name", "arguments"],
                    "additionalProperties": false
                })
            })
            .collect();
        let schema = if variants.len() == 1 {
            variants.into_iter().next().unwrap_or_default()
        } else {
            json!({"anyOf": variants})
        };
        let schema = compact(schema);
        let more = if self.parallel { "(\"\\n\" call)*" } else { "" };
        // `auto`: calls, text without a call, or text and then calls (`lead` ends lazily
        // at the first call opening, which it includes; `rest` is the call it opened).
        let start = match self.mode {
            Mode::Auto => "start: calls | TEXT | lead rest",
            _ => "start: calls",
        };
        Grammar::Lark(format!(
            "{start}\ncalls: call {more}\nrest: body {more}\ncall: \"{OPEN}\" body\n\
             body: \"\\n\" %json {schema} \"\\n{CLOSE}\"\n\
             lead[suffix=\"{OPEN}\"]: /(?s:[^<].*)/\n\
             TEXT: /(?s:.+)/ & ~/(?s:.*{OPEN}.*)/\n"
        ))
    }
}

/// A call as text, the way the model writes it.
fn call_text(name: &str, arguments: &str) -> String {
    let args: Value = serde_json::from_str(arguments).unwrap_or(Value::String(arguments.into()));
    format!(
        "{OPEN}\n{}\n{CLOSE}",
        json!({"name": name, "arguments": args})
    )
}

/// Adds the tool list to the system turn (a new first message when there is none).
pub fn add_system_text(messages: &mut Vec<ChatMessage>, tools: &Tools) {
    let text = tools.system_text();
    match messages.first_mut() {
        Some(m) if m.role == "system" => {
            m.content = format!("{}\n\n{text}", m.content);
        }
        _ => messages.insert(0, ChatMessage::new("system", text)),
    }
}

/// An assistant message with tool calls as the model would have written it.
pub fn assistant_with_calls(content: &str, calls: &[(String, String)]) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !content.trim().is_empty() {
        parts.push(content.to_string());
    }
    parts.extend(calls.iter().map(|(n, a)| call_text(n, a)));
    parts.join("\n")
}

/// Tool results as the user turn text: one `<tool_response>` block each.
pub fn tool_responses(results: &[String]) -> String {
    results
        .iter()
        .map(|r| format!("<tool_response>\n{r}\n</tool_response>"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits a reply into text and tool calls. Calls are well-formed `<tool_call>` blocks
/// whose JSON has a `name` among `names` and object `arguments`; when there is none the
/// whole reply is text.
pub fn parse_calls(text: &str, names: &[&str]) -> (Option<String>, Vec<ToolCallOut>) {
    let mut calls = Vec::new();
    let mut rest = text;
    let mut content_end = None;
    while let Some(i) = rest.find(OPEN) {
        let after = &rest[i + OPEN.len()..];
        let Some(j) = after.find(CLOSE) else { break };
        let body = after[..j].trim();
        let Some(call) = parse_one(body, names) else {
            break;
        };
        if content_end.is_none() {
            content_end = Some(text.len() - rest.len() + i);
        }
        calls.push(call);
        rest = &after[j + CLOSE.len()..];
    }
    match content_end {
        None => (Some(text.to_string()), Vec::new()),
        Some(end) => {
            let before = text[..end].trim();
            ((!before.is_empty()).then(|| before.to_string()), calls)
        }
    }
}

fn parse_one(body: &str, names: &[&str]) -> Option<ToolCallOut> {
    let v: Value = serde_json::from_str(body).ok()?;
    let name = v.get("name")?.as_str()?;
    if !names.contains(&name) {
        return None;
    }
    let args = v.get("arguments")?;
    if !args.is_object() {
        return None;
    }
    Some(ToolCallOut {
        id: new_id("call"),
        kind: "function",
        function: FunctionCallJson {
            name: name.to_string(),
            arguments: args.to_string(),
        },
    })
}

/// Streaming: holds text back while it may be the start of a call, and turns call text
/// into `delta.tool_calls` as it arrives: the id and name once `"arguments": ` is seen,
/// then argument fragments (the grammar writes a call on one line,
/// `{"name": "f", "arguments": {...}}`, so its first raw newline ends the arguments; the
/// last byte is held back until then, as it may be the call's closing brace). A call
/// laid out otherwise is sent whole once its `</tool_call>` arrives.
#[derive(Debug, Default)]
pub struct ToolStream {
    names: Vec<String>,
    buf: String,
    /// The reply is calls (it began with `<tool_call>`).
    calls_mode: bool,
    /// Text already sent as content.
    sent_text: bool,
    /// The call being streamed: where its arguments start in `buf`, and the end of
    /// what was sent.
    cur: Option<(usize, usize)>,
    /// Calls started so far (the next call's index).
    pub calls: u32,
}

/// What the stream should send for a piece.
#[derive(Debug, PartialEq)]
pub enum StreamOut {
    Text(String),
    Calls(Vec<ToolCallDelta>),
}

/// Argument text is streamed in fragments of about this many bytes.
const FRAGMENT: usize = 32;

/// OpenAI's `delta.tool_calls` entries for one call: the first carries `index`, `id`,
/// `type`, the name and no arguments; the next ones argument fragments (index only).
pub fn call_deltas(index: u32, call: ToolCallOut) -> Vec<ToolCallDelta> {
    let mut out = vec![ToolCallDelta {
        index,
        id: Some(call.id),
        kind: Some("function"),
        function: FunctionDelta {
            name: Some(call.function.name),
            arguments: String::new(),
        },
    }];
    let args = call.function.arguments;
    let mut start = 0;
    while start < args.len() {
        let mut end = (start + FRAGMENT).min(args.len());
        while !args.is_char_boundary(end) {
            end += 1;
        }
        out.push(ToolCallDelta {
            index,
            id: None,
            kind: None,
            function: FunctionDelta {
                name: None,
                arguments: args[start..end].to_string(),
            },
        });
        start = end;
    }
    out
}

impl ToolStream {
    pub fn new(tools: &Tools) -> ToolStream {
        ToolStream {
            names: tools.functions.iter().map(|f| f.name.clone()).collect(),
            ..ToolStream::default()
        }
    }

    /// Feeds generated text; returns what can be sent now.
    pub fn push(&mut self, text: &str) -> Vec<StreamOut> {
        self.buf.push_str(text);
        let mut outs = Vec::new();
        if !self.calls_mode {
            let head = self.buf.trim_start();
            if !self.sent_text && OPEN.starts_with(head) {
                return outs; // may still become a call
            }
            if !self.sent_text && head.starts_with(OPEN) {
                self.calls_mode = true;
            } else if let Some(i) = self.buf.find(OPEN) {
                // Text, then calls (`auto`): the text before the call, without the
                // whitespace that separates them (as `parse_calls` reads it).
                let text = self.buf[..i].trim_end().to_string();
                self.buf.drain(..i);
                self.calls_mode = true;
                if !text.is_empty() {
                    self.sent_text = true;
                    outs.push(StreamOut::Text(text));
                }
            } else {
                // Hold back trailing whitespace and anything that may begin a call.
                let keep = held_back(&self.buf);
                let text: String = self.buf.drain(..self.buf.len() - keep).collect();
                if !text.is_empty() {
                    self.sent_text = true;
                    outs.push(StreamOut::Text(text));
                }
                return outs;
            }
        }
        let mut deltas = Vec::new();
        while self.step(&mut deltas) {}
        if !deltas.is_empty() {
            outs.push(StreamOut::Calls(deltas));
        }
        outs
    }

    /// Makes what progress the buffer allows; true to be called again.
    fn step(&mut self, out: &mut Vec<ToolCallDelta>) -> bool {
        let Some((start, sent)) = self.cur else {
            return self.start_call(out);
        };
        let index = self.calls.saturating_sub(1);
        let (upto, done) = match self.buf[start..].find('\n') {
            // The byte before the newline closes the call object.
            Some(p) => (start + p.saturating_sub(1), true),
            None => {
                let mut e = self.buf.len().saturating_sub(1).max(sent);
                while !self.buf.is_char_boundary(e) {
                    e -= 1;
                }
                (e.max(sent), false)
            }
        };
        if upto > sent {
            out.push(args_delta(index, &self.buf[sent..upto]));
        }
        self.cur = Some((start, upto.max(sent)));
        if !done {
            return false;
        }
        let Some(end) = self.buf[start..].find(CLOSE) else {
            return false;
        };
        self.buf.drain(..start + end + CLOSE.len());
        self.cur = None;
        true
    }

    /// At a call's start: sends its id and name once `"arguments": ` is there, or the
    /// whole call once complete if it is laid out otherwise.
    fn start_call(&mut self, out: &mut Vec<ToolCallDelta>) -> bool {
        let lead = self.buf.len() - self.buf.trim_start().len();
        let prefix = format!("{OPEN}\n{{\"name\": \"");
        let sep = "\", \"arguments\": ";
        if let Some(rest) = self.buf[lead..].strip_prefix(prefix.as_str()) {
            if let Some(k) = rest.find(sep) {
                let name = &rest[..k];
                if self.names.iter().any(|n| n == name) {
                    out.push(ToolCallDelta {
                        index: self.calls,
                        id: Some(new_id("call")),
                        kind: Some("function"),
                        function: FunctionDelta {
                            name: Some(name.to_string()),
                            arguments: String::new(),
                        },
                    });
                    self.calls += 1;
                    let start = lead + prefix.len() + k + sep.len();
                    self.cur = Some((start, start));
                    return true;
                }
            }
        }
        let Some(end) = self.buf.find(CLOSE) else {
            return false;
        };
        let block: String = self.buf.drain(..end + CLOSE.len()).collect();
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        for call in parse_calls(&block, &names).1 {
            out.extend(call_deltas(self.calls, call));
            self.calls += 1;
        }
        true
    }

    /// At the end: whatever is held back (text that only looked like a call start, or
    /// the last bytes of a call cut short).
    pub fn finish(&mut self) -> Option<StreamOut> {
        if let Some((_, sent)) = self.cur.take() {
            let rest = self.buf[sent..].to_string();
            self.buf.clear();
            let index = self.calls.saturating_sub(1);
            return (!rest.is_empty()).then(|| StreamOut::Calls(vec![args_delta(index, &rest)]));
        }
        // Text, or the start of a call that never completed (as `parse_calls` reads it).
        let rest = std::mem::take(&mut self.buf);
        (!rest.trim().is_empty()).then_some(StreamOut::Text(rest))
    }
}

/// Bytes at the end of streamed text to hold back: a partial call opening and the
/// whitespace before it (or trailing whitespace that may precede one).
fn held_back(buf: &str) -> usize {
    let partial = (1..OPEN.len())
        .rev()
        .find(|&n| {
            buf.len() >= n
                && buf.is_char_boundary(buf.len() - n)
                && OPEN.starts_with(&buf[buf.len() - n..])
        })
        .unwrap_or(0);
    let before = &buf[..buf.len() - partial];
    partial + (before.len() - before.trim_end().len())
}

fn args_delta(index: u32, args: &str) -> ToolCallDelta {
    ToolCallDelta {
        index,
        id: None,
        kind: None,
        function: FunctionDelta {
            name: None,
            arguments: args.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::types::Tool;

    fn weather() -> Tools {
        let t: Tool = serde_json::from_value(json!({
            "type": "function",
            "function": {"name": "get_weather", "parameters": {
                "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
        }))
        .unwrap();
        Tools {
            functions: vec![t.function],
            mode: Mode::Auto,
            parallel: true,
        }
    }

    #[test]
    fn parses_calls_and_text() {
        let names = ["get_weather"];
        let (c, calls) = parse_calls(
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>",
            &names,
        );
        assert_eq!(c, None);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].function.arguments, "{\"city\":\"Rome\"}");
        let (c, calls) = parse_calls("It is sunny.", &names);
        assert_eq!((c.as_deref(), calls.len()), (Some("It is sunny."), 0));
        // An unknown tool or broken JSON is text.
        let bad = "<tool_call>\n{\"name\": \"nope\", \"arguments\": {}}\n</tool_call>";
        assert_eq!(parse_calls(bad, &names).1.len(), 0);
    }

    #[test]
    fn stream_sends_text_then_calls() {
        let tools = weather();
        let mut s = ToolStream::new(&tools);
        let mut text = String::new();
        let mut calls = Vec::new();
        let reply = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>";
        // Byte by byte: every split point of the opening and the newline before it.
        for (i, _) in reply.char_indices() {
            let piece = &reply[i..i + reply[i..].chars().next().unwrap().len_utf8()];
            for out in s.push(piece) {
                match out {
                    StreamOut::Text(t) => text.push_str(&t),
                    StreamOut::Calls(ds) => calls.extend(ds),
                }
            }
        }
        assert_eq!(s.finish(), None);
        assert_eq!(text, "Let me check.");
        assert_eq!(calls[0].function.name.as_deref(), Some("get_weather"));
        let args: String = calls
            .iter()
            .map(|d| d.function.arguments.as_str())
            .collect();
        assert_eq!(args, "{\"city\": \"Oslo\"}");
        // parse_calls reads the same reply the same way.
        let (c, parsed) = parse_calls(reply, &["get_weather"]);
        assert_eq!((c.as_deref(), parsed.len()), (Some("Let me check."), 1));
        // Text that only looks like the start of a call is sent in the end.
        let mut s = ToolStream::new(&tools);
        assert_eq!(s.push("a <tool"), vec![StreamOut::Text("a".into())]);
        assert_eq!(s.finish(), Some(StreamOut::Text(" <tool".into())));
    }

    #[test]
    fn stream_holds_back_call_starts() {
        let tools = weather();
        let mut s = ToolStream::new(&tools);
        assert!(s.push("<tool").is_empty());
        assert!(s.push("_call>\n{\"name\": \"get_weather\", ").is_empty());
        // The name goes out with `"arguments": `, then the arguments as they come,
        // holding back the last byte (it may close the call object).
        let (mut name, mut args) = (String::new(), String::new());
        let pieces = [
            "\"arguments\": {\"ci",
            "ty\": \"Os",
            "lo\"}",
            "}",
            "\n</tool",
            "_call>",
        ];
        for piece in pieces {
            for out in s.push(piece) {
                let StreamOut::Calls(ds) = out else {
                    panic!("{out:?}")
                };
                for d in ds {
                    assert_eq!(d.index, 0);
                    name.push_str(d.function.name.as_deref().unwrap_or(""));
                    args.push_str(&d.function.arguments);
                }
            }
            assert!(args.len() <= 16, "{args}");
        }
        assert_eq!(
            (name.as_str(), args.as_str()),
            ("get_weather", "{\"city\": \"Oslo\"}")
        );
        assert_eq!(s.calls, 1);
        assert_eq!(s.finish(), None);
        let mut s = ToolStream::new(&tools);
        assert!(s.push("<").is_empty());
        assert_eq!(s.push("b>hi"), vec![StreamOut::Text("<b>hi".into())]);
        // A call opening after text starts a call; cut off there, it is sent as text.
        assert_eq!(s.push(" <tool_call>"), vec![]);
        assert_eq!(s.finish(), Some(StreamOut::Text("<tool_call>".into())));
    }

    /// Feeds `text` byte by byte (the fake vocabulary is bytes) through the grammar;
    /// returns whether every byte was allowed and the end accepted.
    fn grammar_accepts(tools: &Tools, text: &str) -> bool {
        use crate::engine::Engine;
        let e = crate::engine::fake::FakeEngine::new(&[]);
        let mut c = e.constraint(&tools.grammar()).unwrap();
        for &b in text.as_bytes() {
            let mut logits = vec![0.0f32; 258];
            c.mask_logits(&mut logits);
            if logits[b as usize].is_infinite() {
                return false;
            }
            c.commit(b as u32);
        }
        c.is_accepting()
    }

    #[test]
    fn grammars_force_valid_calls() {
        let mut t = weather();
        let call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>";
        let two = format!("{call}\n{call}");
        assert!(grammar_accepts(&t, call));
        assert!(grammar_accepts(&t, &two));
        assert!(grammar_accepts(&t, "It is sunny."));
        assert!(!grammar_accepts(&t, "Sure: <tool_call>"));
        // Text, then calls.
        assert!(grammar_accepts(
            &t,
            &format!("Let me look that up.\n{call}")
        ));
        assert!(grammar_accepts(&t, &format!("Both:\n{two}")));
        assert!(!grammar_accepts(
            &t,
            &format!("Let me look.\n{call}\nDone.")
        ));
        assert!(!grammar_accepts(&t, "Hm <tool_call>\n{\"name\": \"nope\""));
        assert!(!grammar_accepts(&t, "<tool_call>\n{\"name\": \"nope\""));
        assert!(!grammar_accepts(
            &t,
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}"
        ));
        t.mode = Mode::Required;
        assert!(grammar_accepts(&t, call));
        assert!(!grammar_accepts(&t, "It is sunny."));
        t.parallel = false;
        assert!(!grammar_accepts(&t, &two));
    }

    #[test]
    fn system_text_lists_tools() {
        let s = weather().system_text();
        assert!(
            s.contains("<tools>\n{\"type\":\"function\",\"function\":{\"name\":\"get_weather\""),
            "{s}"
        );
    }
}
