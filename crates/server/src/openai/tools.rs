//! Tool calling (`tools`, `tool_choice`, `parallel_tool_calls`).
//!
//! Two ways to show tools to the model:
//! - **The model's own template**, when it renders a `tools` list itself in a syntax
//!   wren parses ([`Engine::tool_syntax`](crate::engine::Engine::tool_syntax): Hermes for
//!   Qwen 2.5/3, Hermes 2 Pro/3, Granite 4 …; Llama 3.1–3.3's JSON). The template gets
//!   `tools`, earlier calls as the assistant messages' `tool_calls` and results as
//!   `role: "tool"` messages, exactly as `transformers` passes them, so the prompt is the
//!   one the model was trained on.
//! - **Otherwise** (SmolLM2, Gemma 3, templates in other syntaxes): the Hermes / Qwen 2.5
//!   convention, which many small instruct models saw in training. The tool list goes at
//!   the top of the system turn, between `<tools>` tags, one
//!   `{"type": "function", "function": {...}}` per line; the model calls a tool by
//!   writing
//!
//!   ```text
//!   <tool_call>
//!   {"name": "get_weather", "arguments": {"city": "Paris"}}
//!   </tool_call>
//!   ```
//!
//!   (several blocks, one per line, for parallel calls). Earlier calls are rendered back
//!   the same way inside the assistant turn, and `role: "tool"` results as a user turn of
//!   `<tool_response>` blocks, all as message text.
//!
//! Grammar: with `required` or a named function the reply must be calls whose JSON
//! matches the tool's parameters schema; with `auto` it may also be text. In the Hermes
//! syntax that is calls, text without `<tool_call>`, or text and then calls (the text
//! ends lazily at the first `<tool_call>`, as llama.cpp's lazily triggered grammars do);
//! in Llama 3's, the one call object or text that does not start with `{`. With
//! `response_format` asking for JSON, an `auto` reply is calls or the JSON answer. With
//! `none` nothing is constrained by the tools and no tools are shown.

use serde_json::{json, Value};
use wren_core::chat::tool_syntax::{ParsedCall, HERMES_CLOSE as CLOSE, HERMES_OPEN as OPEN};
use wren_core::chat::{ChatMessage, ToolSyntax};
use wren_core::constrain::grammar::compact;
use wren_core::constrain::Grammar;

use super::gen::new_id;
use super::structured::valid_name;
use super::types::{FunctionCallJson, FunctionDef, GenBody, ToolCallOut, ToolChoice};
use crate::error::ApiError;

pub use super::tool_stream::{call_deltas, StreamOut, ToolStream};

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
    /// How calls are written.
    pub syntax: ToolSyntax,
    /// The model's template shows the tools (else [`Tools::system_text`] does).
    pub native: bool,
    /// With `auto`: the schema a text answer must match (`response_format`), if any.
    pub answer: Option<Value>,
}

