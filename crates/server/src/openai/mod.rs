//! OpenAI-compatible endpoints.
//!
//! | file              | endpoint(s)                                   |
//! |-------------------|-----------------------------------------------|
//! | `chat.rs`         | `POST /v1/chat/completions`                   |
//! | `completions.rs`  | `POST /v1/completions`                        |
//! | `models.rs`       | `GET /v1/models`, `GET /health`               |
//! | `tokenize.rs`     | `POST /tokenize`, `POST /detokenize`          |
//! | `gen.rs`          | request → engine, stop strings, usage (shared)|
//! | `types.rs`        | request and response shapes                   |

pub mod chat;
pub mod completions;
pub mod gen;
pub mod models;
pub mod tokenize;
pub mod types;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body whose every rejection (bad syntax, wrong types, too large) is an
/// [`ApiError`] in OpenAI's shape. Unlike `axum::Json` it does not insist on a
/// `Content-Type: application/json` header (curl users often forget it).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await?;
        let axum::Json(v) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(ApiJson(v))
    }
}
