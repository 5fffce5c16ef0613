//! `POST /v1/chat/completions`.
//!
//! The conversation is rendered with the model's chat template
//! ([`Engine::encode_chat`](crate::engine::Engine::encode_chat)): control tokens come
//! from the template only, never from message content.

use axum::extract::State;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use wren_core::chat::ChatMessage;

use super::gen::{self, new_id, unix_now, TokenLp, MAX_TOP_LOGPROBS};
use super::types::{
    AssistantMessage, ChatChoice, ChatChunk, ChatCompletion, ChatLogprobs, ChunkChoice, Content,
    Delta, GenBody, Logprobs, Message, TokenLogprobJson, TopLogprobJson,
};
use super::ApiJson;
use crate::engine::{FinishReason, Usage};
use crate::error::ApiError;
use crate::metrics::Endpoint;
use crate::sse::{self, json_event, ChunkFormat};
use crate::AppState;

pub async fn chat_completions(
    State(state): State<AppState>,
    ApiJson(mut c): ApiJson<GenBody>,
) -> Result<Response, ApiError> {
    let Some(messages) = c.messages.take() else {
        return Err(ApiError::invalid_param(
            "messages",
            "missing field `messages`",
        ));
    };
    let messages = convert_messages(messages)?;
    let logprobs = logprobs_option(c.logprobs, c.top_logprobs)?;
    let content: usize = messages.iter().map(|m| m.content.len()).sum();
    crate::offload::check_fits(&state, content, "messages")?;
    let prompt = crate::offload::run(&state, move |e| e.encode_chat(&messages)).await??;
    let c = &c;
    let gen = gen::start(&state, Endpoint::Chat, prompt, "messages", c, logprobs)?;
    let fmt = ChatFormat {
        id: new_id("chatcmpl"),
        created: unix_now(),
        model: c
            .model
            .clone()
            .unwrap_or_else(|| state.engine.info().model_id.clone()),
        logprobs: logprobs.is_some(),
    };
    if c.stream == Some(true) {
        let usage = c.stream_options.as_ref().and_then(|o| o.include_usage) == Some(true);
        return Ok(sse::stream(gen, fmt, usage));
    }
    let done = gen.collect().await?;
    let body = ChatCompletion {
        id: fmt.id,
        object: "chat.completion",
        created: fmt.created,
        model: fmt.model,
        choices: vec![ChatChoice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                content: done.text,
            },
            logprobs: fmt.logprobs.then(|| chat_logprobs(done.logprobs)),
            finish_reason: done.finish.as_str(),
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

/// OpenAI messages → template messages. Roles: system (or developer), user, assistant;
/// content: a string, text parts (joined), or null.
pub(crate) fn convert_messages(messages: Vec<Message>) -> Result<Vec<ChatMessage>, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::invalid_param(
            "messages",
            "messages must not be empty",
        ));
    }
    messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let role = match m.role.as_str() {
                "system" | "developer" => "system",
                "user" => "user",
                "assistant" => "assistant",
                other => {
                    return Err(ApiError::invalid_param(
                        &format!("messages[{i}].role"),
                        format!("unsupported role {other:?}: use system, user or assistant"),
                    ))
                }
            };
            let content = match m.content {
                None => String::new(),
                Some(Content::Text(t)) => t,
                Some(Content::Parts(parts)) => {
                    let mut text = String::new();
                    for (j, p) in parts.into_iter().enumerate() {
                        match (p.kind.as_str(), p.text) {
                            ("text", Some(t)) => text.push_str(&t),
                            (kind, _) => {
                                return Err(ApiError::invalid_param(
                                    &format!("messages[{i}].content[{j}]"),
                                    format!("unsupported content part of type {kind:?}: only {{\"type\": \"text\", \"text\": ...}} parts are supported"),
                                ))
                            }
                        }
                    }
                    text
                }
            };
            Ok(ChatMessage::new(role, content))
        })
        .collect()
}

pub fn token_logprob_json(t: TokenLp) -> TokenLogprobJson {
    TokenLogprobJson {
        bytes: t.text.as_bytes().to_vec(),
        token: t.text,
        logprob: t.logprob,
        top_logprobs: t
            .top
            .into_iter()
            .map(|a| TopLogprobJson {
                bytes: a.text.as_bytes().to_vec(),
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
}

impl ChatFormat {
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
        };
        let choice = ChunkChoice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason: None,
        };
        Some(self.chunk(Some(choice), None))
    }

    fn text(&self, text: String, logprobs: Vec<TokenLp>) -> Event {
        let choice = ChunkChoice {
            index: 0,
            delta: Delta {
                role: None,
                content: Some(text),
            },
            logprobs: self.logprobs.then(|| chat_logprobs(logprobs)),
            finish_reason: None,
        };
        self.chunk(Some(choice), None)
    }

    fn finish(&self, reason: FinishReason) -> Event {
        let choice = ChunkChoice {
            index: 0,
            delta: Delta::default(),
            logprobs: None,
            finish_reason: Some(reason.as_str()),
        };
        self.chunk(Some(choice), None)
    }

    fn usage(&self, usage: Usage) -> Event {
        self.chunk(None, Some(usage))
    }
}
