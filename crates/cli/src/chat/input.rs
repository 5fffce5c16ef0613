//! Where `wren chat` reads the user's messages from.
//!
//! On a terminal: `rustyline` (line editing, history kept in the cache directory across
//! sessions, multi-line input: a line ending in `\` continues on the next one, and a
//! message opened with `"""` runs until the closing `"""`). Otherwise (a pipe, a file):
//! plain lines, one message each, so scripts can drive the chat.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::Editor;

/// One read from the prompt.
pub enum Input {
    Line(String),
    /// Ctrl-C at the prompt.
    Interrupted,
    /// Ctrl-D or end of input.
    Eof,
}

pub enum Reader {
    Tty {
        editor: Box<Editor<Helper, DefaultHistory>>,
        history: Option<PathBuf>,
    },
    Plain,
}

impl Reader {
    /// A line editor when stdin and stdout are terminals, plain lines otherwise.
    pub fn new() -> Reader {
        if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
            return Reader::Plain;
        }
        let Ok(mut editor) = Editor::<Helper, DefaultHistory>::new() else {
            return Reader::Plain;
        };
        editor.set_helper(Some(Helper));
        let history = Some(wren_core::paths::cache_dir().join("chat_history.txt"));
        if let Some(h) = &history {
            let _ = editor.load_history(h);
        }
        Reader::Tty {
            editor: Box::new(editor),
            history,
        }
    }

    pub fn is_tty(&self) -> bool {
        matches!(self, Reader::Tty { .. })
    }

    pub fn read(&mut self, prompt: &str) -> Result<Input> {
        match self {
            Reader::Plain => {
                let mut out = std::io::stdout();
                write!(out, "{prompt}")?;
                out.flush()?;
                let mut line = String::new();
                if std::io::stdin().lock().read_line(&mut line)? == 0 {
                    writeln!(out)?;
                    return Ok(Input::Eof);
                }
                Ok(Input::Line(line.trim_end_matches(['\n', '\r']).to_string()))
            }
            Reader::Tty { editor, history } => match editor.readline(prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                        if let Some(h) = history {
                            if editor.append_history(h).is_err() {
                                let _ = editor.save_history(h);
                            }
                        }
                    }
                    Ok(Input::Line(join_lines(&line)))
                }
                Err(ReadlineError::Interrupted) => Ok(Input::Interrupted),
                Err(ReadlineError::Eof) => Ok(Input::Eof),
                Err(e) => Err(e.into()),
            },
        }
    }
}

/// Whether the text typed so far continues on another line.
pub fn incomplete(input: &str) -> bool {
    input.matches("\"\"\"").count() % 2 == 1 || input.ends_with('\\')
}

/// The message typed as several lines: `"""` fences removed, `\`-newline joins kept as
/// newlines.
pub fn join_lines(input: &str) -> String {
    let t = input.trim();
    if let Some(inner) = t
        .strip_prefix("\"\"\"")
        .and_then(|r| r.strip_suffix("\"\"\""))
    {
        return inner.trim_matches('\n').to_string();
    }
    input.replace("\\\n", "\n")
}

/// rustyline's hooks: only validation (multi-line input) is customised.
pub struct Helper;

impl rustyline::completion::Completer for Helper {
    type Candidate = String;
}
impl rustyline::hint::Hinter for Helper {
    type Hint = String;
}
impl rustyline::highlight::Highlighter for Helper {}
impl Validator for Helper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if incomplete(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}
impl rustyline::Helper for Helper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_input() {
        assert!(incomplete("\"\"\"first line"));
        assert!(!incomplete("\"\"\"first\nsecond\"\"\""));
        assert!(incomplete("one \\"));
        assert!(!incomplete("one"));
        assert_eq!(join_lines("\"\"\"\na\nb\n\"\"\""), "a\nb");
        assert_eq!(join_lines("one \\\ntwo"), "one \ntwo");
    }
}
