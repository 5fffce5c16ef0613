//! The HTTP API against a fake engine: no model, no sockets (`oneshot` on the router).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;
use wren_server::engine::fake::{FakeEngine, FAKE_BOS};
use wren_server::{router, AppState};

mod common;
use common::*;

async fn post(app: &Router, path: &str, body: &Value) -> Res {
    call(app, "POST", path, Some(&body.to_string()), None).await
}

fn chat_body(extra: Value) -> Value {
    let mut b = json!({
        "model": "my-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"}
        ]
    });
    b.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    b
}

#[tokio::test]
async fn chat_completion_has_openai_shape() {
    let engine = Arc::new(FakeEngine::new(PIECES));
    let app = app_with(engine.clone(), None);
    let r = post(
        &app,
        "/v1/chat/completions",
        &chat_body(json!({"temperature": 0, "seed": 7})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["model"], "my-model");
    let c = &v["choices"][0];
    assert_eq!(c["index"], 0);
    assert_eq!(c["message"]["role"], "assistant");
    assert_eq!(c["message"]["content"], "Hello, world!");
    assert_eq!(c["finish_reason"], "stop");
    assert!(c["logprobs"].is_null());
    // The fake renders "role: content\n" lines + "assistant:", bytes + BOS.
    let prompt = "system: Be brief.\nuser: Hi\nassistant:";
    let u = &v["usage"];
    assert_eq!(u["prompt_tokens"], prompt.len() + 1);
    assert_eq!(u["completion_tokens"], 5);
    assert_eq!(u["total_tokens"], prompt.len() + 6);
    let seen = engine.last_request().unwrap();
    assert_eq!(seen.prompt[0], FAKE_BOS);
    assert_eq!((seen.temperature, seen.seed), (0.0, 7));
}

#[tokio::test]
async fn chat_accepts_text_parts_and_rejects_other_parts() {
    let app = app();
    let msgs = json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]}]});
    let r = post(&app, "/v1/chat/completions", &msgs).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Parts are joined by newlines, as llama.cpp joins them.
    let r = post(&app, "/apply-template", &msgs).await.json();
    assert!(r["prompt"].as_str().unwrap().contains("Hi \nthere"), "{r}");
    let img = json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "x"}}]}]});
    let e = post(&app, "/v1/chat/completions", &img)
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(e["message"].as_str().unwrap().contains("image_url"), "{e}");
    // A text part with a field wren does not implement is refused by the field's name.
    let extra = json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]}]});
    let e = post(&app, "/v1/chat/completions", &extra)
        .await
        .error(StatusCode::BAD_REQUEST);
    assert_eq!(e["param"], "messages[0].content[0].cache_control", "{e}");
    let role = json!({"messages": [{"role": "wizard", "content": "x"}]});
    let e = post(&app, "/v1/chat/completions", &role)
        .await
        .error(StatusCode::BAD_REQUEST);
    assert_eq!(e["param"], "messages[0].role");
    let empty = json!({"messages": []});
    post(&app, "/v1/chat/completions", &empty)
        .await
        .error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn chat_stream_chunk_sequence() {
    let app = app();
    let body = chat_body(json!({"stream": true, "stream_options": {"include_usage": true}}));
    let data = post(&app, "/v1/chat/completions", &body).await.sse();
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], chunks[0]["id"]);
        assert_eq!(c["model"], "my-model");
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello, world!");
    let n = chunks.len();
    let fin = &chunks[n - 2]["choices"][0];
    assert_eq!(fin["finish_reason"], "stop");
    assert_eq!(fin["delta"], json!({}));
    assert!(chunks[1]["choices"][0]["finish_reason"].is_null());
    let usage = &chunks[n - 1];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 5);

    // Without include_usage: no usage chunk.
    let data = post(
        &app,
        "/v1/chat/completions",
        &chat_body(json!({"stream": true})),
    )
    .await
    .sse();
    assert_eq!(data.last().unwrap(), "[DONE]");
    assert!(data.iter().all(|d| !d.contains("\"usage\"")), "{data:?}");
}

