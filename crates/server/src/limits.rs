//! Connection limits: how long a client may take to send a request, how long an idle
//! keep-alive connection stays open, and how many connections are served at once.
//! `wren serve` sets them from its flags (`--header-timeout`, `--body-timeout`,
//! `--idle-timeout`, `--max-connections`); the accept loop in `listen` enforces the
//! header and idle timeouts and the cap, [`body_timeout`] the body timeout.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::AppState;

/// The limits, with the defaults of `wren serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A request's head (request line and headers) must arrive within this long of its
    /// first byte, or of the connection opening for a connection's first request.
    pub header_timeout: Duration,
    /// A request's body must arrive within this long of its head (408 otherwise).
    pub body_timeout: Duration,
    /// A keep-alive connection with no request under way is closed after this long.
    pub idle_timeout: Duration,
    /// Connections served at once; more are answered 503 and closed at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 256,
        }
    }
}

/// Middleware: reads the whole body (all bodies are small JSON, at most
/// [`BODY_LIMIT`](crate::BODY_LIMIT)) within `timeout`, so a `Content-Length` larger than
/// what is sent, or a chunked body that never ends, gets a 408 and a closed connection
/// instead of holding the connection forever.
pub async fn body_timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let timeout = state.body_timeout;
    let (parts, body) = req.into_parts();
    let read = Bytes::from_request(Request::from_parts(parts.clone(), body), &());
    let bytes = match tokio::time::timeout(timeout, read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(rejection)) => return closing(ApiError::from(rejection).into_response()),
        Err(_) => {
            let msg = format!(
                "the request body did not arrive within {} s",
                timeout.as_secs_f64()
            );
            let mut res = ApiError::invalid(msg).into_response();
            *res.status_mut() = StatusCode::REQUEST_TIMEOUT;
            return closing(res);
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Marks `res` so that the connection closes after it (what is left of the body is
/// unread, so the connection cannot carry another request).
fn closing(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}