impl Tools {
    /// Reads and checks `tools`, `tool_choice` and `parallel_tool_calls`. `None` when
    /// there are no tools or `tool_choice` is `"none"`. `native`: the syntax of the
    /// model's template, if it shows tools itself.
    pub fn from_body(c: &GenBody, native: Option<ToolSyntax>) -> Result<Option<Tools>, ApiError> {
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
                let at = format!("tools[{i}].function.parameters");
                // Arguments are a JSON object: a schema of another type could never match.
                let typed = p.get("type").is_some_and(|t| t != "object");
                if !p.is_object() || typed {
                    return Err(ApiError::invalid_param(
                        &at,
                        "parameters must be a JSON Schema of an object (\"type\": \"object\")",
                    ));
                }
                if f.strict == Some(true) {
                    if let Some(path) = open_object(p, "") {
                        return Err(ApiError::invalid_param(
                            &at,
                            format!(
                                "with \"strict\": true every object schema must set \
                                 \"additionalProperties\": false (as OpenAI requires); \
                                 the one at {:?} does not",
                                if path.is_empty() { "/" } else { path.as_str() }
                            ),
                        ));
                    }
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
        // A text answer (with `auto`) follows `response_format` when it asks for JSON.
        let answer = match super::structured::response_grammar(c)? {
            None => None,
            Some(Grammar::JsonObject) => Some(json!({"type": "object"})),
            Some(Grammar::JsonSchema(s)) => Some(s),
            Some(other) => unreachable!("response_format gave a {}", other.kind()),
        };
        Ok(Some(Tools {
            functions,
            mode,
            parallel: c.parallel_tool_calls.unwrap_or(true),
            syntax: native.unwrap_or(ToolSyntax::Hermes),
            native: native.is_some(),
            answer,
        }))
    }

    /// The tool list as templates take it: `[{"type": "function", "function": {...}}]`.
    pub fn definitions(&self) -> Value {
        Value::Array(
            self.functions
                .iter()
                .map(|f| json!({"type": "function", "function": f}))
                .collect(),
        )
    }

    /// The names of the tools.
    pub fn names(&self) -> Vec<&str> {
        self.functions.iter().map(|f| f.name.as_str()).collect()
    }

    /// Splits a reply into text and tool calls (see [`ToolSyntax::parse_calls`]).
    pub fn parse_calls(&self, text: &str) -> (Option<String>, Vec<ToolCallOut>) {
        let (content, calls) = self.syntax.parse_calls(text, &self.names());
        (content, calls.into_iter().map(call_out).collect())
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
        let args_key = match self.syntax {
            ToolSyntax::Hermes => "arguments",
            ToolSyntax::Llama3Json => "parameters",
        };
        let single = allowed.len() == 1;
        let variants: Vec<Value> = allowed
            .iter()
            .enumerate()
            .map(|(i, f)| {
                // No parameters: an empty argument list, `{}` (as OpenAI reads it).
                let params = f.parameters.clone().unwrap_or_else(
                    || json!({"type": "object", "properties": {}, "additionalProperties": false}),
                );
                // The schema sits inside the call's; its local `$ref`s are rebased.
                let at = if single {
                    format!("/properties/{args_key}")
                } else {
                    format!("/anyOf/{i}/properties/{args_key}")
                };
                let params = rebase_refs(params, &at);
                json!({
                    "type": "object",
                    "properties": {"name": {"const": f.name}, args_key: params},
                    "required": ["name", args_key],
                    "additionalProperties": false
                })
            })
            .collect();
        let schema = if single {
            variants.into_iter().next().unwrap_or_default()
        } else {
            json!({"anyOf": variants})
        };
        let schema = compact(schema);
        let auto = self.mode == Mode::Auto;
        if let (true, Some(answer)) = (auto, &self.answer) {
            // Calls, or an answer in the response format (no text before calls).
            let answer = compact(answer.clone());
            return Grammar::Lark(match self.syntax {
                ToolSyntax::Hermes => {
                    let more = if self.parallel { "(\"\\n\" call)*" } else { "" };
                    format!(
                        "start: calls | answer\ncalls: call {more}\n\
                         call: \"{OPEN}\\n\" %json {schema} \"\\n{CLOSE}\"\n\
                         answer: %json {answer}\n"
                    )
                }
                ToolSyntax::Llama3Json => {
                    format!("start: call | answer\ncall: %json {schema}\nanswer: %json {answer}\n")
                }
            });
        }
        Grammar::Lark(match self.syntax {
            ToolSyntax::Hermes => {
                let more = if self.parallel { "(\"\\n\" call)*" } else { "" };
                // `auto`: calls, text without a call, or text and then calls (`lead`
                // ends lazily at the first call opening, which it includes; `rest` is
                // the call it opened).
                let start = if auto {
                    "start: calls | TEXT | lead rest"
                } else {
                    "start: calls"
                };
                format!(
                    "{start}\ncalls: call {more}\nrest: body {more}\ncall: \"{OPEN}\" body\n\
                     body: \"\\n\" %json {schema} \"\\n{CLOSE}\"\n\
                     lead[suffix=\"{OPEN}\"]: /(?s:[^<].*)/\n\
                     TEXT: /(?s:.+)/ & ~/(?s:.*{OPEN}.*)/\n"
                )
            }
            // One call per turn (Llama 3's templates refuse more); `auto` text must
            // not start like a call.
            ToolSyntax::Llama3Json => {
                let start = if auto {
                    "start: call | TEXT"
                } else {
                    "start: call"
                };
                format!("{start}\ncall: %json {schema}\nTEXT: /(?s:[^{{\\s].*)/\n")
            }
        })
    }
}

/// Keys whose values are data, not schemas.
const DATA_KEYS: [&str; 4] = ["const", "enum", "default", "examples"];

/// `schema`, embedded at JSON pointer `at` of a larger schema, with its document-local
/// references (`"$ref": "#/$defs/X"`, `"#"`) rewritten to point into it there. A schema
/// with its own `$id` resolves them against itself already and is left as it is.
fn rebase_refs(mut schema: Value, at: &str) -> Value {
    fn walk(v: &mut Value, at: &str) {
        match v {
            Value::Object(o) => {
                for (k, v) in o.iter_mut() {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) if r.starts_with('#') => {
                            *r = format!("#{at}{}", &r[1..]);
                        }
                        (k, _) if DATA_KEYS.contains(&k) => {}
                        (_, v) => walk(v, at),
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|v| walk(v, at)),
            _ => {}
        }
    }
    if schema.get("$id").is_none() {
        walk(&mut schema, at);
    }
    schema
}

/// The JSON pointer of the first object schema in `schema` (at `path`) that does not set
/// `"additionalProperties": false`, if any (OpenAI's strict mode needs it everywhere).
fn open_object(schema: &Value, path: &str) -> Option<String> {
    let o = schema.as_object()?;
    let is_object = o.get("type") == Some(&json!("object")) || o.contains_key("properties");
    if is_object && o.get("additionalProperties") != Some(&Value::Bool(false)) {
        return Some(path.to_string());
    }
    // A JSON pointer's reference token.
    let esc = |k: &str| k.replace('~', "~0").replace('/', "~1");
    let sub = |k: &str| format!("{path}/{}", esc(k));
    o.iter().find_map(|(k, v)| match k.as_str() {
        // Maps of names to schemas.
        "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" => v
            .as_object()?
            .iter()
            .find_map(|(name, v)| open_object(v, &format!("{}/{}", sub(k), esc(name)))),
        // Lists of schemas.
        "anyOf" | "oneOf" | "allOf" | "prefixItems" => v
            .as_array()?
            .iter()
            .enumerate()
            .find_map(|(i, v)| open_object(v, &format!("{}/{i}", sub(k)))),
        // One schema.
        "items" | "additionalProperties" | "not" | "if" | "then" | "else" | "contains" => {
            open_object(v, &sub(k))
        }
        _ => None,
    })
}

/// A parsed call as the API sends it, with a fresh id.
pub fn call_out(c: ParsedCall) -> ToolCallOut {
    ToolCallOut {
        id: new_id("call"),
        kind: "function",
        function: FunctionCallJson {
            name: c.name,
            arguments: c.arguments,
        },
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
            syntax: ToolSyntax::Hermes,
            native: false,
            answer: None,
        }
    }

