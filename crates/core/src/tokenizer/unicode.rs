//! Codepoint classes as llama.cpp's pre-tokenizer sees them (`unicode_cpt_flags`).
//!
//! Categories come from [`super::unicode_data`] (llama.cpp's own table); whitespace is
//! Unicode `White_Space`, llama.cpp's `unicode_set_whitespace`. ASCII is answered from
//! a 128-entry table, everything else by binary search over the ranges.

use super::unicode_data::RANGES;

/// Flags of one codepoint (llama.cpp's bit layout; whitespace is our extra bit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags(u16);

pub(crate) const NUMBER: u16 = 0x02;
pub(crate) const LETTER: u16 = 0x04;
pub(crate) const MARK: u16 = 0x10;
pub(crate) const PUNCT: u16 = 0x20;
pub(crate) const SYMBOL: u16 = 0x40;
const WHITESPACE: u16 = 0x100;

impl Flags {
    /// Flags of "no codepoint" (past the end of a fragment): all clear.
    pub(crate) const NONE: Flags = Flags(0);

    #[inline]
    pub(crate) fn is_letter(self) -> bool {
        self.0 & LETTER != 0
    }
    #[inline]
    pub(crate) fn is_number(self) -> bool {
        self.0 & NUMBER != 0
    }
    #[inline]
    pub(crate) fn is_mark(self) -> bool {
        self.0 & MARK != 0
    }
    #[inline]
    pub(crate) fn is_whitespace(self) -> bool {
        self.0 & WHITESPACE != 0
    }
    /// Whether this is a codepoint at all (llama.cpp's `as_uint() != 0`).
    #[inline]
    pub(crate) fn is_some(self) -> bool {
        self.0 != 0
    }
    /// The category bits (one of the constants above, or separator / control).
    #[inline]
    pub(crate) fn category(self) -> u16 {
        self.0 & 0xFF
    }
}

fn is_white_space(c: u32) -> bool {
    matches!(
        c,
        0x09..=0x0D | 0x20 | 0x85 | 0xA0 | 0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F
            | 0x205F | 0x3000
    )
}

fn lookup(c: u32) -> Flags {
    let i = RANGES.partition_point(|&(start, _)| start <= c);
    let cat = if i == 0 { 0 } else { RANGES[i - 1].1 as u16 };
    Flags(cat | if is_white_space(c) { WHITESPACE } else { 0 })
}

const ASCII: [Flags; 128] = {
    let mut t = [Flags(0); 128];
    let mut c = 0;
    while c < 128 {
        // Binary search is not const; the ASCII part of the table is short.
        let mut cat = 0u16;
        let mut i = 0;
        while i < RANGES.len() && RANGES[i].0 <= c {
            cat = RANGES[i].1 as u16;
            i += 1;
        }
        let ws = matches!(c, 0x09..=0x0D | 0x20);
        t[c as usize] = Flags(cat | if ws { WHITESPACE } else { 0 });
        c += 1;
    }
    t
};

/// Flags of codepoint `c`.
#[inline]
pub(crate) fn flags(c: char) -> Flags {
    let c = c as u32;
    if c < 128 {
        ASCII[c as usize]
    } else {
        lookup(c)
    }
}
