//! FR-Spec self-drafting: the model drafts with its own trunk and an output head cut
//! down to the `V` most frequent token ids (Zhao et al. 2025, "FR-Spec: Accelerating
//! Large-Vocabulary Language Models via Frequency-Ranked Speculative Sampling").
//!
//! A draft step is a one-token decode step of the trunk ([`Session::eval_trunk`]): its
//! KV writes are exactly what decoding writes, so an accepted draft's trunk work is never
//! repeated. Its final hidden state goes through the reduced head ([`FrDraft::draft`]:
//! `V` rows instead of the vocabulary), whose argmax is the next draft token. The full
//! head then runs once over all the drafted positions' hidden states
//! ([`Session::verify_hidden`]: a rowwise multi-token product, each row bit-identical to
//! a one-token head), and the sampler picks row by row exactly as plain decoding would;
//! a rejected tail is cut from the cache. See ARCHITECTURE.md (Speculative decoding) for
//! the cost model.
//!
//! The frequent ids come from a table counted over a text corpus (`wren fr-table`, saved
//! next to the model as `<model>.fr`; [`FrTable`]), else from the table wren ships for the
//! tokenizer (`super::fr_builtin`: Gemma 3's), else from the tokenizer:
//! SentencePiece scores (higher first), else token ids (byte-level BPE ids follow merge
//! order, roughly frequency).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::linear::{matmul, Compute, LinearScratch};
use crate::models::Model;
use crate::tensor::QMatrix;
use crate::tokenizer::{TokenType, Tokenizer};

/// Where the frequent ids came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrSource {
    /// A frequency table counted over a corpus (its file).
    Table(PathBuf),
    /// The table shipped with wren for this tokenizer family (`super::fr_builtin`).
    Builtin(&'static str),
    /// The tokenizer's SentencePiece scores (no table).
    Scores,
    /// Token ids in order (byte-level BPE merge order; no table).
    Ids,
}

impl std::fmt::Display for FrSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrSource::Table(p) => write!(f, "frequency table {}", p.display()),
            FrSource::Builtin(n) => write!(f, "wren's built-in frequency table for {n}"),
            FrSource::Scores => write!(f, "tokenizer scores (no frequency table)"),
            FrSource::Ids => write!(f, "token ids / merge order (no frequency table)"),
        }
    }
}

/// FR drafting goes on while the reduced head's probability of its argmax is at least
/// this. On Gemma 3 270M (8 free-text prompts of `scripts/bench_spec.py`, 128 tokens each,
/// every draft from 0.05 up), drafts were accepted 45% of the time below 0.2 confidence,
/// 56–72% from 0.2 to 0.9 whatever the confidence (the reduced head's softmax overrates
/// its argmax, the rest of the vocabulary being missing from it), and 97% from 0.9. With
/// the record of [`super::step`] deciding whether and how far to draft, 0.25 drafted best
/// on the AVX2 tier too (0.25 / 0.5 / 0.9: free text 1.15 / 1.13 / 1.01x, the code prompt
/// 0.96 / 0.94 / 0.93x).
pub const FR_CONFIDENCE: f32 = 0.25;

/// The reduced draft head: the output head's rows of the frequent ids.
pub struct FrDraft {
    /// Token id of each row of `head`.
    pub ids: Vec<u32>,
    /// `ids` in ascending order, for [`FrDraft::proposal`]'s pass over full logits.
    sorted: Vec<u32>,
    head: QMatrix,
    norm: Vec<f32>,
    eps: f32,
    pub source: FrSource,
    /// The output head's share of the weight bytes read per decoded token.
    pub head_share: f64,
    /// Draft acceptance at which a draft breaks even ([`break_even`]).
    pub break_even: f64,
    /// What a drafted token's head work costs, as a share of a one-token head: the reduced
    /// head and its verified row (`V/vocab + row_cost`).
    pub head_work: f64,
    /// Drafting goes on while the reduced head's probability of its argmax is at least
    /// this ([`FrDraft::threshold()`]).
    pub threshold: f32,
}

impl std::fmt::Debug for FrDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrDraft")
            .field("tokens", &self.ids.len())
            .field("source", &self.source)
            .field("head_share", &self.head_share)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

/// What a drafted FR token costs, in decode steps, for a model whose head is `share` of
/// the bytes read per token: its trunk step (`1 − share`), the reduced head
/// (`share·v/vocab`) and its row of the full head in the verify pass (`share·row_cost`).
/// Accepted, it saves a decode step, so it pays when it is accepted more often than this.
pub fn break_even(share: f64, v: usize, vocab: usize, row_cost: f64) -> f64 {
    (1.0 - share + share * (v as f64 / vocab as f64 + row_cost)).min(1.0)
}

