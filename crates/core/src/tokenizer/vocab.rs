//! The token table: texts, scores, types, decoded pieces and an exact text → id index.
//!
//! All token texts live in one `String` and all pieces in one `Vec<u8>` (offsets in
//! `u32`), and the index is an open-addressing table of ids, so building it for a
//! 262k-token vocabulary costs a handful of allocations rather than one per token.

use super::TokenizerError;

/// `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// 0, or any value not listed below.
    Undefined,
    /// 1: an ordinary piece; `▁` stands for a space.
    Normal,
    /// 2: the unknown token.
    Unknown,
    /// 3: control tokens (`<bos>`, `<end_of_turn>`, …): matched in text only when
    /// special-token parsing is on, and render as nothing.
    Control,
    /// 4: user-defined tokens: always matched as whole pieces before the merges, and
    /// render as their text verbatim.
    UserDefined,
    /// 5: unused slots; render as nothing.
    Unused,
    /// 6: byte-fallback tokens `<0xXX>`.
    Byte,
}

impl TokenType {
    /// Maps a `tokenizer.ggml.token_type` value; unknown values become `Undefined`.
    pub fn from_gguf(v: i64) -> TokenType {
        match v {
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => TokenType::Undefined,
        }
    }
}

const EMPTY_SLOT: u32 = u32::MAX;

/// How a normal token's text spells its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PieceStyle {
    /// SentencePiece: the text is UTF-8 with `▁` standing for a space.
    Spm,
    /// Byte-level BPE: every character stands for one byte (GPT-2's table,
    /// [`super::bytes_unicode`]).
    ByteLevel,
}

/// The vocabulary.
pub(crate) struct Vocab {
    texts: String,
    text_off: Vec<u32>,
    pieces: Vec<u8>,
    piece_off: Vec<u32>,
    scores: Vec<f32>,
    types: Vec<TokenType>,
    slots: Vec<u32>,
    shift: u32,
    byte_ids: [Option<u32>; 256],
}

