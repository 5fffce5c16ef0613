//! OpenAI request and response shapes (the subset wren implements).
//!
//! Spec: <https://platform.openai.com/docs/api-reference/chat> and `/completions`.
//! No field is silently ignored: an unknown field is a 400 naming it
//! (`deny_unknown_fields`), and the fields OpenAI defines that wren does not implement
//! are refused by [`super::fields`]; the harmless ones (`user`, `metadata`, …) are
//! accepted and documented as having no effect.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------- requests

/// The body of `/v1/chat/completions` and `/v1/completions` (one struct, so that
/// type errors name the offending field: serde loses the path through `flatten`).
/// Each endpoint checks that its own required field (`messages` / `prompt`) is there.
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "a JSON object", deny_unknown_fields)]
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
    /// `-1` (llama.cpp's convention) or unset: a random seed.
    pub seed: Option<i64>,
    pub stop: Option<Stop>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    /// llama.cpp extension.
    pub repeat_penalty: Option<f32>,
    pub stream: Option<bool>,
    pub stream_options: Option<StreamOptions>,
    /// Number of choices; only 1 is supported.
    pub n: Option<u32>,
    /// `{"token id": bias}`, bias in [-100, 100]; -100 bans the token.
    pub logit_bias: Option<BTreeMap<String, f32>>,
    /// Chat and (extension) completions: `{"type": "text" | "json_object" |
    /// "json_schema", "json_schema": {...}}`.
    pub response_format: Option<ResponseFormat>,
    /// Chat: the functions the model may call.
    pub tools: Option<Vec<Tool>>,
    /// Chat: `"none"`, `"auto"`, `"required"` or `{"type": "function", "function":
    /// {"name": ...}}`.
    pub tool_choice: Option<ToolChoice>,
    /// Chat: whether a reply may hold several tool calls (default true).
    pub parallel_tool_calls: Option<bool>,
    /// Completions: the reply starts with the prompt's text.
    pub echo: Option<bool>,
    /// Completions: only 1 is supported.
    pub best_of: Option<u32>,
    // Accepted, with no effect on the reply (documented in the README).
    pub user: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub store: Option<bool>,
    pub service_tier: Option<String>,
    pub safety_identifier: Option<String>,
    pub prompt_cache_key: Option<String>,
    pub prompt_cache_retention: Option<String>,
    /// Only `["text"]` is accepted.
    pub modalities: Option<Vec<String>>,
    // Defined by OpenAI, refused by wren with a 400 that names them (see `fields`).
    pub suffix: Option<serde_json::Value>,
    pub audio: Option<serde_json::Value>,
    pub prediction: Option<serde_json::Value>,
    pub reasoning_effort: Option<serde_json::Value>,
    pub verbosity: Option<serde_json::Value>,
    pub web_search_options: Option<serde_json::Value>,
    pub functions: Option<serde_json::Value>,
    pub function_call: Option<serde_json::Value>,
    /// llama.cpp extension: speculative decoding of this request.
    pub speculative: Option<Speculative>,
}

/// `response_format`: `type` is `"text"`, `"json_object"` or `"json_schema"` (with
/// `json_schema`). A plain struct rather than a tagged enum, so that errors inside
/// `json_schema` keep their path.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "{\"type\": \"text\"}, {\"type\": \"json_object\"} or {\"type\": \"json_schema\", \"json_schema\": {\"name\": ..., \"schema\": {...}}}"
)]
pub struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: String,
    pub json_schema: Option<JsonSchemaFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonSchemaFormat {
    pub name: String,
    pub description: Option<String>,
    /// Absent: any JSON object.
    pub schema: Option<serde_json::Value>,
    /// Accepted either way: the output always follows the schema exactly.
    pub strict: Option<bool>,
}

/// One entry of `tools`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// Only `"function"`.
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionDef,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionDef {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments (absent: no arguments, `{}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Value>,
    /// Accepted either way: arguments always follow the schema when the call is
    /// constrained.
    #[serde(skip_serializing)]
    pub strict: Option<bool>,
}

/// `tool_choice`.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "\"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}"
)]
pub enum ToolChoice {
    Mode(String),
    Named(NamedToolChoice),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: NamedFunction,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedFunction {
    pub name: String,
}

/// `speculative`: draft lengths (as llama-server's `speculative.n_max` / `n_min`);
/// `n_max: 0` turns speculation off for the request. llama-server's other fields
/// (`p_min`, a draft model's settings) are refused, not ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(
    expecting = "an object like {\"n_max\": 16, \"n_min\": 1}",
    deny_unknown_fields
)]
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
#[serde(
    expecting = "an object like {\"include_usage\": true}",
    deny_unknown_fields
)]
pub struct StreamOptions {
    pub include_usage: Option<bool>,
    /// Accepted, no effect (wren adds no obfuscation padding).
    pub include_obfuscation: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(
    expecting = "a message object {\"role\": ..., \"content\": ...}",
    deny_unknown_fields
)]
pub struct Message {
    pub role: String,
    /// A string, a list of `{type: "text", text}` parts, or null (assistant turns).
    pub content: Option<Content>,
    /// Accepted; not rendered (chat templates have no place for it).
    pub name: Option<String>,
    /// Assistant turns: the calls the assistant made.
    pub tool_calls: Option<Vec<ToolCallIn>>,
    /// Tool turns: which call this is the result of.
    pub tool_call_id: Option<String>,
    /// Assistant turns: accepted, not rendered.
    pub refusal: Option<String>,
}

/// A tool call in an earlier assistant message.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCallIn {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionCallJson,
}

/// `{"name": ..., "arguments": "<JSON text>"}` (arguments are a string, as in OpenAI).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionCallJson {
    pub name: String,
    pub arguments: String,
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
    /// Any other field: a non-text part's payload (`image_url`, ...), refused by its type;
    /// on a text part, refused by name.
    #[serde(flatten)]
    pub other: std::collections::BTreeMap<String, serde_json::Value>,
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
#[serde(
    expecting = "an object like {\"messages\": [...]}",
    deny_unknown_fields
)]
pub struct ApplyTemplateRequest {
    pub messages: Vec<Message>,
}

#[derive(Debug, Deserialize)]
#[serde(
    expecting = "an object like {\"content\": \"text\"}",
    deny_unknown_fields
)]
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
#[serde(expecting = "an object like {\"tokens\": [1, 2]}", deny_unknown_fields)]
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
    /// Null when the reply is only tool calls.
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallOut>>,
}

/// A tool call in a reply.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolCallOut {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionCallJson,
}

/// A streamed tool-call fragment (`delta.tool_calls[i]`): the first carries `id`,
/// `type` and the name, the next ones argument text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionDelta,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunctionDelta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub arguments: String,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
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
