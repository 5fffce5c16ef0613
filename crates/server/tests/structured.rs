//! Structured output, tools, logit_bias, echo and field refusal against the fake
//! engine (no model): request validation, what reaches the engine, and the reply and
//! stream shapes. The real-model behaviour is in scripts/openai_e2e.py.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::Router;
use serde_json::{json, Value};
use wren_server::engine::fake::FakeEngine;

mod common;
use common::*;

/// A fake engine with room for the tool list in its context.
fn engine(pieces: &[&str]) -> Arc<FakeEngine> {
    Arc::new(FakeEngine::new(pieces).with_ctx(4096))
}

fn app() -> Router {
    app_with(engine(PIECES), None)
}

async fn post(app: &Router, path: &str, body: &Value) -> Res {
    call(app, "POST", path, Some(&body.to_string()), None).await
}

fn chat(extra: Value) -> Value {
    let mut b = json!({"messages": [{"role": "user", "content": "Weather in Paris?"}]});
    b.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    b
}

fn weather_tools() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}])
}

const CALL: &[&str] = &[
    "<tool",
    "_call>\n{\"name\": \"get_weather\", ",
    "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
];

/// A 400 whose `param` is `param`; returns the message.
async fn refused(app: &Router, path: &str, body: Value, param: &str) -> String {
    let e = post(app, path, &body).await.error(StatusCode::BAD_REQUEST);
    assert_eq!(e["param"], param, "{e}");
    e["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn response_format_reaches_the_engine_and_bad_schemas_are_400() {
    let engine = engine(&["{}"]);
    let app = app_with(engine.clone(), None);
    let schema = json!({"type": "json_schema", "json_schema": {"name": "person", "strict": true,
        "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}});
    for rf in [json!({"type": "json_object"}), schema] {
        let r = post(
            &app,
            "/v1/chat/completions",
            &chat(json!({"response_format": rf})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(engine.last_request().unwrap().constrained);
    }
    let r = post(
        &app,
        "/v1/chat/completions",
        &chat(json!({"response_format": {"type": "text"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!engine.last_request().unwrap().constrained);
    // Also on completions (an extension, as llama.cpp).
    let r = post(
        &app,
        "/v1/completions",
        &json!({"prompt": "x", "response_format": {"type": "json_object"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(engine.last_request().unwrap().constrained);

    let bad = json!({"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "nonsense"}}});
    let m = refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"response_format": bad})),
        "response_format",
    )
    .await;
    assert!(m.contains("invalid JSON schema"), "{m}");
    let bad_name = json!({"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}});
    refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"response_format": bad_name})),
        "response_format.json_schema.name",
    )
    .await;
    let bad_type = json!({"type": "xml"});
    refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"response_format": bad_type})),
        "response_format.type",
    )
    .await;
}

#[tokio::test]
async fn logit_bias_is_validated_and_passed_on() {
    let engine = engine(PIECES);
    let app = app_with(engine.clone(), None);
    let r = post(
        &app,
        "/v1/completions",
        &json!({"prompt": "x", "logit_bias": {"65": -100, "66": 5.5}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        engine.last_request().unwrap().logit_bias,
        vec![(65, -100.0), (66, 5.5)]
    );
    refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"logit_bias": {"9999": 1}})),
        "logit_bias.9999",
    )
    .await;
    refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"logit_bias": {"a": 1}})),
        "logit_bias.a",
    )
    .await;
    refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"logit_bias": {"5": 101}})),
        "logit_bias.5",
    )
    .await;
}

