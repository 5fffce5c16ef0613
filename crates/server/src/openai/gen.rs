//! What chat and completions share: checking the parameters, submitting to the engine,
//! and turning engine events into text pieces with stop strings applied.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use wren_core::constrain::Constraint;
use wren_core::generate::{SpecConfig, SpecMode};
use wren_core::sample::SamplingParams;

use super::types::{GenBody, Stop};
use crate::engine::{Event, FinishReason, GenRequest, TopLogprob, Usage};
use crate::error::ApiError;
use crate::metrics::{Endpoint, Metrics};
use crate::stop::StopFilter;
use crate::AppState;

/// Most alternatives per position a client may ask for (OpenAI's limit).
pub const MAX_TOP_LOGPROBS: u32 = 20;
/// Most stop strings per request.
pub const MAX_STOPS: usize = 16;

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A unique-enough response id: `{prefix}-{time}{counter}` in hex.
pub fn new_id(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{nanos:x}{n:04x}")
}

/// Sampling parameters from the request. Unset fields take llama.cpp's server defaults
/// (temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, no penalties); an unset seed is
/// drawn from the clock. `temperature: 0` is greedy. Temperature and the OpenAI penalties
/// must lie in OpenAI's ranges.
pub fn sampling(c: &GenBody) -> Result<SamplingParams, ApiError> {
    let d = SamplingParams::llama_cpp(0);
    let seed = match c.seed {
        Some(s) if s >= 0 => s as u64,
        Some(-1) | None => {
            let t = SystemTime::now().duration_since(UNIX_EPOCH);
            t.map_or(0, |d| d.as_nanos() as u64)
        }
        Some(s) => {
            return Err(ApiError::invalid_param(
                "seed",
                format!("seed {s}: use a non-negative integer, or -1 for a random one"),
            ))
        }
    };
    let p = SamplingParams {
        temperature: c.temperature.unwrap_or(d.temperature),
        top_k: c.top_k.map_or(d.top_k, |k| k as usize),
        top_p: c.top_p.unwrap_or(d.top_p),
        min_p: c.min_p.unwrap_or(d.min_p),
        repeat_penalty: c.repeat_penalty.unwrap_or(d.repeat_penalty),
        presence_penalty: c.presence_penalty.unwrap_or(0.0),
        frequency_penalty: c.frequency_penalty.unwrap_or(0.0),
        seed,
        ..d
    };
    // OpenAI's ranges (the sampler alone would accept hotter or stronger settings).
    let bounded = [
        ("temperature", p.temperature, 0.0, 2.0),
        ("presence_penalty", p.presence_penalty, -2.0, 2.0),
        ("frequency_penalty", p.frequency_penalty, -2.0, 2.0),
    ];
    for (name, v, lo, hi) in bounded {
        if !(lo..=hi).contains(&v) {
            return Err(ApiError::invalid_param(
                name,
                format!("{name} must be between {lo} and {hi}, got {v}"),
            ));
        }
    }
    p.validate().map_err(|msg| {
        let field = msg.split_whitespace().next().unwrap_or("").to_string();
        ApiError::invalid_param(&field, msg)
    })?;
    Ok(p)
}

/// The request's `speculative` settings: `None` (the server's default) when absent;
/// otherwise prompt lookup with the given draft lengths, or off for `n_max: 0`.
fn speculative(c: &GenBody) -> Result<Option<SpecConfig>, ApiError> {
    let Some(sp) = &c.speculative else {
        return Ok(None);
    };
    let d = SpecConfig::new(SpecMode::Ngram, 16);
    let n_max = sp.n_max.map_or(d.n_max, |n| n as usize);
    if n_max == 0 {
        return Ok(Some(SpecConfig::new(SpecMode::Off, d.n_max)));
    }
    let n_min = sp.n_min.map_or(d.n_min.min(n_max), |n| n as usize);
    if n_min == 0 || n_min > n_max {
        return Err(ApiError::invalid_param(
            "speculative.n_min",
            format!("speculative.n_min must be between 1 and n_max ({n_max}), got {n_min}"),
        ));
    }
    let cfg = SpecConfig { n_max, n_min, ..d };
    cfg.validate()
        .map_err(|e| ApiError::invalid_param("speculative.n_max", e.to_string()))?;
    Ok(Some(cfg))
}

