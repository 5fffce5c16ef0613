//! `POST /v1/chat/completions`.
//!
//! The conversation is rendered with the model's chat template
//! ([`Engine::encode_chat`](crate::engine::Engine::encode_chat)): control tokens come
//! from the template only, never from message content.

use axum::extract::State;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use wren_core::chat::{ChatMessage, FunctionCall, ToolCall};

use super::gen::{self, new_id, unix_now, TokenLp, MAX_TOP_LOGPROBS};
use super::tools::{self, StreamOut, ToolStream, Tools};
use super::types::{
    AssistantMessage, ChatChoice, ChatChunk, ChatCompletion, ChatLogprobs, ChunkChoice, Content,
    Delta, GenBody, Logprobs, Message, TokenLogprobJson, TopLogprobJson,
};
use super::{fields, structured, ApiJson};
use crate::engine::{FinishReason, Usage};
use crate::error::ApiError;
use crate::metrics::Endpoint;
use crate::sse::{self, json_event, ChunkFormat};
use crate::AppState;

pub async fn chat_completions(
    State(state): State<AppState>,
    ApiJson(mut c): ApiJson<GenBody>,
) -> Result<Response, ApiError> {
    fields::check(&c, Endpoint::Chat)?;
    let Some(messages) = c.messages.take() else {
        return Err(ApiError::invalid_param(
            "messages",
            "missing field `messages`",
        ));
    };
    let syntax = state.engine.tool_syntax();
    let tools = Tools::from_body(&c, syntax)?;
    // Earlier calls and results go to a tool-aware template as such, tools shown or not.
    let native = syntax.is_some();
    let mut messages = convert_messages(messages, native)?;
    let mut definitions = None;
    let grammar = match &tools {
        Some(t) => {
            if t.native {
                definitions = Some(t.definitions());
            } else {
                tools::add_system_text(&mut messages, t);
            }
            None // compiled by `tools_constraint` (with response_format, if any)
        }
        None => structured::response_grammar(&c)?,
    };
    let logprobs = logprobs_option(c.logprobs, c.top_logprobs)?;
    let content: usize = messages.iter().map(|m| m.content.len()).sum::<usize>()
        + definitions.as_ref().map_or(0, |d| d.to_string().len());
    crate::offload::check_fits(&state, content, "messages")?;
    let prompt = crate::offload::run(&state, move |e| {
        e.encode_chat(&messages, definitions.as_ref())
    })
    .await??;
    let constraint = match &tools {
        Some(t) => Some(structured::tools_constraint(&state, t).await?),
        None => structured::constraint(&state, grammar, "response_format").await?,
    };
    let c = &c;
    let gen = gen::start(
        &state,
        Endpoint::Chat,
        prompt,
        "messages",
        c,
        logprobs,
        constraint,
    )?;
    let fmt = ChatFormat {
        id: new_id("chatcmpl"),
        created: unix_now(),
        model: c
            .model
            .clone()
            .unwrap_or_else(|| state.engine.info().model_id.clone()),
        logprobs: logprobs.is_some(),
        tools: tools.as_ref().map(ToolStream::new),
    };
    if c.stream == Some(true) {
        let usage = c.stream_options.as_ref().and_then(|o| o.include_usage) == Some(true);
        return Ok(sse::stream(gen, fmt, usage));
    }
    let done = gen.collect().await?;
    // With tools, the reply is read as the stream reads it, so both agree.
    let (content, tool_calls, finish_reason) = match &tools {
        Some(t) => {
            let (s, content, calls) = ToolStream::assemble(t, &done.text);
            (content, calls, s.finish_reason(done.finish))
        }
        None => (Some(done.text), Vec::new(), done.finish.as_str()),
    };
    let body = ChatCompletion {
        id: fmt.id,
        object: "chat.completion",
        created: fmt.created,
        model: fmt.model,
        choices: vec![ChatChoice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                content: if tool_calls.is_empty() {
                    Some(content.unwrap_or_default())
                } else {
                    content
                },
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
            },
            logprobs: fmt.logprobs.then(|| chat_logprobs(done.logprobs)),
            finish_reason,
        }],
        usage: done.usage.into(),
    };
    let mut res = axum::Json(body).into_response();
    res.extensions_mut().insert(done.usage); // for the access log
    Ok(res)
}

