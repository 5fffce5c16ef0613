//! Speculative decoding's two foundations, on the real models:
//! - verification is exact: a [`Session::verify`] pass over several tokens gives each
//!   position the logits that one-token decode steps give, bit for bit, on both compute
//!   paths (and `auto`), with dense, sliding-window and block-sparse attention;
//! - rollback is exact: after [`Session::truncate_to`], decoding gives the logits a
//!   session that never saw the dropped tokens gives, bit for bit; a sliding-window ring
//!   rewinds within its slack and refuses beyond it.

mod common;

use std::sync::Arc;

use common::*;
use wren_core::attention::sparse::SparseSettings;
use wren_core::error::Error;
use wren_core::kv::RING_SLACK;
use wren_core::linear::Compute;
use wren_core::models::Model;
use wren_core::session::{thread_pool, Session, SessionOptions};

/// Deterministic, varied token ids (the arithmetic needs no meaning).
fn tokens(n: usize, seed: u64, vocab: usize) -> Vec<u32> {
    (0..n as u64)
        .map(|i| ((i * 7919 + seed * 104729 + 13) % (vocab as u64 - 300) + 200) as u32)
        .collect()
}

/// Block-sparse attention that is really sparse at a few hundred tokens.
fn sparse_small() -> SparseSettings {
    SparseSettings {
        enabled: Some(true),
        block: Some(16),
        topk: Some(4),
        sink: Some(1),
        window: Some(64),
        dense_len: Some(128),
    }
}

