//! `GET /v1/models` and `GET /health`.

use axum::extract::State;
use axum::Json;

use super::types::{ModelCard, ModelList};
use crate::AppState;

pub async fn list_models(State(state): State<AppState>) -> Json<ModelList> {
    let info = state.engine.info();
    Json(ModelList {
        object: "list",
        data: vec![ModelCard {
            id: info.model_id.clone(),
            object: "model",
            created: state.started,
            owned_by: "wren",
            context_length: info.ctx,
        }],
    })
}

/// Liveness: the model is loaded once the server listens, so this is always ok.
pub async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}
