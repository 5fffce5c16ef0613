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

/// Liveness: ok (200) while the engine thread runs; 503 once it has stopped, so a
/// supervisor restarts a server that can no longer generate.
pub async fn health(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if state.engine.alive() {
        return Json(serde_json::json!({ "status": "ok" })).into_response();
    }
    let body = serde_json::json!({ "status": "error", "error": "the engine thread has stopped" });
    (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}