fn open(model: &Arc<dyn Model>, compute: Compute, sparse: Option<SparseSettings>) -> Session {
    let mut opts = SessionOptions::new(2048, compute);
    if let Some(s) = sparse {
        opts.sparse = s;
    }
    Session::with_options(model.clone(), thread_pool(0).unwrap(), &opts).unwrap()
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Logits of `seq` decoded one token at a time.
fn decode_steps(s: &mut Session, seq: &[u32]) -> Vec<Vec<f32>> {
    seq.iter()
        .map(|&t| s.eval_last(&[t]).unwrap().to_vec())
        .collect()
}

fn check_verify(
    name: &str,
    model: &Arc<dyn Model>,
    compute: Compute,
    prompt_len: usize,
    sparse: Option<SparseSettings>,
) {
    let vocab = model.info().vocab_size;
    let prompt = tokens(prompt_len, 1, vocab);
    let draft = tokens(9, 2, vocab);
    let mut a = open(model, compute, sparse.clone());
    a.eval_last(&prompt).unwrap();
    let single = decode_steps(&mut a, &draft);
    let mut b = open(model, compute, sparse.clone());
    b.eval_last(&prompt).unwrap();
    for k in 1..=draft.len() {
        let mut got = Vec::new();
        b.verify(&draft[..k], |i, l, _| {
            assert_eq!(i, got.len());
            got.push(l.to_vec());
            true
        })
        .unwrap();
        assert_eq!(got.len(), k);
        for (i, row) in got.iter().enumerate() {
            assert!(
                same_bits(row, &single[i]),
                "{name} {compute:?} prompt {prompt_len} sparse {}: verify of {k} tokens, row {i} \
                 differs from decode (max |Δ| {})",
                sparse.is_some(),
                row.iter()
                    .zip(&single[i])
                    .map(|(x, y)| (x - y).abs())
                    .fold(0f32, f32::max)
            );
        }
        // Drop them again: the next k starts from the prompt.
        b.truncate_to(prompt.len()).unwrap();
    }
    eprintln!(
        "{name} {compute:?} prompt {prompt_len} sparse {}: verify rows of 1..=9 tokens bit-identical to decode",
        sparse.is_some()
    );
}

#[test]
#[ignore = "needs the real models (scripts/test.sh fetches them)"]
fn verify_rows_are_bit_identical_to_decode_steps() {
    for sub in [gemma3(), smollm2()] {
        let (_, model) = sub.load();
        for c in [Compute::Quantized, Compute::Exact, Compute::Auto] {
            check_verify(sub.name, &model, c, 40, None);
        }
    }
    // Past Gemma 3's 512-token window (the rings have wrapped), and with block-sparse
    // attention selecting blocks on the global layers.
    let (_, model) = gemma3().load();
    for c in [Compute::Quantized, Compute::Exact] {
        check_verify("gemma3", &model, c, 700, None);
        check_verify("gemma3", &model, c, 300, Some(sparse_small()));
    }
}

/// Several sequences' drafts verified in one batched pass (the server's step): every
/// row of every sequence is bit-identical to that sequence's own one-token decode steps.
#[test]
#[ignore = "needs the real models (scripts/test.sh fetches them)"]
fn batched_verify_rows_are_bit_identical_to_each_sequences_decode_steps() {
    for sub in [gemma3(), smollm2()] {
        let (_, model) = sub.load();
        let v = model.info().vocab_size;
        for c in [Compute::Auto, Compute::Exact] {
            let prompts: Vec<Vec<u32>> = (0..3)
                .map(|i| tokens(20 + 7 * i, 10 + i as u64, v))
                .collect();
            let drafts: Vec<Vec<u32>> = (0..3)
                .map(|i| tokens(1 + 3 * i, 20 + i as u64, v))
                .collect();
            let want: Vec<Vec<Vec<f32>>> = prompts
                .iter()
                .zip(&drafts)
                .map(|(p, d)| {
                    let mut s = open(&model, c, None);
                    s.eval_last(p).unwrap();
                    decode_steps(&mut s, d)
                })
                .collect();
            let mut ss: Vec<Session> = prompts
                .iter()
                .map(|p| {
                    let mut s = open(&model, c, None);
                    s.eval_last(p).unwrap();
                    s
                })
                .collect();
            let mut refs: Vec<&mut Session> = ss.iter_mut().collect();
            let lists: Vec<&[u32]> = drafts.iter().map(Vec::as_slice).collect();
            let mut seen = 0;
            Session::verify_batch(&mut refs, &lists, |si, i, l, h| {
                assert_eq!(h.last(), Some(&drafts[si][i]));
                assert!(
                    same_bits(l, &want[si][i]),
                    "{} {c:?}: sequence {si} row {i} differs from its own decode",
                    sub.name
                );
                seen += 1;
                true
            })
            .unwrap();
            assert_eq!(seen, drafts.iter().map(Vec::len).sum::<usize>());
        }
        eprintln!("{}: batched verify of 3 sequences bit-identical", sub.name);
    }
}

/// Decode `junk` (as one batch or token by token), truncate it away, decode `next`: the
/// logits equal a fresh session's that decodes `next` right after the prompt.
fn check_rollback(
    model: &Arc<dyn Model>,
    prompt: &[u32],
    junk: &[u32],
    batch: bool,
    sparse: Option<SparseSettings>,
) {
    let vocab = model.info().vocab_size;
    let next = tokens(6, 9, vocab);
    let mut fresh = open(model, Compute::Quantized, sparse.clone());
    fresh.eval_last(prompt).unwrap();
    let want = decode_steps(&mut fresh, &next);
    let mut s = open(model, Compute::Quantized, sparse);
    s.eval_last(prompt).unwrap();
    if batch {
        s.eval_with(junk, 0..0, |_, _| {}).unwrap();
    } else {
        decode_steps(&mut s, junk);
    }
    assert_eq!(s.history().len(), prompt.len() + junk.len());
    s.truncate_to(prompt.len()).unwrap();
    assert_eq!(s.history(), prompt);
    let got = decode_steps(&mut s, &next);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            same_bits(g, w),
            "after rolling back {} tokens, step {i} differs from a fresh session",
            junk.len()
        );
    }
}

#[test]
#[ignore = "needs the real models (scripts/test.sh fetches them)"]
fn rollback_gives_the_logits_of_a_session_that_never_saw_the_dropped_tokens() {
    // SmolLM2: global layers only; any rewind.
    let (_, model) = smollm2().load();
    let v = model.info().vocab_size;
    check_rollback(&model, &tokens(30, 3, v), &tokens(200, 4, v), true, None);
    check_rollback(&model, &tokens(30, 3, v), &tokens(5, 4, v), false, None);
    // Gemma 3: 700 tokens, so the 512-window rings (640 slots) have wrapped; a rewind of
    // exactly the slack, then a short one token by token.
    let (_, model) = gemma3().load();
    let v = model.info().vocab_size;
    let prompt = tokens(700, 5, v);
    check_rollback(&model, &prompt, &tokens(RING_SLACK, 6, v), true, None);
    check_rollback(&model, &prompt, &tokens(7, 6, v), false, None);
    // Block-sparse global layers: blocks completed by the dropped tokens (and the partial
    // block the rewind lands in) are recomputed when they complete again.
    let p = tokens(300, 7, v);
    check_rollback(&model, &p, &tokens(50, 8, v), true, Some(sparse_small()));
    check_rollback(&model, &p, &tokens(3, 8, v), false, Some(sparse_small()));
    eprintln!("rollback: global, ring within slack, sparse summaries all bit-identical");
}

