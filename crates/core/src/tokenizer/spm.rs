//! The SentencePiece-BPE merge (llama.cpp's `llm_tokenizer_spm_session`).
//!
//! One plain-text fragment at a time: spaces become `▁` (and a leading `▁` is added
//! when the caller asks for the space prefix), the text is split into UTF-8
//! characters, and the adjacent pair whose concatenation is a vocab token with the
//! highest score is merged, ties going to the leftmost pair, until no pair forms a
//! token. Each final symbol becomes its token, or its UTF-8 bytes as `<0xXX>` tokens.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::vocab::Vocab;

const NONE: usize = usize::MAX;

#[derive(Clone, Copy, Debug)]
struct Symbol {
    /// Byte offset into the escaped fragment.
    start: usize,
    /// Byte length; 0 once merged into its left neighbour.
    len: usize,
    prev: usize,
    next: usize,
}

#[derive(Clone, Copy, Debug)]
struct Bigram {
    score: f32,
    left: usize,
    right: usize,
    /// Byte length of the merged text when queued (detects stale entries).
    size: usize,
}

// Max-heap order: higher score first, then the leftmost pair (llama.cpp's
// `llm_bigram_spm::comparator`; scores compare with `<`, so NaN counts as equal).
impl Ord for Bigram {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .partial_cmp(&other.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| other.left.cmp(&self.left))
    }
}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Bigram {}

/// Buffers reused across the fragments of one `encode` call.
#[derive(Default)]
pub(crate) struct Scratch {
    text: String,
    symbols: Vec<Symbol>,
    queue: BinaryHeap<Bigram>,
}

/// Tokenizes one plain fragment, appending ids to `out`. `unk` is used only for a
/// byte that has no byte token (llama.cpp would abort there).
pub(crate) fn tokenize_fragment(
    vocab: &Vocab,
    fragment: &str,
    space_prefix: bool,
    unk: Option<u32>,
    s: &mut Scratch,
    out: &mut Vec<u32>,
) {
    // Escape whitespace.
    s.text.clear();
    if space_prefix {
        s.text.push('\u{2581}');
    }
    for (k, part) in fragment.split(' ').enumerate() {
        if k > 0 {
            s.text.push('\u{2581}');
        }
        s.text.push_str(part);
    }
    let text = s.text.as_str();
    if text.is_empty() {
        return;
    }

    // One symbol per character.
    s.symbols.clear();
    let mut iter = text.char_indices().peekable();
    while let Some((start, ch)) = iter.next() {
        let idx = s.symbols.len();
        s.symbols.push(Symbol {
            start,
            len: ch.len_utf8(),
            prev: if idx == 0 { NONE } else { idx - 1 },
            next: if iter.peek().is_some() { idx + 1 } else { NONE },
        });
    }

    // Seed with every adjacent pair, then merge best-first.
    s.queue.clear();
    for i in 1..s.symbols.len() {
        try_add_bigram(vocab, text, &s.symbols, &mut s.queue, i - 1, i);
    }
    while let Some(b) = s.queue.pop() {
        let (l, r) = (s.symbols[b.left], s.symbols[b.right]);
        if l.len == 0 || r.len == 0 || l.len + r.len != b.size {
            continue; // stale: one side already merged elsewhere
        }
        s.symbols[b.left].len += r.len;
        s.symbols[b.right].len = 0;
        s.symbols[b.left].next = r.next;
        if r.next != NONE {
            s.symbols[r.next].prev = b.left;
        }
        let l = s.symbols[b.left];
        try_add_bigram(vocab, text, &s.symbols, &mut s.queue, l.prev, b.left);
        try_add_bigram(vocab, text, &s.symbols, &mut s.queue, b.left, l.next);
    }

    // Emit. A merged symbol is always a token; a lone character may not be.
    let mut i = 0;
    while i != NONE {
        let sym = s.symbols[i];
        let piece = &text[sym.start..sym.start + sym.len];
        match vocab.get(piece) {
            Some(id) => out.push(id),
            None => {
                for &b in piece.as_bytes() {
                    if let Some(id) = vocab.byte_id(b).or(unk) {
                        out.push(id);
                    }
                }
            }
        }
        i = sym.next;
    }
}

#[inline]
fn try_add_bigram(
    vocab: &Vocab,
    text: &str,
    symbols: &[Symbol],
    queue: &mut BinaryHeap<Bigram>,
    left: usize,
    right: usize,
) {
    if left == NONE || right == NONE {
        return;
    }
    let (l, r) = (symbols[left], symbols[right]);
    let size = l.len + r.len;
    let Some(id) = vocab.get(&text[l.start..l.start + size]) else {
        return;
    };
    queue.push(Bigram {
        score: vocab.score(id),
        left,
        right,
        size,
    });
}
