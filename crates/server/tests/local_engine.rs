//! The real engine loop (`LocalEngine`) driven by a tiny counting model: no weights, so
//! it is hermetic, but it exercises sessions, slots, prefix reuse, EOG, cancellation and
//! chunked prefill. The model takes 0.5 ms per token evaluated and logs every forward
//! pass, so a test can see what ran between what.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use wren_core::chat::ChatTemplate;
use wren_core::generate::{SpecConfig, SpecMode};
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

/// Time the model takes per evaluated token.
const PER_TOKEN: Duration = Duration::from_micros(500);

/// Token counts of each sequence in one forward pass.
type Log = Arc<Mutex<Vec<Vec<usize>>>>;

/// Predicts the next letter after the last token (a→b→…→z), and EOS after `z`.
struct Counting {
    info: ModelInfo,
    log: Log,
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
        let sizes: Vec<usize> = seqs.iter().map(|s| s.tokens.len()).collect();
        std::thread::sleep(PER_TOKEN * sizes.iter().sum::<usize>() as u32);
        self.log.lock().unwrap().push(sizes);
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
    engine_with(parallel, 64, 256).0
}

/// An engine of `parallel` slots of `ctx` tokens that prefills `chunk` tokens at a time,
/// and the log of its model's forward passes.
fn engine_with(parallel: usize, ctx: usize, chunk: usize) -> (LocalEngine, Log) {
    engine_spec(parallel, ctx, chunk, SpecConfig::default())
}

fn engine_spec(parallel: usize, ctx: usize, chunk: usize, spec: SpecConfig) -> (LocalEngine, Log) {
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
        n_ctx_train: 8192,
        n_embd: 1,
        n_layer: 0,
        weight_bytes: 0,
        verify_row_cost: 0.75,
    };
    let log = Log::default();
    let model: Arc<dyn Model> = Arc::new(Counting {
        info,
        log: log.clone(),
    });
    let tmpl = ChatTemplate::new(None, "gemma3", "<bos>", "<eos>").unwrap();
    let cfg = LocalConfig {
        model_id: "counting".into(),
        ctx,
        parallel,
        queue: 4,
        compute: Compute::Exact,
        prefill_chunk: chunk,
        kv_type: Default::default(),
        sparse: Default::default(),
        spec,
        spec_max_seqs: parallel,
        fr: None,
    };
    let e = LocalEngine::start(model, tok, tmpl, thread_pool(1).unwrap(), cfg).unwrap();
    (e, log)
}

