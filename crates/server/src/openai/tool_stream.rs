//! Streaming tool calls: turns generated text into `delta.content` and OpenAI's
//! `delta.tool_calls` chunks as it arrives.

use wren_core::chat::tool_syntax::{HERMES_CLOSE as CLOSE, HERMES_OPEN as OPEN};
use wren_core::chat::ToolSyntax;

use super::gen::new_id;
use super::tools::{call_out, Tools};
use super::types::{FunctionCallJson, FunctionDelta, ToolCallDelta, ToolCallOut};
use crate::engine::FinishReason;

/// Holds text back while it may be the start of a call, and turns call text
/// into `delta.tool_calls` as it arrives: the id and name once `"arguments": ` is seen,
/// then argument fragments (the grammar writes a call on one line,
/// `{"name": "f", "arguments": {...}}`, so its first raw newline ends the arguments; the
/// last byte is held back until then, as it may be the call's closing brace). A call
/// laid out otherwise is sent whole once its `</tool_call>` arrives.
#[derive(Debug)]
pub struct ToolStream {
    names: Vec<String>,
    syntax: ToolSyntax,
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
    /// The reply ended inside a call (cut by `max_tokens` or a stop string): its
    /// arguments, as far as they got, were sent, but they are not a whole call.
    pub cut: bool,
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
            syntax: tools.syntax,
            buf: String::new(),
            calls_mode: false,
            sent_text: false,
            cur: None,
            calls: 0,
            cut: false,
        }
    }

    /// `reason` as the API reports it: `tool_calls` when the reply made calls and ended
    /// after a whole one, else how generation ended (`length` or `stop` for a call cut
    /// short, whose arguments may not parse).
    pub fn finish_reason(&self, reason: FinishReason) -> &'static str {
        if self.calls > 0 && !self.cut && reason == FinishReason::Stop {
            "tool_calls"
        } else {
            reason.as_str()
        }
    }

    /// A whole reply at once, as the stream would send it: the text, and the calls with
    /// their arguments as the model wrote them.
    pub fn assemble(tools: &Tools, reply: &str) -> (ToolStream, Option<String>, Vec<ToolCallOut>) {
        let mut s = ToolStream::new(tools);
        let mut outs = s.push(reply);
        outs.extend(s.finish());
        let mut text = String::new();
        let mut calls: Vec<ToolCallOut> = Vec::new();
        for out in outs {
            match out {
                StreamOut::Text(t) => text.push_str(&t),
                StreamOut::Calls(deltas) => {
                    for d in deltas {
                        match (d.id, d.function.name) {
                            (Some(id), Some(name)) => calls.push(ToolCallOut {
                                id,
                                kind: "function",
                                function: FunctionCallJson {
                                    name,
                                    arguments: d.function.arguments,
                                },
                            }),
                            _ => {
                                if let Some(c) = calls.get_mut(d.index as usize) {
                                    c.function.arguments.push_str(&d.function.arguments);
                                }
                            }
                        }
                    }
                }
            }
        }
        let text = (!text.trim().is_empty() || calls.is_empty()).then_some(text);
        (s, text, calls)
    }

    /// Feeds generated text; returns what can be sent now.
    pub fn push(&mut self, text: &str) -> Vec<StreamOut> {
        self.buf.push_str(text);
        if self.syntax == ToolSyntax::Llama3Json {
            return self.push_json();
        }
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
        for call in self.parse(&block).1 {
            out.extend(call_deltas(self.calls, call));
            self.calls += 1;
        }
        true
    }

    fn parse(&self, text: &str) -> (Option<String>, Vec<ToolCallOut>) {
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let (content, calls) = self.syntax.parse_calls(text, &names);
        (content, calls.into_iter().map(call_out).collect())
    }

    /// Llama 3's JSON calls: a reply that starts with `{` is held until it ends (then it
    /// is the call, or text if it does not parse as one); any other reply is text.
    fn push_json(&mut self) -> Vec<StreamOut> {
        if !self.calls_mode && !self.sent_text {
            let head = self.buf.trim_start();
            if head.is_empty() {
                return Vec::new();
            }
            self.calls_mode = head.starts_with('{');
        }
        if self.calls_mode {
            return Vec::new();
        }
        self.sent_text = true;
        vec![StreamOut::Text(std::mem::take(&mut self.buf))]
    }

    /// At the end: whatever is held back (text that only looked like a call start, or
    /// the last bytes of a call cut short).
    pub fn finish(&mut self) -> Option<StreamOut> {
        if self.syntax == ToolSyntax::Llama3Json && self.calls_mode {
            let text = std::mem::take(&mut self.buf);
            return match self.parse(&text) {
                (_, calls) if !calls.is_empty() => {
                    let mut deltas = Vec::new();
                    for call in calls {
                        deltas.extend(call_deltas(self.calls, call));
                        self.calls += 1;
                    }
                    Some(StreamOut::Calls(deltas))
                }
                _ => Some(StreamOut::Text(text)),
            };
        }
        if let Some((start, sent)) = self.cur.take() {
            // Cut before the call's line ended: the arguments so far, without the call
            // object's closing brace if they are whole (only `</tool_call>` is missing).
            let mut rest = self.buf[sent..].trim_end().to_string();
            let args = self.buf[start..].trim_end();
            let whole = args.strip_suffix('}').filter(|a| {
                serde_json::from_str::<serde_json::Value>(a).is_ok_and(|v| v.is_object())
            });
            if whole.is_some() {
                rest.pop();
            } else {
                self.cut = true;
            }
            self.buf.clear();
            let index = self.calls.saturating_sub(1);
            return (!rest.is_empty()).then(|| StreamOut::Calls(vec![args_delta(index, &rest)]));
        }
        let rest = std::mem::take(&mut self.buf);
        if self.calls_mode && !rest.trim().is_empty() {
            // A call opened (or opening) that never reached its name: no text, and no
            // whole call.
            self.cut = true;
            return None;
        }
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
