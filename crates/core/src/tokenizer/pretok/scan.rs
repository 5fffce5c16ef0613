//! The splitting itself: llama.cpp's hand-coded scanners (GPT-2, Llama 3 / Qwen, newlines,
//! single digits) and the regex splitter on collapsed text, each over one fragment.

use fancy_regex::Regex;

use super::super::unicode::Flags;
use super::*;

/// Codepoints `lo..hi` of the text; outside that, nothing (llama.cpp's `OUT_OF_RANGE`).
pub(super) struct Fragment<'a> {
    pub(super) chars: &'a [char],
    pub(super) flags: &'a [Flags],
    pub(super) lo: usize,
    pub(super) hi: usize,
}

impl Fragment<'_> {
    #[inline]
    fn cpt(&self, i: usize) -> Option<char> {
        (self.lo <= i && i < self.hi).then(|| self.chars[i])
    }
    #[inline]
    fn flags(&self, i: usize) -> Flags {
        if self.lo <= i && i < self.hi {
            self.flags[i]
        } else {
            Flags::NONE
        }
    }
}

/// Appends the end of a word unless it is empty; `prev` is the last end.
#[inline]
fn push_end(out: &mut Vec<usize>, prev: &mut usize, end: usize) -> usize {
    let len = end - *prev;
    if len > 0 {
        out.push(end);
    }
    *prev = end;
    len
}

