//! A deterministic engine for tests: no model, canned tokens.
//!
//! Tokenizer: one token per byte (id = byte value), plus BOS = 256 (decodes to nothing).
//! Chat prompts render as `"{role}: {content}\n"` per message, then `"assistant:"`.
//! Generation: the canned pieces in order, one token each, `finish_reason = "stop"` when
//! all were sent, `"length"` when `max_tokens` cut them short.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use wren_core::chat::ChatMessage;
use wren_core::constrain::{Constraint, Grammar};
use wren_core::tokenizer::Tokenizer;

use super::{
    Engine, EngineError, EngineInfo, EngineStats, Event, FinishReason, GenRequest, TopLogprob,
    Usage,
};

/// BOS id of the fake byte tokenizer.
pub const FAKE_BOS: u32 = 256;

/// What the fake engine saw in the last request (for assertions).
#[derive(Clone, Debug, PartialEq)]
pub struct SeenRequest {
    pub prompt: Vec<u32>,
    pub max_tokens: usize,
    pub temperature: f32,
    pub seed: u64,
    pub logprobs: Option<usize>,
    /// Whether the request carried a grammar constraint.
    pub constrained: bool,
    pub logit_bias: Vec<(u32, f32)>,
}

/// The fake vocabulary as a real tokenizer (byte tokens 0..=255, `<bos>` 256, `<eos>`
/// 257), so that grammars compile against it as they would on a model.
fn byte_tokenizer() -> &'static Tokenizer {
    static TOK: std::sync::OnceLock<Tokenizer> = std::sync::OnceLock::new();
    TOK.get_or_init(|| {
        let mut tokens: Vec<String> = (0..=255u8).map(|b| format!("<0x{b:02X}>")).collect();
        tokens.push("<bos>".into());
        tokens.push("<eos>".into());
        let mut types = vec![6; 256];
        types.extend([3, 3]);
        let scores = vec![0.0; tokens.len()];
        Tokenizer::from_parts(tokens, scores, types, Some(FAKE_BOS), Some(257), false)
            .expect("fake tokenizer")
    })
}

pub struct FakeEngine {
    info: EngineInfo,
    pieces: Vec<String>,
    queue_full: AtomicBool,
    dead: AtomicBool,
    requests: AtomicU64,
    tokens: AtomicU64,
    last: Mutex<Option<SeenRequest>>,
}

impl FakeEngine {
    /// An engine that generates `pieces` (one token each) for every request.
    pub fn new(pieces: &[&str]) -> FakeEngine {
        FakeEngine {
            info: EngineInfo {
                model_id: "fake-model".into(),
                ctx: 256,
                vocab_size: 257,
                parallel: 1,
                max_token_bytes: 1,
            },
            pieces: pieces.iter().map(|s| s.to_string()).collect(),
            queue_full: AtomicBool::new(false),
            dead: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            last: Mutex::new(None),
        }
    }

    /// Sets the context size reported to the server.
    pub fn with_ctx(mut self, ctx: usize) -> FakeEngine {
        self.info.ctx = ctx;
        self
    }

    /// Makes every `submit` fail as if the wait queue were full.
    pub fn set_queue_full(&self, full: bool) {
        self.queue_full.store(full, Ordering::SeqCst);
    }

    /// Makes [`Engine::alive`] report a stopped engine thread.
    pub fn set_dead(&self, dead: bool) {
        self.dead.store(dead, Ordering::SeqCst);
    }

    /// The last request submitted.
    pub fn last_request(&self) -> Option<SeenRequest> {
        self.last.lock().unwrap().clone()
    }
}

impl Engine for FakeEngine {
    fn added_bos_text(&self) -> Option<String> {
        None // its rendered prompts carry no BOS text
    }

    fn info(&self) -> &EngineInfo {
        &self.info
    }

    fn alive(&self) -> bool {
        !self.dead.load(Ordering::SeqCst)
    }

    fn encode(&self, text: &str, add_bos: bool, _parse_special: bool) -> Vec<u32> {
        let bos = add_bos.then_some(FAKE_BOS);
        bos.into_iter().chain(text.bytes().map(u32::from)).collect()
    }

    fn encode_chat(
        &self,
        messages: &[ChatMessage],
        tools: Option<&serde_json::Value>,
    ) -> Result<Vec<u32>, EngineError> {
        let text = self.render_chat(messages, tools)?;
        Ok(self.encode(&text, true, false))
    }

    fn render_chat(
        &self,
        messages: &[ChatMessage],
        _tools: Option<&serde_json::Value>,
    ) -> Result<String, EngineError> {
        let mut text = String::new();
        for m in messages {
            text.push_str(&format!("{}: {}\n", m.role, m.content));
        }
        text.push_str("assistant:");
        Ok(text)
    }

    fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        let mut bytes = Vec::new();
        for &id in ids {
            match id {
                0..=255 => bytes.push(id as u8),
                FAKE_BOS => {}
                _ => {
                    return Err(EngineError::BadToken {
                        id,
                        vocab: self.info.vocab_size,
                    })
                }
            }
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn constraint(&self, grammar: &Grammar) -> Result<Constraint, EngineError> {
        let env = byte_tokenizer()
            .grammar_env()
            .map_err(EngineError::Grammar)?;
        env.constraint(grammar).map_err(EngineError::Grammar)
    }

    fn submit(&self, req: GenRequest) -> Result<(), EngineError> {
        if self.queue_full.load(Ordering::SeqCst) {
            return Err(EngineError::QueueFull { queued: 0 });
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        *self.last.lock().unwrap() = Some(SeenRequest {
            prompt: req.prompt.clone(),
            max_tokens: req.max_tokens,
            temperature: req.sampling.temperature,
            seed: req.sampling.seed,
            logprobs: req.logprobs,
            constrained: req.constraint.is_some(),
            logit_bias: req.sampling.logit_bias.clone(),
        });
        let n = self.pieces.len().min(req.max_tokens);
        for (i, text) in self.pieces[..n].iter().enumerate() {
            let k = req.logprobs.unwrap_or(0);
            let top = (0..k)
                .map(|j| TopLogprob {
                    id: j as u32,
                    text: format!("alt{j}"),
                    bytes: format!("alt{j}").into_bytes(),
                    logprob: -(j as f32) - 0.25,
                })
                .collect();
            let ev = Event::Token {
                text: text.clone(),
                id: 1000 + i as u32,
                logprob: req.logprobs.map(|_| -0.5),
                bytes: text.clone().into_bytes(),
                top_logprobs: top,
            };
            if req.events.send(ev).is_err() {
                return Ok(()); // client gone: cancel
            }
            self.tokens.fetch_add(1, Ordering::Relaxed);
        }
        let finish_reason = if n < self.pieces.len() {
            FinishReason::Length
        } else {
            FinishReason::Stop
        };
        let usage = Usage {
            prompt_tokens: req.prompt.len(),
            completion_tokens: n,
        };
        let _ = req.events.send(Event::Done {
            finish_reason,
            usage,
        });
        Ok(())
    }

    fn stats(&self) -> EngineStats {
        EngineStats {
            queue_depth: 0,
            active: 0,
            decode_tokens: self.tokens.load(Ordering::Relaxed),
            decode_seconds: 0.5,
            prompt_tokens_evaluated: 0,
            prompt_tokens_reused: 0,
            ..Default::default()
        }
    }
}
