//! `POST /tokenize` and `POST /detokenize` (llama.cpp server's shapes).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::types::{ApplyTemplateRequest, DetokenizeRequest, TokenizeRequest};
use super::ApiJson;
use crate::error::ApiError;
use crate::AppState;

/// `{"content": "...", "add_special": false, "parse_special": false}` → `{"tokens": [...]}`.
pub async fn tokenize(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TokenizeRequest>,
) -> Result<Json<Value>, ApiError> {
    let tokens = crate::offload::run(&state, move |e| {
        e.encode(&req.content, req.add_special, req.parse_special)
    })
    .await?;
    Ok(Json(json!({ "tokens": tokens })))
}

/// `{"messages": [...]}` → `{"prompt": "..."}`: the text the chat template renders
/// (llama.cpp server's `/apply-template`), for clients that tokenize or log it themselves;
/// like llama-server's, without a leading BOS text the tokenizer adds itself.
pub async fn apply_template(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ApplyTemplateRequest>,
) -> Result<Json<Value>, ApiError> {
    // Earlier calls and results as `/v1/chat/completions` renders them (no tool list:
    // this endpoint takes messages only).
    let native = state.engine.tool_syntax().is_some();
    let messages = super::chat::convert_messages(req.messages, native)?;
    let prompt = crate::offload::run(&state, move |e| {
        let prompt = e.render_chat(&messages, None)?;
        // As llama-server: without the BOS text the tokenizer adds again, so that
        // `/tokenize` of the result with `add_special` has one BOS.
        Ok::<_, crate::engine::EngineError>(match e.added_bos_text() {
            Some(bos) if !bos.is_empty() && prompt.starts_with(&bos) => {
                prompt[bos.len()..].to_string()
            }
            _ => prompt,
        })
    })
    .await??;
    Ok(Json(json!({ "prompt": prompt })))
}

/// `{"tokens": [...]}` → `{"content": "..."}`.
pub async fn detokenize(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<DetokenizeRequest>,
) -> Result<Json<Value>, ApiError> {
    let content = state.engine.decode(&req.tokens)?;
    Ok(Json(json!({ "content": content })))
}
