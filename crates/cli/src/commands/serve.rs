//! `wren serve`: an OpenAI-compatible HTTP server (see the wren-server crate).
//!
//! Loads the model, starts the engine thread with `--parallel` sessions, then serves
//! until SIGINT/SIGTERM; in-flight requests get `--shutdown-grace` seconds to finish.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use wren_server::engine::local::{LocalConfig, LocalEngine};
use wren_server::AppState;

use crate::common::ModelOpts;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on (loopback by default; use 0.0.0.0 to accept remote clients).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on.
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
    /// Seconds in-flight requests may take to finish after SIGINT/SIGTERM.
    #[arg(long = "shutdown-grace", default_value_t = 30)]
    pub shutdown_grace: u64,
    #[command(flatten)]
    pub model: ModelOpts,
}

pub fn main(a: Args) -> Result<()> {
    if a.parallel == 0 {
        anyhow::bail!("--parallel must be at least 1");
    }
    let path = a.model.model_path()?;
    let l = a.model.load()?;
    let ctx = a.model.ctx_for(l.model.as_ref())?;
    let tmpl = l.chat_template()?;
    let model_id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| l.model.info().name.clone());
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
    let engine = LocalEngine::start(l.model.clone(), l.tok, tmpl, l.pool.clone(), cfg)?;
    let state = AppState::new(Arc::new(engine), a.api_key.clone());
    if !a.host.is_loopback() && a.api_key.is_none() {
        eprintln!("[wren] warning: listening on {} without --api-key: anyone who can reach this address can use the server", a.host);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("wren-http")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind((a.host, a.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", a.host, a.port))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "[wren] serving {model_id} on http://{addr} ({} sequences × {ctx} tokens, KV {}, {} threads, queue {}); Ctrl-C to stop",
            a.parallel,
            a.model.kv.kv_type,
            l.pool.current_num_threads(),
            a.queue,
        );
        let grace = Duration::from_secs(a.shutdown_grace);
        wren_server::serve(listener, state, wren_server::shutdown_signal(), grace)
            .await
            .context("server error")
    })?;
    // Streams cut off by the grace period are cancelled as the runtime drops them.
    rt.shutdown_timeout(Duration::from_secs(1));
    eprintln!("[wren] stopped");
    Ok(())
}
