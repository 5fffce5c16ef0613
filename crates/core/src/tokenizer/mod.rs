//! The tokenizer, built from a GGUF's `tokenizer.ggml.*` metadata, reproducing
//! llama.cpp's tokenization exactly. Two kinds sit behind one [`Tokenizer`] API:
//!
//! **SentencePiece BPE** (`tokenizer.ggml.model = "llama"`: Llama 1/2, Mistral,
//! Gemma 3 …), as llama.cpp's `llm_tokenizer_spm` does it:
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
//! **Byte-level BPE** (`tokenizer.ggml.model = "gpt2"`: GPT-2, Llama 3, Qwen, SmolLM,
//! StarCoder, DeepSeek …; also `"gemma4"`, BPE over raw UTF-8), as llama.cpp's
//! `llm_tokenizer_bpe` does it:
//!
//! 1. The same special-token partition.
//! 2. Each plain fragment is split into words by the pre-tokenizer regexes that
//!    `tokenizer.ggml.pre` selects ([`pretok`]; llama.cpp's table, including its
//!    hand-coded scanners and its way of matching Unicode categories).
//! 3. Each word is spelled with GPT-2's byte ↔ character table ([`bytes_unicode`]) and
//!    merged lowest `tokenizer.ggml.merges` rank first ([`bpe`]). Some pre-types
//!    (`llama-bpe`, `tekken` …) take a word that is itself a token whole
//!    (`ignore_merges`). No space prefix is ever added; BOS is not added by default
//!    except for the pre-types llama.cpp names (`llama-bpe`, `tekken`, `chameleon`),
//!    and `tokenizer.ggml.add_bos_token` overrides both (SmolLM2 sets it false).
//!
//! Decoding is llama.cpp's `token_to_piece` without special rendering, for both kinds:
//! normal tokens become their bytes (`▁` → space for SPM, the inverse byte table for
//! byte-level BPE), user-defined tokens their text verbatim, control tokens nothing.
//! llama.cpp's `clean_spaces` only affects its whole-sequence `detokenize` (it drops
//! spaces before punctuation, which does not round-trip), so wren does not apply it.
//!
//! We deliberately do not use the Hugging Face `tokenizers` crate: SPM-BPE GGUFs carry
//! scores but no merges, a merges list synthesized from the scores spells some pieces
//! differently from llama.cpp, and for byte-level BPE llama.cpp's pre-tokenizer
//! differs from the Hugging Face one in corner cases (Unicode categories, `\s`).
//! Implementing llama.cpp's algorithms directly matches it token for token.

mod bpe;
mod bytes_unicode;
mod error;
mod parts;
mod pretok;
mod special;
mod spm;
mod stream;
mod unicode;
mod unicode_data;
mod vocab;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bpe;

pub use error::TokenizerError;
pub use stream::StreamDecoder;
pub use vocab::TokenType;

use special::SpecialTokens;
use vocab::{PieceStyle, Vocab};
use wren_gguf::GgufFile;

/// Token texts that mark end of generation (llama.cpp's list in `llama_vocab::load`,
/// for the vocab types wren supports). A token with one of these texts is an EOG token
/// and is treated as a control token whatever its declared type, as llama.cpp does.
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
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

/// Texts at least this long (bytes) cache the tokens of their words during `encode`.
const WORD_CACHE_MIN_TEXT: usize = 4096;
/// Longest word (bytes) kept in that cache; long runs are rare and would bloat it.
const WORD_CACHE_MAX_LEN: usize = 64;

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

/// The merge state of a BPE tokenizer.
struct BpeModel {
    merges: bpe::Merges,
    pre: pretok::PreTokenizer,
    opts: bpe::Options,
    /// Spaces become `▁` before pre-tokenizing (SPM-style BPE, Gemma 4).
    escape_whitespace: bool,
    /// `tokenizer.ggml.pre` as read (empty when missing).
    pre_name: String,
}

/// Which algorithm turns plain text into tokens.
enum Kind {
    Spm,
    Bpe(Box<BpeModel>),
}

