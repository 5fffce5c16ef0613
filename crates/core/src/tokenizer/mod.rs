//! The tokenizer, built from a GGUF's `tokenizer.ggml.*` metadata, reproducing
//! llama.cpp's tokenization exactly.
//!
//! Supported: `tokenizer.ggml.model = "llama"`, SentencePiece BPE with per-token scores
//! (Llama 1/2, Mistral, Gemma …), as llama.cpp's `llm_tokenizer_spm` does it:
//!
//! 1. The text is partitioned by special tokens, longest first ([`special`]):
//!    user-defined tokens (type 4: `"\n"`, runs of spaces or tabs, `<html>` …) always,
//!    control and unknown tokens (`<bos>`, `<start_of_turn>` …) only with
//!    `parse_special`.
//! 2. Each plain fragment has its spaces replaced by `▁` (plus a leading `▁` if
//!    `tokenizer.ggml.add_space_prefix` is set — default true, but Gemma 3 sets it
//!    false — and the fragment is first or follows a special token), and is merged by
//!    score ([`spm`]), with byte fallback to `<0xXX>` tokens.
//!
//! We deliberately do not use the Hugging Face `tokenizers` crate: SPM-BPE GGUFs carry
//! scores but no merges, and a merges list synthesized from the scores spells some
//! pieces differently from llama.cpp and is slower to load. Implementing llama.cpp's
//! algorithm directly is a few hundred lines and matches it token for token.

mod error;
mod special;
mod spm;
mod stream;
mod vocab;

#[cfg(test)]
mod tests;

pub use error::TokenizerError;
pub use stream::StreamDecoder;
pub use vocab::TokenType;

use special::SpecialTokens;
use vocab::Vocab;
use wren_gguf::GgufFile;

/// Token texts that mark end of generation (llama.cpp's list in `llama_vocab::load`,
/// for the vocab types wren supports). A token with one of these texts is an EOG token
/// and is treated as a control token whatever its declared type, as llama.cpp does.
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<|end_of_text|>",
    "<end_of_utterance>",
];

/// Texts llama.cpp uses to find the end-of-turn token when the file names none.
const EOT_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<end_of_utterance>",
];

/// Special-token ids read from metadata.
#[derive(Clone, Copy, Debug, Default)]
struct SpecialIds {
    bos: Option<u32>,
    eos: Option<u32>,
    eot: Option<u32>,
    eom: Option<u32>,
    unk: Option<u32>,
    pad: Option<u32>,
    fim_pad: Option<u32>,
    fim_rep: Option<u32>,
    fim_sep: Option<u32>,
}

/// A tokenizer: vocabulary, special tokens and flags.
pub struct Tokenizer {
    vocab: Vocab,
    special: SpecialTokens,
    ids: SpecialIds,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    eog: Vec<u32>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab.len())
            .field("special_tokens", &self.special.len())
            .field("bos", &self.ids.bos)
            .field("eos", &self.ids.eos)
            .field("eog", &self.eog)
            .field("add_bos", &self.add_bos)
            .field("add_space_prefix", &self.add_space_prefix)
            .finish()
    }
}

fn opt_id(f: &GgufFile, key: &'static str, n: usize) -> Result<Option<u32>, TokenizerError> {
    if f.get(key).is_none() {
        return Ok(None);
    }
    let id = f.get_u64(key)?;
    check_id(key, Some(id), n)
}

fn check_id(what: &'static str, id: Option<u64>, n: usize) -> Result<Option<u32>, TokenizerError> {
    match id {
        None => Ok(None),
        Some(id) if id < n as u64 => Ok(Some(id as u32)),
        Some(id) => Err(TokenizerError::IdOutOfRange { what, id, n }),
    }
}

fn opt_bool(f: &GgufFile, key: &str, default: bool) -> Result<bool, TokenizerError> {
    if f.get(key).is_none() {
        return Ok(default);
    }
    Ok(f.get_bool(key)?)
}

