//! Encoding a text made of parts that differ in whether special tokens are parsed
//! (a chat prompt: template text and message content).

use super::special::Match;
use super::{TokenType, Tokenizer};

impl Tokenizer {
    /// Encodes the concatenation of `parts` (no BOS), each `(text, parse_special)`:
    /// control tokens are found only in the parts whose flag is set, and the text
    /// between them is tokenized as one, across parts (user-defined tokens included, which
    /// are found everywhere, as in plain text), as if the whole were one text. A chat
    /// prompt is template text (special tokens parsed) and message content (never
    /// parsed): its tokens are the whole prompt's, as llama.cpp tokenizes it, but a
    /// control token's text inside a message stays text.
    pub fn encode_parts(&self, parts: &[(&str, bool)], out: &mut Vec<u32>) {
        let mut text = String::new();
        let mut control = Vec::new();
        for &(part, parse_special) in parts {
            let at = text.len();
            if parse_special {
                control.extend(
                    self.special
                        .partition(part, true)
                        .into_iter()
                        .filter(|m| self.vocab.token_type(m.id) != TokenType::UserDefined)
                        .map(|m| Match {
                            start: m.start + at,
                            ..m
                        }),
                );
            }
            text.push_str(part);
        }
        // User-defined tokens in the text between control tokens.
        let mut matches = Vec::with_capacity(control.len());
        let mut pos = 0;
        for m in control.iter().copied().chain(std::iter::once(Match {
            start: text.len(),
            len: 0,
            id: u32::MAX,
        })) {
            let run = &text[pos..m.start];
            matches.extend(
                self.special
                    .partition(run, false)
                    .into_iter()
                    .map(|u| Match {
                        start: u.start + pos,
                        ..u
                    }),
            );
            if m.id != u32::MAX {
                matches.push(m);
            }
            pos = m.start + m.len;
        }
        if !text.is_empty() {
            self.encode_matched(&text, &matches, out);
        }
    }
}