#[tokio::test]
async fn echo_prepends_the_prompt() {
    let app = app();
    let r = post(
        &app,
        "/v1/completions",
        &json!({"prompt": "Say: ", "echo": true}),
    )
    .await;
    assert_eq!(r.json()["choices"][0]["text"], "Say: Hello, world!");
    let data = post(
        &app,
        "/v1/completions",
        &json!({"prompt": "Say: ", "echo": true, "stream": true}),
    )
    .await
    .sse();
    let text: String = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|c| c["choices"][0]["text"].as_str().map(str::to_string))
        .collect();
    assert_eq!(text, "Say: Hello, world!");
    refused(
        &app,
        "/v1/completions",
        json!({"prompt": "x", "echo": true, "logprobs": 2}),
        "echo",
    )
    .await;
}

#[tokio::test]
async fn unknown_and_unimplemented_fields_are_refused_by_name() {
    let app = app();
    let chat_cases = [
        ("frobnicate", json!(1)),
        ("functions", json!([])),
        ("audio", json!({"voice": "x"})),
        ("reasoning_effort", json!("low")),
        ("prediction", json!({})),
        ("web_search_options", json!({})),
        ("echo", json!(true)),
        ("suffix", json!("x")),
        ("best_of", json!(2)),
        ("modalities", json!(["text", "audio"])),
        ("store", json!(true)),
    ];
    for (field, v) in chat_cases {
        let m = refused(&app, "/v1/chat/completions", chat(json!({field: v})), field).await;
        assert!(m.contains(field), "{m}");
    }
    for (field, v) in [
        ("suffix", json!("end")),
        ("best_of", json!(3)),
        ("tools", weather_tools()),
        ("bogus", json!(0)),
    ] {
        refused(
            &app,
            "/v1/completions",
            json!({"prompt": "x", field: v}),
            field,
        )
        .await;
    }
    let m = refused(
        &app,
        "/v1/chat/completions",
        json!({"messages": [{"role": "user", "content": "x", "colour": 1}]}),
        "messages[0].colour",
    )
    .await;
    assert!(m.contains("unknown field"), "{m}");
    // Accepted and harmless.
    let ok = chat(
        json!({"user": "u1", "metadata": {"a": "b"}, "store": false, "service_tier": "auto",
        "modalities": ["text"], "stream_options": null, "parallel_tool_calls": true}),
    );
    assert_eq!(
        post(&app, "/v1/chat/completions", &ok).await.status,
        StatusCode::OK
    );
    let ok = json!({"prompt": "x", "best_of": 1, "suffix": null, "user": "u"});
    assert_eq!(
        post(&app, "/v1/completions", &ok).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn tool_calls_are_parsed_and_finish_with_tool_calls() {
    let engine = engine(CALL);
    let app = app_with(engine.clone(), None);
    let r = post(
        &app,
        "/v1/chat/completions",
        &chat(json!({"tools": weather_tools(), "tool_choice": "required"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    let c = &v["choices"][0];
    assert_eq!(c["finish_reason"], "tool_calls");
    assert!(c["message"]["content"].is_null());
    let call = &c["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert!(call["id"].as_str().unwrap().starts_with("call-"));
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris"}));
    let seen = engine.last_request().unwrap();
    assert!(seen.constrained);
    // The tool list went into the system turn.
    let prompt: Vec<u8> = seen.prompt[1..].iter().map(|&t| t as u8).collect();
    let prompt = String::from_utf8(prompt).unwrap();
    assert!(prompt.starts_with("system: # Tools"), "{prompt}");
    assert!(prompt.contains("\"name\":\"get_weather\""), "{prompt}");

    // Streamed: the call arrives as delta.tool_calls fragments that assemble.
    let data = post(
        &app,
        "/v1/chat/completions",
        &chat(json!({"tools": weather_tools(), "stream": true})),
    )
    .await
    .sse();
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let mut name = String::new();
    let mut args = String::new();
    let mut id = None;
    for ch in &chunks {
        let d = &ch["choices"][0]["delta"];
        assert!(
            d["content"].as_str().is_none_or(str::is_empty),
            "text leaked: {d}"
        );
        for tc in d["tool_calls"].as_array().into_iter().flatten() {
            assert_eq!(tc["index"], 0);
            if let Some(i) = tc["id"].as_str() {
                id = Some(i.to_string());
            }
            name.push_str(tc["function"]["name"].as_str().unwrap_or(""));
            args.push_str(tc["function"]["arguments"].as_str().unwrap());
        }
    }
    assert!(id.is_some());
    assert_eq!(name, "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "Paris"})
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn plain_text_with_tools_is_text() {
    let engine = engine(PIECES);
    let app = app_with(engine.clone(), None);
    let r = post(
        &app,
        "/v1/chat/completions",
        &chat(json!({"tools": weather_tools()})),
    )
    .await;
    let c = &r.json()["choices"][0];
    assert_eq!(c["finish_reason"], "stop");
    assert_eq!(c["message"]["content"], "Hello, world!");
    assert!(c["message"].get("tool_calls").is_none());
    // tool_choice none: no tools shown, nothing constrained.
    let r = post(
        &app,
        "/v1/chat/completions",
        &chat(json!({"tools": weather_tools(), "tool_choice": "none"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!engine.last_request().unwrap().constrained);
}

#[tokio::test]
async fn tool_round_trip_messages_render() {
    let engine = engine(PIECES);
    let app = app_with(engine.clone(), None);
    let msgs = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C, sunny"}
    ]);
    let r = post(
        &app,
        "/v1/chat/completions",
        &json!({"messages": msgs, "tools": weather_tools()}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let seen = engine.last_request().unwrap();
    let prompt = String::from_utf8(seen.prompt[1..].iter().map(|&t| t as u8).collect()).unwrap();
    assert!(prompt.contains("assistant: <tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n</tool_call>\n"), "{prompt}");
    assert!(
        prompt.contains("user: <tool_response>\n18 C, sunny\n</tool_response>\n"),
        "{prompt}"
    );
    // A tool message must answer a known call.
    let bad = json!([{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "nope", "content": "y"}]);
    refused(
        &app,
        "/v1/chat/completions",
        json!({"messages": bad}),
        "messages[1].tool_call_id",
    )
    .await;
}

#[tokio::test]
async fn bad_tool_requests_are_400() {
    let app = app();
    let named = |n: &str| json!({"type": "function", "function": {"name": n}});
    let m = refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"tools": weather_tools(), "tool_choice": named("get_time")})),
        "tool_choice.function.name",
    )
    .await;
    assert!(m.contains("get_time"), "{m}");
    refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"tool_choice": "required"})),
        "tool_choice",
    )
    .await;
    refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"tools": weather_tools(), "tool_choice": "sometimes"})),
        "tool_choice",
    )
    .await;
    let bad_params = json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "nonsense"}}}]);
    refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"tools": bad_params, "tool_choice": "required"})),
        "tools[0].function.parameters",
    )
    .await;
    let dup = json!([{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}]);
    refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"tools": dup})),
        "tools[1].function.name",
    )
    .await;
    let not_fn = json!([{"type": "retrieval", "function": {"name": "f"}}]);
    refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"tools": not_fn})),
        "tools[0].type",
    )
    .await;
}