impl Tokenizer {
    /// Builds the tokenizer from `tokenizer.ggml.*` metadata: `model` (must be
    /// `"llama"`), `tokens`, `scores` and `token_type` (optional; default 0 and normal),
    /// `bos/eos/eot/eom/unknown/padding_token_id`, `add_bos_token` (default true),
    /// `add_eos_token` (default false) and `add_space_prefix` (default true).
    pub fn from_gguf(f: &GgufFile) -> Result<Tokenizer, TokenizerError> {
        let model = f.get_str("tokenizer.ggml.model")?;
        if model != "llama" {
            return Err(TokenizerError::UnsupportedModel(model.to_owned()));
        }
        let tokens = f.get_str_array("tokenizer.ggml.tokens")?;
        let n = tokens.len();
        if n == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        let scores = if f.get("tokenizer.ggml.scores").is_some() {
            let s = f.get_f32_array("tokenizer.ggml.scores")?;
            if s.len() != n {
                return Err(TokenizerError::LengthMismatch {
                    what: "tokenizer.ggml.scores",
                    expected: n,
                    found: s.len(),
                });
            }
            s
        } else {
            vec![0.0; n]
        };
        let types = if f.get("tokenizer.ggml.token_type").is_some() {
            let t = f.get_i64_array("tokenizer.ggml.token_type")?;
            if t.len() != n {
                return Err(TokenizerError::LengthMismatch {
                    what: "tokenizer.ggml.token_type",
                    expected: n,
                    found: t.len(),
                });
            }
            t.into_iter().map(TokenType::from_gguf).collect()
        } else {
            vec![TokenType::Normal; n]
        };
        let ids = SpecialIds {
            bos: opt_id(f, "tokenizer.ggml.bos_token_id", n)?,
            eos: opt_id(f, "tokenizer.ggml.eos_token_id", n)?,
            eot: opt_id(f, "tokenizer.ggml.eot_token_id", n)?,
            eom: opt_id(f, "tokenizer.ggml.eom_token_id", n)?,
            unk: opt_id(f, "tokenizer.ggml.unknown_token_id", n)?,
            pad: opt_id(f, "tokenizer.ggml.padding_token_id", n)?,
            fim_pad: opt_id(f, "tokenizer.ggml.fim_pad_token_id", n)?,
            fim_rep: opt_id(f, "tokenizer.ggml.fim_rep_token_id", n)?,
            fim_sep: opt_id(f, "tokenizer.ggml.fim_sep_token_id", n)?,
        };
        let add_bos = opt_bool(f, "tokenizer.ggml.add_bos_token", true)?;
        let add_eos = opt_bool(f, "tokenizer.ggml.add_eos_token", false)?;
        let add_space_prefix = opt_bool(f, "tokenizer.ggml.add_space_prefix", true)?;
        let vocab = Vocab::new(&tokens, scores, types)?;
        Ok(Tokenizer::build(
            vocab,
            ids,
            add_bos,
            add_eos,
            add_space_prefix,
        ))
    }

    /// Builds a tokenizer from its parts (`types` as in `tokenizer.ggml.token_type`).
    /// The space prefix is off; see [`set_add_space_prefix`](Self::set_add_space_prefix).
    pub fn from_parts(
        tokens: Vec<String>,
        scores: Vec<f32>,
        types: Vec<i32>,
        bos: Option<u32>,
        eos: Option<u32>,
        add_bos: bool,
    ) -> Result<Tokenizer, TokenizerError> {
        let n = tokens.len();
        if n == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        for (what, len) in [("scores", scores.len()), ("types", types.len())] {
            if len != n {
                return Err(TokenizerError::LengthMismatch {
                    what,
                    expected: n,
                    found: len,
                });
            }
        }
        let ids = SpecialIds {
            bos: check_id("bos", bos.map(u64::from), n)?,
            eos: check_id("eos", eos.map(u64::from), n)?,
            ..SpecialIds::default()
        };
        let types = types
            .into_iter()
            .map(|t| TokenType::from_gguf(t.into()))
            .collect();
        let vocab = Vocab::new(&tokens, scores, types)?;
        Ok(Tokenizer::build(vocab, ids, add_bos, false, false))
    }

    fn build(
        mut vocab: Vocab,
        mut ids: SpecialIds,
        add_bos: bool,
        add_eos: bool,
        add_space_prefix: bool,
    ) -> Tokenizer {
        // End of turn by text, when the file names none (llama.cpp does the same).
        if ids.eot.is_none() {
            ids.eot = EOT_TEXTS.iter().find_map(|t| vocab.get(t));
        }
        // End-of-generation set; texts in EOG_TEXTS are forced to control type.
        let mut eog: Vec<u32> = [ids.fim_pad, ids.fim_rep, ids.fim_sep]
            .into_iter()
            .flatten()
            .collect();
        for t in EOG_TEXTS {
            if let Some(id) = vocab.get(t) {
                vocab.mark_control(id);
                eog.push(id);
            }
        }
        eog.extend([ids.eos, ids.eot, ids.eom].into_iter().flatten());
        eog.sort_unstable();
        eog.dedup();
        let special = SpecialTokens::new(&vocab);
        Tokenizer {
            vocab,
            special,
            ids,
            add_bos,
            add_eos,
            add_space_prefix,
            eog,
        }
    }

