//! The engine boundary: what the HTTP layer needs from whatever runs the model.
//!
//! ```text
//!  HTTP handler ──GenRequest{prompt, params, events: Sender}──▶ bounded queue ──▶ engine thread
//!       ▲                                                                          │ (owns model,
//!       └──────── Event::Token … Event::Token, Event::Done | Event::Error ◀────────┘  sessions)
//! ```
//!
//! | piece              | responsibility                                                 |
//! |--------------------|----------------------------------------------------------------|
//! | [`Engine`]         | tokenize / render chat prompts (cheap, on the caller's thread), |
//! |                    | `submit` a request (never blocks: a full queue is an error)    |
//! | [`GenRequest`]     | prompt tokens, sampling, limits, and its own event [`Sender`]  |
//! | [`Event`]          | what comes back, one channel per request                       |
//! | [`local`]          | the real engine: one thread, `--parallel` sessions             |
//! | [`fake`]           | deterministic canned tokens, for the API tests                 |
//! | [`pending`]        | stands in while the model loads (`/health` says `loading`)     |
//!
//! Cancellation: a client that goes away drops its receiver; the engine checks
//! `events.is_closed()` before every step of that sequence and frees the slot at once.

pub mod fake;
pub mod local;
pub mod pending;
mod slots;
mod worker;

use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use wren_core::chat::{ChatMessage, ToolSyntax};
use wren_core::constrain::{Constraint, Grammar};
use wren_core::sample::SamplingParams;

/// The sender half of a request's event channel.
pub type Sender = UnboundedSender<Event>;

/// What a model can do for the server. Implementations must be cheap to call from async
/// handlers: everything but `submit` is tokenizer work, and `submit` only enqueues.
pub trait Engine: Send + Sync + 'static {
    /// Static facts about the loaded model.
    fn info(&self) -> &EngineInfo;
    /// Tokenizes plain text. `add_bos`: prepend BOS when the model wants one;
    /// `parse_special`: let control-token texts become control tokens.
    fn encode(&self, text: &str, add_bos: bool, parse_special: bool) -> Vec<u32>;
    /// Renders `messages` with the model's chat template (generation prompt appended) and
    /// tokenizes it: template text with special-token parsing, message content without.
    /// `tools` (OpenAI's list) is given to the template; tool definitions and call
    /// arguments become template text, so any that hold a control token's text are
    /// refused ([`EngineError::ControlText`]).
    fn encode_chat(
        &self,
        messages: &[ChatMessage],
        tools: Option<&Value>,
    ) -> Result<Vec<u32>, EngineError>;
    /// The prompt text the chat template renders for `messages` (generation prompt
    /// appended), as [`encode_chat`](Self::encode_chat) tokenizes it.
    fn render_chat(
        &self,
        messages: &[ChatMessage],
        tools: Option<&Value>,
    ) -> Result<String, EngineError>;
    /// The BOS token's text when the model's tokenizer adds BOS to a prompt itself
    /// (no default: a wrapper that forgot it would silently say none).
    fn added_bos_text(&self) -> Option<String>;
    /// The tool-call syntax of the model's own chat template, when the template renders
    /// tools itself in a syntax wren parses (see [`ToolSyntax`]); `None`: describe the
    /// tools in the system turn instead.
    fn tool_syntax(&self) -> Option<ToolSyntax> {
        None
    }
    /// Text of `ids`; ids outside the vocabulary are an error.
    fn decode(&self, ids: &[u32]) -> Result<String, EngineError>;
    /// A fresh constraint for `grammar` over the model's vocabulary (CPU work: the first
    /// call builds the vocabulary trie, ~1 s for 262K tokens; run it off the async
    /// threads). A grammar that does not compile is [`EngineError::Grammar`].
    fn constraint(&self, grammar: &Grammar) -> Result<Constraint, EngineError>;
    /// Queues a generation. Events arrive on `req.events`. Never blocks.
    fn submit(&self, req: GenRequest) -> Result<(), EngineError>;
    /// Live counters for `/metrics`.
    fn stats(&self) -> EngineStats;
    /// Whether the engine can still generate (its thread is running); `/health` says.
    fn alive(&self) -> bool {
        true
    }
    /// Whether the model is loaded and requests can be served (see [`pending`]).
    fn ready(&self) -> bool {
        true
    }
}