#[test]
#[ignore = "needs the real model (scripts/test.sh fetches it)"]
fn ring_refuses_to_rewind_past_its_slack_and_changes_nothing() {
    let (_, model) = gemma3().load();
    let v = model.info().vocab_size;
    let prompt = tokens(700, 5, v);
    let junk = tokens(RING_SLACK + 1, 6, v);
    let mut s = open(&model, Compute::Quantized, None);
    s.eval_last(&prompt).unwrap();
    s.eval_with(&junk, 0..0, |_, _| {}).unwrap();
    let len = s.history().len();
    assert_eq!(s.max_rewind(), RING_SLACK);
    match s.truncate_to(prompt.len()) {
        Err(e @ Error::Rewind { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("829") && msg.contains("700"), "{msg}");
        }
        other => panic!("rewinding {} tokens: {other:?}", RING_SLACK + 1),
    }
    assert_eq!(s.history().len(), len, "a refused rewind changes nothing");
    // Within the slack it works, and the length can go down to zero in one step.
    s.truncate_to(len - RING_SLACK).unwrap();
    s.truncate_to(0).unwrap();
    assert!(s.history().is_empty());
    assert!(s.truncate_to(1).is_err(), "cannot grow by truncation");
    // Before the ring wraps, any rewind works.
    let mut s = open(&model, Compute::Quantized, None);
    s.eval_last(&tokens(600, 5, v)).unwrap();
    assert_eq!(s.max_rewind(), 600);
    s.truncate_to(1).unwrap();
}

/// Input-grounded prompts (prompt lookup finds long matches) and a free one.
const PROMPTS: &[&str] = &[
    "Copy the list exactly.\nList: apples, pears, plums, cherries, apricots, peaches, grapes, figs, dates, lemons.\nCopy: apples, pears, plums,",
    "def total_price(items):\n    result = 0\n    for item in items:\n        result += item.price * item.count\n    return result\n\n# The same function with `items` renamed to `basket`:\ndef total_price(basket):\n",
    "The river was cold and fast that spring, and the children",
];

fn generate_ids(
    model: &Arc<dyn Model>,
    tok: &wren_core::tokenizer::Tokenizer,
    compute: Compute,
    prompt: &str,
    params: wren_core::sample::SamplingParams,
    spec: wren_core::generate::SpecConfig,
) -> (Vec<u32>, Vec<u32>, wren_core::generate::GenStats) {
    let mut s = open(model, compute, None);
    let ids = tok.encode(prompt, tok.add_bos_default(), false);
    let mut sampler = wren_core::sample::Sampler::new(params, model.info().vocab_size);
    let mut out = Vec::new();
    let (_, st) =
        wren_core::generate::generate(&mut s, tok, &mut sampler, spec, &ids, 48, |_, id| {
            out.push(id);
            wren_core::generate::Flow::Continue
        })
        .unwrap();
    (out, s.history().to_vec(), st)
}

/// Speculative decoding (prompt lookup, several draft lengths) produces exactly the
/// tokens plain decoding produces, greedy and sampled (same seed: the sampler sees the
/// same logits and history and draws the same random numbers), on both models and both
/// compute paths; and leaves the session holding the same history.
#[test]
#[ignore = "needs the real models (scripts/test.sh fetches them)"]
fn speculative_generation_is_token_for_token_plain_generation() {
    use wren_core::generate::{SpecConfig, SpecMode};
    use wren_core::sample::SamplingParams;
    for sub in [gemma3(), smollm2()] {
        let (file, model) = sub.load();
        let tok = wren_core::tokenizer::Tokenizer::from_gguf(&file).unwrap();
        for compute in [Compute::Auto, Compute::Exact] {
            let (mut drafted, mut accepted) = (0, 0);
            for (pi, prompt) in PROMPTS.iter().enumerate() {
                for temp in [0.0f32, 0.8] {
                    let params = SamplingParams {
                        temperature: temp,
                        seed: 42 + pi as u64,
                        ..SamplingParams::default()
                    };
                    let off = SpecConfig::new(SpecMode::Off, 8);
                    let (want, want_hist, _) =
                        generate_ids(&model, &tok, compute, prompt, params.clone(), off);
                    for n in [3, 8] {
                        let spec = SpecConfig::new(SpecMode::Ngram, n);
                        let (got, hist, st) =
                            generate_ids(&model, &tok, compute, prompt, params.clone(), spec);
                        assert_eq!(
                            got, want,
                            "{} {compute:?} prompt {pi} temp {temp} draft {n}: tokens differ",
                            sub.name
                        );
                        assert_eq!(hist, want_hist, "session histories differ");
                        drafted += st.spec.drafted;
                        accepted += st.spec.accepted;
                    }
                }
            }
            eprintln!(
                "{} {compute:?}: identical; prompt lookup accepted {accepted}/{drafted} drafted",
                sub.name
            );
            assert!(accepted > 20, "the test prompts should exercise acceptance");
            assert!(accepted < drafted, "and rejection");
        }
    }
}