fn submit(e: &LocalEngine, text: &str, max_tokens: usize) -> UnboundedReceiver<Event> {
    let (tx, rx) = unbounded_channel();
    e.submit(GenRequest {
        prompt: e.encode(text, true, false),
        max_tokens,
        sampling: SamplingParams::greedy(),
        logprobs: Some(1),
        constraint: None,
        spec: None,
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

/// Everything already sent on `rx`.
fn drain(rx: &mut UnboundedReceiver<Event>) -> Vec<Event> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

fn text_of(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Token { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_long_prompt_does_not_stall_decoding() {
    let (e, log) = engine_with(2, 4096, 64);
    // B: 1 BOS + 2001 letters, about 1 s of prefill in chunks of 64 (the last one may
    // take up to 32 more). A: a short request arriving right after it.
    let long = format!("{}a", "y".repeat(2000));
    let mut b = submit(&e, &long, 2);
    let mut a = submit(&e, "a", 24);
    let Some(Event::Token { text, .. }) = b.blocking_recv() else {
        panic!("no first token for the long prompt");
    };
    assert_eq!(text, "b");
    // A was prefilled first (fewest tokens left), then decoded one token per chunk of
    // B: all 24 of its tokens went out before B's prefill ended. Prefilling B in one
    // go, A would not even have started.
    let seen = drain(&mut a);
    assert_eq!(text_of(&seen), "bcdefghijklmnopqrstuvwxy", "{seen:?}");
    assert!(
        matches!(
            seen.last(),
            Some(Event::Done {
                finish_reason: FinishReason::Length,
                ..
            })
        ),
        "{seen:?}"
    );
    assert_eq!(collect(&mut b).0, "c");
    // No forward pass evaluated more than a chunk and a half of one sequence, and A's 23
    // decode passes (one token each; its 24th token was not evaluated) all ran before
    // B's last chunk.
    let log = log.lock().unwrap();
    let chunks: Vec<usize> = (0..log.len()).filter(|&i| log[i][0] > 1).collect();
    assert!(log.iter().flatten().all(|&n| n <= 96), "{log:?}");
    assert!(chunks.len() >= 2001 / 96, "{} chunks", chunks.len());
    let last = chunks[chunks.len() - 1];
    let singles = (0..last).filter(|&i| log[i] == [1]).count();
    assert!(
        singles >= 23,
        "{singles} one-token passes before B's last chunk: {log:?}"
    );
}

#[test]
fn chunked_prefill_keeps_prefix_reuse() {
    let (e, _) = engine_with(1, 4096, 64);
    let p = format!("{}a", "y".repeat(300));
    assert_eq!(collect(&mut submit(&e, &p, 3)).0, "bcd");
    // The cache holds BOS, p, "bc" ("d" was sampled, not evaluated): a prompt that
    // extends it evaluates only its own 152 new tokens, in chunks.
    let before = e.stats();
    let next = format!("{p}bc{}a", "y".repeat(150));
    let (text, _, usage) = collect(&mut submit(&e, &next, 2));
    assert_eq!(text, "bc");
    assert_eq!(usage.prompt_tokens, 1 + 301 + 2 + 151);
    let after = e.stats();
    let reused = after.prompt_tokens_reused - before.prompt_tokens_reused;
    let evaluated = after.prompt_tokens_evaluated - before.prompt_tokens_evaluated;
    assert_eq!((reused, evaluated), (304, 151));
}

#[test]
fn a_client_that_leaves_during_prefill_frees_the_slot() {
    let (e, _) = engine_with(1, 8192, 64);
    // 3 s of prefill: the client leaves long before it ends.
    let rx = submit(&e, &"y".repeat(6000), 5);
    wait_until("admitted", || e.stats().active == 1);
    drop(rx);
    wait_until("slot freed", || e.stats().active == 0);
    assert!(e.stats().prompt_tokens_evaluated < 6001, "{:?}", e.stats());
    assert_eq!(collect(&mut submit(&e, "c", 2)).0, "de");
}

/// With prompt lookup on, the drafts of every decoding sequence are verified in the same
/// batched pass (several tokens per sequence in one forward pass), the text is the one
/// plain decoding gives, and the counters see the drafts accepted.
#[test]
fn speculation_verifies_every_sequence_in_one_pass() {
    // Each continues the alphabet to `z` (then EOS); the lookup finds it in the prompt.
    let prompts = [
        "abcdefghijklmnopqrstuvwxyzab",
        "abcdefghijklmnopqrstuvwxyzabcd",
    ];
    let plain = engine(2);
    let want: Vec<String> = prompts
        .iter()
        .map(|p| collect(&mut submit(&plain, p, 30)).0)
        .collect();
    assert_eq!(want, ["cdefghijklmnopqrstuvwxyz", "efghijklmnopqrstuvwxyz"]);
    // Short drafts (2 tokens): several passes each, so the two sequences overlap.
    let (e, log) = engine_spec(2, 64, 256, SpecConfig::new(SpecMode::Ngram, 2));
    let mut rx: Vec<_> = prompts.iter().map(|p| submit(&e, p, 30)).collect();
    let got: Vec<String> = rx.iter_mut().map(|r| collect(r).0).collect();
    assert_eq!(got, want);
    let passes = log.lock().unwrap().clone();
    assert!(
        passes.iter().any(|p| *p == [3, 3]),
        "no pass verified a draft of both sequences: {passes:?}"
    );
    let st = e.stats();
    assert!(
        st.drafted > 0 && st.accepted > 0 && st.accepted <= st.drafted,
        "{st:?}"
    );
    // A request can turn speculation off for itself.
    let (tx, mut r) = unbounded_channel();
    e.submit(GenRequest {
        prompt: e.encode(prompts[0], true, false),
        max_tokens: 10,
        sampling: SamplingParams::greedy(),
        logprobs: Some(1),
        constraint: None,
        spec: Some(SpecConfig::new(SpecMode::Off, 8)),
        events: tx,
    })
    .unwrap();
    let before = e.stats().drafted;
    assert_eq!(collect(&mut r).0, want[0][..10]);
    assert_eq!(e.stats().drafted, before);
}

/// `/apply-template` drops the BOS text the tokenizer adds itself: the engine says which,
/// and so does the engine the server starts with while the model loads, once it is set.
#[test]
fn the_added_bos_text_is_known_through_the_loading_wrapper() {
    use wren_server::engine::pending::PendingEngine;
    let e: Arc<dyn Engine> = Arc::new(engine(1));
    assert_eq!(e.added_bos_text().as_deref(), Some("<bos>"));
    let p = PendingEngine::new(e.info().clone());
    assert_eq!(p.added_bos_text(), None);
    p.set(e.clone());
    assert_eq!(p.added_bos_text().as_deref(), Some("<bos>"));
}