#[tokio::test]
async fn completions_and_length_finish() {
    let engine = Arc::new(FakeEngine::new(PIECES));
    let app = app_with(engine.clone(), None);
    let r = post(
        &app,
        "/v1/completions",
        &json!({"prompt": "abc", "max_tokens": 2}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["model"], "fake-model");
    assert_eq!(v["choices"][0]["text"], "Hello");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["prompt_tokens"], 4);
    assert_eq!(
        engine.last_request().unwrap().prompt,
        vec![FAKE_BOS, 97, 98, 99]
    );

    // Token-id prompts are used as given; streaming works the same way.
    let r = post(
        &app,
        "/v1/completions",
        &json!({"prompt": [104, 105], "stream": true}),
    )
    .await;
    let data = r.sse();
    assert_eq!(data.last().unwrap(), "[DONE]");
    let text: String = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|c| c["choices"][0]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "Hello, world!");
    assert_eq!(engine.last_request().unwrap().prompt, vec![104, 105]);
    let bad = post(&app, "/v1/completions", &json!({"prompt": [99999]})).await;
    bad.error(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn stop_strings_cut_the_output() {
    let app = app();
    let cases = [
        (json!("lo"), "Hel"),                        // split across "Hel" | "lo"
        (json!(", w"), "Hello"),                     // inside one token
        (json!(["zzz", "rld", "ld!"]), "Hello, wo"), // list; spans "wor" | "ld"
        (json!("nope"), "Hello, world!"),
    ];
    for (stop, want) in cases {
        let body = json!({"prompt": "x", "stop": stop.clone()});
        let v = post(&app, "/v1/completions", &body).await.json();
        assert_eq!(v["choices"][0]["text"], want, "stop {stop}");
        let finish = v["choices"][0]["finish_reason"].clone();
        assert_eq!(finish, "stop", "stop {stop}");
        // Streaming gives the same text.
        let body = chat_body(json!({"stop": stop.clone(), "stream": true}));
        let data = post(&app, "/v1/chat/completions", &body).await.sse();
        let text: String = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str::<Value>(d).unwrap())
            .filter_map(|c| {
                c["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(text, want, "streamed, stop {stop}");
    }
}

#[tokio::test]
async fn logprobs_are_reported() {
    let engine = Arc::new(FakeEngine::new(PIECES));
    let app = app_with(engine.clone(), None);
    let body = chat_body(json!({"logprobs": true, "top_logprobs": 2}));
    let v = post(&app, "/v1/chat/completions", &body).await.json();
    let content = v["choices"][0]["logprobs"]["content"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(content.len(), 5);
    assert_eq!(content[0]["token"], "Hel");
    assert_eq!(content[0]["bytes"], json!([72, 101, 108]));
    assert_eq!(content[0]["top_logprobs"].as_array().unwrap().len(), 2);
    assert_eq!(engine.last_request().unwrap().logprobs, Some(2));
    let v = post(
        &app,
        "/v1/completions",
        &json!({"prompt": "x", "logprobs": 1}),
    )
    .await
    .json();
    let lp = &v["choices"][0]["logprobs"];
    assert_eq!(lp["tokens"].as_array().unwrap().len(), 5);
    assert_eq!(lp["text_offset"], json!([0, 3, 5, 10, 12]));
    let bad = chat_body(json!({"logprobs": true, "top_logprobs": 21}));
    post(&app, "/v1/chat/completions", &bad)
        .await
        .error(StatusCode::BAD_REQUEST);
    // A stop string's tokens, removed from the text, have no logprobs either (streamed
    // or not): "Hel" "lo" ", wor" and then "ld" completes the stop "world".
    let body = chat_body(json!({"logprobs": true, "stop": "world"}));
    let v = post(&app, "/v1/chat/completions", &body).await.json();
    let tokens: Vec<&str> = v["choices"][0]["logprobs"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token"].as_str().unwrap())
        .collect();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello, ");
    assert_eq!(tokens, ["Hel", "lo", ", wor"]);
    let mut body = body;
    body["stream"] = json!(true);
    let data = post(&app, "/v1/chat/completions", &body).await.sse();
    let streamed: Vec<String> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .flat_map(|c| {
            let lp = c["choices"][0]["logprobs"]["content"].clone();
            lp.as_array().cloned().unwrap_or_default()
        })
        .map(|t| t["token"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(streamed, ["Hel", "lo", ", wor"]);
}

#[tokio::test]
async fn seed_minus_one_is_random_and_other_negatives_are_refused() {
    let app = app();
    let r = post(
        &app,
        "/v1/chat/completions",
        &chat_body(json!({"seed": -1})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let e = post(
        &app,
        "/v1/chat/completions",
        &chat_body(json!({"seed": -2})),
    )
    .await
    .error(StatusCode::BAD_REQUEST);
    assert_eq!(e["param"], "seed", "{e}");
}

#[tokio::test]
async fn invalid_requests_are_400_in_openai_shape() {
    let app = app();
    let e = post(&app, "/v1/chat/completions", &chat_body(json!({"n": 2}))).await;
    let e = e.error(StatusCode::BAD_REQUEST);
    assert_eq!(e["param"], "n");
    assert!(
        e["message"].as_str().unwrap().contains("n must be 1"),
        "{e}"
    );
    assert_eq!(e["type"], "invalid_request_error");
    // n = 1 is fine.
    let ok = post(&app, "/v1/chat/completions", &chat_body(json!({"n": 1}))).await;
    assert_eq!(ok.status, StatusCode::OK);

    let r = call(
        &app,
        "POST",
        "/v1/chat/completions",
        Some("{\"messages\": ["),
        None,
    )
    .await;
    let e = r.error(StatusCode::BAD_REQUEST);
    assert_eq!(e["type"], "invalid_request_error");

    let e = post(
        &app,
        "/v1/chat/completions",
        &chat_body(json!({"max_tokens": "ten"})),
    )
    .await;
    let e = e.error(StatusCode::BAD_REQUEST);
    assert!(e["message"].as_str().unwrap().contains("max_tokens"), "{e}");

    let e = post(&app, "/v1/chat/completions", &json!({"model": "x"})).await;
    let e = e.error(StatusCode::BAD_REQUEST);
    assert!(e["message"].as_str().unwrap().contains("messages"), "{e}");

    let e = post(
        &app,
        "/v1/chat/completions",
        &chat_body(json!({"top_p": 2.0})),
    )
    .await;
    assert_eq!(e.error(StatusCode::BAD_REQUEST)["param"], "top_p");
    let e = post(
        &app,
        "/v1/completions",
        &json!({"prompt": "x", "max_tokens": 0}),
    )
    .await;
    assert_eq!(e.error(StatusCode::BAD_REQUEST)["param"], "max_tokens");
}

#[tokio::test]
async fn context_limits() {
    let engine = Arc::new(FakeEngine::new(PIECES).with_ctx(16));
    let app = app_with(engine.clone(), None);
    // 1 BOS + 10 bytes = 11 tokens: 5 left; max_tokens is capped to them.
    let r = post(
        &app,
        "/v1/completions",
        &json!({"prompt": "0123456789", "max_tokens": 100}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(engine.last_request().unwrap().max_tokens, 5);
    // Unset max_tokens: the rest of the context.
    post(&app, "/v1/completions", &json!({"prompt": "0123"})).await;
    assert_eq!(engine.last_request().unwrap().max_tokens, 11);
    // Too long: 400 with the counts, never truncated.
    let r = post(
        &app,
        "/v1/completions",
        &json!({"prompt": "0123456789abcde"}),
    )
    .await;
    let e = r.error(StatusCode::BAD_REQUEST);
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("16 tokens") && msg.contains("16"), "{msg}");
    assert_eq!(e["param"], "prompt");
    // Longer than any 16 tokens can be (1 byte per token here): refused untokenized.
    for (path, body) in [
        ("/v1/completions", json!({"prompt": "0123456789abcdefgh"})),
        (
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "0123456789abcdefgh"}]}),
        ),
    ] {
        let r = post(&app, path, &body).await;
        let e = r.error(StatusCode::BAD_REQUEST);
        let msg = e["message"].as_str().unwrap();
        assert!(
            msg.contains("18 bytes") && msg.contains("16 tokens"),
            "{msg}"
        );
    }
}

#[tokio::test]
async fn body_too_large_is_413() {
    let app = app();
    let big = format!(
        "{{\"prompt\": \"{}\"}}",
        "a".repeat(wren_server::BODY_LIMIT + 10)
    );
    let r = call(&app, "POST", "/v1/completions", Some(&big), None).await;
    let e = r.error(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(e["type"], "invalid_request_error");
}

#[tokio::test]
async fn unknown_route_and_method_are_json() {
    let app = app();
    let e = call(&app, "GET", "/v1/nope", None, None)
        .await
        .error(StatusCode::NOT_FOUND);
    assert!(e["message"].as_str().unwrap().contains("/v1/nope"));
    call(&app, "GET", "/v1/chat/completions", None, None)
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn api_key_is_required_except_for_health() {
    let app = app_with(Arc::new(FakeEngine::new(PIECES)), Some("s3cret"));
    let body = chat_body(json!({})).to_string();
    let path = "/v1/chat/completions";
    let e = call(&app, "POST", path, Some(&body), None).await;
    assert_eq!(
        e.error(StatusCode::UNAUTHORIZED)["type"],
        "authentication_error"
    );
    call(&app, "POST", path, Some(&body), Some("wrong"))
        .await
        .error(StatusCode::UNAUTHORIZED);
    let ok = call(&app, "POST", path, Some(&body), Some("s3cret")).await;
    assert_eq!(ok.status, StatusCode::OK);
    for p in ["/v1/models", "/metrics"] {
        call(&app, "GET", p, None, None)
            .await
            .error(StatusCode::UNAUTHORIZED);
    }
    let h = call(&app, "GET", "/health", None, None).await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.json()["status"], "ok");
}

#[tokio::test]
async fn queue_full_is_503_with_retry_after() {
    let engine = Arc::new(FakeEngine::new(PIECES));
    engine.set_queue_full(true);
    let app = app_with(engine.clone(), None);
    let r = post(&app, "/v1/chat/completions", &chat_body(json!({}))).await;
    assert!(
        r.headers.contains_key(header::RETRY_AFTER),
        "{:?}",
        r.headers
    );
    r.error(StatusCode::SERVICE_UNAVAILABLE);
    let m = call(&app, "GET", "/metrics", None, None).await.body;
    assert!(m.contains("wren_requests_rejected_total 1"), "{m}");
}

#[tokio::test]
async fn models_list() {
    let v = call(&app(), "GET", "/v1/models", None, None).await.json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["id"], "fake-model");
    assert_eq!(v["data"][0]["object"], "model");
    assert_eq!(v["data"][0]["owned_by"], "wren");
}

#[tokio::test]
async fn tokenize_detokenize_round_trip() {
    let app = app();
    let v = post(&app, "/tokenize", &json!({"content": "hé"}))
        .await
        .json();
    assert_eq!(v["tokens"], json!([104, 195, 169]));
    let v = post(
        &app,
        "/tokenize",
        &json!({"content": "a", "add_special": true}),
    )
    .await
    .json();
    assert_eq!(v["tokens"], json!([FAKE_BOS, 97]));
    let v = post(
        &app,
        "/detokenize",
        &json!({"tokens": [FAKE_BOS, 104, 195, 169]}),
    )
    .await
    .json();
    assert_eq!(v["content"], "hé");
    let r = post(&app, "/detokenize", &json!({"tokens": [5000]})).await;
    assert_eq!(r.error(StatusCode::BAD_REQUEST)["param"], "tokens");
    // A field wren does not implement (llama-server's `with_pieces`) is refused, not
    // ignored.
    let r = post(
        &app,
        "/tokenize",
        &json!({"content": "a", "with_pieces": true}),
    )
    .await;
    let e = r.error(StatusCode::BAD_REQUEST);
    assert_eq!(e["param"], "with_pieces", "{e}");
    let r = post(&app, "/detokenize", &json!({"tokens": [97], "x": 1})).await;
    assert_eq!(r.error(StatusCode::BAD_REQUEST)["param"], "x");
}

#[tokio::test]
async fn apply_template_renders_and_validates() {
    let app = app();
    let v = post(
        &app,
        "/apply-template",
        &json!({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]}),
    )
    .await
    .json();
    assert_eq!(v["prompt"], "system: S\nuser: Hi\nassistant:");
    let r = post(&app, "/apply-template", &json!({"messages": []})).await;
    assert_eq!(r.error(StatusCode::BAD_REQUEST)["param"], "messages");
    let r = post(
        &app,
        "/apply-template",
        &json!({"messages": [{"role": "robot", "content": "x"}]}),
    )
    .await;
    assert_eq!(
        r.error(StatusCode::BAD_REQUEST)["param"],
        "messages[0].role"
    );
}

#[tokio::test]
async fn metrics_have_the_counters() {
    let app = app();
    post(&app, "/v1/completions", &json!({"prompt": "abc"})).await;
    post(&app, "/v1/chat/completions", &chat_body(json!({}))).await;
    let r = call(&app, "GET", "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let m = r.body;
    for want in [
        "wren_requests_total{endpoint=\"chat_completions\"} 1",
        "wren_requests_total{endpoint=\"completions\"} 1",
        "wren_completion_tokens_total 10",
        "# TYPE wren_queue_depth gauge",
        "wren_queue_depth 0",
        "wren_decode_tokens_per_second 20",
        "wren_prompt_tokens_total ",
        "wren_http_requests_total 3",
    ] {
        assert!(m.contains(want), "missing {want:?} in\n{m}");
    }
}

#[tokio::test]
async fn body_errors_name_the_field() {
    let app = app();
    let path = "/v1/chat/completions";
    let content = json!({"messages": [{"role": "user", "content": 42}]});
    let e = post(&app, path, &content)
        .await
        .error(StatusCode::BAD_REQUEST);
    assert_eq!(e["param"], "messages[0].content");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("a list of {\"type\": \"text\""), "{msg}");
    let no_role = json!({"messages": [{"content": "Hi"}]});
    let e = post(&app, path, &no_role)
        .await
        .error(StatusCode::BAD_REQUEST);
    assert_eq!(e["param"], "messages[0].role");
    let e = post(&app, path, &chat_body(json!({"stop": 5})))
        .await
        .error(StatusCode::BAD_REQUEST);
    assert_eq!(e["param"], "stop");
    // Not an object (serde alone would read a struct from an array of its fields).
    let e = call(&app, "POST", path, Some("[[]]"), None)
        .await
        .error(StatusCode::BAD_REQUEST);
    assert_eq!(e["param"], Value::Null);
    let e = post(&app, "/v1/completions", &json!({"prompt": []}))
        .await
        .error(StatusCode::BAD_REQUEST);
    assert!(e["message"].as_str().unwrap().contains("empty"), "{e}");
}

#[tokio::test]
async fn speculative_settings_are_checked() {
    let app = app();
    let path = "/v1/completions";
    let body = |sp: Value| json!({"prompt": "Hello", "max_tokens": 2, "speculative": sp});
    for (sp, param, says) in [
        (json!({"n_max": 100}), "speculative.n_max", "outside 1..=32"),
        (
            json!({"n_max": 2, "n_min": 5}),
            "speculative.n_min",
            "between 1 and n_max",
        ),
        (
            json!({"n_max": 4, "n_min": 0}),
            "speculative.n_min",
            "between 1 and n_max",
        ),
        (json!({"n_max": -1}), "speculative.n_max", "u32"),
        (
            json!({"n_max": 4, "p_min": 0.5}),
            "speculative.p_min",
            "does not implement",
        ),
        (json!("yes"), "speculative", "an object like"),
    ] {
        let e = post(&app, path, &body(sp.clone()))
            .await
            .error(StatusCode::BAD_REQUEST);
        assert_eq!(e["param"], param, "{sp}: {e}");
        let msg = e["message"].as_str().unwrap();
        assert!(msg.contains(says), "{sp}: {msg}");
    }
    for sp in [
        json!({"n_max": 4, "n_min": 2}),
        json!({"n_max": 0}),
        json!({}),
    ] {
        assert_eq!(post(&app, path, &body(sp)).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn sampling_is_held_to_openai_ranges() {
    let app = app();
    let path = "/v1/chat/completions";
    for (field, v) in [
        ("temperature", 2.5),
        ("temperature", -0.5),
        ("presence_penalty", -2.5),
        ("frequency_penalty", 3.0),
    ] {
        let e = post(&app, path, &chat_body(json!({ field: v })))
            .await
            .error(StatusCode::BAD_REQUEST);
        assert_eq!(e["param"], field, "{e}");
    }
    let edge = chat_body(json!({"temperature": 2.0, "presence_penalty": -2.0}));
    assert_eq!(post(&app, path, &edge).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_body_declared_as_not_json_is_415() {
    let app = app();
    let body = chat_body(json!({})).to_string();
    let send = |ct: Option<&'static str>| {
        let mut req = Request::builder()
            .method("POST")
            .uri("/v1/chat/completions");
        if let Some(ct) = ct {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let req = req.body(Body::from(body.clone())).unwrap();
        let app = app.clone();
        async move { app.oneshot(req).await.unwrap().status() }
    };
    assert_eq!(
        send(Some("text/plain")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let form = "application/x-www-form-urlencoded";
    assert_eq!(send(Some(form)).await, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        send(Some("application/json; charset=utf-8")).await,
        StatusCode::OK
    );
    assert_eq!(send(None).await, StatusCode::OK);
}

#[tokio::test]
async fn model_by_id_and_openai_404_for_another() {
    let app = app();
    let list = call(&app, "GET", "/v1/models", None, None).await.json();
    let id = list["data"][0]["id"].as_str().unwrap().to_string();
    let r = call(&app, "GET", &format!("/v1/models/{id}"), None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["id"], id.as_str());
    assert_eq!(r.json()["object"], "model");
    let r = call(&app, "GET", "/v1/models/gpt-4o", None, None).await;
    let e = r.error(StatusCode::NOT_FOUND);
    assert_eq!(e["code"], "model_not_found");
    assert!(e["message"].as_str().unwrap().contains("gpt-4o"), "{e}");
}

#[tokio::test]
async fn health_says_loading_until_the_engine_is_set() {
    use wren_server::engine::pending::PendingEngine;
    use wren_server::engine::EngineInfo;
    let pending = Arc::new(PendingEngine::new(EngineInfo {
        model_id: "m".into(),
        ctx: 0,
        vocab_size: 0,
        parallel: 1,
        max_token_bytes: 0,
    }));
    let app = router(AppState::new(pending.clone(), None));
    let r = call(&app, "GET", "/health", None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.json(), json!({"status": "loading"}));
    // Everything else is 503 `model_loading` meanwhile, never a panic or a hang.
    let body = r#"{"messages":[{"role":"user","content":"hi"}]}"#;
    let r = call(&app, "POST", "/v1/chat/completions", Some(body), None).await;
    assert_eq!(
        r.error(StatusCode::SERVICE_UNAVAILABLE)["code"],
        "model_loading"
    );
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    pending.set(Arc::new(FakeEngine::new(PIECES)));
    let r = call(&app, "GET", "/health", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"status": "ok"}));
    let r = call(&app, "POST", "/v1/chat/completions", Some(body), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