/// `logprobs: true` (+ `top_logprobs: k`) → `Some(k)`.
fn logprobs_option(
    logprobs: Option<Logprobs>,
    top: Option<u32>,
) -> Result<Option<usize>, ApiError> {
    if let Some(k) = top.filter(|&k| k > MAX_TOP_LOGPROBS) {
        return Err(ApiError::invalid_param(
            "top_logprobs",
            format!("top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}, got {k}"),
        ));
    }
    let on = match logprobs {
        None | Some(Logprobs::Flag(false)) => false,
        Some(Logprobs::Flag(true)) => true,
        Some(Logprobs::Count(_)) => {
            return Err(ApiError::invalid_param(
                "logprobs",
                "for chat completions logprobs is a boolean (use top_logprobs for the count)",
            ))
        }
    };
    match (on, top) {
        (true, k) => Ok(Some(k.unwrap_or(0) as usize)),
        (_, Some(k)) if k > 0 => Err(ApiError::invalid_param(
            "top_logprobs",
            "top_logprobs requires logprobs: true",
        )),
        _ => Ok(None),
    }
}

/// OpenAI messages → template messages. Roles: system (or developer), user, assistant,
/// tool; content: a string, text parts (joined by newlines), or null. With `native` (the model's
/// template renders tools) calls and results are passed as `tool_calls` and `tool`
/// messages; otherwise calls become call blocks in the assistant's text and consecutive
/// results one user turn of `<tool_response>` blocks (see [`tools`]).
pub(crate) fn convert_messages(
    messages: Vec<Message>,
    native: bool,
) -> Result<Vec<ChatMessage>, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid_param(
            "messages",
            "messages must not be empty",
        ));
    }
    let mut out: Vec<ChatMessage> = Vec::with_capacity(messages.len());
    let mut results: Vec<String> = Vec::new();
    let mut known_ids: Vec<String> = Vec::new();
    for (i, m) in messages.into_iter().enumerate() {
        let content = content_text(i, m.content)?;
        if !native && m.role != "tool" && !results.is_empty() {
            out.push(ChatMessage::new("user", tools::tool_responses(&results)));
            results.clear();
        }
        if m.tool_calls.is_some() && m.role != "assistant" {
            return Err(ApiError::invalid_param(
                &format!("messages[{i}].tool_calls"),
                "only assistant messages carry tool_calls",
            ));
        }
        let role = match m.role.as_str() {
            "system" | "developer" => "system",
            "user" => "user",
            "assistant" => {
                let calls: Vec<(String, String, String)> = m
                    .tool_calls
                    .unwrap_or_default()
                    .into_iter()
                    .map(|tc| {
                        known_ids.push(tc.id.clone());
                        (tc.id, tc.function.name, tc.function.arguments)
                    })
                    .collect();
                if native {
                    let mut msg = ChatMessage::new("assistant", content);
                    msg.tool_calls = (!calls.is_empty()).then(|| {
                        calls
                            .into_iter()
                            .map(|(id, n, a)| template_call(id, n, &a))
                            .collect()
                    });
                    out.push(msg);
                } else {
                    let pairs: Vec<(String, String)> =
                        calls.into_iter().map(|(_, n, a)| (n, a)).collect();
                    let text = tools::assistant_with_calls(&content, &pairs);
                    out.push(ChatMessage::new("assistant", text));
                }
                continue;
            }
            "tool" => {
                let Some(id) = m.tool_call_id else {
                    return Err(ApiError::invalid_param(
                        &format!("messages[{i}].tool_call_id"),
                        "a tool message needs the tool_call_id it answers",
                    ));
                };
                if !known_ids.contains(&id) {
                    return Err(ApiError::invalid_param(
                        &format!("messages[{i}].tool_call_id"),
                        format!("no earlier assistant message made a tool call with id {id:?}"),
                    ));
                }
                if native {
                    let mut msg = ChatMessage::new("tool", content);
                    msg.tool_call_id = Some(id);
                    out.push(msg);
                } else {
                    results.push(content);
                }
                continue;
            }
            other => {
                return Err(ApiError::invalid_param(
                    &format!("messages[{i}].role"),
                    format!(
                        "unsupported role {other:?}: use system, developer, user, assistant or tool"
                    ),
                ))
            }
        };
        out.push(ChatMessage::new(role, content));
    }
    if !results.is_empty() {
        out.push(ChatMessage::new("user", tools::tool_responses(&results)));
    }
    Ok(out)
}

/// A call as templates take it: arguments as a JSON value (templates apply `tojson`),
/// or the raw string when it is not JSON.
fn template_call(id: String, name: String, arguments: &str) -> ToolCall {
    ToolCall {
        id,
        kind: "function".into(),
        function: FunctionCall {
            name,
            arguments: serde_json::from_str(arguments)
                .unwrap_or_else(|_| serde_json::Value::String(arguments.into())),
        },
    }
}

