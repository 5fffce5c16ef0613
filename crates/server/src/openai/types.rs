//! OpenAI request and response shapes (the subset wren implements).
//!
//! Spec: <https://platform.openai.com/docs/api-reference/chat> and `/completions`.
//! Unknown request fields are ignored, as OpenAI-compatible servers usually do.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------- requests

/// The body of `/v1/chat/completions` and `/v1/completions` (one struct, so that
/// type errors name the offending field: serde loses the path through `flatten`).
/// Each endpoint checks that its own required field (`messages` / `prompt`) is there.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "a JSON object")]
pub struct GenBody {
    /// Chat only.
    pub messages: Option<Vec<Message>>,
    /// Completions only.
    pub prompt: Option<Prompt>,
    /// Chat: `true` to return log-probabilities; completions (legacy): the number of
    /// alternatives per position.
    pub logprobs: Option<Logprobs>,
    /// Chat: alternatives per position (0..=20), with `logprobs: true`.
    pub top_logprobs: Option<u32>,
    /// Any string; echoed back.
    pub model: Option<String>,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
    pub min_p: Option<f32>,
    pub seed: Option<u64>,
    pub stop: Option<Stop>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    /// llama.cpp extension.
    pub repeat_penalty: Option<f32>,
    pub stream: Option<bool>,
    pub stream_options: Option<StreamOptions>,
    /// Number of choices; only 1 is supported.
    pub n: Option<u32>,
    /// llama.cpp extension: speculative decoding of this request.
    pub speculative: Option<Speculative>,
}

/// `speculative`: draft lengths (as llama-server's `speculative.n_max` / `n_min`);
/// `n_max: 0` turns speculation off for the request.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "an object like {\"n_max\": 16, \"n_min\": 1}")]
pub struct Speculative {
    pub n_max: Option<u32>,
    pub n_min: Option<u32>,
}

/// `logprobs`: a flag (chat) or a count (completions).
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a boolean (chat) or a number of alternatives 0..=20 (completions)"
)]
pub enum Logprobs {
    Flag(bool),
    Count(u32),
}

/// `stop`: one string or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a string or a list of strings")]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Stop {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s],
            Stop::Many(v) => v,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "an object like {\"include_usage\": true}")]
pub struct StreamOptions {
    pub include_usage: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(expecting = "a message object {\"role\": ..., \"content\": ...}")]
pub struct Message {
    pub role: String,
    /// A string, a list of `{type: "text", text}` parts, or null (assistant turns).
    pub content: Option<Content>,
}

#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a string, a list of {\"type\": \"text\", \"text\": ...} parts, or null"
)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
#[serde(expecting = "a content part {\"type\": \"text\", \"text\": ...}")]
pub struct Part {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
}

/// `prompt`: a string, a list with one string, or a list of token ids.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a string, a list with one string, or a list of token ids"
)]
pub enum Prompt {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
}

/// `POST /apply-template`.
#[derive(Debug, Deserialize)]
#[serde(expecting = "an object like {\"messages\": [...]}")]
pub struct ApplyTemplateRequest {
    pub messages: Vec<Message>,
}

#[derive(Debug, Deserialize)]
#[serde(expecting = "an object like {\"content\": \"text\"}")]
pub struct TokenizeRequest {
    pub content: String,
    /// Prepend BOS (when the model wants one). Default false.
    #[serde(default)]
    pub add_special: bool,
    /// Parse control-token texts. Default false.
    #[serde(default)]
    pub parse_special: bool,
}

#[derive(Debug, Deserialize)]
#[serde(expecting = "an object like {\"tokens\": [1, 2]}")]
pub struct DetokenizeRequest {
    pub tokens: Vec<u32>,
}

// ---------------------------------------------------------------- responses

#[derive(Clone, Copy, Debug, Serialize)]
pub struct UsageJson {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
}

impl From<crate::engine::Usage> for UsageJson {
    fn from(u: crate::engine::Usage) -> UsageJson {
        UsageJson {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens + u.completion_tokens,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ChatCompletion {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub choices: Vec<ChatChoice>,
    pub usage: UsageJson,
}

#[derive(Debug, Serialize)]
pub struct ChatChoice {
    pub index: u32,
    pub message: AssistantMessage,
    pub logprobs: Option<ChatLogprobs>,
    pub finish_reason: &'static str,
}

#[derive(Debug, Serialize)]
pub struct AssistantMessage {
    pub role: &'static str,
    pub content: String,
}

#[derive(Debug, Default, Serialize)]
pub struct ChatLogprobs {
    pub content: Vec<TokenLogprobJson>,
}

#[derive(Debug, Serialize)]
pub struct TokenLogprobJson {
    pub token: String,
    pub logprob: f32,
    pub bytes: Vec<u8>,
    pub top_logprobs: Vec<TopLogprobJson>,
}

#[derive(Debug, Serialize)]
pub struct TopLogprobJson {
    pub token: String,
    pub logprob: f32,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Serialize)]
pub struct ChatChunk {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub choices: Vec<ChunkChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageJson>,
}

#[derive(Debug, Serialize)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    pub logprobs: Option<ChatLogprobs>,
    pub finish_reason: Option<&'static str>,
}

#[derive(Debug, Default, Serialize)]
pub struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// `/v1/completions` response and stream chunk (both `object: "text_completion"`).
#[derive(Debug, Serialize)]
pub struct Completion {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub choices: Vec<CompletionChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageJson>,
}

#[derive(Debug, Serialize)]
pub struct CompletionChoice {
    pub index: u32,
    pub text: String,
    pub logprobs: Option<CompletionLogprobs>,
    pub finish_reason: Option<&'static str>,
}

/// Legacy completions logprobs: parallel arrays.
#[derive(Debug, Default, Serialize)]
pub struct CompletionLogprobs {
    pub tokens: Vec<String>,
    pub token_logprobs: Vec<f32>,
    pub top_logprobs: Vec<BTreeMap<String, f32>>,
    pub text_offset: Vec<usize>,
}

#[derive(Debug, Serialize)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelCard>,
}

#[derive(Debug, Serialize)]
pub struct ModelCard {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub owned_by: &'static str,
    /// Context size per sequence (extension).
    pub context_length: usize,
}
