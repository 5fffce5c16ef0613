//! The byte-level BPE merge (llama.cpp's `llm_tokenizer_bpe_session`).
//!
//! One pre-token ("word") at a time: the word, spelled with GPT-2's byte table (or raw
//! UTF-8 for SPM-style BPE), starts as one symbol per character; the adjacent pair with
//! the lowest merge rank (`tokenizer.ggml.merges` order), leftmost on ties, is merged
//! until no adjacent pair has a rank. Each final symbol becomes its token; one that is
//! not a token falls back to per-byte tokens as llama.cpp does.
//!
//! Symbols are a linked list over a vector and candidate pairs sit in a binary heap,
//! so a word of n characters costs O(n log n) — a megabyte-long run of one letter is
//! one word and must not be quadratic. Pairs are keyed by symbol id: strings that occur
//! in merges but are not vocab tokens get ids past the vocabulary, so merging by id
//! is exactly llama.cpp's merging by text.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::bytes_unicode::BYTE_TO_CHAR;
use super::vocab::Vocab;

const NONE: u32 = u32::MAX;

/// Multiplicative hasher for the `u64` pair keys (SipHash would dominate the merge).
#[derive(Default)]
struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u64(&mut self, v: u64) {
        let h = (self.0 ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 29);
    }
}

type PairMap = HashMap<u64, (u32, u32), BuildHasherDefault<PairHasher>>;

#[inline]
fn key(a: u32, b: u32) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

/// Merge ranks, by pair of symbol ids.
pub(crate) struct Merges {
    /// (left id, right id) -> (rank, merged id).
    pairs: PairMap,
    /// Texts in merges that are not vocab tokens, with ids `n_vocab + index`.
    extra: HashMap<String, u32>,
    n_vocab: u32,
    /// Id of the one-character symbol spelling each byte (byte-level words).
    byte_sym: [u32; 256],
}

impl Merges {
    /// Parses `tokenizer.ggml.merges` entries `"left right"` (split at the first space
    /// after the first byte, as llama.cpp does; the first entry of a pair wins).
    pub(crate) fn new<S: AsRef<str>>(vocab: &Vocab, merges: &[S]) -> Merges {
        let mut m = Merges {
            pairs: PairMap::with_capacity_and_hasher(merges.len(), Default::default()),
            extra: HashMap::new(),
            n_vocab: vocab.len() as u32,
            byte_sym: [NONE; 256],
        };
        let mut joined = String::new();
        for (rank, line) in merges.iter().enumerate() {
            let line = line.as_ref();
            // Byte search from index 1 (a space is always a char boundary).
            let bytes = line.as_bytes();
            let Some(pos) = bytes.iter().skip(1).position(|&b| b == b' ').map(|p| p + 1) else {
                continue;
            };
            let (left, right) = (&line[..pos], &line[pos + 1..]);
            let a = m.intern(vocab, left);
            let b = m.intern(vocab, right);
            joined.clear();
            joined.push_str(left);
            joined.push_str(right);
            let ab = m.intern(vocab, &joined);
            m.pairs.entry(key(a, b)).or_insert((rank as u32, ab));
        }
        for (b, c) in BYTE_TO_CHAR.iter().enumerate() {
            let mut buf = [0u8; 4];
            m.byte_sym[b] = m.id(vocab, c.encode_utf8(&mut buf));
        }
        m
    }

    fn intern(&mut self, vocab: &Vocab, text: &str) -> u32 {
        if let Some(id) = vocab.get(text) {
            return id;
        }
        let next = self.n_vocab + self.extra.len() as u32;
        *self.extra.entry(text.to_owned()).or_insert(next)
    }

    /// Symbol id of a text: its token, a merge-only id, or `NONE`.
    #[inline]
    fn id(&self, vocab: &Vocab, text: &str) -> u32 {
        vocab
            .get(text)
            .or_else(|| self.extra.get(text).copied())
            .unwrap_or(NONE)
    }

    pub(crate) fn len(&self) -> usize {
        self.pairs.len()
    }
}

/// A candidate merge: (rank, left, right, left id, right id); the heap pops the
/// smallest, i.e. lowest rank, then leftmost.
type Pair = Reverse<(u32, u32, u32, u32, u32)>;

#[derive(Clone, Copy)]
struct Symbol {
    id: u32,
    start: u32,
    len: u32,
    prev: u32,
    next: u32,
}

/// Buffers reused across words.
#[derive(Default)]
pub(crate) struct Scratch {
    word: String,
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Pair>,
}

/// How a word is spelled before merging.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelling {
    /// GPT-2's byte table (`tokenizer.ggml.model = gpt2`).
    ByteLevel,
    /// Raw UTF-8; unknown symbols fall back to `<0xXX>` tokens (Gemma 4).
    Utf8,
}

