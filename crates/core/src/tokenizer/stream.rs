//! Incremental detokenization: text as soon as it is complete UTF-8.

use super::Tokenizer;

/// Turns a stream of token ids into text, holding back a UTF-8 character whose bytes
/// are split across byte-fallback tokens until it is complete. Invalid sequences
/// become U+FFFD exactly as [`Tokenizer::decode`] (`String::from_utf8_lossy`) would
/// render them, so the concatenation of everything returned by [`push`](Self::push)
/// and [`flush`](Self::flush) equals `decode` of the whole sequence.
///
/// The decoder holds at most 4 pending bytes inline and allocates nothing beyond the
/// returned strings.
#[derive(Clone, Debug, Default)]
pub struct StreamDecoder {
    pending: [u8; 4],
    n_pending: usize,
}

impl StreamDecoder {
    pub fn new() -> StreamDecoder {
        StreamDecoder::default()
    }

    /// Adds token `id`; returns the text that became complete, if any.
    pub fn push(&mut self, tok: &Tokenizer, id: u32) -> Option<String> {
        let mut out = String::new();
        self.push_bytes(tok.token_bytes(id), &mut out);
        (!out.is_empty()).then_some(out)
    }

    /// Like [`push`](Self::push), appending to `out` instead of returning a new string.
    pub fn push_into(&mut self, tok: &Tokenizer, id: u32, out: &mut String) {
        self.push_bytes(tok.token_bytes(id), out);
    }

    /// Whether bytes of an incomplete character are held back.
    pub fn has_pending(&self) -> bool {
        self.n_pending > 0
    }

    /// Ends the stream: held-back bytes of an incomplete character become U+FFFD.
    pub fn flush(&mut self) -> String {
        let mut out = String::new();
        if self.n_pending > 0 {
            out.push_str(&String::from_utf8_lossy(&self.pending[..self.n_pending]));
            self.n_pending = 0;
        }
        out
    }

    /// Decodes what `pending` holds as far as possible; an incomplete tail stays.
    fn drain_pending(&mut self, out: &mut String) {
        while self.n_pending > 0 {
            match std::str::from_utf8(&self.pending[..self.n_pending]) {
                Ok(s) => {
                    out.push_str(s);
                    self.n_pending = 0;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    if let Ok(s) = std::str::from_utf8(&self.pending[..valid]) {
                        out.push_str(s);
                    }
                    let consumed = match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            valid + bad
                        }
                        None => valid,
                    };
                    self.pending.copy_within(consumed..self.n_pending, 0);
                    self.n_pending -= consumed;
                    if e.error_len().is_none() {
                        return; // incomplete: wait for more bytes
                    }
                }
            }
        }
    }

    fn push_bytes(&mut self, mut input: &[u8], out: &mut String) {
        // Complete (or reject) a held-back character one byte at a time.
        while self.n_pending > 0 {
            let Some((&b, rest)) = input.split_first() else {
                return;
            };
            self.pending[self.n_pending] = b;
            self.n_pending += 1;
            input = rest;
            self.drain_pending(out);
        }
        // Then the rest directly, keeping an incomplete tail.
        loop {
            match std::str::from_utf8(input) {
                Ok(s) => {
                    out.push_str(s);
                    return;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    if let Ok(s) = std::str::from_utf8(&input[..valid]) {
                        out.push_str(s);
                    }
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            input = &input[valid + bad..];
                        }
                        None => {
                            let tail = &input[valid..];
                            self.pending[..tail.len()].copy_from_slice(tail);
                            self.n_pending = tail.len();
                            return;
                        }
                    }
                }
            }
        }
    }
}
