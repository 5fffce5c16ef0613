//! `POST /v1/completions`: plain text continuation.
//!
//! A string prompt is tokenized like `wren run` does it: BOS prepended when the model
//! wants one, control-token texts *not* parsed. A list of token ids is used as given.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};

use super::gen::{self, new_id, unix_now, TokenLp, MAX_TOP_LOGPROBS};
use super::types::{Completion, CompletionChoice, CompletionLogprobs, GenBody, Logprobs, Prompt};
use super::ApiJson;
use super::{fields, structured};
use crate::engine::{FinishReason, Usage};
use crate::error::ApiError;
use crate::metrics::Endpoint;
use crate::sse::{self, json_event, ChunkFormat};
use crate::AppState;

pub async fn completions(
    State(state): State<AppState>,
    ApiJson(mut c): ApiJson<GenBody>,
) -> Result<Response, ApiError> {
    let engine = &state.engine;
    fields::check(&c, Endpoint::Completions)?;
    let Some(prompt) = c.prompt.take() else {
        return Err(ApiError::invalid_param("prompt", "missing field `prompt`"));
    };
    let text = match prompt {
        Prompt::Text(t) => t,
        Prompt::Texts(mut v) if v.len() == 1 => v.remove(0),
        Prompt::Texts(v) if v.is_empty() => {
            return Err(ApiError::invalid_param(
                "prompt",
                "the prompt is an empty list",
            ))
        }
        Prompt::Texts(v) => {
            return Err(ApiError::invalid_param(
                "prompt",
                format!(
                    "a list of {} prompts is not supported: send one prompt per request",
                    v.len()
                ),
            ))
        }
        Prompt::Tokens(ids) => {
            engine
                .decode(&ids)
                .map_err(|e| ApiError::invalid_param("prompt", e.to_string()))?;
            return finish(state, c, ids).await;
        }
    };
    crate::offload::check_fits(&state, text.len(), "prompt")?;
    let prompt = crate::offload::run(&state, move |e| e.encode(&text, true, false)).await?;
    finish(state, c, prompt).await
}

/// The rest of [`completions`], once the prompt is tokens.
async fn finish(state: AppState, c: GenBody, prompt: Vec<u32>) -> Result<Response, ApiError> {
    let logprobs = match c.logprobs {
        None | Some(Logprobs::Flag(false)) => None,
        Some(Logprobs::Flag(true)) => Some(0),
        Some(Logprobs::Count(k)) if k > MAX_TOP_LOGPROBS => {
            return Err(ApiError::invalid_param(
                "logprobs",
                format!("logprobs must be between 0 and {MAX_TOP_LOGPROBS}, got {k}"),
            ))
        }
        Some(Logprobs::Count(k)) => Some(k as usize),
    };
    let echo = if c.echo == Some(true) {
        if logprobs.is_some() {
            return Err(ApiError::invalid_param(
                "echo",
                "echo together with logprobs is not supported (wren has no log-probabilities for prompt tokens)",
            ));
        }
        let ids = prompt.clone();
        let text = crate::offload::run(&state, move |e| e.decode(&ids)).await?;
        Some(text.map_err(|e| ApiError::invalid_param("prompt", e.to_string()))?)
    } else {
        None
    };
    let grammar = structured::response_grammar(&c)?;
    let constraint = structured::constraint(&state, grammar, "response_format").await?;
    let c = &c;
    let gen = gen::start(
        &state,
        Endpoint::Completions,
        prompt,
        "prompt",
        c,
        logprobs,
        constraint,
    )?;
    let mut fmt = CompletionFormat {
        id: new_id("cmpl"),
        created: unix_now(),
        model: c
            .model
            .clone()
            .unwrap_or_else(|| state.engine.info().model_id.clone()),
        logprobs: logprobs.is_some(),
        echo,
    };
    if c.stream == Some(true) {
        let usage = c.stream_options.as_ref().and_then(|o| o.include_usage) == Some(true);
        return Ok(sse::stream(gen, fmt, usage));
    }
    let done = gen.collect().await?;
    let choice = CompletionChoice {
        index: 0,
        text: fmt.echo.take().unwrap_or_default() + &done.text,
        logprobs: fmt.logprobs.then(|| legacy_logprobs(done.logprobs, 0)),
        finish_reason: Some(done.finish.as_str()),
    };
    let mut res = axum::Json(fmt.body(Some(choice), Some(done.usage))).into_response();
    res.extensions_mut().insert(done.usage); // for the access log
    Ok(res)
}

/// Parallel arrays; `text_offset` counts bytes from `offset`.
fn legacy_logprobs(lps: Vec<TokenLp>, mut offset: usize) -> CompletionLogprobs {
    let mut out = CompletionLogprobs::default();
    for t in lps {
        out.text_offset.push(offset);
        offset += t.text.len();
        out.token_logprobs.push(t.logprob);
        out.top_logprobs.push(
            t.top
                .into_iter()
                .map(|a| (a.text, a.logprob))
                .collect::<BTreeMap<_, _>>(),
        );
        out.tokens.push(t.text);
    }
    out
}

struct CompletionFormat {
    id: String,
    created: u64,
    model: String,
    logprobs: bool,
    /// `echo: true`: the prompt's text, sent before the first generated text.
    echo: Option<String>,
}

impl CompletionFormat {
    fn body(&self, choice: Option<CompletionChoice>, usage: Option<Usage>) -> Completion {
        Completion {
            id: self.id.clone(),
            object: "text_completion",
            created: self.created,
            model: self.model.clone(),
            choices: choice.into_iter().collect(),
            usage: usage.map(Into::into),
        }
    }
}

impl ChunkFormat for CompletionFormat {
    fn first(&self) -> Option<Event> {
        None
    }

    fn text(&mut self, text: String, logprobs: Vec<TokenLp>) -> Vec<Event> {
        let text = match self.echo.take() {
            Some(prompt) => prompt + &text,
            None => text,
        };
        let choice = CompletionChoice {
            index: 0,
            text,
            logprobs: self.logprobs.then(|| legacy_logprobs(logprobs, 0)),
            finish_reason: None,
        };
        vec![json_event(&self.body(Some(choice), None))]
    }

    fn finish(&mut self, reason: FinishReason) -> Vec<Event> {
        let choice = CompletionChoice {
            index: 0,
            // With echo and no text at all, the prompt still comes back.
            text: self.echo.take().unwrap_or_default(),
            logprobs: None,
            finish_reason: Some(reason.as_str()),
        };
        vec![json_event(&self.body(Some(choice), None))]
    }

    fn usage(&self, usage: Usage) -> Event {
        json_event(&self.body(None, Some(usage)))
    }
}
