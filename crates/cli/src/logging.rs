//! `wren serve --log-format text|json`: the `tracing` subscriber for the server's request
//! log (one line per request on stderr; see `wren_server::access_log`).

use tracing_subscriber::filter::LevelFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2025-01-01T00:00:00Z  INFO wren::http: request method=GET path=/health status=200 …`
    Text,
    /// One JSON object per line (`{"timestamp":…,"level":"INFO","fields":{…}}`).
    Json,
}

/// Installs the global subscriber: info level and above, to stderr.
pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(LevelFilter::INFO)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
