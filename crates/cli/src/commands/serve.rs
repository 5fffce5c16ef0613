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
use wren_server::limits::Limits;
use wren_server::AppState;

use crate::common::{ModelOpts, SpecOpts, TemplateOpts};
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
    /// Require `Authorization: Bearer KEY` on every endpoint but /health. An empty key
    /// is an error (an unset variable in `--api-key "$KEY"` must not turn auth off).
    #[arg(long = "api-key", conflicts_with = "no_auth")]
    pub api_key: Option<String>,
    /// Serve without authentication on a non-loopback --host (refused otherwise).
    #[arg(long = "no-auth")]
    pub no_auth: bool,
    /// Seconds a client may take to send a request's headers (counted from their first
    /// byte, or from connecting for a connection's first request).
    #[arg(long = "header-timeout", default_value_t = 10.0)]
    pub header_timeout: f64,
    /// Seconds a client may take to send a request's body after its headers (408 after).
    #[arg(long = "body-timeout", default_value_t = 30.0)]
    pub body_timeout: f64,
    /// Seconds an idle keep-alive connection stays open between requests.
    #[arg(long = "idle-timeout", default_value_t = 60.0)]
    pub idle_timeout: f64,
    /// Connections served at once; more are answered 503 and closed at once.
    #[arg(long = "max-connections", default_value_t = 256)]
    pub max_connections: usize,
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
    #[command(flatten)]
    pub template: TemplateOpts,
    /// Speculative decoding of every request (a request may set its own draft lengths
    /// with `speculative: {n_max, n_min}`, or turn it off with `n_max: 0`).
    #[command(flatten)]
    pub spec: SpecOpts,
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
    // Bad speculation settings fail at once, before the server listens.
    let spec = a.spec.config()?;
    let api_key = checked_api_key(&a)?;
    let limits = limits(&a)?;
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
        max_token_bytes: 0,
    }));
    let state = AppState::new(pending.clone(), api_key);
    if a.no_auth {
        eprintln!(
            "[wren] warning: --no-auth: anyone who can reach {} can use the server",
            a.host
        );
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
    let server = rt.spawn(wren_server::serve_with(
        listener,
        state,
        limits,
        shutdown_then_force(),
        grace,
    ));

    // Load on this thread while the server answers /health.
    let model = ModelOpts {
        model: Some(source.path.clone()),
        ..a.model.clone()
    };
    let l = model.load_for(&wren_core::catalog::SMOLLM2_135M_INSTRUCT, a.parallel)?;
    let ctx = a.model.ctx_for(l.model.as_ref())?;
    let tmpl = l.chat_template(&a.template)?;
    eprintln!(
        "[wren] chat template: {}{}",
        tmpl.describe(),
        tmpl.tool_syntax()
            .map_or(String::new(), |s| format!(" (tool calls: {})", s.name()))
    );
    // The FR draft head, shared by every slot (`fr`, `auto`).
    let fr = match a.spec.fr_draft(&l)? {
        Some((d, line)) => {
            eprintln!("[wren] {line}");
            Some(d)
        }
        None => None,
    };
    let cfg = LocalConfig {
        model_id: model_id.clone(),
        ctx,
        parallel: a.parallel,
        queue: a.queue,
        compute: a.model.compute,
        prefill_chunk: a.prefill_chunk,
        kv_type: a.model.kv.kv_type,
        sparse: a.model.kv.sparse_settings(),
        spec,
        // Drafts pay only for a lone sequence on this kind of machine (see LocalConfig).
        spec_max_seqs: 1,
        fr,
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

/// The API key to require: `--api-key` must not be empty, and a non-loopback `--host`
/// needs a key or an explicit `--no-auth`.
fn checked_api_key(a: &Args) -> Result<Option<String>> {
    match &a.api_key {
        Some(k) if k.trim().is_empty() => anyhow::bail!(
            "--api-key is empty (an unset variable?): give a key, or --no-auth to serve \
             without authentication"
        ),
        Some(k) => Ok(Some(k.clone())),
        None if !a.host.is_loopback() && !a.no_auth => anyhow::bail!(
            "--host {} accepts remote clients but no --api-key is set: give a key, or \
             --no-auth to let anyone who can reach this address use the server",
            a.host
        ),
        None => Ok(None),
    }
}

fn limits(a: &Args) -> Result<Limits> {
    let secs = |flag: &str, v: f64| -> Result<Duration> {
        if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
            anyhow::bail!("--{flag} must be a number of seconds in (0, 86400], got {v}");
        }
        Ok(Duration::from_secs_f64(v))
    };
    if a.max_connections == 0 {
        anyhow::bail!("--max-connections must be at least 1");
    }
    Ok(Limits {
        header_timeout: secs("header-timeout", a.header_timeout)?,
        body_timeout: secs("body-timeout", a.body_timeout)?,
        idle_timeout: secs("idle-timeout", a.idle_timeout)?,
        max_connections: a.max_connections,
    })
}