/// The default draft vocabulary for a vocabulary of `vocab` tokens: a sixteenth (16,384
/// of Gemma 3's 262,144; 3,072 of SmolLM2's 49,152), at least 2,048 and at most 32,768.
pub fn default_draft_vocab(vocab: usize) -> usize {
    (vocab / 16).clamp(2048, 32768).min(vocab)
}

impl FrDraft {
    /// The draft head of `model` over `ids` (the first `v` distinct ids in range are kept).
    pub fn new(model: &dyn Model, ids: &[u32], v: usize, source: FrSource) -> Result<FrDraft> {
        let head = model.output_head().ok_or_else(|| {
            Error::Invalid("FR-Spec: this model does not expose its output head".into())
        })?;
        let vocab = head.output.rows;
        let mut seen = vec![false; vocab];
        let mut keep = Vec::with_capacity(v);
        for &id in ids {
            if keep.len() >= v {
                break;
            }
            if (id as usize) < vocab && !std::mem::replace(&mut seen[id as usize], true) {
                keep.push(id);
            }
        }
        if keep.is_empty() {
            return Err(Error::Invalid("FR-Spec: no draft tokens".into()));
        }
        let head_share = head.output.n_bytes() as f64 / model.info().weight_bytes.max(1) as f64;
        let row_cost = head.output.verify_row_cost();
        let be = break_even(head_share.min(1.0), keep.len(), vocab, row_cost);
        let head_work = keep.len() as f64 / vocab as f64 + row_cost;
        Ok(FrDraft {
            head: head.output.gather_rows(&keep, "fr_draft_head"),
            sorted: {
                let mut s = keep.clone();
                s.sort_unstable();
                s
            },
            ids: keep,
            norm: head.norm.clone(),
            eps: head.eps,
            source,
            head_share,
            break_even: be,
            head_work,
            threshold: FrDraft::threshold(),
        })
    }

    /// The confidence a draft token needs: [`FR_CONFIDENCE`], or `WREN_FR_CONFIDENCE`.
    pub fn threshold() -> f32 {
        static ENV: std::sync::OnceLock<Option<f32>> = std::sync::OnceLock::new();
        let env = *ENV.get_or_init(|| {
            std::env::var("WREN_FR_CONFIDENCE")
                .ok()
                .and_then(|v| v.parse().ok())
        });
        env.unwrap_or(FR_CONFIDENCE)
    }

    /// [`FrDraft::break_even`] where a trunk step takes `trunk` of a decode step's time
    /// (measured: more than the trunk's share of the bytes, as every layer adds fixed work;
    /// Gemma 3 at AVX2, 2 threads: ~0.4 of the time against 0.28 of the bytes), at least the
    /// byte-based figure.
    pub fn break_even_at(&self, trunk: f64) -> f64 {
        let trunk = trunk.clamp(0.0, 1.0);
        self.break_even
            .max(trunk + (1.0 - trunk) * self.head_work)
            .min(1.0)
    }

    /// Whether drafting can pay at all: even the most confident drafts (~97% accepted,
    /// [`FR_CONFIDENCE`]) need a margin over what they cost. `auto` drafts with FR
    /// only then (Gemma 3: 0.43 of a step at the VNNI tier, 0.61 at AVX2; SmolLM2, whose
    /// head is 31% of its bytes, 0.76 and more).
    pub fn pays(&self) -> bool {
        self.break_even <= 0.75
    }

    /// The draft head for `model`: from the frequency table `table` if it exists, else
    /// wren's own table for the tokenizer (`super::fr_builtin`), else from the tokenizer's
    /// ranking (see the module docs). `v`: draft vocabulary (0: the default).
    pub fn load(
        model: &dyn Model,
        tok: &Tokenizer,
        table: Option<&Path>,
        v: usize,
    ) -> Result<FrDraft> {
        let vocab = model.info().vocab_size;
        let v = if v == 0 {
            default_draft_vocab(vocab)
        } else {
            v.min(vocab)
        };
        // End-of-generation ids first: every generation ends with one.
        let mut ids: Vec<u32> = tok.eog_ids().to_vec();
        if let Some(p) = table.filter(|p| p.is_file()) {
            let t = FrTable::read(p)?;
            if t.vocab != vocab {
                return Err(Error::Invalid(format!(
                    "{}: counted for a vocabulary of {}, the model has {vocab}",
                    p.display(),
                    t.vocab
                )));
            }
            ids.extend(t.ids);
            return FrDraft::new(model, &ids, v, FrSource::Table(p.to_path_buf()));
        }
        if let Some((name, t)) = super::fr_builtin::builtin(tok) {
            if t.vocab == vocab {
                ids.extend(t.ids);
                return FrDraft::new(model, &ids, v, FrSource::Builtin(name));
            }
        }
        let (ranked, source) = tokenizer_ranking(tok);
        ids.extend(ranked);
        FrDraft::new(model, &ids, v, source)
    }

