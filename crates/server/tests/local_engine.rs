//! The real engine loop (`LocalEngine`) driven by a tiny counting model: no weights, so
//! it is hermetic, but it exercises sessions, slots, prefix reuse, EOG, cancellation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use wren_core::chat::ChatTemplate;
use wren_core::kv::{CacheOptions, KvCache};
use wren_core::linear::Compute;
use wren_core::models::{Model, ModelInfo, SeqBatch, Workspace};
use wren_core::sample::SamplingParams;
use wren_core::session::thread_pool;
use wren_core::tokenizer::Tokenizer;
use wren_server::engine::local::{LocalConfig, LocalEngine};
use wren_server::engine::{Engine, Event, FinishReason, GenRequest, Usage};

const BOS: u32 = 1;
const EOS: u32 = 2;
/// Ids 3.. are the letters a..z.
const LETTERS: u32 = 3;

/// Predicts the next letter after the last token (a→b→…→z), and EOS after `z`.
struct Counting {
    info: ModelInfo,
}

impl Model for Counting {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn new_cache(&self, opts: &CacheOptions) -> wren_core::Result<KvCache> {
        Ok(KvCache::new(Vec::new(), opts))
    }

    fn forward_batch(
        &self,
        seqs: &mut [SeqBatch<'_>],
        logits: &mut Vec<f32>,
        _ws: &mut Workspace,
        _compute: Compute,
    ) -> wren_core::Result<()> {
        let v = self.info.vocab_size;
        logits.clear();
        for s in seqs.iter_mut() {
            for i in s.want.clone() {
                let next = match s.tokens[i] {
                    t if t == LETTERS + 25 => EOS,
                    t if t >= LETTERS => t + 1,
                    _ => LETTERS,
                };
                let row = logits.len();
                logits.resize(row + v, 0.0);
                logits[row + next as usize] = 10.0;
            }
            s.cache.pos += s.tokens.len();
        }
        Ok(())
    }
}

fn engine(parallel: usize) -> LocalEngine {
    let mut tokens = vec!["<unk>".to_string(), "<bos>".into(), "<eos>".into()];
    tokens.extend((b'a'..=b'z').map(|c| (c as char).to_string()));
    let n = tokens.len();
    let mut types = vec![2, 3, 3];
    types.extend([1; 26]);
    let tok =
        Tokenizer::from_parts(tokens, vec![0.0; n], types, Some(BOS), Some(EOS), true).unwrap();
    let info = ModelInfo {
        arch: "gemma3".into(),
        name: "counting".into(),
        vocab_size: n,
        n_ctx_train: 64,
        n_embd: 1,
        n_layer: 0,
        weight_bytes: 0,
    };
    let model: Arc<dyn Model> = Arc::new(Counting { info });
    let tmpl = ChatTemplate::new(None, "gemma3", "<bos>", "<eos>").unwrap();
    let cfg = LocalConfig {
        model_id: "counting".into(),
        ctx: 64,
        parallel,
        queue: 4,
        compute: Compute::Exact,
        kv_type: Default::default(),
        sparse: Default::default(),
    };
    LocalEngine::start(model, tok, tmpl, thread_pool(1).unwrap(), cfg).unwrap()
}

fn submit(e: &LocalEngine, text: &str, max_tokens: usize) -> UnboundedReceiver<Event> {
    let (tx, rx) = unbounded_channel();
    e.submit(GenRequest {
        prompt: e.encode(text, true, false),
        max_tokens,
        sampling: SamplingParams::greedy(),
        logprobs: Some(1),
        events: tx,
    })
    .unwrap();
    rx
}

fn collect(rx: &mut UnboundedReceiver<Event>) -> (String, FinishReason, Usage) {
    let mut text = String::new();
    loop {
        match rx.blocking_recv().expect("engine hung up") {
            Event::Token {
                text: t, logprob, ..
            } => {
                assert!(logprob.unwrap() > -0.01);
                text.push_str(&t);
            }
            Event::Done {
                finish_reason,
                usage,
            } => return (text, finish_reason, usage),
            Event::Error(e) => panic!("{e}"),
        }
    }
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn generates_until_length_or_eog() {
    let e = engine(2);
    let (text, finish, usage) = collect(&mut submit(&e, "a", 3));
    assert_eq!((text.as_str(), finish), ("bcd", FinishReason::Length));
    assert_eq!(usage.prompt_tokens, 2);
    assert_eq!(usage.completion_tokens, 3);
    let (text, finish, usage) = collect(&mut submit(&e, "w", 10));
    assert_eq!((text.as_str(), finish), ("xyz", FinishReason::Stop));
    assert_eq!(usage.completion_tokens, 3);
}

#[test]
fn interleaves_and_reuses_prefixes() {
    let e = engine(2);
    let mut a = submit(&e, "a", 5);
    let mut b = submit(&e, "m", 5);
    assert_eq!(collect(&mut a).0, "bcdef");
    assert_eq!(collect(&mut b).0, "nopqr");
    // "abcde" + more extends slot a's history (bos a b c d e: f was sampled, not
    // evaluated), so only the suffix is evaluated.
    let before = e.stats();
    let (text, ..) = collect(&mut submit(&e, "abcdefg", 2));
    assert_eq!(text, "hi");
    let after = e.stats();
    assert_eq!(after.prompt_tokens_reused - before.prompt_tokens_reused, 6);
    assert_eq!(
        after.prompt_tokens_evaluated - before.prompt_tokens_evaluated,
        2
    );
    assert!(after.decode_tokens > 0 && after.decode_tps() > 0.0);
}

#[test]
fn a_dropped_receiver_cancels_the_sequence() {
    let e = engine(1);
    let mut rx = submit(&e, "a", 50);
    assert!(matches!(rx.blocking_recv(), Some(Event::Token { .. })));
    drop(rx);
    wait_until("slot freed", || e.stats().active == 0);
    // The slot is usable again.
    assert_eq!(collect(&mut submit(&e, "c", 2)).0, "de");
}
