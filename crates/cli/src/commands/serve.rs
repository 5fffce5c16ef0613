//! `wren serve`: an OpenAI-compatible HTTP server (see the wren-server crate).
//!
//! Binds the port first and answers `/health` with `{"status":"loading"}` (503) while the
//! model loads, then starts the engine thread with `--parallel` sessions and serves until
//! SIGINT/SIGTERM; in-flight requests get `--shutdown-grace` seconds to finish, and a
//! second Ctrl-C exits at once.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use wren_server::engine::local::{LocalConfig, LocalEngine};
use wren_server::engine::pending::PendingEngine;
use wren_server::engine::EngineInfo;
use wren_server::AppState;

use crate::common::ModelOpts;
use crate::logging::LogFormat;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on (loopback by default; use 0.0.0.0 to accept remote clients).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Sequences generated concurrently (each has its own KV cache of --ctx tokens).
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// Requests that may wait for a free sequence; beyond that the server answers 503.
    #[arg(long, default_value_t = 64)]
    pub queue: usize,
    /// Require `Authorization: Bearer KEY` on every endpoint but /health.
    #[arg(long = "api-key")]
    pub api_key: Option<String>,
    /// Prompt tokens evaluated between two decode steps of the running sequences: smaller
    /// keeps their streams smoother while a long prompt is read, larger reads it faster
    /// (0: whole prompts at once).
    #[arg(long = "prefill-chunk", default_value_t = 256)]
    pub prefill_chunk: usize,
    /// Seconds in-flight requests may take to finish after SIGINT/SIGTERM (a second
    /// Ctrl-C exits at once).
    #[arg(long = "shutdown-grace", default_value_t = 30)]
    pub shutdown_grace: u64,
    /// Request log format on stderr: text or json (one line per request).
    #[arg(long = "log-format", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub model: ModelOpts,
}

/// SIGINT/SIGTERM starts a graceful shutdown; a second Ctrl-C after it exits the process.
async fn shutdown_then_force() {
    wren_server::shutdown_signal().await;
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("[wren] second Ctrl-C: exiting now");
            std::process::exit(130);
        }
    });
}

pub fn main(a: Args) -> Result<()> {
    if a.parallel == 0 {
        anyhow::bail!("--parallel must be at least 1");
    }
    crate::logging::init(a.log_format);
    // Resolve (and download, on first use) before listening: a bad -m fails at once.
    let source = a
        .model
        .resolve(&wren_core::catalog::SMOLLM2_135M_INSTRUCT)?;
    let model_id = source
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let pending = Arc::new(PendingEngine::new(EngineInfo {
        model_id: model_id.clone(),
        ctx: 0,
        vocab_size: 0,
        parallel: a.parallel,
    }));
    let state = AppState::new(pending.clone(), a.api_key.clone());
    if !a.host.is_loopback() && a.api_key.is_none() {
        eprintln!("[wren] warning: listening on {} without --api-key: anyone who can reach this address can use the server", a.host);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("wren-http")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind((a.host, a.port)))
        .with_context(|| format!("cannot listen on {}:{}", a.host, a.port))?;
    let addr = listener.local_addr()?;
    eprintln!(
        "[wren] listening on http://{addr}; loading {} (/health says \"loading\" until ready)",
        source.describe()
    );
    let grace = Duration::from_secs(a.shutdown_grace);
    let server = rt.spawn(wren_server::serve(
        listener,
        state,
        shutdown_then_force(),
        grace,
    ));

    // Load on this thread while the server answers /health.
    let model = ModelOpts {
        model: Some(source.path.clone()),
        ..a.model.clone()
    };
    let l = model.load(&wren_core::catalog::SMOLLM2_135M_INSTRUCT)?;
    let ctx = a.model.ctx_for(l.model.as_ref())?;
    let tmpl = l.chat_template()?;
    eprintln!("[wren] chat template: {}", tmpl.describe());
    let cfg = LocalConfig {
        model_id: model_id.clone(),
        ctx,
        parallel: a.parallel,
        queue: a.queue,
        compute: a.model.compute,
        prefill_chunk: a.prefill_chunk,
        kv_type: a.model.kv.kv_type,
        sparse: a.model.kv.sparse_settings(),
    };
    let threads = l.pool.current_num_threads();
    let engine = LocalEngine::start(l.model.clone(), l.tok, tmpl, l.pool.clone(), cfg)?;
    pending.set(Arc::new(engine));
    eprintln!(
        "[wren] serving {model_id} on http://{addr} ({} sequences × {ctx} tokens, KV {}, {threads} threads, queue {}); Ctrl-C to stop",
        a.parallel, a.model.kv.kv_type, a.queue,
    );
    rt.block_on(server)
        .context("server task failed")?
        .context("server error")?;
    // Streams cut off by the grace period are cancelled as the runtime drops them.
    rt.shutdown_timeout(Duration::from_secs(1));
    eprintln!("[wren] stopped");
    Ok(())
}
