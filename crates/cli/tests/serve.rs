//! End-to-end tests of `wren serve` with the real model (ignored by default; scripts/test.sh
//! fetches the model and runs them with `--include-ignored`). A tiny HTTP/1.1 client over
//! `std::net::TcpStream` keeps the dependencies small; the Python scripts under `scripts/`
//! drive the server with the official `openai` client and with malformed requests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request with `Connection: close`; returns (status, body), de-chunking if needed.
fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(300)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Ok((
        status,
        if chunked {
            dechunk(rest)
        } else {
            rest.to_string()
        },
    ))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn post(port: u16, path: &str, body: Value) -> Value {
    let (status, text) = http(port, "POST", path, Some(&body)).expect("request");
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
#[ignore = "needs the real model (scripts/test.sh fetches it)"]
fn serve_matches_run_greedy() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wren"))
        // `wren run`'s default model (serve's own default is the instruct model).
        .args([
            "serve",
            "-m",
            "gemma3-270m",
            "--port",
            &port.to_string(),
            "--parallel",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start wren serve");
    let start = Instant::now();
    loop {
        if let Ok((200, _)) = http(port, "GET", "/health", None) {
            break;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("wren serve exited early: {st}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "server did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let server = Server(child);

    let prompt = "The capital of France is";
    let v = post(
        port,
        "/v1/completions",
        json!({"prompt": prompt, "max_tokens": 16, "temperature": 0}),
    );
    let text = v["choices"][0]["text"].as_str().unwrap().to_string();
    assert!(
        v["usage"]["completion_tokens"].as_u64().unwrap() <= 16,
        "{v}"
    );

    let run = Command::new(env!("CARGO_BIN_EXE_wren"))
        .args(["run", "--greedy", "--no-echo", "-n", "16", prompt])
        .output()
        .expect("run wren run");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = String::from_utf8(run.stdout).unwrap();
    let want = out.strip_suffix('\n').unwrap_or(&out);
    assert_eq!(
        text, want,
        "serve and run disagree on the greedy completion"
    );

    let v = post(
        port,
        "/v1/chat/completions",
        json!({"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16, "temperature": 0}),
    );
    assert_eq!(v["object"], "chat.completion");
    let reply = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(!reply.is_empty(), "{v}");
    assert!(!reply.contains("<end_of_turn>"), "{reply}");
    let finish = v["choices"][0]["finish_reason"].as_str().unwrap();
    assert!(finish == "stop" || finish == "length", "{v}");

    // Streaming: chunks, then [DONE].
    let (status, body) = http(
        port,
        "POST",
        "/v1/chat/completions",
        Some(&json!({"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "temperature": 0, "stream": true})),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("chat.completion.chunk"), "{body}");
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");

    let (status, metrics) = http(port, "GET", "/metrics", None).unwrap();
    assert_eq!(status, 200);
    assert!(
        metrics.contains("wren_completion_tokens_total"),
        "{metrics}"
    );
    drop(server);
}

/// Runs `python3 scripts/<script> --wren <this build's wren> <args>`; fails with its
/// output unless it exits 0.
fn python_script(script: &str, args: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = root.join("scripts").join(script);
    let out = Command::new("python3")
        .arg(&path)
        .args(["--wren", env!("CARGO_BIN_EXE_wren")])
        .args(args)
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", path.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{text}",
        out.status
    );
    println!("{text}");
}

#[test]
#[ignore = "needs the real model, python3 and PyPI (pip installs the openai package once)"]
fn openai_python_client() {
    python_script("openai_e2e.py", &[]);
}

/// The instruct model through the official client, and llama.cpp's greedy replies to the
/// reference ChatML conversations.
#[test]
#[ignore = "needs SmolLM2, python3 and PyPI (pip installs the openai package once)"]
fn openai_python_client_smollm2() {
    python_script(
        "openai_e2e.py",
        &[
            "-m",
            "smollm2-135m-instruct",
            "--refs",
            "../shared/reference/smollm2",
        ],
    );
}

/// Structured output and tool calls through the official client on SmolLM2: every reply
/// parses and validates (json_schema via Pydantic `parse()`, json_object, tools required /
/// named / auto / streamed, a tool round trip, mixed concurrent requests).
#[test]
#[ignore = "needs SmolLM2, python3 and PyPI (pip installs the openai package once)"]
fn structured_outputs_smollm2() {
    python_script(
        "structured_e2e.py",
        &["-m", "smollm2-135m-instruct", "-n", "8"],
    );
}

/// Tools through models' own tool-aware templates (llama.cpp's copies of Qwen 2.5's and
/// Llama 3.2's), driven by SmolLM2: the template shows the tools and earlier calls, and
/// the reply is constrained and parsed in that template's syntax.
#[test]
#[ignore = "needs SmolLM2, the llama.cpp template fixtures, python3 and PyPI"]
fn tools_through_model_templates() {
    let dir = wren_core::paths::cache_dir().join("fixtures/llama-cpp-python-0.3.36/templates");
    let dir = std::env::var_os("WREN_FIXTURES")
        .map(|p| std::path::PathBuf::from(p).join("templates"))
        .unwrap_or(dir);
    for name in [
        "Qwen-Qwen2.5-7B-Instruct",
        "meta-llama-Llama-3.2-3B-Instruct",
    ] {
        let file = dir.join(format!("{name}.jinja"));
        python_script(
            "structured_e2e.py",
            &["-n", "4", "--chat-template-file", file.to_str().unwrap()],
        );
    }
}

#[test]
#[ignore = "needs the real model and python3"]
fn bad_inputs_get_openai_errors() {
    python_script("bad_inputs.py", &[]);
}

#[test]
#[ignore = "needs SmolLM2 (scripts/test.sh fetches it)"]
fn serve_logs_requests_and_a_second_ctrl_c_exits() {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("wren-serve-log-{}.txt", std::process::id()));
    // Default model: the instruct one.
    let child = Command::new(env!("CARGO_BIN_EXE_wren"))
        .args(["serve", "--port", &port.to_string(), "--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start wren serve");
    let mut server = Server(child);
    let start = Instant::now();
    loop {
        match http(port, "GET", "/health", None) {
            Ok((200, body)) => {
                assert!(body.contains("\"ok\""), "{body}");
                break;
            }
            Ok((503, body)) => assert!(body.contains("\"loading\""), "{body}"),
            _ => {}
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "server did not come up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (st, body) = http(port, "GET", "/v1/models/SmolLM2-135M-Instruct.Q4_1", None).unwrap();
    assert_eq!(st, 200, "{body}");
    post(
        port,
        "/v1/completions",
        json!({"prompt": "Hi", "max_tokens": 4}),
    );
    // A long request in flight, then Ctrl-C twice: the grace period (30 s) is cut short.
    // The stream cannot end early (the end-of-generation ids are banned), and the first
    // Ctrl-C waits until its first chunk has arrived.
    let (started, first_chunk) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let body = json!({
            "prompt": "Once upon a time",
            "max_tokens": 4000,
            "stream": true,
            "logit_bias": {"0": -100, "1": -100, "2": -100},
        })
        .to_string();
        write!(
            s,
            "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains("data: ") {
                let _ = started.send(());
            }
        }
    });
    first_chunk
        .recv_timeout(Duration::from_secs(60))
        .expect("the long stream started");
    let pid = server.0.id().to_string();
    let sigint = || Command::new("kill").args(["-INT", &pid]).status().unwrap();
    sigint();
    std::thread::sleep(Duration::from_millis(500));
    sigint();
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = server.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "still running after a second Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(text.contains("second Ctrl-C"), "{text}");
    let requests: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "wren::http")
        .collect();
    let completion = requests
        .iter()
        .find(|v| v["fields"]["path"] == "/v1/completions" && v["fields"]["generated_tokens"] == 4)
        .unwrap_or_else(|| panic!("no log line for the completion: {text}"));
    assert_eq!(completion["fields"]["method"], "POST");
    assert_eq!(completion["fields"]["status"], 200);
    assert!(
        requests.iter().any(|v| v["fields"]["path"] == "/health"),
        "{text}"
    );
}
