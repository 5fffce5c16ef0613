//! The one place HTTP errors are made: OpenAI's error JSON,
//! `{"error": {"message", "type", "param", "code"}}`.
//!
//! Internal causes are never sent to the client; they are logged to stderr when the
//! response is built.

use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::engine::EngineError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, `server_error` …
    pub kind: &'static str,
    pub message: String,
    pub param: Option<String>,
    pub code: Option<&'static str>,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u32>,
    /// Logged, never shown.
    cause: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
            cause: None,
        }
    }

    /// 400 `invalid_request_error`.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// 400 about one request field.
    pub fn invalid_param(param: &str, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::invalid(message);
        e.param = Some(param.to_string());
        e
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::NOT_FOUND, "invalid_request_error", message);
        e.code = Some("not_found");
        e
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "method not allowed for this endpoint",
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::UNAUTHORIZED, "authentication_error", message);
        e.code = Some("invalid_api_key");
        e
    }

    pub fn too_large(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            message,
        );
        e.code = Some("request_too_large");
        e
    }

    /// 415: the body is declared as something other than JSON.
    pub fn unsupported_media_type(message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            message,
        )
    }

    /// 503 with `Retry-After`.
    pub fn overloaded(message: impl Into<String>, retry_after: u32) -> ApiError {
        let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message);
        e.code = Some("server_overloaded");
        e.retry_after = Some(retry_after);
        e
    }

    /// 503 while the model loads (code `model_loading`, `Retry-After: 2`).
    pub fn loading() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "the model is still loading; try again shortly",
        );
        e.code = Some("model_loading");
        e.retry_after = Some(2);
        e
    }

    /// 500; `cause` is logged, the client sees a generic message.
    pub fn internal(cause: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal server error",
        );
        e.cause = Some(cause.into());
        e
    }

    /// The JSON body, also used for errors inside an SSE stream.
    pub fn body(&self) -> serde_json::Value {
        serde_json::to_value(Body {
            error: Inner {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code,
            },
        })
        .unwrap_or_default()
    }

    /// Logs the hidden cause, if any (done once per error when it is sent).
    pub fn log(&self) {
        if let Some(cause) = &self.cause {
            eprintln!("[wren-server] {} error: {cause}", self.status.as_u16());
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let mut res = (self.status, axum::Json(self.body())).into_response();
        if let Some(s) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        res
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> ApiError {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!(
                "the request body is larger than the limit of {} bytes",
                crate::BODY_LIMIT
            ))
        } else {
            let mut e =
                ApiError::invalid(format!("cannot read the request body: {}", r.body_text()));
            e.status = r.status();
            e
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::QueueFull { .. } => ApiError::overloaded(e.to_string(), 1),
            EngineError::Stopped => ApiError::overloaded("the engine is shutting down", 5),
            EngineError::Loading => ApiError::loading(),
            EngineError::Template(m) => ApiError::invalid_param("messages", m),
            EngineError::BadToken { .. } => ApiError::invalid_param("tokens", e.to_string()),
            EngineError::ControlText { ref field, .. } => {
                ApiError::invalid_param(&field.clone(), e.to_string())
            }
            EngineError::Grammar(m) => ApiError::invalid(m),
        }
    }
}
