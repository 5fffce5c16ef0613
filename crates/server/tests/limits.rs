//! Connection limits over real sockets (issue 15, finding 3): slowloris heads, bodies
//! that never finish, idle keep-alive connections and the connection cap; and `/health`
//! reporting a stopped engine.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wren_server::engine::fake::FakeEngine;
use wren_server::limits::Limits;
use wren_server::AppState;

/// Starts a server on an ephemeral port on its own runtime thread.
fn start(engine: Arc<FakeEngine>, limits: Limits) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            let state = AppState::new(engine, None);
            let never = std::future::pending::<()>();
            let _ = wren_server::serve_with(l, state, limits, never, Duration::from_secs(1)).await;
        });
    });
    rx.recv().unwrap()
}

fn limits(header: f64, body: f64, idle: f64, max: usize) -> Limits {
    Limits {
        header_timeout: Duration::from_secs_f64(header),
        body_timeout: Duration::from_secs_f64(body),
        idle_timeout: Duration::from_secs_f64(idle),
        max_connections: max,
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until the server closes the connection; returns what it sent and how long
/// that took.
fn read_to_close(s: &mut TcpStream) -> (String, Duration) {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), t0.elapsed())
}

fn get_health(addr: SocketAddr) -> String {
    let mut s = connect(addr);
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    read_to_close(&mut s).0
}

#[test]
fn half_sent_headers_are_closed_after_the_header_timeout() {
    let addr = start(
        Arc::new(FakeEngine::new(&["x"])),
        limits(1.0, 30.0, 30.0, 64),
    );
    let mut slow = connect(addr);
    slow.write_all(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // Keep trickling header bytes: progress must not extend the deadline.
    let mut s2 = slow.try_clone().unwrap();
    std::thread::spawn(move || {
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(200));
            if s2.write_all(b"X-A: b\r\n").is_err() {
                break;
            }
        }
    });
    let (_, took) = read_to_close(&mut slow);
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    // A silent connection is closed too.
    let mut silent = connect(addr);
    let (_, took) = read_to_close(&mut silent);
    assert!(
        took < Duration::from_secs(3),
        "silent: closed after {took:?}"
    );
    assert!(get_health(addr).contains("200 OK"));
}

#[test]
fn bodies_that_never_finish_time_out() {
    let addr = start(
        Arc::new(FakeEngine::new(&["x"])),
        limits(5.0, 1.0, 30.0, 64),
    );
    let mut short = connect(addr);
    short
        .write_all(
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"prompt\":",
        )
        .unwrap();
    let (res, took) = read_to_close(&mut short);
    assert!(res.starts_with("HTTP/1.1 408"), "{res}");
    assert!(took < Duration::from_secs(4), "{took:?}");

    let mut chunked = connect(addr);
    chunked
        .write_all(
            b"POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Transfer-Encoding: chunked\r\n\r\n5\r\n{\"con\r\n",
        )
        .unwrap();
    let (res, took) = read_to_close(&mut chunked);
    assert!(res.starts_with("HTTP/1.1 408"), "{res}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let addr = start(Arc::new(FakeEngine::new(&["x"])), limits(5.0, 5.0, 1.0, 64));
    let mut s = connect(addr);
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (res, took) = read_to_close(&mut s);
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(4),
        "idle connection closed after {took:?}"
    );
}

#[test]
fn connections_over_the_cap_are_refused_fast() {
    let addr = start(
        Arc::new(FakeEngine::new(&["x"])),
        limits(30.0, 30.0, 30.0, 4),
    );
    let held: Vec<TcpStream> = (0..4).map(|_| connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut over = connect(addr);
    let _ = over.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    let (res, took) = read_to_close(&mut over);
    assert!(res.starts_with("HTTP/1.1 503"), "{res}");
    assert!(res.contains("max-connections"), "{res}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    assert!(get_health(addr).contains("200 OK"));
}

#[test]
fn health_reports_a_stopped_engine() {
    let engine = Arc::new(FakeEngine::new(&["x"]));
    let addr = start(engine.clone(), Limits::default());
    assert!(get_health(addr).contains("200 OK"));
    engine.set_dead(true);
    let res = get_health(addr);
    assert!(res.starts_with("HTTP/1.1 503"), "{res}");
    assert!(res.contains("engine"), "{res}");
}