    /// Tokenizes `text`. `add_bos` prepends the BOS token (if the vocab has one);
    /// `parse_special` lets control-token texts such as `<start_of_turn>` become those
    /// tokens (for templates; leave it off for user text).
    pub fn encode(&self, text: &str, add_bos: bool, parse_special: bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        self.encode_into(text, add_bos, parse_special, &mut out);
        out
    }

    /// Like [`encode`](Self::encode), appending to `out`.
    pub fn encode_into(&self, text: &str, add_bos: bool, parse_special: bool, out: &mut Vec<u32>) {
        if add_bos {
            out.extend(self.ids.bos);
        }
        if text.is_empty() {
            return;
        }
        let mut scratch = spm::Scratch::default();
        let mut prev_special = true; // the space prefix goes on the first fragment too
        let mut pos = 0;
        let mut plain = |frag: &str, prev_special: bool, out: &mut Vec<u32>| {
            let prefix = self.add_space_prefix && prev_special;
            spm::tokenize_fragment(&self.vocab, frag, prefix, self.ids.unk, &mut scratch, out);
        };
        for m in self.special.partition(&self.vocab, text, parse_special) {
            if m.start > pos {
                plain(&text[pos..m.start], prev_special, out);
            }
            out.push(m.id);
            prev_special = true;
            pos = m.start + m.len;
        }
        if pos < text.len() {
            plain(&text[pos..], prev_special, out);
        }
    }

    /// Text of `ids`: each token's piece (see [`token_bytes`](Self::token_bytes)),
    /// concatenated and read as UTF-8 (invalid sequences become U+FFFD).
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            bytes.extend_from_slice(self.token_bytes(id));
        }
        match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }

    /// The bytes token `id` contributes to decoded text (llama.cpp's
    /// `token_to_piece` without special rendering): normal tokens with `▁` as space,
    /// user-defined tokens verbatim, byte tokens their byte; control, unknown and
    /// unused tokens (and out-of-range ids) nothing.
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        if (id as usize) < self.vocab.len() {
            self.vocab.piece(id)
        } else {
            &[]
        }
    }

    /// The vocab string of `id`.
    pub fn token_text(&self, id: u32) -> Option<&str> {
        ((id as usize) < self.vocab.len()).then(|| self.vocab.text(id))
    }

    /// The id whose vocab string is exactly `text`.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.vocab.get(text)
    }

    /// The type of `id` (after llama.cpp's EOG re-typing).
    pub fn token_type(&self, id: u32) -> Option<TokenType> {
        ((id as usize) < self.vocab.len()).then(|| self.vocab.token_type(id))
    }

    /// The score of `id`.
    pub fn token_score(&self, id: u32) -> Option<f32> {
        ((id as usize) < self.vocab.len()).then(|| self.vocab.score(id))
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.ids.bos
    }

    pub fn eos_id(&self) -> Option<u32> {
        self.ids.eos
    }

    /// End-of-turn token (`tokenizer.ggml.eot_token_id`, else found by text).
    pub fn eot_id(&self) -> Option<u32> {
        self.ids.eot
    }

    pub fn unk_id(&self) -> Option<u32> {
        self.ids.unk
    }

    pub fn pad_id(&self) -> Option<u32> {
        self.ids.pad
    }

    /// Whether the model wants BOS prepended (`tokenizer.ggml.add_bos_token`).
    pub fn add_bos_default(&self) -> bool {
        self.add_bos
    }

    /// Whether the model wants EOS appended (`tokenizer.ggml.add_eos_token`).
    pub fn add_eos_default(&self) -> bool {
        self.add_eos
    }

    /// Whether plain fragments at the start or after a special token get a `▁` prefix.
    pub fn add_space_prefix(&self) -> bool {
        self.add_space_prefix
    }

    pub fn set_add_space_prefix(&mut self, on: bool) {
        self.add_space_prefix = on;
    }

    /// End-of-generation tokens, sorted: EOS, EOT/EOM, FIM pad/rep/sep, and tokens with
    /// texts such as `<end_of_turn>`, `<|eot_id|>`, `<|im_end|>`, `<|endoftext|>`.
    pub fn eog_ids(&self) -> &[u32] {
        &self.eog
    }

    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.binary_search(&id).is_ok()
    }

    /// Whether `id` is a control token (renders as nothing).
    pub fn is_control(&self, id: u32) -> bool {
        self.token_type(id) == Some(TokenType::Control)
    }
}
