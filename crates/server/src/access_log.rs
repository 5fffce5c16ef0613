//! One log line per request through `tracing` (target `wren::http`): method, path, status,
//! prompt and generated tokens when the handler knows them (non-streaming generations
//! attach their [`Usage`] to the response), and the time to the response head.
//!
//! Streaming responses are logged when their head is sent, so their line carries no token
//! counts (`stream=true` instead). The subscriber — text or JSON — is chosen by the binary.

use std::time::Instant;

use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::Response;

use crate::engine::Usage;

/// Middleware: logs the request once its response head is ready.
pub async fn log_request(req: Request, next: Next) -> Response {
    let t0 = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let res = next.run(req).await;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    let status = res.status().as_u16();
    let stream = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    match res.extensions().get::<Usage>() {
        Some(u) => tracing::info!(
            target: "wren::http",
            method = %method,
            path = %path,
            status,
            prompt_tokens = u.prompt_tokens,
            generated_tokens = u.completion_tokens,
            ms = format_args!("{ms:.1}"),
            "request"
        ),
        None => tracing::info!(
            target: "wren::http",
            method = %method,
            path = %path,
            status,
            stream,
            ms = format_args!("{ms:.1}"),
            "request"
        ),
    }
    res
}
