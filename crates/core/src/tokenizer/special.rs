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
//!
//! Collecting every occurrence first would cost one entry per (position, matching
//! token): a run of a million spaces against Gemma's 31 whitespace tokens is 31 million
//! entries (~750 bytes per input byte). Instead each position keeps only its longest
//! active match, a trie node whose ancestors with tokens (linked by `up_*`) are its
//! shorter matches; one pass per distinct token length, longest first, takes the
//! matches of that length. Memory is a few words per input byte and time is
//! O(bytes × (longest special token + distinct lengths)), linear for a given vocab.

use super::vocab::{TokenType, Vocab};

const NONE: u32 = u32::MAX;

struct Node {
    /// Children by next byte (few per node; linear search).
    children: Vec<(u8, u32)>,
    /// The token whose text ends here.
    token: u32,
    /// Depth in bytes (the length of the text ending here).
    depth: u32,
    /// Nearest proper ancestor holding a user-defined token (the next shorter match
    /// when special parsing is off).
    up_user: u32,
    /// Nearest proper ancestor holding any special token.
    up_any: u32,
}

/// Trie of the special-token texts.
pub(crate) struct SpecialTokens {
    root: Box<[u32; 256]>,
    nodes: Vec<Node>,
    count: usize,
    /// Distinct lengths of the user-defined tokens, longest first.
    lens_user: Vec<u32>,
    /// Distinct lengths of all special tokens, longest first.
    lens_any: Vec<u32>,
    /// Whether each node's token is user-defined (indexed like `nodes`).
    user: Vec<bool>,
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
            lens_user: Vec::new(),
            lens_any: Vec::new(),
            user: Vec::new(),
        };
        for id in 0..vocab.len() as u32 {
            if is_special(vocab.token_type(id)) {
                st.insert(vocab.text(id).as_bytes(), id);
            }
        }
        st.link(vocab);
        st
    }

    fn new_node(&mut self, depth: u32) -> u32 {
        self.nodes.push(Node {
            children: Vec::new(),
            token: NONE,
            depth,
            up_user: NONE,
            up_any: NONE,
        });
        (self.nodes.len() - 1) as u32
    }

    /// Fills `up_user`/`up_any`, `user` and the length lists once all tokens are in.
    fn link(&mut self, vocab: &Vocab) {
        self.user = self
            .nodes
            .iter()
            .map(|n| n.token != NONE && vocab.token_type(n.token) == TokenType::UserDefined)
            .collect();
        let mut lens_user = std::collections::BTreeSet::new();
        let mut lens_any = std::collections::BTreeSet::new();
        // Depth-first from each root child, carrying the nearest ancestors with tokens.
        let mut stack: Vec<(u32, u32, u32)> = self
            .root
            .iter()
            .filter(|&&n| n != NONE)
            .map(|&n| (n, NONE, NONE))
            .collect();
        while let Some((node, up_user, up_any)) = stack.pop() {
            let i = node as usize;
            self.nodes[i].up_user = up_user;
            self.nodes[i].up_any = up_any;
            let (mut below_user, mut below_any) = (up_user, up_any);
            if self.nodes[i].token != NONE {
                below_any = node;
                lens_any.insert(self.nodes[i].depth);
                if self.user[i] {
                    below_user = node;
                    lens_user.insert(self.nodes[i].depth);
                }
            }
            for &(_, c) in &self.nodes[i].children {
                stack.push((c, below_user, below_any));
            }
        }
        self.lens_user = lens_user.into_iter().rev().collect();
        self.lens_any = lens_any.into_iter().rev().collect();
    }

    fn insert(&mut self, text: &[u8], id: u32) {
        let Some((&first, rest)) = text.split_first() else {
            return;
        };
        let mut node = self.root[first as usize];
        if node == NONE {
            node = self.new_node(1);
            self.root[first as usize] = node;
        }
        for (depth, &b) in (2..).zip(rest) {
            let found = self.nodes[node as usize]
                .children
                .iter()
                .find(|&&(c, _)| c == b)
                .map(|&(_, n)| n);
            node = match found {
                Some(n) => n,
                None => {
                    let n = self.new_node(depth);
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
    pub(crate) fn partition(&self, text: &str, parse_special: bool) -> Vec<Match> {
        let bytes = text.as_bytes();
        let active = |node: u32| {
            let n = &self.nodes[node as usize];
            n.token != NONE && (parse_special || self.user[node as usize])
        };
        let up = |node: u32| {
            let n = &self.nodes[node as usize];
            if parse_special {
                n.up_any
            } else {
                n.up_user
            }
        };
        let lens = if parse_special {
            &self.lens_any
        } else {
            &self.lens_user
        };
        if lens.is_empty() {
            return Vec::new();
        }

        // The longest active match at each position; its shorter ones hang off `up`.
        let mut head: Vec<u32> = vec![NONE; bytes.len()];
        let mut live: Vec<usize> = Vec::new();
        for start in 0..bytes.len() {
            let mut node = self.root[bytes[start] as usize];
            let mut len = 1;
            while node != NONE {
                if active(node) {
                    head[start] = node;
                }
                let Some(&b) = bytes.get(start + len) else {
                    break;
                };
                node = self.nodes[node as usize]
                    .children
                    .iter()
                    .find(|&&(c, _)| c == b)
                    .map_or(NONE, |&(_, c)| c);
                len += 1;
            }
            if head[start] != NONE {
                live.push(start);
            }
        }
        if live.is_empty() {
            return Vec::new();
        }

        // llama.cpp's order: longest token first (then by id), each token's occurrences
        // left to right; an occurrence is taken when none of its bytes is.
        let mut taken = vec![false; bytes.len()];
        let mut accepted = Vec::new();
        let mut cands: Vec<(u32, usize)> = Vec::new();
        for &len in lens {
            if live.is_empty() {
                break;
            }
            cands.clear();
            live.retain(|&p| {
                let h = head[p];
                if taken[p] {
                    return false;
                }
                if self.nodes[h as usize].depth != len {
                    return true;
                }
                cands.push((self.nodes[h as usize].token, p));
                let next = up(h);
                head[p] = next;
                next != NONE
            });
            if cands.windows(2).any(|w| w[0].0 != w[1].0) {
                cands.sort_by_key(|&(id, _)| id); // stable: starts stay ascending
            }
            let len = len as usize;
            for &(id, p) in &cands {
                // Every match taken so far is at least `len` long, so one that overlaps
                // this occurrence covers its first or its last byte.
                if taken[p] || taken[p + len - 1] {
                    continue;
                }
                taken[p..p + len].fill(true);
                accepted.push(Match { start: p, len, id });
            }
        }
        accepted.sort_unstable_by_key(|m| m.start);
        accepted
    }
}