/// The text of every streamed content delta, the calls' (name, arguments), and the
/// finish reason.
fn assemble_stream(data: &[String]) -> (String, Vec<(String, String)>, String) {
    let (mut text, mut calls, mut finish) = (String::new(), Vec::new(), String::new());
    for d in &data[..data.len() - 1] {
        let ch: Value = serde_json::from_str(d).unwrap();
        let Some(c) = ch["choices"].get(0) else {
            continue;
        };
        text.push_str(c["delta"]["content"].as_str().unwrap_or(""));
        for tc in c["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let i = tc["index"].as_u64().unwrap() as usize;
            if let Some(n) = tc["function"]["name"].as_str() {
                calls.push((n.to_string(), String::new()));
            }
            calls[i]
                .1
                .push_str(tc["function"]["arguments"].as_str().unwrap());
        }
        if let Some(f) = c["finish_reason"].as_str() {
            finish = f.to_string();
        }
    }
    (text, calls, finish)
}

#[tokio::test]
async fn a_call_cut_short_is_the_same_streamed_or_not_and_finishes_with_its_reason() {
    // Cut by max_tokens inside the arguments, and after a whole call object whose
    // `</tool_call>` never came: never "tool_calls" for the first, no markup as text.
    let cut_args: &[&str] = &[
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par",
        "is\"}}\n</tool_call>",
    ];
    let cut_close: &[&str] = &[
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}",
        "\n</tool_call>",
    ];
    for (pieces, args, finish) in [
        (cut_args, "{\"city\": \"Par", "length"),
        (cut_close, "{\"city\": \"Paris\"}", "length"),
        (CALL, "{\"city\": \"Paris\"}", "tool_calls"),
    ] {
        let app = app_with(engine(pieces), None);
        let max = if pieces == CALL { 16 } else { 1 };
        let body =
            chat(json!({"tools": weather_tools(), "tool_choice": "required", "max_tokens": max}));
        let v = post(&app, "/v1/chat/completions", &body).await.json();
        let c = &v["choices"][0];
        assert_eq!(c["finish_reason"], finish, "{v}");
        assert!(c["message"]["content"].is_null(), "{v}");
        let call = &c["message"]["tool_calls"][0]["function"];
        assert_eq!(
            (call["name"].as_str(), call["arguments"].as_str()),
            (Some("get_weather"), Some(args))
        );
        let mut sbody = body.clone();
        sbody["stream"] = json!(true);
        let (text, calls, f) =
            assemble_stream(&post(&app, "/v1/chat/completions", &sbody).await.sse());
        assert_eq!(text, "");
        assert_eq!(calls, vec![("get_weather".to_string(), args.to_string())]);
        assert_eq!(f, finish);
    }
}

