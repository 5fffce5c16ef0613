//! Partitioning text by special tokens (llama.cpp's `tokenizer_st_partition`).
//!
//! llama.cpp takes the control, user-defined and unknown tokens sorted by text length,
//! longest first, and for each token in turn splits every still-unmatched fragment at
//! each of its non-overlapping occurrences, scanning left to right. With special
//! parsing off, control and unknown tokens are skipped, but user-defined tokens still
//! split the text. Note this is "longest token first", not "leftmost-longest": with
//! tokens `bcd` and `ab`, `abcd` becomes `a` + `bcd`.
//!
//! Doing that literally costs one full-text search per special token (Gemma has ~6,400).
//! Here a byte trie finds every occurrence of every special token in one pass; the
//! occurrences are then taken in llama.cpp's order (length descending, then id — the
//! tie order llama.cpp leaves to `std::sort`, which only matters for two equally long
//! tokens that can overlap) and one is accepted when none of its bytes was taken by an
//! earlier one. That reproduces the fragment splitting exactly: a token's occurrence
//! inside a fragment is found by `find` iff it overlaps no earlier match, and its own
//! overlapping occurrences are excluded the same way.

use std::cmp::Reverse;

use super::vocab::{TokenType, Vocab};

const NONE: u32 = u32::MAX;

struct Node {
    /// Children by next byte (few per node; linear search).
    children: Vec<(u8, u32)>,
    /// The token whose text ends here.
    token: u32,
}

/// Trie of the special-token texts.
pub(crate) struct SpecialTokens {
    root: Box<[u32; 256]>,
    nodes: Vec<Node>,
    count: usize,
}

/// A matched special token: byte range `[start, start + len)` of the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Match {
    pub start: usize,
    pub len: usize,
    pub id: u32,
}

fn is_special(t: TokenType) -> bool {
    matches!(
        t,
        TokenType::Control | TokenType::UserDefined | TokenType::Unknown
    )
}

impl SpecialTokens {
    pub(crate) fn new(vocab: &Vocab) -> SpecialTokens {
        let mut st = SpecialTokens {
            root: Box::new([NONE; 256]),
            nodes: Vec::new(),
            count: 0,
        };
        for id in 0..vocab.len() as u32 {
            if is_special(vocab.token_type(id)) {
                st.insert(vocab.text(id).as_bytes(), id);
            }
        }
        st
    }

    fn new_node(&mut self) -> u32 {
        self.nodes.push(Node {
            children: Vec::new(),
            token: NONE,
        });
        (self.nodes.len() - 1) as u32
    }

    fn insert(&mut self, text: &[u8], id: u32) {
        let Some((&first, rest)) = text.split_first() else {
            return;
        };
        let mut node = self.root[first as usize];
        if node == NONE {
            node = self.new_node();
            self.root[first as usize] = node;
        }
        for &b in rest {
            let found = self.nodes[node as usize]
                .children
                .iter()
                .find(|&&(c, _)| c == b)
                .map(|&(_, n)| n);
            node = match found {
                Some(n) => n,
                None => {
                    let n = self.new_node();
                    self.nodes[node as usize].children.push((b, n));
                    n
                }
            };
        }
        // Unique texts: the vocab index keeps the last of duplicates; so do we.
        if self.nodes[node as usize].token == NONE {
            self.count += 1;
        }
        self.nodes[node as usize].token = id;
    }

    /// Number of special tokens (control, user-defined and unknown).
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// The special tokens that split `text`, in text order. Control and unknown tokens
    /// take part only when `parse_special`; user-defined tokens always do.
    pub(crate) fn partition(&self, vocab: &Vocab, text: &str, parse_special: bool) -> Vec<Match> {
        let bytes = text.as_bytes();
        let active = |id: u32| parse_special || vocab.token_type(id) == TokenType::UserDefined;

        // Every occurrence of every active special token.
        let mut hits: Vec<Match> = Vec::new();
        for start in 0..bytes.len() {
            let mut node = self.root[bytes[start] as usize];
            let mut len = 1;
            while node != NONE {
                let n = &self.nodes[node as usize];
                if n.token != NONE && active(n.token) {
                    hits.push(Match {
                        start,
                        len,
                        id: n.token,
                    });
                }
                let Some(&b) = bytes.get(start + len) else {
                    break;
                };
                node = n
                    .children
                    .iter()
                    .find(|&&(c, _)| c == b)
                    .map_or(NONE, |&(_, c)| c);
                len += 1;
            }
        }
        if hits.is_empty() {
            return hits;
        }

        // llama.cpp's order: longest token first, each token's occurrences left to right.
        hits.sort_unstable_by_key(|m| (Reverse(m.len), m.id, m.start));
        let mut taken = vec![false; bytes.len()];
        let mut accepted = Vec::new();
        for m in hits {
            let span = &mut taken[m.start..m.start + m.len];
            if span.iter().any(|&t| t) {
                continue;
            }
            span.fill(true);
            accepted.push(m);
        }
        accepted.sort_unstable_by_key(|m| m.start);
        accepted
    }
}