/// Static facts about the loaded model.
#[derive(Clone, Debug)]
pub struct EngineInfo {
    /// Name reported by `/v1/models` (the model file's stem).
    pub model_id: String,
    /// Context size of each sequence, in tokens.
    pub ctx: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Sequences decoded concurrently.
    pub parallel: usize,
    /// The most input bytes one token stands for (`Tokenizer::max_token_bytes`): a text
    /// longer than `ctx × max_token_bytes` bytes cannot fit the context.
    pub max_token_bytes: usize,
}

/// Live engine counters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EngineStats {
    /// Requests waiting for a free slot.
    pub queue_depth: usize,
    /// Requests in a slot: prefilling their prompt or generating.
    pub active: usize,
    /// Tokens decoded since start (prompt processing excluded).
    pub decode_tokens: u64,
    /// Seconds spent in decode steps since start.
    pub decode_seconds: f64,
    /// Prompt tokens evaluated (after prefix reuse).
    pub prompt_tokens_evaluated: u64,
    /// Prompt tokens skipped thanks to prefix reuse.
    pub prompt_tokens_reused: u64,
    /// Speculative decoding: draft tokens proposed, and accepted.
    pub drafted: u64,
    pub accepted: u64,
}

impl EngineStats {
    /// Average decode throughput since start (0 before any decode).
    pub fn decode_tps(&self) -> f64 {
        if self.decode_seconds > 0.0 {
            self.decode_tokens as f64 / self.decode_seconds
        } else {
            0.0
        }
    }
}

/// One generation request.
#[derive(Debug)]
pub struct GenRequest {
    /// The full prompt (BOS included where wanted). Never empty; `prompt.len() < ctx`.
    pub prompt: Vec<u32>,
    /// Tokens to generate at most (`>= 1`; the handler caps it by the context).
    pub max_tokens: usize,
    /// Validated sampling parameters (seed included).
    pub sampling: SamplingParams,
    /// `Some(k)`: report each token's log-probability and the `k` most likely
    /// alternatives (`k` may be 0).
    pub logprobs: Option<usize>,
    /// The grammar the output must match (moved into the sequence's sampler; boxed,
    /// as a parser state is large).
    pub constraint: Option<Box<Constraint>>,
    /// Speculative decoding for this request (`None`: the server's `--spec`).
    pub spec: Option<wren_core::generate::SpecConfig>,
    /// Where the events go.
    pub events: Sender,
}

/// A most-likely alternative at one position.
#[derive(Clone, Debug, PartialEq)]
pub struct TopLogprob {
    pub id: u32,
    pub text: String,
    /// The token's own bytes (`text` is them read as UTF-8, lossily).
    pub bytes: Vec<u8>,
    pub logprob: f32,
}

/// Why generation stopped, in OpenAI's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// End-of-generation token or a stop string.
    Stop,
    /// `max_tokens` reached, or the context is full.
    Length,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// Token counts of one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
}

/// What the engine sends back for a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// One generated token. `text` is what became complete UTF-8 with it (may be empty
    /// while a multi-byte character is split across tokens).
    Token {
        text: String,
        id: u32,
        /// Log-probability of `id` (only when logprobs were asked for).
        logprob: Option<f32>,
        /// The token's own bytes (only when logprobs were asked for): part of a character
        /// split across tokens, where `text` may be empty or hold the whole character.
        bytes: Vec<u8>,
        top_logprobs: Vec<TopLogprob>,
    },
    /// Generation ended normally. Last event.
    Done {
        finish_reason: FinishReason,
        usage: Usage,
    },
    /// Generation failed. Last event; the message may be shown to the client.
    Error(String),
}

/// Errors of the engine boundary.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The wait queue is full; try again later.
    #[error("the server is busy: {queued} requests are already waiting")]
    QueueFull { queued: usize },
    /// The model is still loading.
    #[error("the model is still loading; try again shortly")]
    Loading,
    /// The engine thread has stopped (shutdown or crash).
    #[error("the engine is not running")]
    Stopped,
    /// The conversation cannot be rendered (bad role, template rejection …).
    #[error("{0}")]
    Template(String),
    /// A grammar, schema or regex that does not compile.
    #[error("{0}")]
    Grammar(String),
    /// A tool definition or call argument (template text once rendered) holds the text
    /// of a control token.
    #[error("{field} contains the text of the control token {token:?}, which is not allowed in tool definitions or call arguments")]
    ControlText { field: String, token: String },
    /// A token id outside the vocabulary.
    #[error("token id {id} is outside the vocabulary ({vocab} tokens)")]
    BadToken { id: u32, vocab: usize },
}
