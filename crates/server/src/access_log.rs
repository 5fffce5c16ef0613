//! One log line per request through `tracing` (target `wren::http`): method, path, status,
//! prompt and generated tokens when the request generated text, and the time.
//!
//! A non-streaming generation attaches its [`Usage`] to the response and is logged when the
//! response is ready. A streaming one attaches a [`StreamUsage`] slot that the event stream
//! fills at its end; its line is written when the response body is finished (or dropped,
//! when the client leaves: then `cancelled=true`), with the whole stream's time. The
//! subscriber — text or JSON — is chosen by the binary.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;

use crate::engine::Usage;

/// Filled by a streaming response when its generation ends (see [`crate::sse`]).
#[derive(Clone, Default)]
pub struct StreamUsage(pub Arc<Mutex<Option<Usage>>>);

/// Middleware: logs the request once its response is complete.
pub async fn log_request(req: Request, next: Next) -> Response {
    let t0 = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    if let Some(slot) = res.extensions().get::<StreamUsage>().cloned() {
        // Log when the body is done: the guard travels with the body and drops with it.
        let guard = LogOnDrop {
            method,
            path,
            status,
            t0,
            slot,
        };
        let (parts, body) = res.into_parts();
        let body = body.into_data_stream().map(move |chunk| {
            let _keep = &guard;
            chunk
        });
        return Response::from_parts(parts, Body::from_stream(body));
    }
    let usage = res.extensions().get::<Usage>().copied();
    line(&method, &path, status, t0, usage, false);
    res
}

struct LogOnDrop {
    method: Method,
    path: String,
    status: u16,
    t0: Instant,
    slot: StreamUsage,
}

impl Drop for LogOnDrop {
    fn drop(&mut self) {
        let usage = *self.slot.0.lock().unwrap_or_else(|e| e.into_inner());
        line(
            &self.method,
            &self.path,
            self.status,
            self.t0,
            usage,
            usage.is_none(),
        );
    }
}

fn line(method: &Method, path: &str, status: u16, t0: Instant, usage: Option<Usage>, cut: bool) {
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    match usage {
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
        None if cut => tracing::info!(
            target: "wren::http",
            method = %method,
            path = %path,
            status,
            cancelled = true,
            ms = format_args!("{ms:.1}"),
            "request"
        ),
        None => tracing::info!(
            target: "wren::http",
            method = %method,
            path = %path,
            status,
            ms = format_args!("{ms:.1}"),
            "request"
        ),
    }
}
