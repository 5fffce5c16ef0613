//! Stop strings over a stream of text pieces.
//!
//! Text is released as soon as it cannot be part of a stop string: the longest tail of
//! what was received that is a prefix of some stop string is held back until the next
//! piece decides it. When a stop string appears (possibly split across pieces), the text
//! before it is released and the stop string itself, and anything after, is dropped.

#[derive(Clone, Debug, Default)]
pub struct StopFilter {
    stops: Vec<String>,
    held: String,
}

/// Result of [`StopFilter::push`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Text that is final and may be sent.
    pub text: String,
    /// A stop string was found: generation should end (nothing more will be released).
    pub hit: bool,
}

impl StopFilter {
    /// A filter for `stops` (empty strings are ignored).
    pub fn new(stops: Vec<String>) -> StopFilter {
        StopFilter {
            stops: stops.into_iter().filter(|s| !s.is_empty()).collect(),
            held: String::new(),
        }
    }

    /// Adds a piece of generated text.
    pub fn push(&mut self, piece: &str) -> Pushed {
        if self.stops.is_empty() {
            return Pushed {
                text: piece.to_string(),
                hit: false,
            };
        }
        self.held.push_str(piece);
        let first = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min();
        if let Some(pos) = first {
            let mut text = std::mem::take(&mut self.held);
            text.truncate(pos);
            return Pushed { text, hit: true };
        }
        let keep = self.partial_tail();
        let cut = self.held.len() - keep;
        let rest = self.held.split_off(cut);
        Pushed {
            text: std::mem::replace(&mut self.held, rest),
            hit: false,
        }
    }

    /// Ends the stream: whatever was held back is final.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// Length of the longest suffix of `held` that is a proper prefix of a stop string.
    fn partial_tail(&self) -> usize {
        let longest = self.stops.iter().map(String::len).max().unwrap_or(0);
        let h = &self.held;
        (1..longest.min(h.len() + 1))
            .rev()
            .filter(|&k| h.is_char_boundary(h.len() - k))
            .find(|&k| self.stops.iter().any(|s| s.starts_with(&h[h.len() - k..])))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let mut f = StopFilter::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = String::new();
        for p in pieces {
            let r = f.push(p);
            out.push_str(&r.text);
            if r.hit {
                return (out, true);
            }
        }
        out.push_str(&f.finish());
        (out, false)
    }

    #[test]
    fn no_stops_passes_through() {
        assert_eq!(run(&[], &["a", "b"]), ("ab".into(), false));
    }

    #[test]
    fn stop_in_one_piece_and_split_across_pieces() {
        assert_eq!(run(&["END"], &["abc", "xENDy"]), ("abcx".into(), true));
        assert_eq!(run(&["END"], &["ab E", "N", "Dzz"]), ("ab ".into(), true));
        assert_eq!(run(&["\n\n", "END"], &["a\n", "\nb"]), ("a".into(), true));
    }

    #[test]
    fn partial_match_is_released_when_it_fails() {
        let mut f = StopFilter::new(vec!["END".into()]);
        assert_eq!(f.push("aE").text, "a");
        assert_eq!(f.push("N").text, "");
        assert_eq!(f.push("x").text, "ENx");
        assert_eq!(f.push("EN").text, "");
        assert_eq!(f.finish(), "EN");
    }

    #[test]
    fn earliest_stop_wins_and_unicode_is_safe() {
        assert_eq!(run(&["cd", "b"], &["abcd"]), ("a".into(), true));
        assert_eq!(run(&["é!"], &["xé", "é", "!"]), ("xé".into(), true));
        assert_eq!(run(&["ab"], &["€"]), ("€".into(), false));
    }
}