/// Options of one tokenizer.
#[derive(Clone, Copy)]
pub(crate) struct Options {
    pub spelling: Spelling,
    /// A word that is a vocab token is taken whole.
    pub ignore_merges: bool,
    /// A word of newlines only that is a vocab token is taken whole (Gemma 4).
    pub newline_words: bool,
}

/// Tokenizes one word (raw text), appending ids to `out`.
pub(crate) fn tokenize_word(
    vocab: &Vocab,
    merges: &Merges,
    opts: Options,
    raw: &str,
    s: &mut Scratch,
    out: &mut Vec<u32>,
) {
    let byte_level = opts.spelling == Spelling::ByteLevel;
    s.word.clear();
    if byte_level {
        s.word.extend(raw.bytes().map(|b| BYTE_TO_CHAR[b as usize]));
    } else {
        s.word.push_str(raw);
    }
    let word = s.word.as_str();
    if word.is_empty() {
        return;
    }
    if opts.ignore_merges || (opts.newline_words && raw.bytes().all(|b| b == b'\n')) {
        if let Some(id) = vocab.get(word) {
            out.push(id);
            return;
        }
    }

    // One symbol per character (per byte for byte-level spelling).
    s.symbols.clear();
    if byte_level {
        let mut start = 0u32;
        for &b in raw.as_bytes() {
            let len = BYTE_TO_CHAR[b as usize].len_utf8() as u32;
            push_symbol(&mut s.symbols, merges.byte_sym[b as usize], start, len);
            start += len;
        }
    } else {
        for (i, c) in word.char_indices() {
            let len = c.len_utf8();
            let id = merges.id(vocab, &word[i..i + len]);
            push_symbol(&mut s.symbols, id, i as u32, len as u32);
        }
    }
    if let Some(last) = s.symbols.last_mut() {
        last.next = NONE;
    }

    // Initial pairs heapified at once (O(n)), reusing the heap's allocation.
    let mut initial = std::mem::take(&mut s.heap).into_vec();
    initial.clear();
    for i in 1..s.symbols.len() as u32 {
        let (a, b) = (s.symbols[i as usize - 1].id, s.symbols[i as usize].id);
        if let Some(&(rank, _)) = merges.pairs.get(&key(a, b)) {
            initial.push(Reverse((rank, i - 1, i, a, b)));
        }
    }
    s.heap = BinaryHeap::from(initial);
    while let Some(Reverse((_, left, right, lid, rid))) = s.heap.pop() {
        let (l, r) = (s.symbols[left as usize], s.symbols[right as usize]);
        if l.len == 0 || r.len == 0 || l.id != lid || r.id != rid {
            continue; // stale
        }
        let merged = merges.pairs[&key(lid, rid)].1;
        let sl = &mut s.symbols[left as usize];
        sl.id = merged;
        sl.len += r.len;
        sl.next = r.next;
        s.symbols[right as usize].len = 0;
        if r.next != NONE {
            s.symbols[r.next as usize].prev = left;
        }
        let prev = s.symbols[left as usize].prev;
        if prev != NONE {
            push_pair(merges, &s.symbols, &mut s.heap, prev, left);
        }
        if r.next != NONE {
            push_pair(merges, &s.symbols, &mut s.heap, left, r.next);
        }
    }

    // Symbols in order: the vector order is text order, merged-away ones have len 0.
    for sym in s.symbols.iter().filter(|sym| sym.len > 0) {
        if sym.id < merges.n_vocab {
            out.push(sym.id);
            continue;
        }
        // llama.cpp looks each byte of the symbol's text up as a one-byte token (for
        // byte-level text only ASCII bytes can be one), or as `<0xXX>`.
        let text = &word.as_bytes()[sym.start as usize..(sym.start + sym.len) as usize];
        for &b in text {
            let id = if byte_level {
                if b.is_ascii() {
                    vocab.get(std::str::from_utf8(&[b]).unwrap_or(""))
                } else {
                    None
                }
            } else {
                vocab.get(&format!("<0x{b:02X}>"))
            };
            out.extend(id);
        }
    }
}

#[inline]
fn push_symbol(symbols: &mut Vec<Symbol>, id: u32, start: u32, len: u32) {
    let i = symbols.len() as u32;
    symbols.push(Symbol {
        id,
        start,
        len,
        prev: if i == 0 { NONE } else { i - 1 },
        next: i + 1,
    });
}

#[inline]
fn push_pair(
    merges: &Merges,
    symbols: &[Symbol],
    heap: &mut BinaryHeap<Pair>,
    left: u32,
    right: u32,
) {
    let (a, b) = (symbols[left as usize].id, symbols[right as usize].id);
    if a == NONE || b == NONE {
        return;
    }
    if let Some(&(rank, _)) = merges.pairs.get(&key(a, b)) {
        heap.push(Reverse((rank, left, right, a, b)));
    }
}
