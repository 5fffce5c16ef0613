//! A closed stdout (`wren info --full M | head -1`) ends the command quietly with exit
//! status 0, as a Unix filter does, instead of a panic (`failed printing to stdout:
//! Broken pipe`, status 101) or an error message.
//!
//! Rust ignores SIGPIPE, so writing to a closed pipe fails with `BrokenPipe`: `print!`
//! panics with it, explicit writes return it. [`install`] handles the first (a panic hook
//! that exits 0 for that one panic and defers to the default hook for every other), and
//! [`is_broken_pipe`] lets `main` handle the second.

use std::io::ErrorKind;

/// Installs the panic hook. Call first thing in `main`.
pub fn install() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.payload_as_str().unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// Whether `e` was caused by writing to a closed pipe.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
    })
}