/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`, as
/// llama.cpp's `unicode_regex_split_custom_gpt2` scans it.
pub(super) fn scan_gpt2(f: &Fragment, out: &mut Vec<usize>) {
    let mut prev = f.lo;
    let mut pos = f.lo;
    while pos < f.hi {
        let c = f.chars[pos];
        let flags = f.flags[pos];
        if c == '\'' && pos + 1 < f.hi {
            let n = f.chars[pos + 1];
            if matches!(n, 's' | 't' | 'm' | 'd') {
                pos += push_end(out, &mut prev, pos + 2);
                continue;
            }
            if pos + 2 < f.hi {
                let nn = f.chars[pos + 2];
                if matches!((n, nn), ('r', 'e') | ('v', 'e') | ('l', 'l')) {
                    pos += push_end(out, &mut prev, pos + 3);
                    continue;
                }
            }
        }
        let space = c == ' ';
        let mut f2 = if space { f.flags(pos + 1) } else { flags };
        if f2.is_letter() {
            pos += space as usize;
            while f2.is_letter() {
                pos += 1;
                f2 = f.flags(pos);
            }
            push_end(out, &mut prev, pos);
            continue;
        }
        if f2.is_number() {
            pos += space as usize;
            while f2.is_number() {
                pos += 1;
                f2 = f.flags(pos);
            }
            push_end(out, &mut prev, pos);
            continue;
        }
        let other =
            |g: Flags| !(g.is_whitespace() || g.is_letter() || g.is_number()) && g.is_some();
        if other(f2) {
            pos += space as usize;
            while other(f2) {
                pos += 1;
                f2 = f.flags(pos);
            }
            push_end(out, &mut prev, pos);
            continue;
        }
        let mut nws = 0;
        while f.flags(pos + nws).is_whitespace() {
            nws += 1;
        }
        if nws > 1 && f.cpt(pos + nws).is_some() {
            // \s+(?!\S): leave the last space to the word that follows.
            pos += nws - 1;
            push_end(out, &mut prev, pos);
            continue;
        }
        if nws > 0 {
            pos += nws;
            push_end(out, &mut prev, pos);
            continue;
        }
        pos += 1;
        push_end(out, &mut prev, pos);
    }
}

/// Llama 3's pattern `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
/// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` and its Qwen variants (`\p{N}`
/// single digits; Qwen3.5 also `[\p{L}\p{M}]+`), as llama.cpp's custom scanners do it.
pub(super) fn scan_llama3(f: &Fragment, max_digits: usize, marks: bool, out: &mut Vec<usize>) {
    let wordy = |g: Flags| g.is_letter() || (marks && g.is_mark());
    let mut prev = f.lo;
    let mut pos = f.lo;
    while pos < f.hi {
        let c = f.chars[pos];
        let flags = f.flags[pos];
        if c == '\'' && pos + 1 < f.hi {
            let n = f.chars[pos + 1].to_ascii_lowercase();
            if matches!(n, 's' | 't' | 'm' | 'd') {
                pos += push_end(out, &mut prev, pos + 2);
                continue;
            }
            if pos + 2 < f.hi {
                let nn = f.chars[pos + 2].to_ascii_lowercase();
                if matches!((n, nn), ('r', 'e') | ('v', 'e') | ('l', 'l')) {
                    pos += push_end(out, &mut prev, pos + 3);
                    continue;
                }
            }
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if !(c == '\r' || c == '\n' || flags.is_number())
            && (wordy(flags) || wordy(f.flags(pos + 1)))
        {
            pos += 1;
            while wordy(f.flags(pos)) {
                pos += 1;
            }
            push_end(out, &mut prev, pos);
            continue;
        }
        // \p{N}{1,3}
        if flags.is_number() {
            let mut ini = pos;
            while f.flags(pos).is_number() {
                pos += 1;
                if pos - ini >= max_digits {
                    push_end(out, &mut prev, pos);
                    ini = pos;
                }
            }
            push_end(out, &mut prev, pos);
            continue;
        }
        // <space>?[^\s\p{L}\p{N}]+[\r\n]*
        let other = |g: Flags| !(g.is_whitespace() || wordy(g) || g.is_number());
        let mut f2 = if c == ' ' { f.flags(pos + 1) } else { flags };
        if other(f2) && flags.is_some() {
            pos += (c == ' ') as usize;
            while other(f2) && f2.is_some() {
                pos += 1;
                f2 = f.flags(pos);
            }
            while matches!(f.cpt(pos), Some('\r' | '\n')) {
                pos += 1;
            }
            push_end(out, &mut prev, pos);
            continue;
        }
        let mut nws = 0;
        let mut last_rn = 0;
        while f.flags(pos + nws).is_whitespace() {
            if matches!(f.chars[pos + nws], '\r' | '\n') {
                last_rn = pos + nws + 1;
            }
            nws += 1;
        }
        // \s*[\r\n]+
        if last_rn > 0 {
            pos = last_rn;
            push_end(out, &mut prev, pos);
            continue;
        }
        // \s+(?!\S)
        if nws > 1 && f.cpt(pos + nws).is_some() {
            pos += nws - 1;
            push_end(out, &mut prev, pos);
            continue;
        }
        // \s+
        if nws > 0 {
            pos += nws;
            push_end(out, &mut prev, pos);
            continue;
        }
        pos += 1;
        push_end(out, &mut prev, pos);
    }
}

/// `[^\n]+|[\n]+`.
pub(super) fn scan_newlines(f: &Fragment, out: &mut Vec<usize>) {
    let mut pos = f.lo;
    while pos < f.hi {
        let nl = f.chars[pos] == '\n';
        while pos < f.hi && (f.chars[pos] == '\n') == nl {
            pos += 1;
        }
        out.push(pos);
    }
}

/// `\p{N}` (same split as the collapsed regex): each number codepoint alone, the
/// runs between them as they are.
pub(super) fn scan_each_number(f: &Fragment, out: &mut Vec<usize>) {
    let mut prev = f.lo;
    for pos in f.lo..f.hi {
        if f.flags[pos].is_number() {
            push_end(out, &mut prev, pos);
            push_end(out, &mut prev, pos + 1);
        }
    }
    push_end(out, &mut prev, f.hi);
}

/// Runs `re` over one fragment (llama.cpp's `unicode_regex_split_stl`): matches and
/// the gaps between them become words.
pub(super) fn split_regex(
    f: &Fragment,
    re: &Regex,
    collapsed: bool,
    buf: &mut String,
    map: &mut Vec<u32>,
    out: &mut Vec<usize>,
) {
    buf.clear();
    map.clear();
    for i in f.lo..f.hi {
        let c = f.chars[i];
        let fl = f.flags[i];
        let r = if (c as u32) < 128 {
            c
        } else if fl.is_whitespace() {
            '\x0B'
        } else if collapsed {
            stand_in(fl.category())
        } else {
            c
        };
        // Byte offset in `buf` -> codepoint index.
        for _ in 0..r.len_utf8() {
            map.push(i as u32);
        }
        buf.push(r);
    }
    map.push(f.hi as u32);
    let mut last = 0usize; // byte offset in buf
    for m in re.find_iter(buf) {
        let Ok(m) = m else {
            break; // unreachable with an unlimited backtrack budget
        };
        if m.start() > last {
            out.push(map[m.start()] as usize);
        }
        if m.end() > m.start() {
            out.push(map[m.end()] as usize);
        }
        last = m.end();
    }
    if last < buf.len() || f.hi == f.lo {
        out.push(f.hi);
    }
}
