//! The accept loop: HTTP/1.1 connections with the [`Limits`] enforced.
//!
//! ```text
//!  accept ──▶ cap (semaphore; full: 503 + close) ──▶ hyper connection ──▶ router
//!                                                    ▲ bytes read        │ requests in flight
//!                                                    └──── Watch ◀───────┘
//!                                 watchdog: closes the connection when idle or slow
//! ```
//!
//! A connection with no request in flight is either silent — closed after the idle
//! timeout (the header timeout before its first request) — or receiving a request head,
//! closed if the head is not complete within the header timeout of its first byte.
//! Once hyper has parsed a head the request is in flight until its response body has
//! been sent; the body timeout is the router's ([`body_timeout`](crate::limits::body_timeout)).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

use crate::limits::Limits;

const NONE: u64 = u64::MAX;

/// What the watchdog knows about one connection.
struct Watch {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `opened` when the last request finished (0: none yet).
    idle_since: AtomicU64,
    /// Milliseconds after `opened` of the first byte read since then ([`NONE`]: none).
    head_since: AtomicU64,
    served: AtomicBool,
}

impl Watch {
    fn new() -> Watch {
        Watch {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NONE),
            served: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    fn bytes_read(&self) {
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            let now = self.now_ms();
            let _ = self
                .head_since
                .compare_exchange(NONE, now, Ordering::SeqCst, Ordering::SeqCst);
        }
    }

    /// Whether the connection has outstayed its limits; checked with no request in flight.
    fn expired(&self, limits: &Limits) -> bool {
        let now = self.now_ms();
        let head = self.head_since.load(Ordering::SeqCst);
        if head != NONE {
            return now.saturating_sub(head) >= limits.header_timeout.as_millis() as u64;
        }
        let idle = now.saturating_sub(self.idle_since.load(Ordering::SeqCst));
        let limit = if self.served.load(Ordering::SeqCst) {
            limits.idle_timeout
        } else {
            limits.header_timeout
        };
        idle >= limit.as_millis() as u64
    }
}

/// Counts a request as in flight until dropped (with its response body).
struct InFlight(Arc<Watch>);

impl InFlight {
    fn enter(w: Arc<Watch>) -> InFlight {
        w.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(w)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let w = &self.0;
        if w.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            w.idle_since.store(w.now_ms(), Ordering::SeqCst);
            w.head_since.store(NONE, Ordering::SeqCst);
            w.served.store(true, Ordering::SeqCst);
        }
    }
}

/// A response body that keeps its request in flight until hyper drops it.
struct Guarded {
    inner: Body,
    _guard: InFlight,
}

impl hyper::body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, reporting reads to the [`Watch`].
struct Watched {
    inner: TcpStream,
    watch: Arc<Watch>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.watch.bytes_read();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, b)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Completes when the connection should be closed.
async fn watchdog(w: Arc<Watch>, limits: Limits) {
    let shortest = limits.header_timeout.min(limits.idle_timeout);
    let tick = (shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    loop {
        tokio::time::sleep(tick).await;
        if w.in_flight.load(Ordering::SeqCst) == 0 && w.expired(&limits) {
            return;
        }
    }
}

/// Answers 503 on a connection over the cap and closes it, within a second.
async fn refuse(mut stream: TcpStream) {
    let body = r#"{"error":{"message":"too many connections: the server is at its --max-connections limit, retry shortly","type":"server_error","param":null,"code":"server_overloaded"}}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await?;
        // Read what the client sent, so that closing does not reset the connection
        // before it has read the answer.
        let mut buf = [0u8; 4096];
        while stream.read(&mut buf).await? > 0 {}
        Ok::<_, io::Error>(())
    })
    .await;
}

/// Serves `app` on `listener` until `stop` turns true, then lets the connections finish
/// their requests (idle ones close at once) and returns once all have closed.
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    builder.header_read_timeout(None);
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::pin!(stopped);
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: wait a little, keep serving.
                    eprintln!("[wren-server] accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stopped => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let w = Arc::new(Watch::new());
        let io = TokioIo::new(Watched {
            inner: stream,
            watch: w.clone(),
        });
        let (app, wr) = (app.clone(), w.clone());
        let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let guard = InFlight::enter(wr.clone());
            let app = app.clone();
            async move {
                let res = app.oneshot(req.map(Body::new)).await?;
                Ok::<_, std::convert::Infallible>(res.map(|inner| Guarded {
                    inner,
                    _guard: guard,
                }))
            }
        });
        let conn = graceful.watch(builder.serve_connection(io, svc));
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                _ = conn => {}
                () = watchdog(w, limits) => {}
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
