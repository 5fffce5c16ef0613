//! Tokenizer work off the async threads.
//!
//! Tokenizing a 4 MiB body takes seconds; done on one of the two async worker threads it
//! would stall every other connection (`/health` included). [`run`] does it on tokio's
//! blocking pool, at most [`AppState::tokenize_slots`] at a time so that memory stays
//! bounded however many such requests arrive; [`check_fits`] refuses, before any
//! tokenizing, a prompt too long to fit the context whatever its tokens.

use crate::engine::Engine;
use crate::error::ApiError;
use crate::AppState;

/// Runs `f` on the blocking pool once a tokenizer slot is free. The slot is held until
/// `f` returns, even if the client goes away meanwhile.
pub async fn run<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Engine) -> T + Send + 'static,
{
    let permit = state
        .tokenize_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("the tokenizer slots are closed"))?;
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f(engine.as_ref())
    })
    .await
    .map_err(|e| ApiError::internal(format!("tokenizer task failed: {e}")))
}

/// Refuses a prompt of `bytes` bytes (of text the client wrote) that cannot fit the
/// context: every token stands for at most `max_token_bytes` bytes of its input, so such
/// a text has at least `bytes / max_token_bytes` tokens, and one with more than
/// `ctx × max_token_bytes` bytes has more than `ctx` tokens. A prompt that would fit is
/// never refused here; the exact check follows tokenization.
pub fn check_fits(state: &AppState, bytes: usize, param: &str) -> Result<(), ApiError> {
    if !state.engine.ready() {
        // No context is known while the model loads; the request is answered 503 next.
        return Ok(());
    }
    let info = state.engine.info();
    let per_token = info.max_token_bytes.max(1);
    let limit = info.ctx.saturating_mul(per_token);
    if bytes <= limit {
        return Ok(());
    }
    Err(ApiError::invalid_param(
        param,
        format!(
            "the prompt is {bytes} bytes: with at most {per_token} bytes per token it is more \
             than the {} tokens the context holds (shorten the prompt or restart the server \
             with a larger --ctx)",
            info.ctx
        ),
    ))
}
