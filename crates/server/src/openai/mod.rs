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
//! | `body.rs`         | the JSON body extractor and its errors        |

pub mod body;
pub mod chat;
pub mod completions;
pub mod gen;
pub mod models;
pub mod tokenize;
pub mod types;

pub use body::ApiJson;
