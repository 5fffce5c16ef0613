//! `POST /tokenize` and `POST /detokenize` (llama.cpp server's shapes).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::types::{DetokenizeRequest, TokenizeRequest};
use super::ApiJson;
use crate::error::ApiError;
use crate::AppState;

/// `{"content": "...", "add_special": false, "parse_special": false}` → `{"tokens": [...]}`.
pub async fn tokenize(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TokenizeRequest>,
) -> Json<Value> {
    let tokens = state
        .engine
        .encode(&req.content, req.add_special, req.parse_special);
    Json(json!({ "tokens": tokens }))
}

/// `{"tokens": [...]}` → `{"content": "..."}`.
pub async fn detokenize(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<DetokenizeRequest>,
) -> Result<Json<Value>, ApiError> {
    let content = state.engine.decode(&req.tokens)?;
    Ok(Json(json!({ "content": content })))
}