/// Checks the prompt against the context, works out `max_tokens`, and submits.
/// `prompt_param` names the field the prompt came from (for error messages).
pub fn start(
    state: &AppState,
    endpoint: Endpoint,
    prompt: Vec<u32>,
    prompt_param: &str,
    c: &GenBody,
    logprobs: Option<usize>,
    constraint: Option<Constraint>,
) -> Result<Generation, ApiError> {
    state.metrics.request(endpoint);
    if let Some(n) = c.n.filter(|&n| n != 1) {
        return Err(ApiError::invalid_param(
            "n",
            format!("n = {n} is not supported: wren generates exactly one choice per request (n must be 1)"),
        ));
    }
    let stops = c.stop.as_ref().map_or(Vec::new(), |s| match s {
        Stop::One(s) => vec![s.clone()],
        Stop::Many(v) => v.clone(),
    });
    if stops.len() > MAX_STOPS {
        return Err(ApiError::invalid_param(
            "stop",
            format!(
                "at most {MAX_STOPS} stop strings are allowed, got {}",
                stops.len()
            ),
        ));
    }
    let mut sampling = sampling(c)?;
    sampling.logit_bias = super::structured::logit_bias(c, state.engine.info().vocab_size)?;
    let spec = speculative(c)?;
    let ctx = state.engine.info().ctx;
    if prompt.is_empty() {
        return Err(ApiError::invalid_param(
            prompt_param,
            "the prompt is empty (no tokens)",
        ));
    }
    if prompt.len() >= ctx {
        return Err(ApiError::invalid_param(
            prompt_param,
            format!(
                "the prompt is {} tokens but the context holds {ctx} tokens, and at least one must be left for the reply (shorten the prompt or restart the server with a larger --ctx)",
                prompt.len()
            ),
        ));
    }
    let room = ctx - prompt.len();
    let (field, asked) = match (c.max_completion_tokens, c.max_tokens) {
        (Some(m), _) => ("max_completion_tokens", Some(m)),
        (None, m) => ("max_tokens", m),
    };
    if asked == Some(0) {
        return Err(ApiError::invalid_param(
            field,
            format!("{field} must be at least 1"),
        ));
    }
    // Capped by what is left of the context; unset means "until the context is full".
    let max_tokens = asked.map_or(room, |m| (m as usize).min(room));
    let (tx, rx) = unbounded_channel();
    let prompt_tokens = prompt.len();
    let req = GenRequest {
        prompt,
        max_tokens,
        sampling,
        logprobs,
        constraint: constraint.map(Box::new),
        spec,
        events: tx,
    };
    if let Err(e) = state.engine.submit(req) {
        state.metrics.rejected();
        return Err(e.into());
    }
    Ok(Generation {
        rx,
        stop: StopFilter::new(stops),
        prompt_tokens,
        tokens: 0,
        pending_lp: Vec::new(),
        ready: VecDeque::new(),
        finished: false,
        metrics: state.metrics.clone(),
    })
}

/// One generated token's log-probability information.
#[derive(Clone, Debug)]
pub struct TokenLp {
    pub text: String,
    /// The token's own bytes.
    pub bytes: Vec<u8>,
    pub logprob: f32,
    pub top: Vec<TopLogprob>,
}

/// What a [`Generation`] yields.
#[derive(Debug)]
pub enum Piece {
    /// Final text (stop strings removed) and the log-probabilities of the tokens whose
    /// text it completes.
    Text {
        text: String,
        logprobs: Vec<TokenLp>,
    },
    /// The end, with the token counts. Last piece.
    End { finish: FinishReason, usage: Usage },
    /// The engine failed. Last piece.
    Failed(ApiError),
}