fn content_text(i: usize, content: Option<Content>) -> Result<String, ApiError> {
    Ok(match content {
        None => String::new(),
        Some(Content::Text(t)) => t,
        Some(Content::Parts(parts)) => {
            let mut text = String::new();
            for (j, p) in parts.into_iter().enumerate() {
                match (p.kind.as_str(), p.text) {
                    ("text", Some(_)) if !p.other.is_empty() => {
                        let field = p.other.keys().next().expect("not empty");
                        return Err(ApiError::invalid_param(
                            &format!("messages[{i}].content[{j}].{field}"),
                            format!("unknown field `{field}` in a text part: wren does not implement it (a text part is {{\"type\": \"text\", \"text\": ...}})"),
                        ));
                    }
                    // Joined by newlines, as llama.cpp joins them for templates that
                    // take a string.
                    ("text", Some(t)) => {
                        if !text.is_empty() {
                            text.push('\n');
                        }
                        text.push_str(&t);
                    }
                    (kind, _) => {
                        return Err(ApiError::invalid_param(
                            &format!("messages[{i}].content[{j}]"),
                            format!("unsupported content part of type {kind:?}: only {{\"type\": \"text\", \"text\": ...}} parts are supported (wren reads text only: no images, audio or files)"),
                        ))
                    }
                }
            }
            text
        }
    })
}

pub fn token_logprob_json(t: TokenLp) -> TokenLogprobJson {
    TokenLogprobJson {
        bytes: t.bytes,
        token: t.text,
        logprob: t.logprob,
        top_logprobs: t
            .top
            .into_iter()
            .map(|a| TopLogprobJson {
                bytes: a.bytes,
                token: a.text,
                logprob: a.logprob,
            })
            .collect(),
    }
}

fn chat_logprobs(lps: Vec<TokenLp>) -> ChatLogprobs {
    ChatLogprobs {
        content: lps.into_iter().map(token_logprob_json).collect(),
    }
}

/// `chat.completion.chunk`s.
struct ChatFormat {
    id: String,
    created: u64,
    model: String,
    logprobs: bool,
    /// With tools: holds back call text and sends complete calls as `delta.tool_calls`.
    tools: Option<ToolStream>,
}

impl ChatFormat {
    fn out_chunk(&self, out: StreamOut, logprobs: Vec<TokenLp>) -> Event {
        let delta = match out {
            StreamOut::Text(text) => Delta {
                content: Some(text),
                ..Delta::default()
            },
            StreamOut::Calls(deltas) => Delta {
                tool_calls: Some(deltas),
                ..Delta::default()
            },
        };
        let choice = ChunkChoice {
            index: 0,
            delta,
            logprobs: self.logprobs.then(|| chat_logprobs(logprobs)),
            finish_reason: None,
        };
        self.chunk(Some(choice), None)
    }

    fn chunk(&self, choice: Option<ChunkChoice>, usage: Option<Usage>) -> Event {
        json_event(&ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk",
            created: self.created,
            model: self.model.clone(),
            choices: choice.into_iter().collect(),
            usage: usage.map(Into::into),
        })
    }
}

impl ChunkFormat for ChatFormat {
    fn first(&self) -> Option<Event> {
        let delta = Delta {
            role: Some("assistant"),
            content: Some(String::new()),
            tool_calls: None,
        };
        let choice = ChunkChoice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason: None,
        };
        Some(self.chunk(Some(choice), None))
    }

    fn text(&mut self, text: String, logprobs: Vec<TokenLp>) -> Vec<Event> {
        let outs = match &mut self.tools {
            None => vec![StreamOut::Text(text)],
            Some(t) => t.push(&text),
        };
        let mut lp = Some(logprobs);
        outs.into_iter()
            .map(|o| self.out_chunk(o, lp.take().unwrap_or_default()))
            .collect()
    }

    fn finish(&mut self, finish: FinishReason) -> Vec<Event> {
        let mut events = Vec::new();
        let mut reason = finish.as_str();
        if let Some(t) = &mut self.tools {
            let rest = t.finish();
            reason = t.finish_reason(finish);
            if let Some(rest) = rest {
                events.push(self.out_chunk(rest, Vec::new()));
            }
        }
        let choice = ChunkChoice {
            index: 0,
            delta: Delta::default(),
            logprobs: None,
            finish_reason: Some(reason),
        };
        events.push(self.chunk(Some(choice), None));
        events
    }

    fn usage(&self, usage: Usage) -> Event {
        self.chunk(None, Some(usage))
    }
}
