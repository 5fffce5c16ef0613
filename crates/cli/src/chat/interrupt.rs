//! Ctrl-C while a reply is generated: a SIGINT handler (the `ctrlc` crate) raises a flag
//! that the token callback reads, so the reply stops and the chat goes on. At the prompt
//! the line editor owns the terminal (raw mode), so Ctrl-C arrives there as a key instead.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler once; afterwards SIGINT no longer kills the process.
pub fn install() -> anyhow::Result<()> {
    ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst))
        .map_err(|e| anyhow::anyhow!("cannot install the Ctrl-C handler: {e}"))
}

/// Clears the flag (before a reply starts).
pub fn clear() {
    INTERRUPTED.store(false, Ordering::SeqCst);
}

/// Whether Ctrl-C was pressed since the last [`clear`].
pub fn requested() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
