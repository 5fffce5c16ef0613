//! The access log: one line per request, streams logged when they end. Alone in its own
//! test binary because `tracing` caches per-callsite interest process-wide: a test on
//! another thread hitting the same callsite without a subscriber can make this test's
//! thread-local subscriber miss lines.

mod common;
use common::*;
use serde_json::Value;
use std::sync::Arc;

/// A `tracing` writer that keeps what is logged.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn one_log_line_per_request() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = app();
    call(&app, "GET", "/health", None, None).await;
    let body = r#"{"prompt":"Hi","max_tokens":3}"#;
    call(&app, "POST", "/v1/completions", Some(body), None).await;
    call(&app, "GET", "/nope", None, None).await;
    // A stream is logged when it ends, with its token counts.
    let body = r#"{"prompt":"Hi","max_tokens":4,"stream":true}"#;
    let r = call(&app, "POST", "/v1/completions", Some(body), None).await;
    assert!(r.body.contains("[DONE]"), "{}", r.body);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|v: &Value| v["target"] == "wren::http")
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    let f = |i: usize| lines[i]["fields"].clone();
    assert_eq!(f(0)["method"], "GET");
    assert_eq!(f(0)["path"], "/health");
    assert_eq!(f(0)["status"], 200);
    assert_eq!(f(1)["path"], "/v1/completions");
    assert_eq!(f(1)["generated_tokens"], 3);
    assert!(f(1)["prompt_tokens"].as_u64().unwrap() > 0, "{}", f(1));
    assert!(f(1)["ms"].is_string() || f(1)["ms"].is_number(), "{}", f(1));
    assert_eq!(f(2)["status"], 404);
    assert_eq!(f(3)["path"], "/v1/completions");
    assert_eq!(f(3)["generated_tokens"], 4, "{}", f(3));
    assert!(f(3)["prompt_tokens"].as_u64().unwrap() > 0, "{}", f(3));
}