/// FR-Spec's verification: the full head over the hidden states kept by `eval_trunk`
/// gives each row the logits of a one-token decode step, bit for bit (1..=9 rows, both
/// compute paths, both models); the trunk steps leave the cache as decode steps do.
#[test]
#[ignore = "needs the real models (scripts/test.sh fetches them)"]
fn verify_hidden_rows_are_bit_identical_to_decode_steps() {
    for sub in [gemma3(), smollm2()] {
        let (_f, model) = sub.load();
        let vocab = model.info().vocab_size;
        for compute in [Compute::Auto, Compute::Exact] {
            let prompt = tokens(40, 3, vocab);
            let seq = tokens(9, 4, vocab);
            let mut a = open(&model, compute, None);
            a.eval_last(&prompt).unwrap();
            let single = decode_steps(&mut a, &seq);
            let mut b = open(&model, compute, None);
            b.eval_last(&prompt).unwrap();
            for k in 1..=seq.len() {
                for &t in &seq[..k] {
                    b.eval_trunk(t).unwrap();
                }
                assert_eq!(b.pending_hidden(), k);
                let mut rows = 0;
                b.verify_hidden(|i, l, h| {
                    assert!(
                        same_bits(l, &single[i]),
                        "{} {compute:?}: row {i} of {k} differs from its decode step",
                        sub.name
                    );
                    assert_eq!(h.last(), Some(&seq[i]));
                    rows += 1;
                    true
                })
                .unwrap();
                assert_eq!(rows, k);
                assert_eq!(b.pending_hidden(), 0);
                b.truncate_to(prompt.len()).unwrap();
            }
            // After trunk steps and a rollback, decoding goes on exactly as plain decoding.
            for &t in &seq[..3] {
                b.eval_trunk(t).unwrap();
            }
            b.truncate_to(prompt.len() + 2).unwrap();
            let l = b.eval_last(&seq[2..3]).unwrap().to_vec();
            assert!(
                same_bits(&l, &single[2]),
                "{} {compute:?}: after rollback",
                sub.name
            );
        }
    }
}

/// FR drafting (`fr`) and `auto` (prompt lookup, else FR) produce exactly the tokens plain
/// decoding produces, greedy and sampled, on both models and both compute paths, and
/// leave the same history; the drafts are both accepted and rejected.
#[test]
#[ignore = "needs the real models (scripts/test.sh fetches them)"]
fn fr_and_auto_generation_is_token_for_token_plain_generation() {
    use wren_core::generate::{SpecConfig, SpecMode};
    use wren_core::sample::SamplingParams;
    for sub in [gemma3(), smollm2()] {
        let (file, model) = sub.load();
        let tok = wren_core::tokenizer::Tokenizer::from_gguf(&file).unwrap();
        for compute in [Compute::Auto, Compute::Exact] {
            let (mut drafted, mut accepted) = (0, 0);
            for (pi, prompt) in PROMPTS.iter().enumerate() {
                for temp in [0.0f32, 0.8] {
                    let params = SamplingParams {
                        temperature: temp,
                        seed: 7 + pi as u64,
                        ..SamplingParams::default()
                    };
                    let off = SpecConfig::new(SpecMode::Off, 8);
                    let (want, want_hist, _) =
                        generate_ids(&model, &tok, compute, prompt, params.clone(), off);
                    for (mode, n) in [(SpecMode::Fr, 4), (SpecMode::Auto, 8)] {
                        let spec = SpecConfig::new(mode, n);
                        let (got, hist, st) =
                            generate_ids(&model, &tok, compute, prompt, params.clone(), spec);
                        assert_eq!(
                            got,
                            want,
                            "{} {compute:?} prompt {pi} temp {temp} {}: tokens differ",
                            sub.name,
                            mode.name()
                        );
                        assert_eq!(hist, want_hist, "session histories differ");
                        drafted += st.spec.drafted;
                        accepted += st.spec.accepted;
                    }
                }
            }
            eprintln!(
                "{} {compute:?}: identical; fr/auto accepted {accepted}/{drafted} drafted",
                sub.name
            );
            assert!(accepted > 20, "the test prompts should exercise acceptance");
            assert!(accepted < drafted, "and rejection");
        }
    }
}