#[tokio::test]
async fn tool_parameters_with_refs_without_parameters_and_strict() {
    let app = app_with(engine(CALL), None);
    // Local `$ref`s (as `openai.pydantic_function_tool` writes them) resolve, with one
    // tool or several.
    let params = json!({"$defs": {"City": {"type": "string"}}, "type": "object",
        "properties": {"city": {"$ref": "#/$defs/City"}}, "required": ["city"],
        "additionalProperties": false});
    let one = json!([{"type": "function", "function": {"name": "get_weather", "parameters": params, "strict": true}}]);
    let two = json!([{"type": "function", "function": {"name": "get_weather", "parameters": params}},
        {"type": "function", "function": {"name": "now"}}]);
    for tools in [one, two] {
        let r = post(
            &app,
            "/v1/chat/completions",
            &chat(json!({"tools": tools, "tool_choice": "required"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["choices"][0]["finish_reason"], "tool_calls");
    }
    // Parameters that are not an object schema, and strict schemas that allow more keys.
    let tools = |p: Value, strict: bool| json!([{"type": "function", "function": {"name": "f", "parameters": p, "strict": strict}}]);
    refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"tools": tools(json!({"type": "string"}), false)})),
        "tools[0].function.parameters",
    )
    .await;
    let open = json!({"type": "object", "properties": {"x": {"type": "integer"}}});
    let m = refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"tools": tools(open.clone(), true)})),
        "tools[0].function.parameters",
    )
    .await;
    assert!(m.contains("additionalProperties"), "{m}");
    let nested = json!({"type": "object", "additionalProperties": false,
        "properties": {"p": {"type": "object", "properties": {"q": {"type": "string"}}}}});
    let m = refused(
        &app,
        "/v1/chat/completions",
        chat(json!({"tools": tools(nested, true)})),
        "tools[0].function.parameters",
    )
    .await;
    assert!(m.contains("/properties/p"), "{m}");
    let r = post(
        &app,
        "/v1/chat/completions",
        &chat(json!({"tools": tools(open, false)})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