/// Hash of a token text (Fx-style over 8-byte words, then a multiplicative mix; the
/// table index takes the top bits).
fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let mut w = [0u8; 8];
        w[..rem.len()].copy_from_slice(rem);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    (h ^ (h >> 31)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Parses `<0xXX>` into its byte.
fn parse_byte_token(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

impl Vocab {
    /// Builds the table. `texts` are the vocab strings (an empty one is renamed
    /// `[EMPTY_i]` as llama.cpp does); a duplicated text maps to its last id.
    pub(crate) fn new<S: AsRef<str>>(
        texts: &[S],
        scores: Vec<f32>,
        types: Vec<TokenType>,
        style: PieceStyle,
    ) -> Result<Vocab, TokenizerError> {
        let n = texts.len();
        if n == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        if n >= EMPTY_SLOT as usize {
            return Err(TokenizerError::TooLarge(format!("{n} tokens")));
        }
        debug_assert_eq!(scores.len(), n);
        debug_assert_eq!(types.len(), n);

        let total: usize = texts.iter().map(|t| t.as_ref().len()).sum();
        let mut all = String::with_capacity(total + 16);
        let mut text_off = Vec::with_capacity(n + 1);
        text_off.push(0u32);
        for (i, t) in texts.iter().enumerate() {
            let t = t.as_ref();
            if t.is_empty() {
                all.push_str(&format!("[EMPTY_{i}]"));
            } else {
                all.push_str(t);
            }
            let end = u32::try_from(all.len()).map_err(|_| {
                TokenizerError::TooLarge(format!("token texts exceed 4 GiB at token {i}"))
            })?;
            text_off.push(end);
        }

        let mut v = Vocab {
            texts: all,
            text_off,
            pieces: Vec::new(),
            piece_off: Vec::new(),
            scores,
            types,
            slots: Vec::new(),
            shift: 0,
            byte_ids: [None; 256],
        };

        // Index.
        let cap = (n * 2).next_power_of_two().max(16);
        v.shift = 64 - cap.trailing_zeros();
        v.slots = vec![EMPTY_SLOT; cap];
        let mask = cap - 1;
        for id in 0..n {
            let t = v.text(id as u32).as_bytes();
            let mut i = (hash(t) >> v.shift) as usize;
            loop {
                let s = v.slots[i];
                if s == EMPTY_SLOT {
                    v.slots[i] = id as u32;
                    break;
                }
                if v.text(s).as_bytes() == t {
                    v.slots[i] = id as u32; // last one wins, as in llama.cpp's map
                    break;
                }
                i = (i + 1) & mask;
            }
        }

        v.build_pieces(style)?;

        // Byte fallback: `<0xXX>`, else the byte itself as a one-character token.
        for b in 0..=255u8 {
            let name = format!("<0x{b:02X}>");
            v.byte_ids[b as usize] = v.get(&name).or_else(|| {
                if b.is_ascii() {
                    v.get(std::str::from_utf8(&[b]).unwrap_or(""))
                } else {
                    None
                }
            });
        }
        Ok(v)
    }

    /// Pieces (what each token contributes to decoded text, llama.cpp's
    /// `token_to_piece(special = false)`).
    fn build_pieces(&mut self, style: PieceStyle) -> Result<(), TokenizerError> {
        let n = self.len();
        let mut pieces = Vec::with_capacity(self.texts.len() + self.texts.len() / 8);
        let mut off = Vec::with_capacity(n + 1);
        off.push(0u32);
        for id in 0..n as u32 {
            let text = self.text(id);
            match self.types[id as usize] {
                TokenType::Normal if style == PieceStyle::ByteLevel => {
                    super::bytes_unicode::decode_into(text, &mut pieces);
                }
                TokenType::Normal => {
                    for (k, part) in text.split('\u{2581}').enumerate() {
                        if k > 0 {
                            pieces.push(b' ');
                        }
                        pieces.extend_from_slice(part.as_bytes());
                    }
                }
                TokenType::UserDefined => pieces.extend_from_slice(text.as_bytes()),
                TokenType::Byte => match parse_byte_token(text) {
                    Some(b) => pieces.push(b),
                    None => pieces.extend_from_slice(text.as_bytes()),
                },
                TokenType::Control
                | TokenType::Unknown
                | TokenType::Unused
                | TokenType::Undefined => {}
            }
            off.push(u32::try_from(pieces.len()).map_err(|_| {
                TokenizerError::TooLarge(format!("token pieces exceed 4 GiB at token {id}"))
            })?);
        }
        self.pieces = pieces;
        self.piece_off = off;
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.types.len()
    }

    /// Vocab text of `id` (caller checks the range).
    #[inline]
    pub(crate) fn text(&self, id: u32) -> &str {
        let i = id as usize;
        &self.texts[self.text_off[i] as usize..self.text_off[i + 1] as usize]
    }

    #[inline]
    pub(crate) fn piece(&self, id: u32) -> &[u8] {
        let i = id as usize;
        match self.types[i] {
            TokenType::Normal | TokenType::UserDefined | TokenType::Byte => {
                &self.pieces[self.piece_off[i] as usize..self.piece_off[i + 1] as usize]
            }
            _ => &[],
        }
    }

    #[inline]
    pub(crate) fn score(&self, id: u32) -> f32 {
        self.scores[id as usize]
    }

    #[inline]
    pub(crate) fn token_type(&self, id: u32) -> TokenType {
        self.types[id as usize]
    }

    /// Re-types a token as control (llama.cpp does this for end-of-generation texts
    /// such as `<end_of_turn>` whatever their declared type). Its piece becomes empty.
    pub(crate) fn mark_control(&mut self, id: u32) {
        self.set_type(id, TokenType::Control);
    }

    pub(crate) fn set_type(&mut self, id: u32, t: TokenType) {
        self.types[id as usize] = t;
    }

    /// Exact lookup of a vocab text.
    #[inline]
    pub(crate) fn get(&self, text: &str) -> Option<u32> {
        let t = text.as_bytes();
        let mask = self.slots.len() - 1;
        let mut i = (hash(t) >> self.shift) as usize;
        loop {
            let s = self.slots[i];
            if s == EMPTY_SLOT {
                return None;
            }
            if self.text(s).as_bytes() == t {
                return Some(s);
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    pub(crate) fn byte_id(&self, b: u8) -> Option<u32> {
        self.byte_ids[b as usize]
    }
}
