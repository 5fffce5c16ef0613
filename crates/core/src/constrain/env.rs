//! The model's vocabulary in llguidance's terms, built once per tokenizer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use llguidance::ParserFactory;
use toktrie::{ApproximateTokEnv, TokRxInfo, TokTrie, TokenizerEnv};

use super::{Constraint, Grammar};
use crate::tokenizer::Tokenizer;

/// The token trie and parser factory for one vocabulary. Creating it walks the whole
/// vocabulary (see [`build_time`](Self::build_time)); share it with an `Arc`.
pub struct GrammarEnv {
    factory: ParserFactory,
    eog: Vec<u32>,
    vocab_size: usize,
    build_time: Duration,
}

impl std::fmt::Debug for GrammarEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrammarEnv")
            .field("vocab_size", &self.vocab_size)
            .field("eog", &self.eog)
            .field("build_time", &self.build_time)
            .finish()
    }
}

/// The bytes llguidance sees for each token: the decoded piece for text tokens;
/// `0xFF` + the token's text for end-of-generation and control tokens (llguidance's
/// marker for special tokens, which no grammar literal can produce); nothing for
/// tokens that render as nothing (never allowed by a grammar).
pub fn token_words(tok: &Tokenizer) -> Vec<Vec<u8>> {
    (0..tok.vocab_size() as u32)
        .map(|id| {
            let bytes = tok.token_bytes(id);
            if tok.is_eog(id) || (bytes.is_empty() && tok.is_control(id)) {
                let text = tok.token_text(id).unwrap_or("");
                let mut w = Vec::with_capacity(text.len() + 1);
                w.push(TokTrie::SPECIAL_TOKEN_MARKER);
                w.extend_from_slice(text.as_bytes());
                w
            } else {
                bytes.to_vec()
            }
        })
        .collect()
}

impl GrammarEnv {
    /// Builds the trie of `tok`'s vocabulary. The end-of-generation tokens are the
    /// grammar's EOS: the mask allows them exactly when the grammar accepts.
    pub fn new(tok: &Tokenizer) -> Result<GrammarEnv, String> {
        let t0 = Instant::now();
        let eog = tok.eog_ids().to_vec();
        let Some(&first_eos) = tok.eos_id().as_ref().or(eog.first()) else {
            return Err("the vocabulary has no end-of-generation token".into());
        };
        let words = token_words(tok);
        let info = TokRxInfo {
            vocab_size: words.len() as u32,
            tok_eos: first_eos,
            tok_bos: tok.bos_id(),
            tok_pad: tok.pad_id(),
            tok_unk: tok.unk_id(),
            tok_end_of_turn: tok.eot_id(),
        };
        let mut eos_all = vec![first_eos];
        eos_all.extend(eog.iter().copied().filter(|&e| e != first_eos));
        let trie = TokTrie::from(&info, &words).with_eos_tokens(&eos_all);
        // Greedy tokenization of grammar literals (only used for forced tokens, which
        // wren does not use): marked non-canonical, so llguidance never relies on it.
        let env: Arc<dyn TokenizerEnv + Sync> = Arc::new(ApproximateTokEnv::new(trie));
        let mut factory = ParserFactory::new_simple(&env).map_err(|e| e.to_string())?;
        factory.quiet();
        Ok(GrammarEnv {
            factory,
            eog,
            vocab_size: words.len(),
            build_time: t0.elapsed(),
        })
    }

    /// A fresh constraint for `grammar`; errors (a schema llguidance cannot compile,
    /// a bad regex or grammar) name the problem.
    pub fn constraint(&self, grammar: &Grammar) -> Result<Constraint, String> {
        let parser = self.factory.create_parser(grammar.to_llg()).map_err(|e| {
            let mut m = e.to_string();
            // llguidance's hint names a compile option no request can set.
            const HINT: &str = "Enable 'coerce_one_of' option to approximate oneOf with anyOf";
            if m.contains(HINT) {
                m = m.replace(
                    HINT,
                    "(a oneOf whose branches may overlap): use anyOf if matching several \
                         branches is acceptable",
                );
            }
            format!("invalid {}: {m}", grammar.kind())
        })?;
        Ok(Constraint::new(parser, self.eog_token(), self.vocab_size))
    }

    /// The token a finished or failed constraint forces (the first EOS).
    pub fn eog_token(&self) -> u32 {
        self.factory.tok_env().tok_trie().eos_token()
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// How long [`new`](Self::new) took.
    pub fn build_time(&self) -> Duration {
        self.build_time
    }
}
