//! Prefill progress on stderr for long prompts: `[wren] prefill 4096/30000 tokens`.
//!
//! On a terminal the line is redrawn in place for any prompt longer than one prefill batch;
//! on a pipe or file (logs, tests) only prompts of [`PIPE_MIN`] tokens or more report, one
//! line per [`PIPE_EVERY`] tokens, so short runs keep their stderr clean.

use std::io::{IsTerminal, Write};

use wren_core::session::{Progress, PREFILL_BATCH};

/// Prompt length from which progress is reported when stderr is not a terminal.
pub const PIPE_MIN: usize = 8192;
/// Tokens between two progress lines when stderr is not a terminal.
pub const PIPE_EVERY: usize = 4096;

/// A progress reporter for [`wren_core::session::Session::set_progress`].
pub fn prefill_progress() -> Progress {
    let tty = std::io::stderr().is_terminal();
    let mut last = 0usize;
    Box::new(move |done: usize, total: usize| {
        if done < last {
            last = 0; // a new evaluation
        }
        let show = if tty {
            total > PREFILL_BATCH
        } else {
            total >= PIPE_MIN && (done - last >= PIPE_EVERY || done == total)
        };
        if !show {
            return;
        }
        last = done;
        let mut e = std::io::stderr().lock();
        if tty {
            let _ = write!(e, "\r[wren] prefill {done}/{total} tokens");
            if done == total {
                let _ = writeln!(e);
            }
        } else {
            let _ = writeln!(e, "[wren] prefill {done}/{total} tokens");
        }
        let _ = e.flush();
    })
}
