//! Counters for `GET /metrics`, in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::engine::EngineStats;

/// Which generation endpoint a request went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Completions,
}

#[derive(Debug, Default)]
pub struct Metrics {
    http_requests: AtomicU64,
    chat: AtomicU64,
    completions: AtomicU64,
    rejected: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
}

impl Metrics {
    /// Any HTTP request (counted by a middleware).
    pub fn http_request(&self) {
        self.http_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A generation request (valid or not).
    pub fn request(&self, e: Endpoint) {
        let c = match e {
            Endpoint::Chat => &self.chat,
            Endpoint::Completions => &self.completions,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A request turned away because the queue was full.
    pub fn rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Token counts of a finished generation.
    pub fn tokens(&self, prompt: usize, completion: usize) {
        self.prompt_tokens
            .fetch_add(prompt as u64, Ordering::Relaxed);
        self.completion_tokens
            .fetch_add(completion as u64, Ordering::Relaxed);
    }

    /// The Prometheus exposition text.
    pub fn render(&self, e: &EngineStats) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, f64)]| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in samples {
                let _ = writeln!(s, "{name}{labels} {v}");
            }
        };
        metric(
            "wren_http_requests_total",
            "counter",
            "HTTP requests received.",
            &[("", get(&self.http_requests) as f64)],
        );
        metric(
            "wren_requests_total",
            "counter",
            "Generation requests by endpoint.",
            &[
                ("{endpoint=\"chat_completions\"}", get(&self.chat) as f64),
                ("{endpoint=\"completions\"}", get(&self.completions) as f64),
            ],
        );
        metric(
            "wren_requests_rejected_total",
            "counter",
            "Requests turned away because the queue was full.",
            &[("", get(&self.rejected) as f64)],
        );
        metric(
            "wren_prompt_tokens_total",
            "counter",
            "Prompt tokens of finished requests (tokens in).",
            &[("", get(&self.prompt_tokens) as f64)],
        );
        metric(
            "wren_completion_tokens_total",
            "counter",
            "Generated tokens of finished requests (tokens out).",
            &[("", get(&self.completion_tokens) as f64)],
        );
        metric(
            "wren_prompt_tokens_reused_total",
            "counter",
            "Prompt tokens not recomputed thanks to prefix reuse.",
            &[("", e.prompt_tokens_reused as f64)],
        );
        metric(
            "wren_decode_tokens_total",
            "counter",
            "Tokens decoded by the engine.",
            &[("", e.decode_tokens as f64)],
        );
        metric(
            "wren_queue_depth",
            "gauge",
            "Requests waiting for a free slot.",
            &[("", e.queue_depth as f64)],
        );
        metric(
            "wren_active_sequences",
            "gauge",
            "Requests in a slot (prefilling or generating).",
            &[("", e.active as f64)],
        );
        metric(
            "wren_decode_tokens_per_second",
            "gauge",
            "Average decode throughput since start.",
            &[("", e.decode_tps())],
        );
        s
    }
}