/// A tokenizer: vocabulary, special tokens and flags.
pub struct Tokenizer {
    kind: Kind,
    vocab: Vocab,
    special: SpecialTokens,
    ids: SpecialIds,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    eog: Vec<u32>,
    /// The vocabulary as the grammar engine sees it, built on first use.
    grammar: std::sync::OnceLock<Result<std::sync::Arc<crate::constrain::GrammarEnv>, String>>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Spm => "spm".to_owned(),
            Kind::Bpe(b) => format!("bpe (pre {:?}, {} merges)", b.pre_name, b.merges.len()),
        };
        f.debug_struct("Tokenizer")
            .field("kind", &kind)
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
    /// Builds the tokenizer from `tokenizer.ggml.*` metadata: `model` (`"llama"` for
    /// SentencePiece BPE, `"gpt2"` or `"gemma4"` for BPE with `merges` and `pre`),
    /// `tokens`, `scores` and `token_type` (optional; default 0 and normal),
    /// `bos/eos/eot/eom/unknown/padding_token_id`, `add_bos_token`, `add_eos_token`
    /// (default false) and, for SPM, `add_space_prefix` (default true). `add_bos_token`
    /// defaults to true for SPM and, for BPE, to what the pre-type implies (llama.cpp's
    /// `load()`: true for `llama-bpe`, `tekken`, `chameleon`, `gemma4`; else false).
    pub fn from_gguf(f: &GgufFile) -> Result<Tokenizer, TokenizerError> {
        let model = f.get_str("tokenizer.ggml.model")?;
        let bpe_model = match model {
            "llama" => false,
            "gpt2" | "gemma4" => true,
            _ => return Err(TokenizerError::UnsupportedModel(model.to_owned())),
        };
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
        if bpe_model {
            return Tokenizer::from_gguf_bpe(f, model, &tokens, scores, types);
        }
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
        let vocab = Vocab::new(&tokens, scores, types, PieceStyle::Spm)?;
        Ok(Tokenizer::build(
            Kind::Spm,
            vocab,
            ids,
            add_bos,
            add_eos,
            add_space_prefix,
        ))
    }

    /// The BPE half of [`from_gguf`](Self::from_gguf), with llama.cpp's BPE defaults.
    fn from_gguf_bpe(
        f: &GgufFile,
        model: &str,
        tokens: &[&str],
        scores: Vec<f32>,
        types: Vec<TokenType>,
    ) -> Result<Tokenizer, TokenizerError> {
        let n = tokens.len();
        let pre_name = if model == "gemma4" {
            "gemma4".to_owned() // llama.cpp forces it for this model
        } else if f.get("tokenizer.ggml.pre").is_some() {
            f.get_str("tokenizer.ggml.pre")?.to_owned()
        } else {
            String::new()
        };
        let cfg = pretok::PreConfig::from_name(Some(&pre_name))?;
        if f.get("tokenizer.ggml.merges").is_none() {
            return Err(TokenizerError::MissingMerges);
        }
        let merges = f.get_str_array("tokenizer.ggml.merges")?;
        let style = if cfg.byte_encode {
            PieceStyle::ByteLevel
        } else {
            PieceStyle::Spm
        };
        let vocab = Vocab::new(tokens, scores, types, style)?;
        let merges = bpe::Merges::new(&vocab, &merges);
        let pre = pretok::PreTokenizer::new(cfg.pre)?;

        // llama.cpp's defaults for "gpt2" vocabs: BOS = EOS = 11 (when in range); none
        // for "gemma4"; ChatGLM's pre-types drop BOS. Metadata overrides all of them.
        let default_11 = (model == "gpt2" && 11 < n).then_some(11);
        let or_default =
            |key: &'static str, d: Option<u32>| -> Result<Option<u32>, TokenizerError> {
                Ok(opt_id(f, key, n)?.or(if f.get(key).is_some() { None } else { d }))
            };
        let bos_default = if cfg.no_bos { None } else { default_11 };
        let ids = SpecialIds {
            bos: or_default("tokenizer.ggml.bos_token_id", bos_default)?,
            eos: or_default("tokenizer.ggml.eos_token_id", default_11)?,
            eot: opt_id(f, "tokenizer.ggml.eot_token_id", n)?,
            eom: opt_id(f, "tokenizer.ggml.eom_token_id", n)?,
            unk: opt_id(f, "tokenizer.ggml.unknown_token_id", n)?,
            pad: opt_id(f, "tokenizer.ggml.padding_token_id", n)?,
            fim_pad: opt_id(f, "tokenizer.ggml.fim_pad_token_id", n)?,
            fim_rep: opt_id(f, "tokenizer.ggml.fim_rep_token_id", n)?,
            fim_sep: opt_id(f, "tokenizer.ggml.fim_sep_token_id", n)?,
        };
        let mut add_bos = opt_bool(
            f,
            "tokenizer.ggml.add_bos_token",
            cfg.add_bos.unwrap_or(false),
        )?;
        if cfg.pre == pretok::PreType::Gemma4 {
            add_bos = true; // llama.cpp overrides it for Gemma 4
        }
        let add_eos = opt_bool(f, "tokenizer.ggml.add_eos_token", false)?;
        let opts = bpe::Options {
            spelling: if cfg.byte_encode {
                bpe::Spelling::ByteLevel
            } else {
                bpe::Spelling::Utf8
            },
            ignore_merges: cfg.ignore_merges,
            newline_words: cfg.pre == pretok::PreType::Gemma4,
        };
        let kind = Kind::Bpe(Box::new(BpeModel {
            merges,
            pre,
            opts,
            escape_whitespace: cfg.escape_whitespace,
            pre_name,
        }));
        Ok(Tokenizer::build(kind, vocab, ids, add_bos, add_eos, false))
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
        let vocab = Vocab::new(&tokens, scores, types, PieceStyle::Spm)?;
        Ok(Tokenizer::build(
            Kind::Spm,
            vocab,
            ids,
            add_bos,
            false,
            false,
        ))
    }

    /// Builds a byte-level BPE tokenizer (`tokenizer.ggml.model = "gpt2"`) from its
    /// parts: token texts (GPT-2 byte spelling), types as in `tokenizer.ggml.token_type`,
    /// merges `"left right"` in rank order and `tokenizer.ggml.pre` (`None`: default).
    /// BOS is added by default only where the pre-type says so.
    pub fn from_bpe_parts(
        tokens: Vec<String>,
        types: Vec<i32>,
        merges: Vec<String>,
        pre: Option<&str>,
        bos: Option<u32>,
        eos: Option<u32>,
    ) -> Result<Tokenizer, TokenizerError> {
        let n = tokens.len();
        if n == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        if types.len() != n {
            return Err(TokenizerError::LengthMismatch {
                what: "types",
                expected: n,
                found: types.len(),
            });
        }
        let cfg = pretok::PreConfig::from_name(pre)?;
        let types = types
            .into_iter()
            .map(|t| TokenType::from_gguf(t.into()))
            .collect();
        let style = if cfg.byte_encode {
            PieceStyle::ByteLevel
        } else {
            PieceStyle::Spm
        };
        let vocab = Vocab::new(&tokens, vec![0.0; n], types, style)?;
        let merges = bpe::Merges::new(&vocab, &merges);
        let ids = SpecialIds {
            bos: check_id("bos", bos.map(u64::from), n)?,
            eos: check_id("eos", eos.map(u64::from), n)?,
            ..SpecialIds::default()
        };
        let opts = bpe::Options {
            spelling: if cfg.byte_encode {
                bpe::Spelling::ByteLevel
            } else {
                bpe::Spelling::Utf8
            },
            ignore_merges: cfg.ignore_merges,
            newline_words: cfg.pre == pretok::PreType::Gemma4,
        };
        let kind = Kind::Bpe(Box::new(BpeModel {
            merges,
            pre: pretok::PreTokenizer::new(cfg.pre)?,
            opts,
            escape_whitespace: cfg.escape_whitespace,
            pre_name: pre.unwrap_or("").to_owned(),
        }));
        let add_bos = cfg.add_bos.unwrap_or(false);
        Ok(Tokenizer::build(kind, vocab, ids, add_bos, false, false))
    }

    fn build(
        kind: Kind,
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
        // llama.cpp's exceptions to that list: `<|end|>` is not the end where the file
        // has `<|return|>` and `<|call|>` (or `<|calls|>` and `<|flush|>`), and `</s>` is
        // text where it has `<|tool_response>`.
        let has = |eog: &[u32], t: &str| vocab.get(t).filter(|id| eog.contains(id));
        let call = has(&eog, "<|call|>").or(has(&eog, "<|calls|>"));
        let other = has(&eog, "<|return|>").or(has(&eog, "<|flush|>"));
        let undo = [
            (
                has(&eog, "<|end|>").filter(|_| call.is_some() && other.is_some()),
                TokenType::UserDefined,
            ),
            (
                has(&eog, "</s>").filter(|_| has(&eog, "<|tool_response>").is_some()),
                TokenType::Normal,
            ),
        ];
        for (id, t) in undo {
            if let Some(id) = id {
                vocab.set_type(id, t);
                eog.retain(|&e| e != id);
            }
        }
        let special = SpecialTokens::new(&vocab);
        Tokenizer {
            kind,
            vocab,
            special,
            ids,
            add_bos,
            add_eos,
            add_space_prefix,
            eog,
            grammar: std::sync::OnceLock::new(),
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
        self.encode_matched(text, &self.special.partition(text, parse_special), out);
    }

    /// Encodes `text` whose special tokens are `matches` (in order, not overlapping).
    fn encode_matched(&self, text: &str, matches: &[special::Match], out: &mut Vec<u32>) {
        if let Kind::Bpe(model) = &self.kind {
            self.encode_bpe(model, text, matches, out);
            return;
        }
        let mut scratch = spm::Scratch::default();
        let mut prev_special = true; // the space prefix goes on the first fragment too
        let mut pos = 0;
        let mut plain = |frag: &str, prev_special: bool, out: &mut Vec<u32>| {
            let prefix = self.add_space_prefix && prev_special;
            spm::tokenize_fragment(&self.vocab, frag, prefix, self.ids.unk, &mut scratch, out);
        };
        for m in matches {
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

    fn encode_bpe(
        &self,
        model: &BpeModel,
        text: &str,
        matches: &[special::Match],
        out: &mut Vec<u32>,
    ) {
        let mut pre_scratch = pretok::Scratch::default();
        let mut bpe_scratch = bpe::Scratch::default();
        let mut words = Vec::new();
        let mut escaped = String::new();
        // Long texts repeat their words; remember short words' tokens for this call.
        // (Merging is a pure function of the word, so this changes nothing but speed.)
        let use_cache = text.len() >= WORD_CACHE_MIN_TEXT;
        let mut cache: std::collections::HashMap<String, (u32, u32)> = Default::default();
        let mut cached_ids: Vec<u32> = Vec::new();
        let mut plain = |frag: &str, out: &mut Vec<u32>| {
            let frag = if model.escape_whitespace {
                escaped.clear();
                escaped.push_str(&frag.replace(' ', "\u{2581}"));
                escaped.as_str()
            } else {
                frag
            };
            words.clear();
            model.pre.split(frag, &mut pre_scratch, &mut words);
            for w in &words {
                let word = &frag[w.clone()];
                if use_cache && word.len() <= WORD_CACHE_MAX_LEN {
                    if let Some(&(a, b)) = cache.get(word) {
                        out.extend_from_slice(&cached_ids[a as usize..b as usize]);
                        continue;
                    }
                    let n0 = out.len();
                    bpe::tokenize_word(
                        &self.vocab,
                        &model.merges,
                        model.opts,
                        word,
                        &mut bpe_scratch,
                        out,
                    );
                    let a = cached_ids.len() as u32;
                    cached_ids.extend_from_slice(&out[n0..]);
                    cache.insert(word.to_owned(), (a, cached_ids.len() as u32));
                    continue;
                }
                bpe::tokenize_word(
                    &self.vocab,
                    &model.merges,
                    model.opts,
                    word,
                    &mut bpe_scratch,
                    out,
                );
            }
        };
        let mut pos = 0;
        for m in matches {
            if m.start > pos {
                plain(&text[pos..m.start], out);
            }
            out.push(m.id);
            pos = m.start + m.len;
        }
        if pos < text.len() {
            plain(&text[pos..], out);
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

    /// The most input bytes one token can stand for: the longest token text or decoded
    /// piece in the vocabulary (at least 1). Every token of [`encode`](Self::encode)
    /// covers a disjoint span of the input of at most this many bytes (a `▁` stands for
    /// one space, a byte-level character for one byte), so a text of `n` bytes has at
    /// least `n / max_token_bytes()` tokens: a cheap, sound bound for refusing a text
    /// that cannot fit a context before tokenizing it.
    pub fn max_token_bytes(&self) -> usize {
        (0..self.vocab.len() as u32)
            .map(|id| self.vocab.text(id).len().max(self.vocab.piece(id).len()))
            .max()
            .unwrap_or(0)
            .max(1)
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

    /// Whether this is a BPE tokenizer with merges (`gpt2`, `gemma4`) rather than
    /// SentencePiece BPE.
    pub fn is_bpe(&self) -> bool {
        matches!(self.kind, Kind::Bpe(_))
    }

    /// `tokenizer.ggml.pre` of a BPE tokenizer (empty when the file has none).
    pub fn pre_tokenizer(&self) -> Option<&str> {
        match &self.kind {
            Kind::Bpe(b) => Some(&b.pre_name),
            Kind::Spm => None,
        }
    }

    /// Whether plain fragments at the start or after a special token get a `▁` prefix
    /// (SPM only; BPE never adds one).
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

    /// The grammar engine's view of this vocabulary (see [`crate::constrain`]), built
    /// on the first call (a walk over the vocabulary: about 0.1 s for 262K tokens) and
    /// shared afterwards.
    pub fn grammar_env(&self) -> Result<std::sync::Arc<crate::constrain::GrammarEnv>, String> {
        self.grammar
            .get_or_init(|| crate::constrain::GrammarEnv::new(self).map(std::sync::Arc::new))
            .clone()
    }

    /// Whether `id` is a control token (renders as nothing).
    pub fn is_control(&self, id: u32) -> bool {
        self.token_type(id) == Some(TokenType::Control)
    }
}
