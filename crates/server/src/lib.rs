//! wren's OpenAI-compatible HTTP server.
//!
//! ```text
//!  client ──HTTP──▶ router (axum) ──▶ auth ──▶ handler (openai/*) ──GenRequest──▶ Engine
//!                                                  ▲                              │
//!                                                  └──── Event stream (channel) ◀─┘
//!                                   JSON response or SSE chunks (sse.rs) ◀─┘
//! ```
//!
//! | module     | responsibility                                                   |
//! |------------|------------------------------------------------------------------|
//! | `openai`   | endpoints, request/response shapes, the shared generation driver |
//! | `engine`   | the [`Engine`] trait; `local` (real model), `fake` (tests)       |
//! | `stop`     | stop strings over streamed text (pure)                           |
//! | `sse`      | OpenAI's streaming chunk sequence                                |
//! | `error`    | [`ApiError`]: every error response, in OpenAI's JSON shape       |
//! | `auth`     | `--api-key` bearer check; readiness gate while the model loads   |
//! | `access_log` | one `tracing` line per request                                 |
//! | `metrics`  | Prometheus counters                                              |
//! | `offload`  | tokenizing on the blocking pool, the prompt-length pre-check     |
//! | `limits`   | connection limits: timeouts, connection cap (flags of `serve`)   |
//! | `listen`   | the accept loop and per-connection watchdog enforcing `limits`   |
// SAFETY: not needed — this crate has no unsafe code (kernels: wren-kernels; mmap: wren-gguf).
#![forbid(unsafe_code)]

pub mod access_log;
pub mod auth;
pub mod engine;
pub mod error;
pub mod limits;
mod listen;
pub mod metrics;
pub mod offload;
pub mod openai;
pub mod sse;
pub mod stop;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub use engine::Engine;
pub use error::ApiError;

/// Largest request body accepted (413 beyond).
pub const BODY_LIMIT: usize = 4 << 20;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<dyn Engine>,
    pub metrics: Arc<metrics::Metrics>,
    /// `--api-key`: required as `Authorization: Bearer KEY` on all but `/health`.
    pub api_key: Option<Arc<str>>,
    /// Unix time the server started (reported as the model's `created`).
    pub started: u64,
    /// How long a request body may take to arrive ([`limits::body_timeout`]).
    pub body_timeout: Duration,
    /// Tokenizations running at once on the blocking pool ([`offload`]).
    pub tokenize_slots: Arc<tokio::sync::Semaphore>,
}

/// Tokenizations that may run at once (each holds its text and a few words per byte).
pub const TOKENIZE_SLOTS: usize = 2;

impl AppState {
    pub fn new(engine: Arc<dyn Engine>, api_key: Option<String>) -> AppState {
        AppState {
            engine,
            metrics: Arc::default(),
            api_key: api_key.filter(|k| !k.is_empty()).map(Arc::from),
            started: openai::gen::unix_now(),
            body_timeout: limits::Limits::default().body_timeout,
            tokenize_slots: Arc::new(tokio::sync::Semaphore::new(TOKENIZE_SLOTS)),
        }
    }
}

/// All routes. Unknown routes and methods answer in OpenAI's error shape.
pub fn router(state: AppState) -> Router {
    use openai::{chat, completions, models, tokenize};
    let protected = Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/completions", post(completions::completions))
        .route("/v1/models", get(models::list_models))
        .route("/v1/models/{id}", get(models::get_model))
        .route("/tokenize", post(tokenize::tokenize))
        .route("/detokenize", post(tokenize::detokenize))
        .route("/apply-template", post(tokenize::apply_template))
        .route("/metrics", get(metrics_text))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_ready,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    Router::new()
        .route("/health", get(models::health))
        .merge(protected)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::body_timeout,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), count_request))
        .layer(middleware::from_fn(access_log::log_request))
        .with_state(state)
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(&state.engine.stats());
    let ct = [("content-type", "text/plain; version=0.0.4; charset=utf-8")];
    (ct, body).into_response()
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!("no endpoint {} {}", req.method(), req.uri().path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

async fn count_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    state.metrics.http_request();
    next.run(req).await
}

/// Serves `state` on `listener` with the default [`Limits`](limits::Limits); see
/// [`serve_with`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    serve_with(listener, state, limits::Limits::default(), shutdown, grace).await
}

/// Serves `state` on `listener` under `limits` until `shutdown` completes, then stops
/// accepting connections and lets in-flight requests (streams included) finish for up
/// to `grace`. Whatever is still running after that is dropped when the runtime shuts
/// down, which drops its event receivers, so the engine cancels those sequences.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    mut state: AppState,
    limits: limits::Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    state.body_timeout = limits.body_timeout;
    let app = router(state);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut server = tokio::spawn(listen::run(listener, app, limits, stop_rx));
    let joined = |r: Result<std::io::Result<()>, tokio::task::JoinError>| {
        r.map_err(std::io::Error::other).and_then(|r| r)
    };
    tokio::select! {
        r = &mut server => return joined(r),
        () = shutdown => {}
    }
    eprintln!("[wren-server] shutting down: no new connections, finishing requests in flight");
    let _ = stop_tx.send(true);
    match tokio::time::timeout(grace, &mut server).await {
        Ok(r) => joined(r),
        Err(_) => {
            eprintln!(
                "[wren-server] requests still running after {}s: cancelling them",
                grace.as_secs()
            );
            server.abort();
            Ok(())
        }
    }
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                eprintln!("[wren-server] cannot listen for SIGTERM ({e}); use Ctrl-C to stop");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
