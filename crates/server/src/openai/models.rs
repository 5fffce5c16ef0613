//! `GET /v1/models`, `GET /v1/models/{id}` and `GET /health`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::types::{ModelCard, ModelList};
use crate::error::ApiError;
use crate::AppState;

fn card(state: &AppState) -> ModelCard {
    let info = state.engine.info();
    ModelCard {
        id: info.model_id.clone(),
        object: "model",
        created: state.started,
        owned_by: "wren",
        context_length: info.ctx,
    }
}

pub async fn list_models(State(state): State<AppState>) -> Json<ModelList> {
    Json(ModelList {
        object: "list",
        data: vec![card(&state)],
    })
}

/// The served model's card; any other id is 404 in OpenAI's shape (`model_not_found`).
pub async fn get_model(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ModelCard>, ApiError> {
    let c = card(&state);
    if id == c.id {
        Ok(Json(c))
    } else {
        let mut e = ApiError::not_found(format!(
            "The model '{id}' does not exist (this server serves '{}')",
            c.id
        ));
        e.code = Some("model_not_found");
        e.param = Some("model".into());
        Err(e)
    }
}

/// `{"status":"loading"}` (503) until the model is loaded, then `{"status":"ok"}` (200)
/// while the engine thread runs; 503 `{"status":"error"}` once it has stopped, so a
/// supervisor restarts a server that can no longer generate.
pub async fn health(State(state): State<AppState>) -> Response {
    if !state.engine.ready() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "loading" })),
        )
            .into_response();
    }
    if !state.engine.alive() {
        let body =
            serde_json::json!({ "status": "error", "error": "the engine thread has stopped" });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    Json(serde_json::json!({ "status": "ok" })).into_response()
}