/// A request in flight. Dropping it drops the event receiver, which cancels the
/// sequence in the engine.
pub struct Generation {
    rx: UnboundedReceiver<Event>,
    stop: StopFilter,
    prompt_tokens: usize,
    tokens: usize,
    pending_lp: Vec<TokenLp>,
    ready: VecDeque<Piece>,
    finished: bool,
    metrics: Arc<Metrics>,
}

impl Generation {
    /// The next piece; `None` after the last one.
    pub async fn next(&mut self) -> Option<Piece> {
        loop {
            if let Some(p) = self.ready.pop_front() {
                return Some(p);
            }
            if self.finished {
                return None;
            }
            let ev = self.rx.recv().await;
            self.on_event(ev);
        }
    }

    fn on_event(&mut self, ev: Option<Event>) {
        match ev {
            Some(Event::Token {
                text,
                logprob,
                top_logprobs,
                bytes,
                ..
            }) => {
                self.tokens += 1;
                if let Some(logprob) = logprob {
                    self.pending_lp.push(TokenLp {
                        text: text.clone(),
                        bytes,
                        logprob,
                        top: top_logprobs,
                    });
                }
                let out = self.stop.push(&text);
                self.emit(out.text);
                if out.hit {
                    // The tokens whose text only the removed stop string holds are not
                    // part of the reply (as llama-server trims them).
                    self.pending_lp.clear();
                    // Closing the receiver tells the engine to stop this sequence now.
                    self.rx.close();
                    let usage = Usage {
                        prompt_tokens: self.prompt_tokens,
                        completion_tokens: self.tokens,
                    };
                    self.end(FinishReason::Stop, usage);
                }
            }
            Some(Event::Done {
                finish_reason,
                usage,
            }) => {
                let rest = self.stop.finish();
                self.emit(rest);
                self.end(finish_reason, usage);
            }
            Some(Event::Error(msg)) => {
                self.finished = true;
                self.ready
                    .push_back(Piece::Failed(ApiError::internal(msg.clone())));
            }
            None => {
                self.finished = true;
                let e = ApiError::internal("the engine dropped the request without finishing it");
                self.ready.push_back(Piece::Failed(e));
            }
        }
    }

    fn emit(&mut self, text: String) {
        if !text.is_empty() {
            let logprobs = std::mem::take(&mut self.pending_lp);
            self.ready.push_back(Piece::Text { text, logprobs });
        }
    }

    fn end(&mut self, finish: FinishReason, usage: Usage) {
        if !self.pending_lp.is_empty() {
            let logprobs = std::mem::take(&mut self.pending_lp);
            self.ready.push_back(Piece::Text {
                text: String::new(),
                logprobs,
            });
        }
        self.finished = true;
        self.metrics
            .tokens(usage.prompt_tokens, usage.completion_tokens);
        self.ready.push_back(Piece::End { finish, usage });
    }

    /// Runs to the end (non-streaming responses).
    pub async fn collect(mut self) -> Result<Collected, ApiError> {
        let mut text = String::new();
        let mut logprobs = Vec::new();
        while let Some(p) = self.next().await {
            match p {
                Piece::Text {
                    text: t,
                    logprobs: l,
                } => {
                    text.push_str(&t);
                    logprobs.extend(l);
                }
                Piece::End { finish, usage } => {
                    return Ok(Collected {
                        text,
                        logprobs,
                        finish,
                        usage,
                    })
                }
                Piece::Failed(e) => return Err(e),
            }
        }
        Err(ApiError::internal("generation ended without a result"))
    }
}

/// A finished generation.
#[derive(Debug)]
pub struct Collected {
    pub text: String,
    pub logprobs: Vec<TokenLp>,
    pub finish: FinishReason,
    pub usage: Usage,
}