    /// Draft vocabulary size.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The draft after a final hidden state `x` (before the output norm): the argmax of
    /// the reduced head, and its probability under a softmax over the reduced head (the
    /// drafter's confidence). `hin`, `logits`: scratch. Run inside the session's pool.
    pub fn draft(
        &self,
        x: &[f32],
        hin: &mut Vec<f32>,
        logits: &mut Vec<f32>,
        lin: &mut LinearScratch,
    ) -> (u32, f32) {
        hin.resize(x.len(), 0.0);
        crate::layers::norm::rms_norm_rows(x, &self.norm, self.eps, hin);
        logits.resize(self.head.rows, 0.0);
        matmul(&self.head, hin, 1, logits, Compute::Quantized, lin);
        let (mut best, mut bi) = (f32::NEG_INFINITY, 0);
        for (i, &l) in logits.iter().enumerate() {
            if l > best {
                best = l;
                bi = i;
            }
        }
        let z: f32 = logits.iter().map(|&l| (l - best).exp()).sum();
        (self.ids[bi], 1.0 / z)
    }

    /// What the draft head would have proposed after a position whose full logits are
    /// `logits`: the argmax over its ids, if confident (its probability under a softmax over
    /// those ids at least `threshold`). The reduced head's rows are the full
    /// head's, so this is [`FrDraft::draft`] without its product: a plain decode step
    /// learns for free whether FR drafts would pay ([`super::step`]).
    /// `picked`: scratch.
    pub fn proposal(&self, logits: &[f32], picked: &mut Vec<f32>) -> Option<u32> {
        // One pass over the full logits (the costly part: a cache line per id), then
        // passes over the picked values.
        picked.clear();
        picked.extend(self.sorted.iter().map(|&id| {
            logits
                .get(id as usize)
                .copied()
                .unwrap_or(f32::NEG_INFINITY)
        }));
        let best = picked.iter().fold(f32::NEG_INFINITY, |m, &l| m.max(l));
        if !best.is_finite() {
            return None;
        }
        // (Ties, which the reduced head breaks by rank, are left to chance here.)
        let bi = self.sorted[picked.iter().position(|&l| l == best)?];
        // Terms more than 16 below the best add under 1.2e-7 each, 0.002 over 16,384
        // ids, against the 1/threshold ≤ 4 the sum is compared with: skip their `exp`.
        let z: f32 = picked
            .iter()
            .filter(|&&l| l > best - 16.0)
            .map(|&l| (l - best).exp())
            .sum();
        (1.0 / z >= self.threshold).then_some(bi)
    }
}

/// Ids ranked by the tokenizer alone: ordinary and byte tokens by SentencePiece score
/// (when the scores differ), else by id.
fn tokenizer_ranking(tok: &Tokenizer) -> (Vec<u32>, FrSource) {
    let n = tok.vocab_size() as u32;
    let mut ids: Vec<u32> = (0..n)
        .filter(|&i| matches!(tok.token_type(i), Some(TokenType::Normal | TokenType::Byte)))
        .collect();
    let score = |i: u32| tok.token_score(i).unwrap_or(0.0);
    let varied = ids.iter().any(|&i| score(i) != score(ids[0]));
    if varied && !tok.is_bpe() {
        ids.sort_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)));
        (ids, FrSource::Scores)
    } else {
        (ids, FrSource::Ids)
    }
}

/// Token counts over a corpus, most frequent first: the `<model>.fr` file
/// (`# wren fr-table v1 vocab=<n> tokens=<counted>` then `id count` lines).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrTable {
    pub vocab: usize,
    /// Tokens counted.
    pub tokens: u64,
    pub ids: Vec<u32>,
    pub counts: Vec<u64>,
}

impl FrTable {
    /// The table's file for the model file `model`: `<model>.fr` beside it.
    pub fn path_for(model: &Path) -> PathBuf {
        let mut s = model.as_os_str().to_owned();
        s.push(".fr");
        PathBuf::from(s)
    }

