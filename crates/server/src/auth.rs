//! `--api-key`: every endpoint but `/health` requires `Authorization: Bearer KEY`; and
//! while the model loads, every endpoint but `/health` answers 503 (`model_loading`).

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::AppState;

/// Middleware: passes the request on when no key is configured or the right one is sent.
pub async fn require_key(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(key) = state.api_key.as_deref() else {
        return Ok(next.run(req).await);
    };
    let header = req.headers().get(AUTHORIZATION);
    let given = header
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match (given, header) {
        (Some(g), _) if same(g.as_bytes(), key.as_bytes()) => Ok(next.run(req).await),
        (Some(_), _) => Err(ApiError::unauthorized("invalid API key")),
        (None, Some(_)) => Err(ApiError::unauthorized(
            "the Authorization header must be `Bearer <key>`",
        )),
        (None, None) => Err(ApiError::unauthorized(
            "missing API key: send the header `Authorization: Bearer <key>`",
        )),
    }
}

/// Comparison whose time does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Middleware: 503 (`model_loading`) until the engine is ready.
pub async fn require_ready(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if state.engine.ready() {
        Ok(next.run(req).await)
    } else {
        Err(ApiError::loading())
    }
}
