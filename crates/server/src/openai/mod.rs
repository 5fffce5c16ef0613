//! OpenAI-compatible endpoints.
//!
//! | file              | endpoint(s)                                   |
//! |-------------------|-----------------------------------------------|
//! | `chat.rs`         | `POST /v1/chat/completions`                   |
//! | `completions.rs`  | `POST /v1/completions`                        |
//! | `models.rs`       | `GET /v1/models`, `GET /health`               |
//! | `tokenize.rs`     | `POST /tokenize`, `POST /detokenize`          |
//! | `gen.rs`          | request → engine, stop strings, usage (shared)|
//! | `fields.rs`       | which request fields each endpoint refuses    |
//! | `structured.rs`   | response_format, logit_bias → grammar, bias   |
//! | `tools.rs`        | tools: prompt rendering, grammar, call parsing|
//! | `types.rs`        | request and response shapes                   |
//! | `body.rs`         | the JSON body extractor and its errors        |

pub mod body;
pub mod chat;
pub mod completions;
pub mod fields;
pub mod gen;
pub mod models;
pub mod structured;
pub mod tokenize;
pub mod tool_stream;
pub mod tools;
pub mod types;

pub use body::ApiJson;