    fn llama3() -> Tools {
        Tools {
            syntax: ToolSyntax::Llama3Json,
            native: true,
            ..weather()
        }
    }

    /// Feeds `reply` one character at a time; returns the text and the calls' name and
    /// assembled arguments.
    fn stream_all(tools: &Tools, reply: &str) -> (String, Vec<(String, String)>) {
        let mut s = ToolStream::new(tools);
        let mut text = String::new();
        let mut calls: Vec<(String, String)> = Vec::new();
        let mut take = |outs: Vec<StreamOut>| {
            for out in outs {
                match out {
                    StreamOut::Text(t) => text.push_str(&t),
                    StreamOut::Calls(ds) => {
                        for d in ds {
                            if let Some(n) = d.function.name {
                                calls.push((n, String::new()));
                            }
                            calls[d.index as usize].1.push_str(&d.function.arguments);
                        }
                    }
                }
            }
        };
        for (i, c) in reply.char_indices() {
            take(s.push(&reply[i..i + c.len_utf8()]));
        }
        take(s.finish().into_iter().collect());
        (text, calls)
    }

    #[test]
    fn a_function_without_parameters_takes_no_arguments() {
        let t: Tool = serde_json::from_value(json!(
            {"type": "function", "function": {"name": "now"}}))
        .unwrap();
        let tools = Tools {
            functions: vec![t.function],
            mode: Mode::Required,
            ..weather()
        };
        let call = |args: &str| {
            format!("<tool_call>\n{{\"name\": \"now\", \"arguments\": {args}}}\n</tool_call>")
        };
        assert!(grammar_accepts(&tools, &call("{}")));
        assert!(!grammar_accepts(&tools, &call(r#"{"time": "noon"}"#)));
    }

    #[test]
    fn response_format_shapes_the_text_answer() {
        let call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>";
        for syntax in [ToolSyntax::Hermes, ToolSyntax::Llama3Json] {
            let t = Tools {
                syntax,
                answer: Some(
                    json!({"type": "object", "properties": {"temp": {"type": "number"}},
                    "required": ["temp"], "additionalProperties": false}),
                ),
                ..weather()
            };
            assert!(grammar_accepts(&t, r#"{"temp": 3}"#), "{syntax:?}");
            assert!(!grammar_accepts(&t, "It is sunny."), "{syntax:?}");
            assert!(!grammar_accepts(&t, r#"{"sky": "blue"}"#), "{syntax:?}");
            let c = match syntax {
                ToolSyntax::Hermes => call.to_string(),
                ToolSyntax::Llama3Json => {
                    r#"{"name": "get_weather", "parameters": {"city": "Oslo"}}"#.to_string()
                }
            };
            assert!(grammar_accepts(&t, &c), "{syntax:?}");
        }
    }

    #[test]
    fn llama3_json_calls() {
        let t = llama3();
        let call = r#"{"name": "get_weather", "parameters": {"city": "Oslo"}}"#;
        assert!(grammar_accepts(&t, call));
        assert!(grammar_accepts(&t, "It is sunny."));
        assert!(
            !grammar_accepts(&t, &format!("{call}\n{call}")),
            "one call per turn"
        );
        assert!(!grammar_accepts(
            &t,
            r#"{"name": "get_weather", "arguments": {"city": "Oslo"}}"#
        ));
        assert!(!grammar_accepts(
            &t,
            r#"{"name": "nope", "parameters": {}}"#
        ));
        let (content, calls) = t.parse_calls(call);
        assert_eq!(
            (content, calls[0].function.arguments.as_str()),
            (None, r#"{"city":"Oslo"}"#)
        );
        assert_eq!(
            stream_all(&t, call),
            (
                String::new(),
                vec![("get_weather".into(), r#"{"city":"Oslo"}"#.into())]
            )
        );
        assert_eq!(
            stream_all(&t, "It is sunny."),
            ("It is sunny.".into(), vec![])
        );
        // A reply that looks like JSON but is no call is text in the end.
        assert_eq!(stream_all(&t, "{1}"), ("{1}".into(), vec![]));
        let required = Tools {
            mode: Mode::Required,
            ..llama3()
        };
        assert!(!grammar_accepts(&required, "It is sunny."));
        assert!(grammar_accepts(&required, call));
    }

    #[test]
    fn parses_calls_and_text() {
        let t = weather();
        let (c, calls) = t.parse_calls(
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}\n</tool_call>",
        );
        assert_eq!(c, None);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].function.arguments, "{\"city\":\"Rome\"}");
        let (c, calls) = t.parse_calls("It is sunny.");
        assert_eq!((c.as_deref(), calls.len()), (Some("It is sunny."), 0));
        // An unknown tool or broken JSON is text.
        let bad = "<tool_call>\n{\"name\": \"nope\", \"arguments\": {}}\n</tool_call>";
        assert_eq!(t.parse_calls(bad).1.len(), 0);
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
        let (c, parsed) = tools.parse_calls(reply);
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
        // A call opening after text starts a call; cut off there, it is a call cut
        // short, not text.
        assert_eq!(s.push(" <tool_call>"), vec![]);
        assert_eq!(s.finish(), None);
        assert!(s.cut);
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
