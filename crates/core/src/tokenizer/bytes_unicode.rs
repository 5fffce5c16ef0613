//! GPT-2's byte ↔ unicode table (`bytes_to_unicode` in OpenAI's encoder, llama.cpp's
//! `unicode_byte_to_utf8_map`).
//!
//! Byte-level BPE vocabularies spell every byte as one printable character so that
//! token texts never contain spaces or control bytes: the printable Latin-1 bytes
//! `!`..`~`, `¡`..`¬`, `®`..`ÿ` stand for themselves, and the other 68 bytes map, in
//! byte order, to U+0100, U+0101, … (so a space is `Ġ` U+0120, a newline `Ċ` U+010A).

/// Whether byte `b` stands for itself.
const fn is_direct(b: u8) -> bool {
    matches!(b, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// The character each byte is spelled as.
pub(crate) const BYTE_TO_CHAR: [char; 256] = {
    let mut t = ['\0'; 256];
    let mut n = 0u32;
    let mut b = 0usize;
    while b < 256 {
        let cp = if is_direct(b as u8) {
            b as u32
        } else {
            n += 1;
            255 + n
        };
        t[b] = match char::from_u32(cp) {
            Some(c) => c,
            None => '\0',
        };
        b += 1;
    }
    t
};

/// The byte a character spells, if it is one of the 256 characters above.
#[inline]
pub(crate) fn char_to_byte(c: char) -> Option<u8> {
    let cp = c as u32;
    if cp < 256 {
        let b = cp as u8;
        return is_direct(b).then_some(b);
    }
    // U+0100 + k is the k-th (0-based) non-direct byte.
    let k = cp.checked_sub(256)?;
    let mut seen = 0;
    for b in 0..=255u8 {
        if !is_direct(b) {
            if seen == k {
                return Some(b);
            }
            seen += 1;
        }
    }
    None
}

/// Decodes a byte-level token text to its bytes. Characters outside the table (which
/// llama.cpp renders as `[UNK_BYTE_…]`) are kept as their UTF-8 bytes.
pub(crate) fn decode_into(text: &str, out: &mut Vec<u8>) {
    for c in text.chars() {
        match char_to_byte(c) {
            Some(b) => out.push(b),
            None => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}
