//! Frequency tables that ship with wren, for tokenizers it knows. FR-Spec drafts far
//! better from a table counted over text than from the tokenizer's own ranking
//! (BENCHMARKS.md, session 18: Gemma 3's free text, acceptance 64–100% against 8–86%), and
//! a user should not have to count one first. Each table was counted by `wren fr-table`
//! over the corpus `scripts/fr_corpus.py` writes (English prose, reference text and code
//! from Debian packages) and serves every model whose tokenizer has its [`fingerprint`]:
//! one table for all Gemma 3 sizes. A table beside the model (`<model>.fr`) comes first.

use super::fr::FrTable;
use crate::tokenizer::Tokenizer;

/// A table shipped in the binary.
struct Builtin {
    /// The tokenizer family it was counted for.
    name: &'static str,
    /// [`fingerprint`] of that tokenizer.
    fingerprint: u64,
    /// The table, in `FrTable`'s file format.
    text: &'static str,
}

const TABLES: &[Builtin] = &[Builtin {
    name: "gemma3",
    fingerprint: 0xa3f8_0d58_507f_a348,
    text: include_str!("../../data/gemma3.fr"),
}];

/// FNV-1a (64-bit) over every token's vocabulary string, each followed by a `0xff`
/// (which no UTF-8 text holds), in id order: equal for equal vocabularies, whatever the
/// model, and unmoved by how wren types a token (session 20 made Gemma 3's `</s>` a
/// control token, whose decoded bytes are then empty).
pub fn fingerprint(tok: &Tokenizer) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for id in 0..tok.vocab_size() as u32 {
        tok.token_text(id).unwrap_or("").bytes().for_each(&mut eat);
        eat(0xff);
    }
    h
}

/// The shipped table for `tok`'s vocabulary, with its name, if wren has one.
pub fn builtin(tok: &Tokenizer) -> Option<(&'static str, FrTable)> {
    let f = fingerprint(tok);
    let b = TABLES.iter().find(|b| b.fingerprint == f)?;
    // The tables are tested to parse (below); a failure here would be a build defect.
    let t = FrTable::parse(b.text, b.name).expect("a built-in FR table parses");
    (t.vocab == tok.vocab_size()).then_some((b.name, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_tables_parse_and_are_distinct() {
        for b in TABLES {
            let t = FrTable::parse(b.text, b.name).unwrap();
            assert!(t.ids.len() >= 16_384, "{}: {} ids", b.name, t.ids.len());
            let mut ids = t.ids.clone();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), t.ids.len(), "{}: repeated ids", b.name);
            assert!(
                t.counts.windows(2).all(|w| w[0] >= w[1]),
                "{}: not ranked",
                b.name
            );
        }
    }
}