/// What `auto` learns FR drafting from on the passes it does not draft with FR
/// ([`FrDraft::proposal`] over a decode step's full logits) is what the draft head
/// proposes from the same hidden state ([`Session::fr_propose`]): the same token where it
/// is confident, none where it is not, on both models.
#[test]
#[ignore = "needs the real models (scripts/test.sh fetches them)"]
fn the_fr_shadow_proposes_what_the_draft_head_proposes() {
    use wren_core::generate::FrDraft;
    let text = "Counting: one, two, three, four, five, six. Again: one, two, three, four, \
                five, six. Once more: one, two, three, four, five, six. The capital of \
                France is Paris, and the capital of Italy is Rome.";
    for sub in [gemma3(), smollm2()] {
        let (file, model) = sub.load();
        let tok = wren_core::tokenizer::Tokenizer::from_gguf(&file).unwrap();
        let fr = Arc::new(FrDraft::load(model.as_ref(), &tok, None, 0).unwrap());
        let ids = tok.encode(text, tok.add_bos_default(), false);
        let mut plain = open(&model, Compute::Auto, None);
        let mut drafting = open(&model, Compute::Auto, None);
        drafting.set_fr_draft(Some(fr.clone()));
        plain.eval_last(&ids[..1]).unwrap();
        drafting.eval_last(&ids[..1]).unwrap();
        let (mut confident, mut unsure, mut picked) = (0, 0, Vec::new());
        for (i, &t) in ids.iter().enumerate().skip(1) {
            let logits = plain.eval_last(&[t]).unwrap().to_vec();
            drafting.eval_trunk(t).unwrap();
            let (d, p) = drafting.fr_propose().unwrap();
            drafting.verify_hidden(|_, _, _| true).unwrap();
            let shadow = fr.proposal(&logits, &mut picked);
            // (Within a hair of the threshold the two sums may round to either side.)
            if (p - fr.threshold).abs() < 1e-3 {
                continue;
            }
            let want = (p >= fr.threshold).then_some(d);
            assert_eq!(shadow, want, "{} position {i}: confidence {p}", sub.name);
            if want.is_some() {
                confident += 1;
            } else {
                unsure += 1;
            }
        }
        eprintln!(
            "{}: the FR shadow agrees at {} positions ({confident} confident, {unsure} not)",
            sub.name,
            confident + unsure
        );
        assert!(
            confident >= 10 && unsure >= 3,
            "the text should exercise both"
        );
    }
}

/// FR drafting's ids come from wren's own frequency table for Gemma 3's tokenizer when no
/// table lies beside the model, and from the tokenizer's ranking for a tokenizer wren has
/// no table for (SmolLM2).
#[test]
#[ignore = "needs the real models (scripts/test.sh fetches them)"]
fn the_builtin_fr_table_serves_its_tokenizer_only() {
    use wren_core::generate::{builtin_fr_table, tokenizer_fingerprint, FrDraft, FrSource};
    for sub in [gemma3(), smollm2()] {
        let (file, model) = sub.load();
        let tok = wren_core::tokenizer::Tokenizer::from_gguf(&file).unwrap();
        eprintln!(
            "{}: tokenizer fingerprint {:#018x}",
            sub.name,
            tokenizer_fingerprint(&tok)
        );
        let d = FrDraft::load(model.as_ref(), &tok, None, 0).unwrap();
        if sub.name == "gemma3" {
            let (name, t) = builtin_fr_table(&tok).expect("Gemma 3 has a built-in table");
            assert_eq!(name, "gemma3");
            assert_eq!(t.vocab, tok.vocab_size());
            assert_eq!(d.source, FrSource::Builtin("gemma3"));
            // End-of-generation ids first, then the table's most frequent ids in order.
            let eog = tok.eog_ids().len();
            let head: Vec<u32> = t
                .ids
                .iter()
                .copied()
                .filter(|i| !tok.eog_ids().contains(i))
                .take(100)
                .collect();
            assert_eq!(&d.ids[eog..eog + 100], &head[..]);
        } else {
            assert!(builtin_fr_table(&tok).is_none());
            assert!(!matches!(d.source, FrSource::Builtin(_)), "{:?}", d.source);
        }
    }
}