    /// Counts `tokens` (ids below `vocab`), keeping the `keep` most frequent (ties: lower
    /// id first).
    pub fn count(tokens: impl IntoIterator<Item = u32>, vocab: usize, keep: usize) -> FrTable {
        let mut c = vec![0u64; vocab];
        let mut total = 0;
        for t in tokens {
            if let Some(x) = c.get_mut(t as usize) {
                *x += 1;
                total += 1;
            }
        }
        let mut ids: Vec<u32> = (0..vocab as u32).filter(|&i| c[i as usize] > 0).collect();
        ids.sort_by(|&a, &b| c[b as usize].cmp(&c[a as usize]).then(a.cmp(&b)));
        ids.truncate(keep);
        FrTable {
            vocab,
            tokens: total,
            counts: ids.iter().map(|&i| c[i as usize]).collect(),
            ids,
        }
    }

    pub fn write(&self, p: &Path) -> Result<()> {
        let mut s = format!(
            "# wren fr-table v1 vocab={} tokens={}\n",
            self.vocab, self.tokens
        );
        for (i, c) in self.ids.iter().zip(&self.counts) {
            s.push_str(&format!("{i} {c}\n"));
        }
        std::fs::write(p, s)
            .map_err(|e| Error::Invalid(format!("cannot write {}: {e}", p.display())))
    }

    pub fn read(p: &Path) -> Result<FrTable> {
        let s = std::fs::read_to_string(p)
            .map_err(|e| Error::Invalid(format!("{}: {e}", p.display())))?;
        FrTable::parse(&s, &p.display().to_string())
    }

    /// A table in [`FrTable::write`]'s format (`name`: where it came from, for errors).
    pub fn parse(s: &str, name: &str) -> Result<FrTable> {
        let bad = |m: &str| Error::Invalid(format!("{name}: {m}"));
        let mut lines = s.lines();
        let head = lines.next().ok_or_else(|| bad("empty"))?;
        if !head.starts_with("# wren fr-table v1") {
            return Err(bad("not a wren fr-table v1 file"));
        }
        let field = |k: &str| -> Result<u64> {
            head.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| bad(&format!("header has no {k}<n>")))
        };
        let mut t = FrTable {
            vocab: field("vocab=")? as usize,
            tokens: field("tokens=")?,
            ..FrTable::default()
        };
        for l in lines.filter(|l| !l.trim().is_empty()) {
            let mut w = l.split_whitespace();
            let (Some(i), Some(c)) = (w.next(), w.next()) else {
                return Err(bad(&format!("bad line {l:?}")));
            };
            let i: u32 = i.parse().map_err(|_| bad(&format!("bad id in {l:?}")))?;
            if i as usize >= t.vocab {
                return Err(bad(&format!("id {i} outside the vocabulary")));
            }
            t.ids.push(i);
            t.counts
                .push(c.parse().map_err(|_| bad(&format!("bad count in {l:?}")))?);
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_counts_ranks_and_round_trips() {
        let t = FrTable::count([5, 3, 5, 9, 3, 5, 100, 1], 10, 3);
        assert_eq!(t.ids, vec![5, 3, 1]);
        assert_eq!(t.counts, vec![3, 2, 1]);
        assert_eq!(t.tokens, 7);
        let dir = std::env::temp_dir().join(format!("wren-fr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("m.gguf.fr");
        t.write(&p).unwrap();
        assert_eq!(FrTable::read(&p).unwrap(), t);
        std::fs::write(&p, "# wren fr-table v1 vocab=10 tokens=1\n12 1\n").unwrap();
        assert!(FrTable::read(&p).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            FrTable::path_for(Path::new("/a/m.gguf")),
            Path::new("/a/m.gguf.fr")
        );
        assert_eq!(default_draft_vocab(262_144), 16_384);
        assert_eq!(default_draft_vocab(49_152), 3072);
    }

    #[test]
    fn break_even_follows_the_cost_of_a_verified_row() {
        // Gemma 3 270M: head 72% of the bytes, 16,384 of 262,144 draft rows.
        let be = |row_cost| break_even(0.72, 16_384, 262_144, row_cost);
        // The VNNI tier's batched Q8_0 rows: a drafted token costs 0.43 of a step.
        assert!((be(0.15) - 0.433).abs() < 0.001, "{}", be(0.15));
        // AVX2's packed Q8_0 rows: 0.61.
        assert!((be(0.4) - 0.613).abs() < 0.001, "{}", be(0.4));
        // A head with no rowwise kernel: 0.86, FR cannot pay.
        assert!((be(0.75) - 0.865).abs() < 0.001, "{}", be(0.75));
        // SmolLM2-135M: head 31% of the bytes; FR cannot pay even with cheap rows.
        assert!(break_even(0.31, 3072, 49_152, 0.15) > 0.75);
        assert_eq!(break_even(1.0, 10, 10, 1.0), 1.0);
    }
}
