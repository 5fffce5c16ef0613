//! `-m owner/repo/file.gguf` downloads against a local stand-in for the hub (`HF_ENDPOINT`):
//! a whole download, a resumed one after the connection drops, a corrupted one (refused by
//! its sha256), and an unreachable hub. Hermetic: the "hub" is a thread on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// How the stand-in answers.
#[derive(Clone, Copy)]
enum Mode {
    Whole,
    /// The first response announces the whole file but stops halfway.
    CutFirst,
    /// The ETag names another file's sha256.
    WrongSha,
}

/// Serves `body` at `/{REPO}/resolve/main/{FILE}` with Range support; returns the port and
/// the `Range` header of each request (empty when absent).
fn hub(body: Vec<u8>, mode: Mode) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = ranges.clone();
    std::thread::spawn(move || {
        let sha: String = Sha256::digest(&body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let etag = match mode {
            Mode::WrongSha => "0".repeat(64),
            _ => sha,
        };
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(mut s) = conn else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut first = String::new();
            r.read_line(&mut first).unwrap();
            let mut range = String::new();
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).unwrap() == 0 || l == "\r\n" {
                    break;
                }
                if let Some(v) = l.to_ascii_lowercase().strip_prefix("range:") {
                    range = v.trim().to_string();
                }
            }
            seen.lock().unwrap().push(range.clone());
            if !first.starts_with(&format!("GET /{REPO}/resolve/main/{FILE} ")) {
                let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                continue;
            }
            let from: usize = range
                .strip_prefix("bytes=")
                .and_then(|v| v.trim_end_matches('-').parse().ok())
                .unwrap_or(0);
            let status = if from > 0 {
                "206 Partial Content"
            } else {
                "200 OK"
            };
            let part = &body[from..];
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nETag: \"{etag}\"\r\nConnection: close\r\n\r\n",
                part.len()
            );
            let _ = s.write_all(head.as_bytes());
            let n = if matches!(mode, Mode::CutFirst) && i == 0 {
                part.len() / 2
            } else {
                part.len()
            };
            let _ = s.write_all(&part[..n]);
        }
    });
    (port, ranges)
}

const REPO: &str = "someone/tiny-GGUF";
const FILE: &str = "tiny.Q8_0.gguf";

/// A small valid GGUF (metadata only, plus padding so a download takes several reads).
fn tiny_gguf() -> Vec<u8> {
    let mut w = wren_gguf::GgufWriter::new();
    w.add_str("general.architecture", "llama")
        .add_str("general.name", "tiny hub file")
        .add_f32_tensor("pad", &[300_000], &vec![0.5; 300_000]);
    w.to_bytes()
}

fn wren(cache: &PathBuf, port: u16, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wren"))
        .args(args)
        .env("WREN_CACHE_DIR", cache)
        .env("HF_ENDPOINT", format!("http://127.0.0.1:{port}"))
        .env_remove("HF_TOKEN")
        .output()
        .unwrap()
}

fn temp_cache(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wren-hub-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn name() -> String {
    format!("{REPO}/{FILE}")
}

#[test]
fn downloads_and_then_uses_the_cached_file() {
    let body = tiny_gguf();
    let (port, ranges) = hub(body.clone(), Mode::Whole);
    let cache = temp_cache("whole");
    let o = wren(&cache, port, &["pull", &name()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let path = cache.join("hub").join(REPO).join(FILE);
    assert_eq!(std::fs::read(&path).unwrap(), body);
    // Inspecting it later reads the cache and asks the hub nothing.
    let o = wren(&cache, port, &["info", &format!("hf://{}", name())]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.contains("tiny hub file"), "{out}");
    assert_eq!(ranges.lock().unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn an_interrupted_download_resumes_with_a_range_request() {
    let body = tiny_gguf();
    let (port, ranges) = hub(body.clone(), Mode::CutFirst);
    let cache = temp_cache("resume");
    let o = wren(&cache, port, &["pull", &name()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("resume"), "{err}");
    let path = cache.join("hub").join(REPO).join(FILE);
    assert!(!path.exists(), "a partial download was installed");
    let o = wren(&cache, port, &["pull", &name()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&path).unwrap(), body);
    let r = ranges.lock().unwrap().clone();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0], "");
    assert_eq!(r[1], format!("bytes={}-", body.len() / 2));
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_corrupted_download_is_refused_by_its_sha256() {
    let (port, _) = hub(tiny_gguf(), Mode::WrongSha);
    let cache = temp_cache("sha");
    let o = wren(&cache, port, &["pull", &name()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("sha256"), "{err}");
    assert!(!cache.join("hub").join(REPO).join(FILE).exists());
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn an_unreachable_hub_is_a_clear_error() {
    let cache = temp_cache("down");
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = wren(&cache, port, &["run", "-m", &name(), "hi"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("reachable") && err.contains(FILE), "{err}");
    // Inspecting a hub file that is not downloaded says how to fetch it.
    let o = wren(&cache, port, &["info", &name()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("wren pull"), "{err}");
    let _ = std::fs::remove_dir_all(&cache);
}
